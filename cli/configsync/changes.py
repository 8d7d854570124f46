"""The diff: ``changes(desired, actual)`` -> list of Change. Pure, no I/O."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .records import TableRecords
from .values import Row, equal

Action = Literal["create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete")
# Who moved, against the revision last deployed to the database (see baseline.py):
# git (the change under review), drift (an edit made in the database outside
# configsync, which applying would undo), conflict (both, differently).
Kind = Literal["git", "drift", "conflict"]
KINDS: tuple[Kind, ...] = ("git", "drift", "conflict")

@dataclass(frozen=True, slots=True)
class Change:
    action: Action
    table: str
    key: Row
    file: str
    before: Row | None
    after: Row | None
    fields: tuple[str, ...] = ()
    kind: Kind = "git"
    # For an update: the kind of each changed field that is not git.
    field_kinds: Mapping[str, Kind] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "table": self.table,
            "action": self.action,
            "key": self.key,
            "file": self.file,
            "before": self.before,
            "after": self.after,
            "kind": self.kind,
        }
        if self.action == "update":
            data["fields"] = list(self.fields)
            data["field_kinds"] = {f: self.field_kinds.get(f, "git") for f in self.fields}
        return data

    def field_kind(self, name: str) -> Kind:
        return self.field_kinds.get(name, "git")


def changes(
    table: str,
    desired: TableRecords,
    actual: TableRecords,
    key_columns: Sequence[str],
    kinds: Mapping[str, str] | None = None,
    *,
    missing_fields_differ: bool = False,
) -> list[Change]:
    """What turns ``actual`` into ``desired`` for one table.

    A column absent from a desired record is not managed for that record (the
    database keeps or defaults it), unless ``missing_fields_differ`` (used when
    comparing two revisions of the files, where a removed line is a change).
    """
    kinds = kinds or {}
    result = []
    for key, want in desired.items():
        have = actual.get(key)
        if have is not None and have.values is want.values:
            continue  # the file was recognised as this very row (see validation.load_state)
        key_row = {c: want.values.get(c) for c in key_columns}
        if have is None:
            result.append(Change("create", table, key_row, want.file, None, want.values))
            continue
        fields = [
            c for c in want.values
            if c not in have.values or not equal(want.values[c], have.values[c], kinds.get(c, "other"))
        ]
        if missing_fields_differ:
            fields += [c for c in have.values if c not in want.values]
        if fields:
            after = {**have.values, **want.values}
            if missing_fields_differ:
                after = dict(want.values)
            result.append(Change("update", table, key_row, want.file, dict(have.values), after, tuple(fields)))
    for key, have in actual.items():
        if key not in desired:
            key_row = {c: have.values.get(c) for c in key_columns}
            result.append(Change("delete", table, key_row, have.file, dict(have.values), None))
    result.sort(key=lambda c: (c.file, ACTIONS.index(c.action)))
    return result


def for_mode(items: list[Change], mode: str, prune: bool = True) -> list[Change]:
    """Drop what a table's mode forbids: upsert never deletes, seed only creates."""
    modes: dict[str, set[str]] = {"reconcile": set(ACTIONS), "upsert": {"create", "update"}, "seed": {"create"}}
    allowed = modes[mode]
    if not prune:
        allowed = allowed - {"delete"}
    return [c for c in items if c.action in allowed]
