"""Applying a plan: the checks before, the backup, the one transaction.

Order: refuse unsafe or foreign plans, confirm, save a backup ref of the
current database state, then one backend call that locks, re-reads and checks
the plan is still fresh, deletes children-first, writes parents-first and
records the apply in the history table, all in one transaction.
"""
from __future__ import annotations

import dataclasses
import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from . import __version__, progress, readback
from .backends import HistoryEntry, Operation, TableInfo, WriteBatch
from .backup import save_backup
from .baseline import Policy, decide, refuse
from .changes import Change
from .errors import ConfigsyncError, OutcomeUnknownError, RepoError, StalePlanError
from .plan import Plan
from .records import Key, State, key_of
from .repo import Repo
from .sides import Sides
from .values import Row

Confirm = Callable[[Plan], bool]


@dataclass
class ApplyResult:
    plan: Plan
    backup_ref: str | None
    applied: bool
    notes: list[str] = field(default_factory=list)  # what the backend wants the user to know
    # Drift and conflicts apply undid as told, and those it left as the
    # database has them (--keep-drift: only their drift and conflict fields).
    overwritten: list[Change] = field(default_factory=list)
    kept: list[Change] = field(default_factory=list)


class Applier:
    def __init__(self, sides: Sides) -> None:
        self.sides = sides

    def check_clean(self) -> None:
        dirty = self.sides.repo.dirty_paths()
        if dirty:
            shown = "\n  ".join(dirty[:10]) + ("\n  ..." if len(dirty) > 10 else "")
            raise RepoError(
                "uncommitted changes that apply would ignore (it applies committed revisions):\n  "
                + shown + "\nCommit or stash them first."
            )

    def apply(
        self,
        plan: Plan,
        *,
        confirm: Confirm | None = None,
        max_deletes: int | None = None,
        allow_mass_delete: bool = False,
        lock_timeout: float = 60.0,
        check_clean: bool = True,
        non_atomic: bool = False,
        drift: Policy | None = None,
    ) -> ApplyResult:
        """Make the database match the plan's revision, atomically.

        ``drift``: what to do with drift and conflicts (see baseline.py):
        refuse, overwrite (undo them) or keep (write only the git changes);
        None: each table's `drift` setting."""
        sides = self.sides
        if check_clean:
            self.check_clean()
        if plan.database != sides.display_url:
            raise ConfigsyncError(
                f"this plan was made for {plan.database}, not {sides.display_url}; make a new plan"
            )
        decision = decide(plan.changes, lambda table: drift or sides.config.table(table).drift)
        # The history row names the plan as made (a saved plan applied twice is
        # still recognised); what is written is the decision's part of it.
        checksum = plan.checksum()
        if decision.refused:
            # Another apply since the plan makes its changes look like drift: say what happened instead.
            self._raise_if_stale(plan, checksum)
            refuse(decision.refused, sides.env)
        if decision.kept:
            plan = dataclasses.replace(plan, changes=decision.write)
        plan.raise_if_unsafe(max_deletes=max_deletes, allow_mass_delete=allow_mass_delete)
        if confirm is not None and not confirm(plan):
            return ApplyResult(plan, None, applied=False)
        infos, actual = self._state_for(plan)
        try:
            plan.check_fresh(actual)
        except StalePlanError:
            self._raise_if_already_applied(checksum)
            raise
        # An update whose drifted fields are kept must read them back as the database has them.
        kept = {(c.table, key_of(c.key, list(c.key))): {f: (c.before or {}).get(f) for f in c.fields}
                for c in decision.kept if c.action == "update"}
        batch = self._batch(plan, infos, lock_timeout, non_atomic, checksum, kept)
        specs, excludes = batch.reads, batch.json_excludes
        backup = save_backup(sides, plan, infos, actual) if plan.has_changes else None

        def verify(rows: dict[str, list[Row]]) -> None:
            plan.check_fresh(sides.state_of(specs, rows))
            readback.keep_excluded(batch.operations, rows, excludes)

        try:
            with progress.task(f"applying {len(batch.operations):,} changes", one_call=True):
                outcome = sides.backend.apply(batch, verify)
        except OutcomeUnknownError as exc:  # the writes may have happened: keep the backup
            if backup:
                env = f" --env {sides.env}" if sides.env else ""
                raise OutcomeUnknownError(f"{exc}\nBackup of the previous state: {backup}\n"
                                          f"  undo with: configsync rollback --to {backup}{env}") from None
            raise
        except BaseException:
            if backup:
                sides.repo.delete_ref(backup)
            raise
        return ApplyResult(plan, backup, applied=True, notes=outcome.notes, overwritten=decision.overwritten,
                           kept=decision.kept)

    def _batch(self, plan: Plan, infos: Mapping[str, TableInfo], lock_timeout: float, non_atomic: bool,
               checksum: str, kept: Mapping[tuple[str, Key], Row] | None = None) -> WriteBatch:
        """Everything the backend needs for the one transaction: what to re-read,
        the ordered writes with what each must read back, the history row."""
        sides = self.sides
        specs = sides.read_specs(plan.read_tables, infos)
        ops = operations(plan, infos, kept)
        hidden_in: dict[str, frozenset[str]] = {}  # per table: asked once, not once per row
        for op in ops:  # secret and excluded columns are not managed: never read back, never shown
            hidden = hidden_in.get(op.table.name)
            if hidden is None:
                hidden = hidden_in[op.table.name] = sides.config.table(op.table.name).hidden()
            if op.expected is not None and hidden:
                for column in [c for c in op.expected if c in hidden]:
                    del op.expected[column]
        excludes = {t: dict(paths) for t in plan.tables if (paths := sides.config.table(t).json_excludes())}
        # An update of a json column with excluded paths keeps the database's
        # values there, as read under the lock: such a table is always re-read.
        merged = {op.table.name for op in ops
                  if op.action == "update" and any(c in op.values for c in excludes.get(op.table.name, {}))}
        batch = WriteBatch(
            reads=specs,
            operations=ops,
            history=HistoryEntry(
                revision=plan.revision, ref=plan.ref, actor=actor(sides.repo),
                creates=plan.summary["create"], updates=plan.summary["update"],
                deletes=plan.summary["delete"], checksum=checksum, tool_version=__version__,
            ),
            history_table=sides.config.history_table,
            lock_timeout=lock_timeout,
            non_atomic=non_atomic and not sides.backend.capabilities.atomic_apply,
            notify_channel=sides.config.notify_channel,
            digests=[(spec, plan.digests[spec.table.name])
                     for spec in sides.read_specs([t for t in plan.tables if t in plan.digests and t not in merged],
                                                  infos)],
            json_excludes=excludes,
        )
        return batch

    def _raise_if_stale(self, plan: Plan, checksum: str) -> None:
        """StalePlanError if the rows moved since the plan (outside the lock:
        only to name the right problem; the check under the lock stays)."""
        sides = self.sides
        infos = plan.observed.infos if plan.observed is not None else sides.describe(plan.tables)
        # Tables the plan found in sync by digest alone: read back only where the digest moved.
        unread = [t for t in plan.unread if t in plan.digests]
        rows, _ = sides.backend.read_unless(sides.read_specs(unread, infos), {t: {plan.digests[t]} for t in unread})
        try:
            moved = [t for t in unread if rows.get(t) is not None]
            if moved:
                raise StalePlanError("the database changed since this plan was made:\n  "
                                     + "\n  ".join(f"{t}: changed" for t in moved)
                                     + "\nNothing was applied. Make a new plan and review it.")
            plan.check_fresh(sides.actual_state(plan.read_tables, infos))
        except StalePlanError:
            self._raise_if_already_applied(checksum)
            raise

    def _raise_if_already_applied(self, checksum: str) -> None:
        for entry in self.sides.backend.history(self.sides.config.history_table, limit=100):
            if entry.checksum == checksum:
                raise StalePlanError(
                    f"this plan was already applied at {entry.applied_at} by {entry.actor}; "
                    "nothing was applied. Make a new plan to see what differs now."
                )

    def _state_for(self, plan: Plan) -> tuple[Mapping[str, TableInfo], State]:
        if plan.observed is not None:  # made in this process: it already read the database
            return plan.observed.infos, plan.observed.actual
        infos = self.sides.describe(plan.tables)
        return infos, self.sides.actual_state(plan.read_tables, infos)


def operations(plan: Plan, infos: Mapping[str, TableInfo],
               kept: Mapping[tuple[str, Key], Row] | None = None) -> list[Operation]:
    """The plan's changes as writes: deletes children-first, then creates and
    updates parents-first (foreign keys). Each write carries the values that
    must read back unchanged: the file's (a plan read from a file: the changed
    ones), but the database's for the fields ``kept`` (table, key -> values)."""
    kept = kept or {}
    desired = plan.observed.desired if plan.observed is not None else {}
    by_table: dict[str, list[Change]] = {table: [] for table in plan.tables}
    for change in plan.changes:  # plan.for_table per table: a pass over every change each time
        by_table.setdefault(change.table, []).append(change)
    ops = []
    for table in reversed(plan.tables):  # children first
        ops += [Operation("delete", infos[table], c.key, {}, c.file)
                for c in by_table[table] if c.action == "delete"]
    for table in plan.tables:  # parents first
        # Creates that leave an integer column to the database (a serial id)
        # come after those that name it (a restore): the database's next value
        # must not take an id a later row of this apply names. (Decided from the
        # rows: the REST API does not say which columns are serial.)
        changes = by_table[table]
        named = {n for c in changes if c.action == "create" for n, v in (c.after or {}).items()
                 if type(v) is int or (isinstance(v, int) and not isinstance(v, bool))}
        last = [c for c in changes if c.action == "create" and any((c.after or {}).get(n) is None for n in named)]
        if last:  # sorted (stable): those creates after the rest
            later = {id(c) for c in last}
            changes = [c for c in changes if id(c) not in later] + last
        for c in changes:
            if c.action == "create":
                after = c.after or {}
                ops.append(Operation("insert", infos[table], c.key, dict(after), c.file, dict(after)))
            elif c.action == "update":
                after = c.after or {}
                written = {f: after.get(f) for f in c.fields}
                key = key_of(c.key, list(c.key))
                record = desired.get(table, {}).get(key)
                expected = dict(record.values) if record is not None else dict(written)
                expected.update(kept.get((table, key), {}))
                ops.append(Operation("update", infos[table], c.key, written, c.file, expected))
    return ops


def actor(repo: Repo) -> str:
    """Who applies, for the history table."""
    github = os.environ.get("GITHUB_ACTOR")
    if github:
        return f"{github} (GitHub Actions)"
    sig = repo.signature()
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{sig.name} <{sig.email}> as {user}"


__all__ = ["Applier", "ApplyResult", "Confirm", "actor", "operations"]
