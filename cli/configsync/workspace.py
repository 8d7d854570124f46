"""The library API: one config repository, its git repo and its database.

Every command is one method here; the CLI only parses options and renders.
Reading (git, database) happens in a few places; deciding (diff, plan, safety)
is done by the pure modules.
"""
from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2

from .backends import Backend, HistoryEntry, TableInfo
from .baseline import Policy
from .cache import ValidationCache
from .changes import Change, changes
from .config import Config, load_config, resolve_database
from .errors import BackendError, ConfigError, Problem, RepoError
from .layout import table_dir
from .overlay import environments_in
from .plan import Plan
from .planner import Planner
from .records import State
from .repo import PENDING_PREFIX, Repo
from .shortcuts import Shortcuts
from .sides import Sides
from .stamps import STAMP_SCHEMA, worktree_stamp

# The rooms a command may not need are imported by the methods that use them:
# a warm plan or snapshot never loads apply, rollbacks or JSON Schema (a tenth
# of a second of a one-second command).
if TYPE_CHECKING:
    from .applier import Applier, ApplyResult, Confirm
    from .history import Records, RecordVersion
    from .rollbacks import PendingRollback, RollbackResult, Rollbacks, Show
    from .snapshotter import SnapshotResult


@dataclass
class Status:
    deployed: HistoryEntry | None
    head: str
    plan: Plan

    @property
    def in_sync(self) -> bool:
        return not self.plan.has_changes

    def to_json(self) -> dict[str, object]:
        d = self.deployed
        return {
            "in_sync": self.in_sync,
            "head": self.head,
            "deployed": None if d is None else {
                "revision": d.revision, "ref": d.ref, "applied_at": d.applied_at, "actor": d.actor,
                "created": d.creates, "updated": d.updates, "deleted": d.deletes,
            },
            "plan": self.plan.to_json(),
        }


class Workspace:
    """A config repository bound to one database: one method per command.

    The work is done by the rooms named after it: ``Planner``, ``Applier``
    (with ``backup``), ``Snapshotter``, ``Shortcuts`` (the cache policy), over
    ``Sides`` (reading the files and the database)."""

    def __init__(self, config: Config, database_url: str | Callable[[], str], env: str | None = None) -> None:
        self.config = config
        self.env = env
        self.repo = Repo(config)
        self.cache = ValidationCache(config.root / ".configsync" / "cache.sqlite")
        self.sides = Sides(config, self.repo, self.cache, database_url, env)
        self.shortcuts = Shortcuts(config, self.repo, self.cache)
        self._planner = Planner(self.sides, self.shortcuts)

    @functools.cached_property
    def _applier(self) -> Applier:
        from .applier import Applier
        return Applier(self.sides)

    @functools.cached_property
    def _records(self) -> Records:
        from .history import Records
        return Records(self.config, self.repo)

    @functools.cached_property
    def _rollbacks(self) -> Rollbacks:
        from .rollbacks import Rollbacks
        return Rollbacks(self.sides, self._planner, self._applier, self._records)

    @classmethod
    def open(
        cls,
        config_path: str | os.PathLike[str] | None = None,
        *,
        database: str | None = None,
        env: str | None = None,
        environ: Mapping[str, str] | None = None,
        settings: Config | None = None,
    ) -> Workspace:
        """The workspace of ``config_path``; with ``settings``, those instead of
        the file's (``trust.trusted_settings``: a pull request's plan)."""
        config = settings if settings is not None else load_config(config_path)
        return cls(config, lambda: resolve_database(config, database=database, env=env, environ=environ), env)

    @property
    def database_url(self) -> str:
        return self.sides.database_url

    @property
    def display_url(self) -> str:
        return self.sides.display_url

    @property
    def backend(self) -> Backend:
        return self.sides.backend

    def close(self) -> None:
        self.sides.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self, tables: Sequence[str]) -> dict[str, TableInfo]:
        return self.sides.describe(tables)

    def key_columns(self, table: str, info: TableInfo) -> tuple[str, ...]:
        return self.sides.key_columns(table, info)

    def actual_state(self, tables: Sequence[str], infos: Mapping[str, TableInfo]) -> State:
        return self.sides.actual_state(tables, infos)

    # ---- plan / apply --------------------------------------------------------

    def plan(self, ref: str = "HEAD", tables: Sequence[str] | None = None, *, prune: bool = True,
             commit: pygit2.Commit | None = None, use_cache: bool = False) -> Plan:
        """What apply would change to make the database match ``ref``; refused
        (BackendError) when the database is not set up to apply to these tables
        (Supabase: configsync_apply installed without them), as apply would be."""
        refusal = self.backend.apply_refusal(self.config.select(list(tables) if tables else None),
                                             self.config.history_table)
        if refusal:
            raise BackendError(refusal)
        return self._planner.plan(ref, tables, prune=prune, commit=commit, use_cache=use_cache)

    def check_clean(self) -> None:
        self._applier.check_clean()

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
        """Make the database match the plan's revision, atomically (see ``applier``);
        ``drift``: refuse, overwrite or keep drift and conflicts (None: per table)."""
        return self._applier.apply(plan, confirm=confirm, max_deletes=max_deletes,
                                   allow_mass_delete=allow_mass_delete, lock_timeout=lock_timeout,
                                   check_clean=check_clean, non_atomic=non_atomic, drift=drift)

    # ---- snapshot --------------------------------------------------------------

    def snapshot(self, tables: Sequence[str] | None = None, *, commit: bool = False,
                 message: str | None = None, with_assigned: bool = False,
                 allow_mass_delete: bool = False) -> SnapshotResult:
        """Write the database into record files; a file is rewritten only when
        its data differs, so comments and formatting survive. Removing every
        file of a table, or a large share, needs ``allow_mass_delete``."""
        from .snapshotter import Snapshotter
        return Snapshotter(self.sides, self.shortcuts).snapshot(tables, commit=commit, message=message,
                                                                with_assigned=with_assigned,
                                                                allow_mass_delete=allow_mass_delete)

    # ---- files only --------------------------------------------------------------

    def validate(self, paths: Sequence[str] = ()) -> list[Problem]:
        """Every problem in the work tree's record and schema files."""
        from .validation import problems_in
        stamp, settled = worktree_stamp(self.config)  # before reading: a file changed meanwhile changes it
        keys = {t: s.key for t, s in self.config.tables.items()}
        known = self.shortcuts.for_validate()
        live = [t for t in self.config.tables if t not in known.skip]
        source = self.repo.worktree_source(live if known.trees else None, lazy=True)
        problems: list[Problem] = []
        # The base, and each environment's merged result.
        envs = [None, *sorted(set(self.config.environments) | set(environments_in(self.config, source)))]
        for env in envs:
            problems += [p for p in problems_in(self.config, source, keys, live, env=env, cache=self.cache)
                         if p not in problems]
        for table in live:
            prefix = table_dir(self.config, table) + "/"
            if not any(p.file.startswith(prefix) for p in problems):
                self.shortcuts.validated(known, table)
        if not problems and settled:
            self.cache.remember(STAMP_SCHEMA, stamp)  # the next run answers from this (cli.files)
        self.cache.save()
        if paths:
            wanted = [self._config_relative(p) for p in paths]
            problems = [p for p in problems if any(p.file == w or p.file.startswith(w.rstrip("/") + "/") for w in wanted)]
        return problems

    def _config_relative(self, path: str) -> str:
        absolute = Path(path).resolve()
        try:
            return absolute.relative_to(self.config.root.resolve()).as_posix()
        except ValueError:
            raise ConfigError(f"{path}: not inside the config repository {self.config.root}") from None

    def diff(self, rev1: str, rev2: str = "HEAD") -> Plan:
        """Record- and field-level changes from ``rev1`` to ``rev2``; no database."""
        old, new = self.repo.resolve(rev1), self.repo.resolve(rev2)
        keys = {t: s.key for t, s in self.config.tables.items()}
        before = self._revision_state(old, rev1, keys)
        after = self._revision_state(new, rev2, keys)
        found: list[Change] = []
        for table in self.config.tables:
            found += changes(table, after.get(table, {}), before.get(table, {}), keys[table] or (),
                             missing_fields_differ=True)
        return Plan(found, str(new.id), rev2, "", list(self.config.tables), {}, {})

    def _revision_state(self, commit: pygit2.Commit, ref: str, keys: Mapping[str, tuple[str, ...] | None]) -> State:
        """The files' state at a revision. A table it does not have at all (no
        schema file, no record file: a pull request that adds the table, diffed
        against its base branch) is empty there rather than an error."""
        source = self.repo.source_at(commit, ref)
        top = len(self.config.snapshots) + 1
        directories = {f.path[top:].split("/", 1)[0] for f in source.snapshots}
        present = [t for t in self.config.tables if self.config.schema_path(t) in source.schemas or t in directories]
        from .validation import load_state
        return load_state(self.config, source, keys, present, env=self.env).state

    def history(self, record: str) -> list[RecordVersion]:
        """The git history of one record (TABLE/NAME: the file's name or the key as typed)."""
        return self._records.versions(record)

    # ---- schemas -----------------------------------------------------------------

    def infer_schemas(self, tables: Sequence[str] | None = None) -> dict[str, dict[str, object]]:
        """JSON Schemas from the database's column types and current rows."""
        from . import inference
        names = self.config.select(list(tables) if tables else None)
        infos = self.describe(names)
        actual = self.actual_state(names, infos)
        return {
            t: inference.table_schema(t, infos[t], self.key_columns(t, infos[t]),
                                      self.config.table(t).hidden(), [r.values for r in actual[t].values()])
            for t in names
        }

    def check_schemas(self, tables: Sequence[str] | None = None) -> list[str]:
        """Where the schema files and the database's columns disagree (schema drift)."""
        from . import inference
        source = self.repo.worktree_source()
        found = []
        for table, inferred in self.infer_schemas(tables).items():
            path = self.config.schema_path(table)
            file = source.schemas.get(path)
            if file is None:
                found.append(f"{table}: no schema file {path}")
                continue
            try:
                declared = json.loads(file.data)
            except ValueError as exc:
                found.append(f"{path}: invalid JSON: {exc}")
                continue
            found += inference.differences(table, declared if isinstance(declared, dict) else {}, inferred,
                                           self.config.table(table).hidden())
        return found

    # ---- status / rollback -----------------------------------------------------

    def status(self) -> Status:
        plan = self._planner.plan("HEAD", use_cache=True)  # read-only: no apply refusal
        entries = self.backend.history(self.config.history_table, limit=1)
        return Status(entries[0] if entries else None, plan.revision, plan)

    def rollback(
        self,
        commit: str | None = None,
        *,
        to: str | None = None,
        tables: Sequence[str] | None = None,
        dry_run: bool = False,
        apply: bool = True,
        confirm: Confirm | None = None,
        max_deletes: int | None = None,
        allow_mass_delete: bool = False,
        show: Show | None = None,
    ) -> RollbackResult:
        """Revert ``commit`` (or restore ``to``, only ``tables`` when given) and apply (see ``rollbacks``);
        ``show`` gets the plan before it is applied."""
        return self._rollbacks.rollback(commit, to=to, tables=tables, dry_run=dry_run, apply=apply, confirm=confirm,
                                        max_deletes=max_deletes, allow_mass_delete=allow_mass_delete, show=show)

    def restore(self, record: str, source: str, *, dry_run: bool = False, apply: bool = True,
                confirm: Confirm | None = None, show: Show | None = None) -> RollbackResult:
        """One record as it was at ``source``, committed and applied (see ``rollbacks``)."""
        return self._rollbacks.restore(record, source, dry_run=dry_run, apply=apply, confirm=confirm, show=show)

    def pending_rollback(self) -> PendingRollback | None:
        """This environment's rollback that did not land while HEAD is where it was made (see ``rollbacks``)."""
        if not self.repo.has_refs(PENDING_PREFIX):  # as nearly always: no need to load rollbacks
            return None
        return self._rollbacks.pending()

    # ---- for the CLI ----
    # What the commands show of git, so that they need neither Repo nor pygit2.

    def describe_revision(self, revision: str, ref: str = "") -> str:
        """``revision`` for people: its short id and the branch or ref it was
        named by. One this repository lacks (a plan saved in another clone) is
        shown as its short id."""
        try:
            return self.repo.describe(self.repo.resolve(revision), ref)
        except RepoError:
            return revision[:7]

    def has_uncommitted_changes(self) -> bool:
        """Are record files, schemas or configsync.yaml changed and not committed?"""
        return bool(self.repo.dirty_paths())

    @property
    def path_prefix(self) -> str:
        """Where the config root is inside the git work tree ("" at its top, else
        ending in "/"): prepended, it makes a config path relative to the repository."""
        return self.repo.prefix


def __getattr__(name: str) -> object:
    """The result types of the rooms imported on use (see above), for callers
    that import them from here."""
    if name == "ApplyResult":
        from .applier import ApplyResult
        return ApplyResult
    if name == "RecordVersion":
        from .history import RecordVersion
        return RecordVersion
    if name == "RollbackResult":
        from .rollbacks import RollbackResult
        return RollbackResult
    if name == "SnapshotResult":
        from .snapshotter import SnapshotResult
        return SnapshotResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ApplyResult", "RecordVersion", "RollbackResult", "SnapshotResult", "Status", "Workspace"]
