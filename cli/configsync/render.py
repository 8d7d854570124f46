"""Plans and diffs for people (text, Markdown) and for programs (JSON)."""
from __future__ import annotations

from typing import Iterator

import click

from . import values
from .changes import Change
from .errors import Problem
from .plan import Plan
from .values import Value

SYMBOL = {"create": "+", "update": "~", "delete": "-"}
COLOR = {"create": "green", "update": "yellow", "delete": "red"}
_MISSING = "(absent)"


def field_diffs(change: Change) -> Iterator[tuple[str, str, str]]:
    """(path, old, new) for every changed leaf; nested mappings shown by path."""
    before = change.before or {}
    after = change.after or {}
    for name in change.fields:
        yield from _leaf_diffs(name, before.get(name, _MISSING), after.get(name, _MISSING))


def _leaf_diffs(path: str, old: object, new: object) -> Iterator[tuple[str, str, str]]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            a, b = old.get(key, _MISSING), new.get(key, _MISSING)
            if a is _MISSING or b is _MISSING or not values.equal(a, b):
                yield from _leaf_diffs(f"{path}.{key}", a, b)
        return
    yield path, _show(old), _show(new)


def _show(value: object) -> str:
    if value is _MISSING or value == _MISSING:
        return _MISSING
    return values.dumps(value)


def label(change: Change) -> str:
    if change.key:
        return ", ".join(str(v) for v in change.key.values())
    return change.file.rsplit("/", 1)[-1].removesuffix(".yaml")


def summary_line(plan: Plan) -> str:
    s = plan.summary
    return f"{s['create']} to create, {s['update']} to update, {s['delete']} to delete"


def text(plan: Plan, header: str, *, color: bool = False, verb: str = "Plan") -> str:
    lines = [header, ""]
    if not plan.changes:
        lines.append("No changes.")
        return "\n".join(lines) + "\n"
    width = max(len(label(c)) for c in plan.changes)
    for table in plan.tables:
        items = plan.for_table(table)
        if not items:
            continue
        lines.append(click.style(table, bold=True) if color else table)
        for change in items:
            head = f"  {SYMBOL[change.action]} {label(change).ljust(width)}  {change.file}"
            lines.append(click.style(head, fg=COLOR[change.action]) if color else head)
            for path, old, new in field_diffs(change):
                lines.append(f"      {path}: {old} -> {new}")
    lines += ["", f"{verb}: {summary_line(plan)}."]
    return "\n".join(lines) + "\n"


def markdown(plan: Plan, header: str, title: str = "plan") -> str:
    """What a pull-request comment shows: a summary line and a diff per table."""
    lines = [f"### configsync {title}: {summary_line(plan)}", "", header, ""]
    for reason in plan.unsafe_reasons():
        lines += [f"> **Warning:** {reason}. `apply` refuses this without `--allow-mass-delete`.", ""]
    if not plan.changes:
        lines.append("No changes: the database already matches this revision.")
        return "\n".join(lines) + "\n"
    for table in plan.tables:
        items = plan.for_table(table)
        if not items:
            continue
        lines += [f"#### `{table}`", "", "```diff"]
        for change in items:
            lines.append(f"{_DIFF_MARK[change.action]} {label(change)}  ({change.file})")
            for path, old, new in field_diffs(change):
                lines.append(f"-     {path}: {old}")
                lines.append(f"+     {path}: {new}")
        lines += ["```", ""]
    return "\n".join(lines) + "\n"


_DIFF_MARK = {"create": "+", "update": "!", "delete": "-"}


def json_text(plan: Plan) -> str:
    return values.dumps(plan.to_json(), indent=2) + "\n"


def problems_text(problems: list[Problem], fmt: str, prefix: str = "") -> str:
    if fmt == "json":
        rows: Value = [{"file": prefix + p.file, "line": p.line, "message": p.message} for p in problems]
        return values.dumps(rows, indent=2) + "\n"
    if fmt == "github":
        out = []
        for p in problems:
            where = f"file={prefix}{p.file}" + (f",line={p.line}" if p.line else "")
            message = p.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            out.append(f"::error {where}::{message}")
        return "\n".join(out) + ("\n" if out else "")
    return "".join(f"{p}\n" for p in problems)
