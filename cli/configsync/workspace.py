"""The library API: one config repository, its git repo and its database.

Every command is one method here; the CLI only parses options and renders.
Reading (git, database) happens in a few places; deciding (diff, plan, safety)
is done by the pure modules.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pygit2

from . import inference, naming, yamlio
from .applier import Applier, ApplyResult, Confirm
from .backends import Backend, HistoryEntry, TableInfo
from .backup import backup_environment, is_backup, overlay_tree
from .cache import ValidationCache
from .changes import Change, changes
from .config import Config, load_config, resolve_database
from .errors import ConfigError, Problem, RepoError, ValidationError
from .layout import overlay_dir, table_dir, twin_name
from .overlay import environments_in
from .plan import Plan
from .planner import Planner
from .records import Record, State
from .repo import CommitInfo, PathVersion, Repo
from .shortcuts import Shortcuts
from .sides import Sides
from .snapshotter import SnapshotResult, Snapshotter
from .validation import load_state
from .values import Row


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


@dataclass
class RollbackResult:
    commit: pygit2.Commit
    plan: Plan | None
    apply: ApplyResult | None
    committed: bool

    @property
    def commit_info(self) -> CommitInfo:
        return CommitInfo.of(self.commit)


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
        self._applier = Applier(self.sides)

    @classmethod
    def open(
        cls,
        config_path: str | os.PathLike[str] | None = None,
        *,
        database: str | None = None,
        env: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Workspace:
        config = load_config(config_path)
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
        """What apply would change to make the database match ``ref``."""
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
    ) -> ApplyResult:
        """Make the database match the plan's revision, atomically (see ``applier``)."""
        return self._applier.apply(plan, confirm=confirm, max_deletes=max_deletes,
                                   allow_mass_delete=allow_mass_delete, lock_timeout=lock_timeout,
                                   check_clean=check_clean, non_atomic=non_atomic)

    # ---- snapshot --------------------------------------------------------------

    def snapshot(self, tables: Sequence[str] | None = None, *, commit: bool = False,
                 message: str | None = None, with_assigned: bool = False,
                 allow_mass_delete: bool = False) -> SnapshotResult:
        """Write the database into record files; a file is rewritten only when
        its data differs, so comments and formatting survive. Removing every
        file of a table, or a large share, needs ``allow_mass_delete``."""
        return Snapshotter(self.sides, self.shortcuts).snapshot(tables, commit=commit, message=message,
                                                                with_assigned=with_assigned,
                                                                allow_mass_delete=allow_mass_delete)

    # ---- files only --------------------------------------------------------------

    def validate(self, paths: Sequence[str] = ()) -> list[Problem]:
        """Every problem in the work tree's record and schema files."""
        keys = {t: s.key for t, s in self.config.tables.items()}
        known = self.shortcuts.for_validate()
        live = [t for t in self.config.tables if t not in known.skip]
        source = self.repo.worktree_source(live if known.trees else None)
        problems: list[Problem] = []
        # The base, and each environment's merged result.
        envs = [None, *sorted(set(self.config.environments) | set(environments_in(self.config, source)))]
        for env in envs:
            try:
                load_state(self.config, source, keys, live, env=env, cache=self.cache)
            except ValidationError as exc:
                problems += [p for p in exc.problems if p not in problems]
        for table in live:
            prefix = table_dir(self.config, table) + "/"
            if not any(p.file.startswith(prefix) for p in problems):
                self.shortcuts.validated(known, table)
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
        before = load_state(self.config, self.repo.source_at(old, rev1), keys, env=self.env).state
        after = load_state(self.config, self.repo.source_at(new, rev2), keys, env=self.env).state
        found: list[Change] = []
        for table in self.config.tables:
            found += changes(table, after[table], before[table], keys[table] or (), missing_fields_differ=True)
        return Plan(found, str(new.id), rev2, "", list(self.config.tables), {}, {})

    def history(self, record: str) -> list[RecordVersion]:
        table, candidates = self._record_candidates(record)
        for candidate in candidates:
            versions = self.repo.log_path(candidate)
            if versions:
                return [_record_version(table, v) for v in versions]
        raise RepoError(f"{candidates[0].removeprefix(self.config.snapshots + '/')}: no such record in the history of HEAD")

    def _record_candidates(self, record: str) -> tuple[str, list[str]]:
        """The table of TABLE/NAME and the paths NAME may mean: the file's name,
        or the key as typed (percent-encoded, maybe a twin's name)."""
        table, _, name = record.strip("/").partition("/")
        self.config.table(table)
        if not name:
            raise ConfigError(f"{record}: expected TABLE/NAME, e.g. {table}/my-record")
        stem = name.removesuffix(naming.EXTENSION)
        encoded = naming.encode(stem) + naming.EXTENSION
        names = dict.fromkeys([stem + naming.EXTENSION, encoded, twin_name(encoded)])
        return table, [f"{table_dir(self.config, table)}/{n}" for n in names]

    def _record_path(self, record: str, commit: pygit2.Commit, where: str) -> tuple[str, str]:
        """The table and path of TABLE/NAME in ``commit``; RepoError if it has none."""
        table, candidates = self._record_candidates(record)
        for candidate in candidates:
            if self.repo.prefix + candidate in commit.tree:
                return table, candidate
        raise RepoError(f"{candidates[0].removeprefix(self.config.snapshots + '/')}: no such record {where}")

    # ---- schemas -----------------------------------------------------------------

    def infer_schemas(self, tables: Sequence[str] | None = None) -> dict[str, dict[str, object]]:
        """JSON Schemas from the database's column types and current rows."""
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
        plan = self.plan("HEAD", use_cache=True)
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
    ) -> RollbackResult:
        """Revert ``commit`` (or restore the config of ``to``, only ``tables``
        when given) as a new commit, then apply it. The commit lands on the
        branch only once the apply has succeeded, so a failure leaves git and
        the database as they were."""
        if (commit is None) == (to is None):
            raise ConfigError("give either a COMMIT to revert or --to REF, not both")
        if tables and commit is not None:
            raise ConfigError("--table restores tables from --to REF; a revert undoes its whole commit")
        names = self.config.select(list(tables) if tables else None)
        self.check_clean()
        if commit is not None:
            target = self.repo.resolve(commit)
            tree = self.repo.revert_tree(target)
            subject = target.message.splitlines()[0] if target.message else ""
            message = f'Revert "{subject}"\n\nThis reverts commit {target.id}.\n'
        else:
            assert to is not None
            target = self.repo.resolve(to)
            tree = self._restore_tree(target, to, names if tables else None)
            only = f" --table {' --table '.join(names)}" if tables else ""
            what = f"{', '.join(names)} to" if tables else "config to"
            message = f"Restore {what} {str(target.id)[:7]} ({to})\n\nconfigsync rollback --to {to}{only}\n"
        label = f"rollback of {commit}" if commit else f"restore of {to}"
        return self._commit_and_apply(tree, message, label, names if tables else None, commit or to or "",
                                      dry_run=dry_run, apply=apply, confirm=confirm, max_deletes=max_deletes,
                                      allow_mass_delete=allow_mass_delete)

    def restore(
        self,
        record: str,
        source: str,
        *,
        dry_run: bool = False,
        apply: bool = True,
        confirm: Confirm | None = None,
    ) -> RollbackResult:
        """Make one record (TABLE/NAME) what it was at revision or backup
        ``source``: a commit holding that file, then an apply of its table."""
        table, path = self._record_path(record, self.repo.resolve(source), f"at {source}")
        self.check_clean()
        target = self.repo.resolve(source)
        data = target.tree[self.repo.prefix + path].peel(pygit2.Blob).data
        head = self.repo.resolve("HEAD")
        tree = self.repo.tree_with(head, {path: data})
        message = (f"Restore {path.removeprefix(self.config.snapshots + '/')} from {str(target.id)[:7]} ({source})\n\n"
                   f"configsync restore {record} --from {source}\n")
        return self._commit_and_apply(tree, message, f"restore of {record} from {source}", [table], source,
                                      dry_run=dry_run, apply=apply, confirm=confirm)

    def _commit_and_apply(
        self, tree: pygit2.Oid, message: str, label: str, tables: Sequence[str] | None, what: str, *,
        dry_run: bool, apply: bool, confirm: Confirm | None, max_deletes: int | None = None,
        allow_mass_delete: bool = False,
    ) -> RollbackResult:
        head = self.repo.resolve("HEAD")
        if tree == head.tree.id:
            raise RepoError(f"nothing to roll back: the config at HEAD already matches {what}")
        new = self.repo.make_commit(tree, message)
        if not apply and not dry_run:
            self.repo.advance(new)
            return RollbackResult(new, None, None, committed=True)
        plan = self.plan(str(new.id), tables, commit=new, use_cache=True)
        plan.ref = label
        if dry_run:
            return RollbackResult(new, plan, None, committed=False)
        result = self.apply(plan, confirm=confirm, max_deletes=max_deletes,
                            allow_mass_delete=allow_mass_delete, check_clean=False)
        if result.applied:
            self.repo.advance(new)
        return RollbackResult(new, plan, result, committed=result.applied)

    def _restore_tree(self, target: pygit2.Commit, to: str, tables: Sequence[str] | None = None) -> pygit2.Oid:
        """HEAD's tree with the config of ``target`` (only ``tables``' record
        directories, when given); for an environment's backup, only that
        environment's overlay, rewritten over HEAD's base so the environment
        gets exactly the backed-up state."""
        if not is_backup(target.message):
            return self.repo.restore_tree(target, self._table_dirs(tables))
        owner = backup_environment(target.message)
        if owner != self.env:
            if owner is None:
                raise ConfigError(f"{to} is a backup of a database applied without --env; restore it without --env "
                                  f"(restoring it into {self.env} would write another database's values there)")
            raise ConfigError(f"{to} is a backup of environment {owner}" + (f", not {self.env}" if self.env else "")
                              + f": restore it with --env {owner}")
        if owner is None:
            return self.repo.restore_tree(target, self._table_dirs(tables))
        names = list(tables or self.config.tables)
        infos = self.describe(names)
        keys = {t: self.key_columns(t, infos[t]) for t in names}
        state = load_state(self.config, self.repo.source_at(target), keys, names, env=owner).state
        head = self.repo.resolve("HEAD")
        return self.repo.tree_with(head, overlay_tree(self.sides, self.repo.source_at(head), names, infos, state, owner))

    def _table_dirs(self, tables: Sequence[str] | None) -> list[str] | None:
        """The directories a restore of ``tables`` takes: each table's record
        directory and its overlays; None: all of config-snapshots/ and schemas/."""
        if tables is None:
            return None
        dirs = [table_dir(self.config, t) for t in tables]
        dirs += [overlay_dir(self.config, env, t) for env in self.config.environments for t in tables]
        return dirs

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


@dataclass
class RecordVersion:
    """One commit in a record's history and what it did to the record."""

    commit: pygit2.Commit
    action: str  # "created", "deleted", "changed"
    change: Change | None = None  # field-level, for "changed"

    @property
    def commit_info(self) -> CommitInfo:
        return CommitInfo.of(self.commit)

    def to_json(self) -> dict[str, object]:
        info = self.commit_info
        return {"commit": info.id, "time": info.time.isoformat(), "author": info.author, "subject": info.subject,
                "action": self.action, "change": self.change.to_json() if self.change else None}


def _record_version(table: str, version: PathVersion) -> RecordVersion:
    old, new = _parse_row(version.before), _parse_row(version.after)
    if old is None:
        return RecordVersion(version.commit, "created")
    if new is None:
        return RecordVersion(version.commit, "deleted")
    found = changes(table, {(): Record(table, (), new, "")}, {(): Record(table, (), old, "")}, (),
                    missing_fields_differ=True)
    return RecordVersion(version.commit, "changed", found[0] if found else None)


def _parse_row(data: bytes | None) -> Row | None:
    """A record file's row; an unreadable version counts as an empty row."""
    if data is None:
        return None
    try:
        value = yamlio.load(data)
    except yamlio.YamlError:
        return {}
    return value if isinstance(value, dict) else {}


__all__ = ["ApplyResult", "RecordVersion", "RollbackResult", "SnapshotResult", "Status", "Workspace"]
