"""A plan: the changes, what they were computed against, and its safety limits.

The plan carries a fingerprint of every row it was computed against; apply
re-reads the rows under the lock and refuses if any differ (a stale plan, or
a saved plan applied twice). Saved to a file, a plan is pinned by a checksum.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import values
from .backends.base import TableInfo
from .baseline import Baseline
from .changes import ACTIONS, KINDS, Change, Kind
from .errors import PlanFileError as PlanFileError
from .errors import StalePlanError, UnsafePlanError
from .records import Key, State, TableRecords
from .values import Row

# /2: every change carries its kind (git, drift, conflict) and the plan its baseline.
FORMAT = "configsync-plan/2"
# A table losing more than this share of its rows in one apply needs
# --allow-mass-delete (or --max-deletes), once it has MIN_ROWS rows.
MAX_SAFE_DELETE_FRACTION = 0.3
MIN_ROWS_FOR_FRACTION = 10
# Changes encoded per call while checksumming a plan.
CHECKSUM_CHUNK = 2000


def mass_deletion(deletes: int, existing: int, creates: int, *, share: bool = True) -> str | None:
    """The mass-deletion rule, for apply (rows) and snapshot (files) alike:
    "all" when every one of ``existing`` goes and nothing new comes, "share"
    when more than MAX_SAFE_DELETE_FRACTION of at least MIN_ROWS_FOR_FRACTION
    go (only if ``share``), else None."""
    if not deletes:
        return None
    if deletes == existing and not creates:
        return "all"
    if share and existing >= MIN_ROWS_FOR_FRACTION and deletes / existing > MAX_SAFE_DELETE_FRACTION:
        return "share"
    return None


def row_hash(row: Row) -> str:
    # Only ever compared with a hash of the same table read by the same backend
    # (a plan names its database), so the Python text of the values is
    # canonical enough, and a fifth of the cost of canonical JSON.
    return hashlib.blake2b(repr(row).encode("utf-8"), digest_size=10).hexdigest()


def key_text(key: Key) -> str:
    return values.dumps(list(key))


def fingerprint(records: TableRecords) -> dict[str, str]:
    """key -> row hash for every row of a table, as read from the database."""
    return dict(sorted((key_text(k), row_hash(r.values)) for k, r in records.items()))


@dataclass(frozen=True)
class Observed:
    """The tables as described, and both sides as read, when a plan was made."""

    infos: Mapping[str, TableInfo]
    actual: State
    desired: State


@dataclass
class Plan:
    changes: list[Change]
    revision: str
    ref: str
    database: str
    tables: list[str]  # parents before children
    keys: dict[str, list[str]]
    fingerprints: dict[str, dict[str, str]]
    # PostgreSQL's digest of each table's rows as the plan saw them. Apply
    # compares it under its lock first and reads rows only where it differs
    # (to name what changed); tables without fingerprints were never read.
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def unread(self) -> list[str]:
        """Tables the plan found in sync by digest alone."""
        return [t for t in self.tables if t not in self.fingerprints]

    @property
    def read_tables(self) -> list[str]:
        """Tables whose rows the plan read (it has their fingerprints)."""
        return [t for t in self.tables if t in self.fingerprints]
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    # What the plan was computed from, when it was computed in this process
    # (a plan read from a file has none): apply needs no second read of it.
    observed: Observed | None = field(default=None, repr=False, compare=False)
    # What its changes were classified against (see baseline.py); None: not
    # classified (a diff between two revisions).
    baseline: Baseline | None = None

    @property
    def kinds(self) -> dict[str, int]:
        """How many changes are git, drift, conflict."""
        counts: dict[str, int] = {kind: 0 for kind in KINDS}
        for change in self.changes:
            counts[change.kind] += 1
        return counts

    @property
    def has_drift(self) -> bool:
        return any(c.kind != "git" for c in self.changes)

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {action: 0 for action in ACTIONS}
        for change in self.changes:
            counts[change.action] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def for_table(self, table: str) -> list[Change]:
        return [c for c in self.changes if c.table == table]

    def raise_if_unsafe(self, *, max_deletes: int | None = None, allow_mass_delete: bool = False) -> None:
        """Refuse plans that empty a table or delete a large share of one."""
        reasons = [] if allow_mass_delete else self.unsafe_reasons(max_deletes)
        if reasons:
            raise UnsafePlanError(
                "refusing a mass deletion:\n  " + "\n  ".join(reasons)
                + "\nIf this is intended, run again with --allow-mass-delete."
            )

    def unsafe_reasons(self, max_deletes: int | None = None) -> list[str]:
        """Why apply would refuse this plan without --allow-mass-delete."""
        reasons = []
        for table in self.tables:
            existing = len(self.fingerprints.get(table, {}))
            counts = {a: 0 for a in ACTIONS}
            for change in self.for_table(table):
                counts[change.action] += 1
            deletes = counts["delete"]
            limit = mass_deletion(deletes, existing, counts["create"], share=max_deletes is None)
            if limit == "all":
                reasons.append(f"{table}: would delete all {existing} rows, leaving the table empty")
            elif limit == "share":
                reasons.append(
                    f"{table}: would delete {deletes} of {existing} rows "
                    f"(more than {MAX_SAFE_DELETE_FRACTION:.0%})"
                )
        total = self.summary["delete"]
        if max_deletes is not None and total > max_deletes:
            reasons.append(f"would delete {total} rows, more than --max-deletes {max_deletes}")
        return reasons

    def check_fresh(self, current: Mapping[str, TableRecords]) -> None:
        """Raise StalePlanError naming what changed since the plan was made."""
        differences = []
        for table in self.tables:
            if table not in current:
                continue  # unread, or its digest matched: the backend checked it under the lock
            then = self.fingerprints.get(table, {})
            now = fingerprint(current.get(table, {}))
            if then == now:
                continue
            for key in sorted(set(then) | set(now)):
                label = ", ".join(str(v) for v in values.loads(key))  # type: ignore[union-attr]
                if key not in now:
                    differences.append(f"{table} {label}: deleted")
                elif key not in then:
                    differences.append(f"{table} {label}: created")
                elif then[key] != now[key]:
                    differences.append(f"{table} {label}: changed")
        if differences:
            shown = differences[:20] + ([f"... and {len(differences) - 20} more"] if len(differences) > 20 else [])
            raise StalePlanError(
                "the database changed since this plan was made:\n  " + "\n  ".join(shown)
                + "\nNothing was applied. Make a new plan and review it."
            )

    # ---- serialisation -------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        summary: dict[str, Any] = dict(self.summary)
        summary["total"] = len(self.changes)
        data: dict[str, Any] = {
            "changes": [c.to_json() for c in self.changes],
            "summary": summary,
            "revision": self.revision,
            "ref": self.ref,
            "database": self.database,
            "created_at": self.created_at,
        }
        if self.baseline is not None:
            data["baseline"] = self.baseline.to_json()
            data["kinds"] = self.kinds
        return data

    def checksum(self) -> str:
        body: dict[str, Any] = {
            "revision": self.revision,
            "database": self.database,
            "tables": self.tables,
            "keys": self.keys,
            "fingerprints": self.fingerprints,
        }
        if self.digests:
            body["digests"] = self.digests
        if self.baseline is not None:
            body["baseline"] = self.baseline.to_json()
        digest = hashlib.sha256(values.dumps(body, sort_keys=True).encode("utf-8"))
        # Each change's JSON after a newline, as values.dumps writes it; encoded
        # CHECKSUM_CHUNK changes at a time (the JSON of 300,000 changes at once
        # is a few hundred MB; one at a time, the calls cost more than the encoding).
        for start in range(0, len(self.changes), CHECKSUM_CHUNK):
            chunk = [c.to_json() for c in self.changes[start:start + CHECKSUM_CHUNK]]
            digest.update("".join(["\n" + text for text in values.dumps_each(chunk, sort_keys=True)]).encode("utf-8"))
        return digest.hexdigest()

    def save(self, path: Path) -> None:
        data = self.to_json()
        data.update(
            format=FORMAT,
            tables=self.tables,
            keys=self.keys,
            fingerprints=self.fingerprints,
            digests=self.digests,
            checksum=self.checksum(),
        )
        path.write_text(values.dumps(data, indent=2) + "\n", encoding="utf-8")


def load(path: Path) -> Plan:
    data: Any
    try:
        data = values.loads(path.read_bytes())
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan file: {exc.strerror}") from None
    except ValueError as exc:
        raise PlanFileError(f"{path}: not a configsync plan file (invalid JSON: {exc})") from None
    if isinstance(data, dict) and data.get("format") == "configsync-plan/1":
        raise PlanFileError(f"{path}: a plan file of an earlier configsync (without drift and conflicts); "
                            "make a new plan")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PlanFileError(f"{path}: not a configsync plan file (expected format {FORMAT})")
    try:
        plan = Plan(
            changes=[_change(c) for c in data["changes"]],
            revision=str(data["revision"]),
            ref=str(data["ref"]),
            database=str(data["database"]),
            tables=list(data["tables"]),
            keys={k: list(v) for k, v in data["keys"].items()},
            fingerprints={k: dict(v) for k, v in data["fingerprints"].items()},
            digests={str(k): str(v) for k, v in data.get("digests", {}).items()},
            created_at=str(data["created_at"]),
            baseline=_baseline(data.get("baseline")),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise PlanFileError(f"{path}: incomplete plan file ({exc})") from None
    if plan.checksum() != data.get("checksum"):
        raise PlanFileError(f"{path}: the plan file was modified after it was made (checksum mismatch)")
    return plan


def _change(data: Any) -> Change:
    return Change(
        action=data["action"],
        table=data["table"],
        key=dict(data["key"]),
        file=data["file"],
        before=data["before"],
        after=data["after"],
        fields=tuple(data.get("fields", ())),
        kind=_kind(data["kind"]),
        # Only fields that are not git are kept: git is the default (see changes.Change).
        field_kinds={str(f): kind for f, k in data.get("field_kinds", {}).items() if (kind := _kind(k)) != "git"},
    )


def _kind(value: Any) -> Kind:
    for kind in KINDS:
        if value == kind:
            return kind
    raise ValueError(f"unknown kind of change {value!r}")


def _baseline(data: Any) -> Baseline | None:
    if data is None:
        return None
    revision = data["revision"]
    return Baseline(None if revision is None else str(revision), str(data["note"]))


def order_tables(tables: Sequence[str], parents: Mapping[str, Sequence[str]]) -> list[str]:
    """Parents before children (foreign keys), otherwise in the given order."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(table: str) -> None:
        if table in ordered or table in visiting:
            return  # a cycle: keep configured order for the rest of it
        visiting.add(table)
        for parent in parents.get(table, ()):
            if parent in tables and parent != table:
                visit(parent)
        visiting.discard(table)
        ordered.append(table)

    for table in tables:
        visit(table)
    return ordered
