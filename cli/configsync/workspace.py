"""The library API: one config repository, its git repo and its database.

Every command is one method here; the CLI only parses options and renders.
Reading (git, database) happens in a few places; deciding (diff, plan, safety)
is done by the pure modules.
"""
from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import pygit2

from . import __version__, inference, naming, yamlio
from .cache import ValidationCache, content_id
from .backends import Backend, HistoryEntry, Operation, ReadSpec, TableInfo, WriteBatch, open_backend, redact
from .changes import Change, changes, for_mode
from .config import Config, load_config, resolve_database
from .errors import ConfigError, ConfigsyncError, OutcomeUnknownError, Problem, RepoError, StalePlanError, ValidationError
from .plan import Plan, fingerprint, order_tables
from .records import Record, Source, State, TableRecords, git_blob_id, record_path, render, state_of_rows, table_dir
from .repo import PathVersion, Repo
from .validation import DELETE, ENVIRONMENTS, check_columns, deep_merge, environments_in, load_state
from .values import Row, equal

Confirm = Callable[[Plan], bool]
# A snapshot commit's message lists the files it changed, up to this many.
COMMIT_FILES_LISTED = 200
# Cache names: a whole table directory (by git tree id) that passed its
# schema; rows in sync with a tree by a snapshot's standard (same data).
TREE_PREFIX = "tree:"
SNAPSHOT_PREFIX = "snapshot:"


@dataclass
class ApplyResult:
    plan: Plan
    backup_ref: str | None
    applied: bool
    notes: list[str] = field(default_factory=list)  # what the backend wants the user to know


@dataclass
class SnapshotResult:
    written: dict[str, bytes] = field(default_factory=dict)  # path -> new content
    added: set[str] = field(default_factory=set)
    deleted: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> added/updated/removed
    commit: str | None = None

    @property
    def drift(self) -> bool:
        return bool(self.written or self.deleted)

    def message(self) -> str:
        parts = []
        for table, counts in self.counts.items():
            shown = [f"{n} {what}" for what, n in counts.items() if n]
            if shown:
                parts.append(f"{table} {', '.join(shown)}")
        return "snapshot: " + ("; ".join(parts) if parts else "no changes")


@dataclass
class Status:
    deployed: HistoryEntry | None
    head: str
    plan: Plan

    @property
    def in_sync(self) -> bool:
        return not self.plan.has_changes


@dataclass
class RollbackResult:
    commit: pygit2.Commit
    plan: Plan | None
    apply: ApplyResult | None
    committed: bool


class Workspace:
    """A config repository bound to one database."""

    def __init__(self, config: Config, database_url: str | Callable[[], str], env: str | None = None) -> None:
        self.config = config
        # The environment whose overlay (config-snapshots/_environments/<env>/)
        # is merged over the base files; None: the base alone.
        self.env = env
        self.repo = Repo(config)
        # Resolved on first use: commands that need no database (validate,
        # diff, history) never fail on an unset ${VAR} in its URL.
        self._database_url = database_url
        self._backend: Backend | None = None
        # The plan computed last in this process, with what it read (apply reuses it).
        self._last_plan: tuple[Plan, dict[str, TableInfo], State, State] | None = None
        self.cache = ValidationCache(config.root / ".configsync" / "cache.sqlite")

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
        if callable(self._database_url):
            self._database_url = self._database_url()
        return self._database_url

    @property
    def display_url(self) -> str:
        return redact(self.database_url)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = open_backend(self.database_url, self.config.root)
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the two sides ---------------------------------------------------------

    def describe(self, tables: Sequence[str]) -> dict[str, TableInfo]:
        infos = self.backend.describe(list(tables))
        for table in tables:
            self._check_table_against_db(table, infos[table])
        return infos

    def _check_table_against_db(self, table: str, info: TableInfo) -> None:
        settings = self.config.table(table)
        key = self.key_columns(table, info)
        where = f"configsync.yaml: tables.{table}"
        for column in key:
            if info.column(column) is None:
                raise ConfigError(f"{where}.key: table {table} has no column {column!r} ({', '.join(info.column_names)})")
        for setting, columns in (("exclude", settings.exclude), ("secret", settings.secret)):
            for column in sorted(columns):
                if info.column(column) is None:
                    raise ConfigError(f"{where}.{setting}: table {table} has no column {column!r}")
        fields = naming.template_fields(settings.template(key))
        if set(fields) != set(key):
            raise ConfigError(
                f"{where}.filename: the template must use exactly the key columns ({', '.join(key)})"
            )

    def key_columns(self, table: str, info: TableInfo) -> tuple[str, ...]:
        settings = self.config.table(table)
        if settings.key:
            return settings.key
        if not info.primary_key:
            raise ConfigError(
                f"configsync.yaml: tables.{table}: the table has no primary key; set `key:` to the "
                "column(s) that identify a row"
            )
        return info.primary_key

    def read_specs(self, tables: Sequence[str], infos: Mapping[str, TableInfo]) -> list[ReadSpec]:
        specs = []
        for table in tables:
            info = infos[table]
            hidden = self.config.table(table).hidden()
            columns = tuple(c for c in info.column_names if c not in hidden)
            specs.append(ReadSpec(info, columns, self.key_columns(table, info)))
        return specs

    def actual_state(self, tables: Sequence[str], infos: Mapping[str, TableInfo]) -> State:
        specs = self.read_specs(tables, infos)
        rows = self.backend.read(specs)
        return self._state_of(specs, rows)

    def _state_of(self, specs: Sequence[ReadSpec], rows: Mapping[str, list[Row] | None]) -> State:
        """The records of every table that was read (a table not read: absent)."""
        return {s.table.name: state_of_rows(self.config, s.table.name, table_rows, s.key)
                for s in specs if (table_rows := rows.get(s.table.name)) is not None}

    def desired_state(
        self, source: Source, tables: Sequence[str], infos: Mapping[str, TableInfo],
        known: Mapping[str, Row] | None = None,
    ) -> State:
        keys = {t: self.key_columns(t, infos[t]) for t in tables}
        loaded = load_state(self.config, source, keys, tables, self.env, self.cache, known)
        self.cache.save()
        check_columns(loaded, infos)
        return loaded.state

    def _renderings(self, tables: Sequence[str], infos: Mapping[str, TableInfo], actual: State) -> dict[str, Row]:
        """Git blob id of each row's record file -> the row. A file in the tree
        with that id says exactly that row, so it is neither read nor parsed:
        the way an unchanged record costs a render and a hash."""
        known: dict[str, Row] = {}
        for table in tables:
            columns = infos[table].column_names
            for record in actual[table].values():
                if not record.file.endswith("/?"):  # a key that cannot be a file name
                    known[git_blob_id(render(self.config, table, record.values, columns))] = record.values
        return known

    # ---- plan / apply --------------------------------------------------------

    def plan(self, ref: str = "HEAD", tables: Sequence[str] | None = None, *, prune: bool = True,
             commit: pygit2.Commit | None = None, use_cache: bool = False) -> Plan:
        """What apply would change to make the database match ``ref``.

        ``use_cache``: a table whose files and rows (by PostgreSQL's digest)
        are ones found in sync before is neither read nor parsed; apply then
        checks that digest under its lock instead of each row's fingerprint."""
        names = self.config.select(list(tables) if tables else None)
        commit = commit or self.repo.resolve(ref)
        infos = self.describe(names)
        specs = self.read_specs(names, infos)
        trees = self.repo.table_trees(commit) if self.env is None else None
        schemas = {t: self._schema_id(commit, t) for t in names} if trees else {}
        settings = {t: self._sync_setting(t, spec, schemas[t]) for t, spec in zip(names, specs)} if trees else {}
        cached = use_cache and self.backend.capabilities.server_digests  # else no digest could match
        skip = {t: self._known_digests(s, trees[t], schemas[t]) for t, s in settings.items()} if cached and trees else {}
        rows, digests = self.backend.read_unless(specs, skip)
        actual = self._state_of(specs, rows)
        live = [t for t in names if t in actual]
        source = self.repo.source_at(commit, ref, live if trees is not None else None)
        desired = self.desired_state(source, live, infos, known=self._renderings(live, infos, actual))
        ordered = order_tables(names, {t: [fk.ref_table for fk in infos[t].foreign_keys] for t in names})
        found: list[Change] = []
        for table in (t for t in ordered if t in actual):
            kinds = {c.name: c.kind for c in infos[table].columns}
            items = changes(table, desired[table], actual[table], self.key_columns(table, infos[table]), kinds)
            if trees:  # every table passed validation, or desired_state raised
                if schemas[table]:
                    self.cache.remember(schemas[table], TREE_PREFIX + trees[table])
                if not items and table in digests:
                    self.cache.remember_in_sync(settings[table], trees[table], digests[table])
            found += for_mode(items, self.config.table(table).mode, prune)
        self.cache.save()
        plan = Plan(
            changes=found,
            revision=str(commit.id),
            ref=ref,
            database=self.display_url,
            tables=ordered,
            keys={t: list(self.key_columns(t, infos[t])) for t in ordered},
            fingerprints={t: fingerprint(actual[t]) for t in ordered if t in actual},
            digests={t: digests[t] for t in ordered if t in digests},
        )
        self._last_plan = (plan, infos, actual, desired)
        return plan

    def _known_digests(self, setting: str, tree: str, schema: str) -> set[str]:
        """Digests of rows a plan of this tree would find nothing to change in:
        found so by a plan, or the tree is a snapshot of those rows and its
        files passed this schema (`validate` or a plan said so)."""
        known = self.cache.in_sync_digests(setting, tree)
        if schema and self.cache.knows_valid(schema, TREE_PREFIX + tree):
            known |= self.cache.in_sync_digests(SNAPSHOT_PREFIX + setting, tree)
        return known

    def _schema_id(self, commit: pygit2.Commit, table: str) -> str:
        try:
            blob = commit.tree[self.repo.prefix + self.config.schema_path(table)].peel(pygit2.Blob)
        except KeyError:
            return ""
        return self.cache.schema_id(blob.data)

    def _sync_setting(self, table: str, spec: ReadSpec, schema: str) -> str:
        """Everything besides the files and the rows that decides whether a
        table is in sync: a cache entry made under another is never used."""
        settings = self.config.table(table)
        columns = [(c.name, c.db_type, c.kind, c.nullable) for c in spec.table.columns if c.name in spec.columns]
        return content_id(__version__.encode(), repr((
            table, columns, spec.key, settings.template(spec.key), sorted(settings.hidden()),
            schema, self.config.snapshots, self.display_url,
        )).encode())

    def header(self, plan: Plan, *, public: bool = False) -> str:
        """The plan's first line. ``public`` (a PR comment): no host names, only
        the environment or the kind of database."""
        try:
            described = self.repo.describe(self.repo.resolve(plan.revision), plan.ref)
        except RepoError:
            described = plan.revision[:7]
        if public:
            where = f"environment {self.env}" if self.env else f"{plan.database.split(':', 1)[0]} database"
            return f"{where} · revision {described}"
        return f"database {plan.database} · revision {described}"

    def check_clean(self) -> None:
        dirty = self.repo.dirty_paths()
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
    ) -> ApplyResult:
        """Make the database match the plan's revision, atomically.

        Order: refuse unsafe or foreign plans, confirm, save a backup ref of
        the current database state, then one transaction that locks, re-reads
        and checks the plan is still fresh, deletes children-first, writes
        parents-first and records the apply in the history table.
        """
        if check_clean:
            self.check_clean()
        if plan.database != self.display_url:
            raise ConfigsyncError(
                f"this plan was made for {plan.database}, not {self.display_url}; make a new plan"
            )
        plan.raise_if_unsafe(max_deletes=max_deletes, allow_mass_delete=allow_mass_delete)
        if confirm is not None and not confirm(plan):
            return ApplyResult(plan, None, applied=False)
        infos, actual = self._state_for(plan)
        try:
            plan.check_fresh(actual)
        except StalePlanError:
            self._raise_if_already_applied(plan)
            raise
        backup = self._save_backup(plan, infos, actual) if plan.has_changes else None
        specs = self.read_specs(plan.read_tables, infos)
        batch = WriteBatch(
            reads=specs,
            operations=self._operations(plan, infos),
            history=HistoryEntry(
                revision=plan.revision, ref=plan.ref, actor=_actor(self.repo),
                creates=plan.summary["create"], updates=plan.summary["update"],
                deletes=plan.summary["delete"], checksum=plan.checksum(), tool_version=__version__,
            ),
            history_table=self.config.history_table,
            lock_timeout=lock_timeout,
            digests=[(spec, plan.digests[spec.table.name])
                     for spec in self.read_specs([t for t in plan.tables if t in plan.digests], infos)],
            non_atomic=non_atomic and not self.backend.capabilities.atomic_apply,
        )

        def verify(rows: dict[str, list[Row]]) -> None:
            plan.check_fresh(self._state_of(specs, rows))

        try:
            outcome = self.backend.apply(batch, verify)
        except OutcomeUnknownError as exc:  # the writes may have happened: keep the backup
            if backup:
                raise OutcomeUnknownError(f"{exc}\nBackup of the previous state: {backup}\n"
                                          f"  undo with: configsync rollback --to {backup}") from None
            raise
        except BaseException:
            if backup:
                self.repo.delete_ref(backup)
            raise
        return ApplyResult(plan, backup, applied=True, notes=outcome.notes)

    def _raise_if_already_applied(self, plan: Plan) -> None:
        checksum = plan.checksum()
        for entry in self.backend.history(self.config.history_table, limit=100):
            if entry.checksum == checksum:
                raise StalePlanError(
                    f"this plan was already applied at {entry.applied_at} by {entry.actor}; "
                    "nothing was applied. Make a new plan to see what differs now."
                )

    def _state_for(self, plan: Plan) -> tuple[dict[str, TableInfo], State]:
        # The plan just computed in this process already read the database.
        if self._last_plan is not None and self._last_plan[0] is plan:
            return self._last_plan[1], self._last_plan[2]
        infos = self.describe(plan.tables)
        return infos, self.actual_state(plan.read_tables, infos)

    def _operations(self, plan: Plan, infos: Mapping[str, TableInfo]) -> list[Operation]:
        ops = []
        for table in reversed(plan.tables):  # children first
            ops += [Operation("delete", infos[table], c.key, {}, c.file)
                    for c in plan.for_table(table) if c.action == "delete"]
        for table in plan.tables:  # parents first
            for c in plan.for_table(table):
                if c.action == "create":
                    ops.append(Operation("insert", infos[table], c.key, c.after or {}, c.file))
                elif c.action == "update":
                    after = c.after or {}
                    ops.append(Operation("update", infos[table], c.key, {f: after.get(f) for f in c.fields}, c.file))
        return ops

    def _save_backup(self, plan: Plan, infos: Mapping[str, TableInfo], actual: State) -> str:
        """A commit of the database's state: the revision's tree with every file
        whose row differs in the database rewritten, so only differences are
        rendered (the rest keep their blobs)."""
        base = self.repo.resolve(plan.revision)
        files: dict[str, bytes | None] = {}
        read = plan.read_tables  # the others are the revision's files
        if self.env is None:
            if self._last_plan is not None and self._last_plan[0] is plan:
                desired = self._last_plan[3]
            else:
                desired = self.desired_state(self.repo.source_at(base), read, infos)
            for table in read:
                info = infos[table]
                kinds = {c.name: c.kind for c in info.columns}
                for change in changes(table, desired[table], actual[table], self.key_columns(table, info),
                                      kinds, missing_fields_differ=True):
                    if change.action == "create":
                        files[change.file] = None  # a file for a row the database does not have
                    else:
                        files[change.file] = render(self.config, table, change.before or {}, info.column_names)
        else:
            # With an overlay the files do not map 1:1 to rows: store the whole state.
            source = self.repo.source_at(base)
            for table in plan.tables:
                prefix = table_dir(self.config, table) + "/"
                files.update({f.path: None for f in source.snapshots if f.path.startswith(prefix)})
                files.update(self.render_table(table, infos[table], actual[table]))
        message = (
            f"configsync backup before applying {plan.revision[:7]}\n\n"
            f"The state of {', '.join(plan.tables)} in {plan.database} before the apply.\n"
            f"Restore it with: configsync rollback --to <this ref>\n"
        )
        return self.repo.save_backup(base, files, message)

    def render_table(self, table: str, info: TableInfo, records: TableRecords) -> dict[str, bytes]:
        return {
            path: render(self.config, table, record.values, info.column_names)
            for path, record in self.record_paths(table, info, records).items()
        }

    def record_paths(self, table: str, info: TableInfo, records: TableRecords) -> dict[str, Record]:
        """Where each row's file goes; refuses keys that cannot be file names."""
        key = self.key_columns(table, info)
        template = self.config.table(table).template(key)
        paths: dict[str, Record] = {}
        folded: dict[str, str] = {}
        for record in records.values():
            try:
                path = record_path(self.config, table, template, record.values)
            except naming.NamingError as exc:
                shown = ", ".join(f"{c}={record.values.get(c)!r}" for c in key)
                raise ConfigsyncError(f"table {table}, row {shown}: {exc}") from None
            clash = folded.setdefault(naming.collision_key(path), path)
            if clash != path:
                raise ConfigsyncError(
                    f"table {table}: rows {path} and {clash} differ only in letter case; their files "
                    "would collide on macOS and Windows. Rename one of the keys."
                )
            paths[path] = record
        return paths

    # ---- snapshot --------------------------------------------------------------

    def snapshot(self, tables: Sequence[str] | None = None, *, commit: bool = False,
                 message: str | None = None) -> SnapshotResult:
        """Write the database into record files; a file is rewritten only when
        its data differs, so comments and formatting survive."""
        names = self.config.select(list(tables) if tables else None)
        infos = self.describe(names)
        specs = self.read_specs(names, infos)
        head = self.repo.head()
        trees = self.repo.table_trees(head) if head is not None and self.env is None else None
        settings = {t: SNAPSHOT_PREFIX + self._sync_setting(t, spec, self._schema_id(head, t))
                    for t, spec in zip(names, specs)} if trees is not None and head is not None else {}
        clean = self.repo.clean_tables(names) if settings and self.backend.capabilities.server_digests else set()
        skip = {t: self.cache.in_sync_digests(settings[t], trees[t]) for t in clean} if trees else {}
        read, digests = self.backend.read_unless(specs, skip)
        actual = self._state_of(specs, read)
        live = [t for t in names if t in actual]
        worktree = self.repo.worktree_source(live if self.env is None else None)
        on_disk = {f.path: f for f in worktree.snapshots}
        base = None
        if self.env:
            keys = {t: self.key_columns(t, infos[t]) for t in names}
            base = load_state(self.config, worktree, keys, names).state
        result = SnapshotResult()
        for table in live:
            info = infos[table]
            kinds = {c.name: c.kind for c in info.columns}
            counts = {"added": 0, "updated": 0, "removed": 0}
            under: dict[str, Row] = {}  # overlay path -> the base row it applies to
            if base is None:
                prefix = table_dir(self.config, table) + "/"
                rows = {path: r.values for path, r in self.record_paths(table, info, actual[table]).items()}
                header = None
            else:
                prefix = f"{self.config.snapshots}/{ENVIRONMENTS}/{self.env}/{table}/"
                rows, under = overlay_rows(self.config, table, self.key_columns(table, info), base[table],
                                           actual[table], kinds, prefix)
                header = f"# configsync overlay: {table} in {self.env}; only what differs from {table_dir(self.config, table)}/\n"
            for path, row in rows.items():
                current = on_disk.get(path)
                data = (render(self.config, table, row, info.column_names) if header is None
                        else yamlio.dump(_ordered(row, info), header))
                if current is not None and not current.symlink and (
                    current.data == data or _same_data(current.data, row, kinds, under.get(path))
                ):
                    continue  # the same bytes, or the same data with a person's comments and layout
                result.written[path] = data
                if current is None:
                    result.added.add(path)
                counts["updated" if current is not None else "added"] += 1
            for path in on_disk:
                if path.startswith(prefix) and path not in rows and path.endswith(naming.EXTENSION):
                    result.deleted.append(path)
                    counts["removed"] += 1
            result.counts[table] = counts
        for path, data in result.written.items():
            target = self.config.root / path
            if target.is_symlink():
                target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        for path in result.deleted:
            (self.config.root / path).unlink()
        if commit and result.drift:
            changed: dict[str, bytes | None] = dict(result.written)
            changed.update({p: None for p in result.deleted})
            listed = sorted(changed)[:COMMIT_FILES_LISTED]
            body = f"\n\nDatabase: {self.display_url}\n" + "".join(
                f"\n{'D' if changed[p] is None else 'A' if p in result.added else 'M'} {p}" for p in listed
            )
            if len(changed) > len(listed):
                body += f"\n... and {len(changed) - len(listed)} more files"
            result.commit = str(self.repo.commit_files(changed, (message or result.message()) + body + "\n"))
            trees = self.repo.table_trees(self.repo.resolve(result.commit))
        for table in clean & set(live) & set(digests):
            # A directory that was HEAD's before is, after this, the database's
            # rendering: in HEAD if nothing drifted, in the new commit if it did.
            if trees is not None and (result.commit or not any(result.counts[table].values())):
                self.cache.remember_in_sync(settings[table], trees[table], digests[table])
        self.cache.save()
        return result

    # ---- files only --------------------------------------------------------------

    def validate(self, paths: Sequence[str] = ()) -> list[Problem]:
        """Every problem in the work tree's record and schema files."""
        keys = {t: s.key for t, s in self.config.tables.items()}
        names = list(self.config.tables)
        trees = self._worktree_trees()
        schemas = {t: self._worktree_schema_id(t) for t in trees} if trees else {}
        skip = [t for t in names if trees and schemas.get(t) and self.cache.knows_valid(schemas[t], TREE_PREFIX + trees[t])]
        live = [t for t in names if t not in skip]
        source = self.repo.worktree_source(live if trees else None)
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
            if trees and schemas.get(table) and not any(p.file.startswith(prefix) for p in problems):
                self.cache.remember(schemas[table], TREE_PREFIX + trees[table])
        self.cache.save()
        if paths:
            wanted = [self._config_relative(p) for p in paths]
            problems = [p for p in problems if any(p.file == w or p.file.startswith(w.rstrip("/") + "/") for w in wanted)]
        return problems

    def _worktree_trees(self) -> dict[str, str] | None:
        """HEAD's tree id of each table directory the work tree has unchanged
        (None when the snapshots directory holds more than table directories)."""
        head = self.repo.head()
        trees = self.repo.table_trees(head) if head is not None else None
        top = self.config.root / self.config.snapshots
        if trees is None or (top.is_dir() and any(
                p.name not in self.config.tables and p.name != ".gitkeep" for p in top.iterdir())):
            return None
        clean = self.repo.clean_tables(list(trees))
        return {t: tree for t, tree in trees.items() if t in clean}

    def _worktree_schema_id(self, table: str) -> str:
        path = self.config.root / self.config.schema_path(table)
        try:
            return self.cache.schema_id(path.read_bytes()) if not path.is_symlink() else ""
        except OSError:
            return ""

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
        table, _, name = record.strip("/").partition("/")
        self.config.table(table)
        if not name:
            raise ConfigError(f"{record}: expected TABLE/NAME, e.g. {table}/my-record")
        if not name.endswith(naming.EXTENSION):
            name += naming.EXTENSION
        versions = self.repo.log_path(f"{table_dir(self.config, table)}/{name}")
        if not versions:
            raise RepoError(f"{table}/{name}: no such record in the history of HEAD")
        return [_record_version(table, v) for v in versions]

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
            found += inference.differences(table, declared if isinstance(declared, dict) else {}, inferred)
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
        dry_run: bool = False,
        apply: bool = True,
        confirm: Confirm | None = None,
        max_deletes: int | None = None,
        allow_mass_delete: bool = False,
    ) -> RollbackResult:
        """Revert ``commit`` (or restore the config of ``to``) as a new commit,
        then apply it. The commit lands on the branch only once the apply has
        succeeded, so a failure leaves git and the database as they were."""
        if (commit is None) == (to is None):
            raise ConfigError("give either a COMMIT to revert or --to REF, not both")
        self.check_clean()
        if commit is not None:
            target = self.repo.resolve(commit)
            tree = self.repo.revert_tree(target)
            subject = target.message.splitlines()[0] if target.message else ""
            message = f'Revert "{subject}"\n\nThis reverts commit {target.id}.\n'
        else:
            assert to is not None
            target = self.repo.resolve(to)
            tree = self.repo.restore_tree(target)
            message = f"Restore config to {str(target.id)[:7]} ({to})\n\nconfigsync rollback --to {to}\n"
        head = self.repo.resolve("HEAD")
        if tree == head.tree.id:
            raise RepoError(f"nothing to roll back: the config at HEAD already matches {commit or to}")
        new = self.repo.make_commit(tree, message)
        if not apply and not dry_run:
            self.repo.advance(new)
            return RollbackResult(new, None, None, committed=True)
        plan = self.plan(str(new.id), commit=new, use_cache=True)
        plan.ref = f"rollback of {commit}" if commit else f"restore of {to}"
        if dry_run:
            return RollbackResult(new, plan, None, committed=False)
        result = self.apply(plan, confirm=confirm, max_deletes=max_deletes,
                            allow_mass_delete=allow_mass_delete, check_clean=False)
        if result.applied:
            self.repo.advance(new)
        return RollbackResult(new, plan, result, committed=result.applied)


@dataclass
class RecordVersion:
    """One commit in a record's history and what it did to the record."""

    commit: pygit2.Commit
    action: str  # "created", "deleted", "changed"
    change: Change | None = None  # field-level, for "changed"


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


def overlay_rows(
    config: Config,
    table: str,
    key: Sequence[str],
    base: TableRecords,
    actual: TableRecords,
    kinds: Mapping[str, str],
    prefix: str,
) -> tuple[dict[str, Row], dict[str, Row]]:
    """The overlay files that turn the base into ``actual``: only what differs.

    A row the base lacks is written whole; a base row the environment lacks
    becomes ``$delete: true``; columns the base leaves unmanaged stay out.
    Returns the overlay rows by path, and the base row under each partial one."""
    template = config.table(table).template(tuple(key))
    rows: dict[str, Row] = {}
    under: dict[str, Row] = {}
    for record_key, record in actual.items():
        have = base.get(record_key)
        name = naming.file_name(template, record.values)
        if have is None:
            rows[prefix + name] = dict(record.values)
            continue
        differing = _field_differences(have.values, record.values, kinds, f"{have.file}")
        if differing:
            rows[prefix + name] = {**{c: record.values[c] for c in key}, **differing}
            under[prefix + name] = have.values
    for record_key, have in base.items():
        if record_key not in actual:
            name = have.file.rsplit("/", 1)[-1]
            rows[prefix + name] = {**{c: have.values.get(c) for c in key}, DELETE: True}
    return rows, under


def _field_differences(base: Row, actual: Row, kinds: Mapping[str, str], where: str) -> Row:
    found: Row = {}
    for column, value in actual.items():
        if column not in base:
            continue  # unmanaged in the base file
        old = base[column]
        if equal(old, value, kinds.get(column, "other")):
            continue
        if isinstance(old, dict) and isinstance(value, dict):
            removed = sorted(set(old) - set(value))
            if removed:
                raise ConfigsyncError(
                    f"{where}: {column}.{removed[0]} is gone in this environment, and an overlay can only "
                    "add or change mapping keys; remove it from the base file, or list the whole value there"
                )
            found[column] = _field_differences(old, value, {}, f"{where}: {column}")
        else:
            found[column] = value
    return found


def _ordered(row: Row, info: TableInfo) -> Row:
    order = [c for c in info.column_names if c in row]
    return {**{c: row[c] for c in order}, **{c: v for c, v in row.items() if c not in order}}


def _same_data(data: bytes, row: Row, kinds: Mapping[str, str], base: Row | None = None) -> bool:
    """Does the file already say ``row``? For a partial overlay, compare what it
    makes of ``base``: the key columns a person left out are no difference."""
    try:
        current = yamlio.load(data)
    except yamlio.YamlError:
        return False
    if not isinstance(current, dict):
        return False
    if base is not None:
        current, row = deep_merge(base, current), deep_merge(base, row)
    if current.keys() != row.keys():
        return False
    return all(equal(current[c], row[c], kinds.get(c, "other")) for c in row)


def _actor(repo: Repo) -> str:
    github = os.environ.get("GITHUB_ACTOR")
    if github:
        return f"{github} (GitHub Actions)"
    sig = repo.signature()
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{sig.name} <{sig.email}> as {user}"


__all__ = ["ApplyResult", "RecordVersion", "RollbackResult", "SnapshotResult", "Status", "Workspace"]
