"""Three-way plans: each difference against the last revision deployed.

A plan compares the new revision (git) with the database. The revision last
applied to that database (its history table) tells who moved: where the
database still equals the deployed revision, the change is the one under
review (**git**); where the database moved and the new revision did not,
applying would undo an edit made outside configsync (**drift**); where both
moved, differently, it is a **conflict**. Pure functions, no I/O: the
planner reads the deployed revision's records, the applier decides with
``decide`` what to write.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .changes import KINDS, Change, Kind
from .errors import DriftRefusedError
from .records import Record, TableRecords, key_of
from .values import Row, equal

#: A table's `drift` setting (and the apply options): what apply does with drift and conflicts.
Policy = Literal["refuse", "overwrite", "keep"]
POLICIES: tuple[Policy, ...] = ("refuse", "overwrite", "keep")
_ABSENT = object()


@dataclass(frozen=True)
class Baseline:
    """What a plan was classified against: the deployed revision, or None
    with ``note`` saying why there is none (every difference is then git)."""

    revision: str | None
    note: str = ""

    def to_json(self) -> dict[str, object]:
        return {"revision": self.revision, "note": self.note}


def worst(kinds: Sequence[Kind]) -> Kind:
    """A record's kind from its fields': conflict over drift over git."""
    return max(kinds, key=KINDS.index, default="git")


def classify(change: Change, base: Record | None, column_kinds: Mapping[str, str] | None = None) -> Change:
    """``change`` with its kind (and each updated field's) against ``base``,
    the record at the deployed revision (None: it had none)."""
    column_kinds = column_kinds or {}
    if change.action == "create":  # the database has no such row
        if base is None:
            return change  # new in git
        # It was deployed and is gone: deleted outside configsync. Git left it as deployed, or changed it too.
        kind: Kind = "drift" if _same(change.after or {}, base.values, column_kinds) else "conflict"
        return dataclasses.replace(change, kind=kind)
    if change.action == "delete":  # the new revision has no such file
        if base is None:
            return dataclasses.replace(change, kind="drift")  # created outside configsync
        # Deleted in git: as deployed in the database (git), or edited there too (conflict).
        have = change.before or {}
        moved = any(c not in have or not equal(v, have[c], column_kinds.get(c, "other")) for c, v in base.values.items())
        return dataclasses.replace(change, kind="conflict" if moved else "git")
    before, after = change.before or {}, change.after or {}
    fields: dict[str, Kind] = {}  # only fields that are not git: the default
    for name in change.fields:
        kind = _field_kind(name, before, after, base, column_kinds.get(name, "other"))
        if kind != "git":
            fields[name] = kind
    return dataclasses.replace(change, kind=worst(list(fields.values())), field_kinds=fields)


def _field_kind(name: str, before: Row, after: Row, base: Record | None, column_kind: str) -> Kind:
    if base is None:
        return "conflict"  # the record is new on both sides, and they differ
    if name not in base.values or name not in before:
        return "git"  # the file did not manage the field when deployed: git starts to
    deployed = base.values[name]
    if equal(deployed, before[name], column_kind):
        return "git"
    if name in after and equal(deployed, after[name], column_kind):
        return "drift"
    return "conflict"


def _same(a: Row, b: Row, column_kinds: Mapping[str, str]) -> bool:
    return a.keys() == b.keys() and all(equal(v, b[c], column_kinds.get(c, "other")) for c, v in a.items())


def classify_table(items: Sequence[Change], base: TableRecords, key_columns: Sequence[str],
                   column_kinds: Mapping[str, str] | None = None) -> list[Change]:
    """Every change of one table against its records at the deployed revision."""
    return [classify(c, base.get(key_of(c.key, key_columns)), column_kinds) for c in items]


# ---- what apply does with them -------------------------------------------------------

@dataclass
class Decision:
    """A plan's changes as apply will treat them."""

    write: list[Change]  # what apply writes (reduced to the git fields where drift is kept)
    overwritten: list[Change]  # drift and conflicts apply undoes, as told
    kept: list[Change]  # drift and conflicts left as the database has them (only their drift and conflict fields)
    refused: list[Change]


def decide(changes: Sequence[Change], policy: Callable[[str], Policy]) -> Decision:
    """What apply writes, given each table's ``policy`` for drift and conflicts."""
    result = Decision([], [], [], [])
    for change in changes:
        if change.kind == "git":
            result.write.append(change)
            continue
        chosen = policy(change.table)
        if chosen == "refuse":
            result.refused.append(change)
        elif chosen == "overwrite":
            result.write.append(change)
            result.overwritten.append(change)
        else:
            git, other = split(change)
            if git is not None:
                result.write.append(git)
            result.kept.append(other)
    return result


def split(change: Change) -> tuple[Change | None, Change]:
    """An update's git fields (None: it has none) and its drift and conflict
    fields, as two changes; a create or delete is not split."""
    if change.action != "update":
        return None, change
    git = tuple(f for f in change.fields if change.field_kind(f) == "git")
    other = tuple(f for f in change.fields if f not in git)
    before = change.before or {}
    after = change.after or {}

    def part(fields: tuple[str, ...]) -> Change:
        kinds = {f: change.field_kind(f) for f in fields if change.field_kind(f) != "git"}
        return dataclasses.replace(change, fields=fields, after={**before, **{f: after[f] for f in fields if f in after}},
                                   kind=worst(list(kinds.values())), field_kinds=kinds)

    return (part(git) if git else None), part(other)


def describe(change: Change, *, consequence: bool = True) -> list[str]:
    """Why a drift or conflict change matters, one line per record or field;
    ``consequence``: and what applying it would do."""
    where = f"{change.table} {_label(change)} ({change.file})"

    def then(text: str) -> str:
        return f"; applying would {text}" if consequence else ""

    if change.action == "create":
        if change.kind == "drift":
            return [f"{where}: deleted in the database outside configsync" + then("create it again")]
        return [f"{where}: deleted in the database, and changed in git since the deployed revision"]
    if change.action == "delete":
        if change.kind == "drift":
            return [f"{where}: created in the database outside configsync" + then("delete it")]
        return [f"{where}: edited in the database, and deleted in git"]
    lines = []
    for name in change.fields:
        kind = change.field_kind(name)
        if kind == "drift":
            lines.append(f"{where}: {name}: edited in the database outside configsync" + then("put back the deployed value"))
        elif kind == "conflict":
            lines.append(f"{where}: {name}: changed in the database and in git, differently")
    return lines


def _label(change: Change) -> str:
    if change.key:
        return ", ".join(str(v) for v in change.key.values())
    return change.file.rsplit("/", 1)[-1].removesuffix(".yaml")


def refuse(refused: Sequence[Change], env: str | None = None) -> None:
    """Raise DriftRefusedError naming every record and field of ``refused``."""
    if not refused:
        return
    lines = [line for change in refused for line in describe(change)]
    shown = lines[:50] + ([f"... and {len(lines) - 50} more"] if len(lines) > 50 else [])
    tables = sorted({c.table for c in refused})
    env_option = f" --env {env}" if env else ""
    raise DriftRefusedError(
        "refusing to undo edits made in the database outside configsync (drift) or to resolve conflicts:\n  "
        + "\n  ".join(shown)
        + "\nNothing was applied. To keep these edits, put them in git: on a branch, run "
        f"`configsync snapshot --commit{env_option}` and open a pull request. To apply without them: "
        "--keep-drift (they stay as they are); to undo them: --overwrite-drift; or set "
        + ", ".join(f"tables.{t}.drift" for t in tables) + " in configsync.yaml (refuse, keep or overwrite)."
    )


__all__ = ["KINDS", "POLICIES", "Baseline", "Decision", "Kind", "Policy", "classify", "classify_table", "decide",
           "describe", "refuse", "split", "worst"]
