"""Plans, diffs and validation problems for people (text, Markdown, GitHub
annotations) and for programs (JSON).

``FORMATS`` is the one registry of output formats: every command's
``--format`` offers its names and renders through it.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import click

from . import values
from .errors import Problem
from .values import Value

if TYPE_CHECKING:  # plans are imported by the commands that make them: `validate` starts without them
    from .changes import Change, Kind
    from .plan import Plan

SYMBOL = {"create": "+", "update": "~", "delete": "-"}
COLOR = {"create": "green", "update": "yellow", "delete": "red"}
_MISSING = "(absent)"


def field_diffs(change: Change) -> Iterator[tuple[str, str, str]]:
    """(path, old, new) for every changed leaf; nested mappings shown by path."""
    for _, path, old, new in kind_diffs(change):
        yield path, old, new


def kind_diffs(change: Change) -> Iterator[tuple[Kind, str, str, str]]:
    """(kind, path, old, new) for every changed leaf: each leaf has its column's kind."""
    before = change.before or {}
    after = change.after or {}
    for name in change.fields:
        for path, old, new in _leaf_diffs(name, before.get(name, _MISSING), after.get(name, _MISSING)):
            yield change.field_kind(name), path, old, new


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
    # Keys sorted on both sides: a mapping read from the database comes in its
    # key order, one read from a file sorted; the diff must not show that.
    return values.dumps(value, sort_keys=True)


def label(change: Change) -> str:
    if change.key:
        return ", ".join(str(v) for v in change.key.values())
    return change.file.rsplit("/", 1)[-1].removesuffix(".yaml")


def summary_line(plan: Plan) -> str:
    s = plan.summary
    return f"{s['create']} to create, {s['update']} to update, {s['delete']} to delete"


def header(plan: Plan, revision: str, *, env: str | None = None, public: bool = False) -> str:
    """A plan's first line; ``revision`` is the plan's revision described for
    people. ``public`` (a PR comment): no host names, only the environment or
    the kind of database."""
    if public:
        where = f"environment {env}" if env else f"{plan.database.split(':', 1)[0]} database"
        return f"{where} · revision {revision}"
    return f"database {plan.database} · revision {revision}"


def baseline_line(plan: Plan) -> str | None:
    """What the plan's kinds are against, for people (None: not classified)."""
    if plan.baseline is None:
        return None
    if plan.baseline.revision is None:
        return plan.baseline.note
    return f"baseline: revision {plan.baseline.revision[:7]}, the last applied to this database"


def drift_line(plan: Plan, title: str = "Plan") -> str | None:
    """The plan's drift and conflicts in one sentence, and what apply does with them."""
    kinds = plan.kinds
    if not kinds["drift"] and not kinds["conflict"]:
        return None
    counts = f"{_count(kinds['drift'], 'drift change')}, {_count(kinds['conflict'], 'conflict')}"
    if title == "Rollback":
        return (f"Across drift: {counts}; the rollback restores the revision and undoes these edits made in the "
                "database outside configsync.")
    return (f"Drift: {counts}: applying would undo edits made in the database outside configsync. Apply refuses "
            "unless told: --keep-drift (leave them) or --overwrite-drift (undo them), or tables.<name>.drift in "
            "configsync.yaml. To keep an edit in git: `configsync snapshot --commit` on a branch.")


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


_TAG = {"git": "", "drift": "  [drift]", "conflict": "  [conflict]"}


def diff_header(old: str, new: str) -> str:
    """The first line of a diff between two revisions, described for people."""
    return f"diff {old} -> {new}"


def text(plan: Plan, header: str, *, title: str = "Plan", color: bool = False) -> str:
    """Terraform-like: a line per record, one per changed field, then the counts.
    ``title`` names the result in its last line: Plan, Diff, Rollback."""
    base = baseline_line(plan)
    lines = [header, *([base] if base and plan.changes else []), ""]
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
            head = f"  {SYMBOL[change.action]} {label(change).ljust(width)}  {change.file}{_TAG[change.kind]}"
            lines.append(click.style(head, fg=COLOR[change.action]) if color else head)
            for kind, path, old, new in kind_diffs(change):
                lines.append(f"      {path}: {old} -> {new}" + (f"  ({kind})" if kind != "git" else ""))
    lines += ["", f"{title}: {summary_line(plan)}."]
    drift = drift_line(plan, title)
    if drift:
        lines.append(drift)
    return "\n".join(lines) + "\n"


def markdown(plan: Plan, header: str, *, title: str = "Plan", color: bool = False) -> str:
    """What a pull-request comment shows: a summary line and a diff per table.
    No terminal shows it, so ``color`` is ignored.

    Keys, file names, field paths and values come from record files and the
    database: each diff block is fenced with more backticks than any run inside
    it, control characters are shown escaped (one change stays one line), and
    text outside a fence is escaped, so nothing can close a fence or add text
    that looks like configsync's own."""
    lines = [f"### configsync {title.lower()}: {summary_line(plan)}", "", md_text(header), ""]
    base = baseline_line(plan)
    if base and plan.changes:
        lines += [md_text(base), ""]
    for reason in plan.unsafe_reasons():
        lines += [f"> **Warning:** {md_text(reason)}. `apply` refuses this without `--allow-mass-delete`.", ""]
    if not plan.changes:
        lines.append("No changes: the database already matches this revision.")
        return "\n".join(lines) + "\n"
    from .baseline import split  # with the plan's modules (see the imports)

    # Drift and conflicts first, in their own section: they are not what the pull request asks for.
    others = [part for c in plan.changes if c.kind != "git" for part in [split(c)[1]]]
    if others:
        drift = drift_line(plan, title) or ""
        lines += ["#### Drift and conflicts", "", f"> **Warning:** {md_text(drift)}", ""]
        lines += _md_tables(plan, others, kinds=True)
        gits = [part for c in plan.changes for part in [c if c.kind == "git" else split(c)[0]] if part is not None]
        if gits:
            lines += ["#### Changes from git", ""]
            lines += _md_tables(plan, gits, level="#####")
        return "\n".join(lines) + "\n"
    lines += _md_tables(plan, plan.changes)
    return "\n".join(lines) + "\n"


def _md_tables(plan: Plan, changes: list[Change], *, kinds: bool = False, level: str = "####") -> list[str]:
    """A fenced diff per table of ``changes``; ``kinds``: each record and field says its kind."""
    lines = []
    for table in plan.tables:
        items = [c for c in changes if c.table == table]
        if not items:
            continue
        block = []
        for change in items:
            tag = f"  [{change.kind}]" if kinds else ""
            block.append(f"{_DIFF_MARK[change.action]} {one_line(label(change))}  ({one_line(change.file)}){tag}")
            for kind, path, old, new in kind_diffs(change):
                note = f"  ({kind})" if kinds else ""
                block.append(f"-     {one_line(path)}: {one_line(old)}")
                block.append(f"+     {one_line(path)}: {one_line(new)}{note}")
        fence = md_fence("\n".join(block))
        lines += [f"{level} {md_code(table)}", "", f"{fence}diff", *block, fence, ""]
    return lines


# ---- Markdown escaping ---------------------------------------------------------

_CONTROL = {"Cc", "Cf", "Zl", "Zp"}


def one_line(text: str) -> str:
    """``text`` on one line: control and format characters (newlines, carriage
    returns, bidi overrides) shown as escapes such as ``\\n`` or ``\\u202e``."""
    out = []
    for ch in text:
        if unicodedata.category(ch) in _CONTROL:
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch) or f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(re.escape(char) + "+", text)
    return max((len(r) for r in runs), default=0)


def md_fence(content: str) -> str:
    """A backtick fence that ``content`` cannot close: longer than any run of backticks in it."""
    return "`" * max(3, _longest_run(content, "`") + 1)


def md_code(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it holds (CommonMark's rule)."""
    text = one_line(text)
    ticks = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def md_text(text: str) -> str:
    """``text`` as literal Markdown text: ASCII punctuation backslash-escaped (no
    emphasis, links, HTML, tables or headings), on one line."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", one_line(text))


_DIFF_MARK = {"create": "+", "update": "!", "delete": "-"}


def json_text(plan: Plan, header: str = "", *, title: str = "Plan", color: bool = False) -> str:
    """The plan's changes and counts for programs, which need no header, title or color."""
    return values.dumps(plan.to_json(), indent=2) + "\n"


# Problems: ``prefix`` is the config root's path in the git repository, for
# formats read by tools that resolve paths from the repository's top.

def problems_text(problems: list[Problem], prefix: str = "") -> str:
    """FILE:LINE: MESSAGE, with paths relative to the config root."""
    return "".join(f"{p}\n" for p in problems)


def problems_json(problems: list[Problem], prefix: str = "") -> str:
    rows: Value = [{"file": prefix + p.file, "line": p.line, "message": p.message} for p in problems]
    return values.dumps(rows, indent=2) + "\n"


def problems_github(problems: list[Problem], prefix: str = "") -> str:
    """GitHub Actions workflow commands: each problem annotates its file and line.

    File names are escaped as command properties and messages as command data
    (GitHub's rules), so neither can end the command or add another one."""
    out = []
    for p in problems:
        where = f"file={gh_property(prefix + p.file)}" + (f",line={p.line}" if p.line else "")
        out.append(f"::error {where}::{gh_data(p.message)}")
    return "\n".join(out) + ("\n" if out else "")


def gh_data(text: str) -> str:
    """The message of a workflow command: %, CR and LF escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def gh_property(text: str) -> str:
    """A property value of a workflow command: also ``:`` and ``,``, which end it."""
    return gh_data(text).replace(":", "%3A").replace(",", "%2C")


# ---- the registry of output formats ------------------------------------------

class PlanRenderer(Protocol):
    def __call__(self, plan: Plan, header: str, *, title: str = ..., color: bool = ...) -> str: ...


ProblemRenderer = Callable[[list[Problem], str], str]  # (problems, prefix) -> output


@dataclass(frozen=True)
class Format:
    """One output format: how it shows a plan or a diff, and validation
    problems, where it can show them."""

    plan: PlanRenderer | None = None
    problems: ProblemRenderer | None = None
    # Posted where others read it (a pull-request comment): the header names no host.
    public: bool = False
    # Can show a command's result (status, snapshot, history) as data: each
    # result type has to_json(); text is each command's own.
    report: bool = False


# In the order --format lists them.
FORMATS: dict[str, Format] = {
    "text": Format(plan=text, problems=problems_text, report=True),
    "json": Format(plan=json_text, problems=problems_json, report=True),
    "markdown": Format(plan=markdown, public=True),
    "github": Format(problems=problems_github),
}


def formats(kind: Literal["plan", "problems", "report"]) -> list[str]:
    """The names a --format option offers for plans (and diffs), problems or results."""
    return [name for name, fmt in FORMATS.items() if getattr(fmt, kind) not in (None, False)]


def report_json(data: object) -> str:
    """A command's result (its to_json()) for programs."""
    return values.dumps(data, indent=2) + "\n"


def plan_renderer(name: str) -> PlanRenderer:
    renderer = FORMATS[name].plan
    if renderer is None:
        raise ValueError(f"format {name!r} cannot show a plan")
    return renderer


def problem_renderer(name: str) -> ProblemRenderer:
    renderer = FORMATS[name].problems
    if renderer is None:
        raise ValueError(f"format {name!r} cannot show problems")
    return renderer
