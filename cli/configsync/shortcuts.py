"""When work already done can be skipped: the policy over ``cache``.

Three shortcuts, each keyed so that a cache entry made under other settings
is never used:

- a table directory (by git tree id) whose files all passed their schema is
  not validated again;
- a table whose files (tree id) and rows (PostgreSQL's digest) were found in
  sync by a plan is neither read nor parsed by the next plan;
- the same for a snapshot, which also needs the work tree's directory to be
  HEAD's.

Deleting ``.configsync/`` changes no result; it only costs time.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pygit2

from . import __version__
from .backends import ReadSpec
from .cache import ValidationCache, content_id
from .config import Config
from .repo import Repo

# Cache names: a whole table directory (by git tree id) that passed its
# schema; rows in sync with a tree by a snapshot's standard (same data).
TREE_PREFIX = "tree:"
SNAPSHOT_PREFIX = "snapshot:"


@dataclass
class Known:
    """What the cache can say about the tables of one command's run."""

    trees: dict[str, str] | None = None  # table -> git tree id of its record directory
    schemas: dict[str, str] = field(default_factory=dict)  # table -> schema id
    settings: dict[str, str] = field(default_factory=dict)  # table -> sync setting
    skip: Mapping[str, set[str]] = field(default_factory=dict)  # table -> digests that need no read


class Shortcuts:
    def __init__(self, config: Config, repo: Repo, cache: ValidationCache) -> None:
        self.config, self.repo, self.cache = config, repo, cache

    # ---- plan ----------------------------------------------------------------------

    def for_plan(self, commit: pygit2.Commit, specs: Sequence[ReadSpec], display_url: str,
                 env: str | None, use_cache: bool) -> Known:
        """``use_cache`` only where the backend computes digests: no other could match."""
        if env is not None:  # overlays map files to rows many-to-one
            return Known()
        trees = self.repo.table_trees(commit)
        if not trees:
            return Known(trees)
        names = [s.table.name for s in specs]
        schemas = {t: self.schema_id(commit, t) for t in names}
        settings = {s.table.name: self._sync_setting(s, schemas[s.table.name], display_url) for s in specs}
        skip = {t: self._known_digests(t, s, trees[t], schemas[t]) for t, s in settings.items()} if use_cache else {}
        return Known(trees, schemas, settings, skip)

    def planned(self, known: Known, table: str, in_sync: bool, digests: dict[str, str]) -> None:
        """A plan validated this table's files; and found nothing to change."""
        if not known.trees:
            return
        if known.schemas[table]:
            self.cache.remember(known.schemas[table], self._tree_entry(table, known.trees[table]))
        if in_sync and table in digests:
            self.cache.remember_in_sync(known.settings[table], known.trees[table], digests[table])

    def _known_digests(self, table: str, setting: str, tree: str, schema: str) -> set[str]:
        """Digests of rows a plan of this tree would find nothing to change in:
        found so by a plan, or the tree is a snapshot of those rows and its
        files passed this schema (`validate` or a plan said so)."""
        known = self.cache.in_sync_digests(setting, tree)
        if schema and self.cache.knows_valid(schema, self._tree_entry(table, tree)):
            known |= self.cache.in_sync_digests(SNAPSHOT_PREFIX + setting, tree)
        return known

    # ---- snapshot ------------------------------------------------------------------

    def for_snapshot(self, specs: Sequence[ReadSpec], display_url: str, env: str | None,
                     server_digests: bool) -> tuple[Known, Collection[str]]:
        """What the cache knows, and the tables whose work-tree directory is HEAD's
        (looked for only where the backend computes digests: no other could match)."""
        head = self.repo.head()
        if head is None or env is not None:
            return Known(), set()
        trees = self.repo.table_trees(head)
        if trees is None:
            return Known(), set()
        names = [s.table.name for s in specs]
        settings = {s.table.name: SNAPSHOT_PREFIX + self._sync_setting(s, self.schema_id(head, s.table.name), display_url)
                    for s in specs}
        if not names or not server_digests:
            return Known(trees, {}, settings, {}), set()
        # git's status of a large work tree takes as long as the database's
        # digests: found by a child process meanwhile, waited for when the backend
        # asks which digests it may skip.
        clean = Pending(lambda: self.repo.clean_tables(names))
        known = {t: self.cache.in_sync_digests(settings[t], trees[t]) for t in names}
        return Known(trees, {}, settings, _CleanOnly(known, clean)), clean

    def snapshotted(self, known: Known, clean: Collection[str], live: Sequence[str], digests: dict[str, str],
                    unchanged: set[str], commit: str | None) -> None:
        """A directory that was HEAD's before is, after this, the database's
        rendering: in HEAD if nothing drifted, in the new commit if it did."""
        trees = self.repo.table_trees(self.repo.resolve(commit)) if commit else known.trees
        for table in set(clean) & set(live) & set(digests):
            if trees is not None and (commit or table in unchanged):
                self.cache.remember_in_sync(known.settings[table], trees[table], digests[table])

    def vouched(self, commit: pygit2.Commit, table: str) -> None:
        """This table's record directory at ``commit`` passed validation, as a
        plan validates it (a snapshot checked the files it had just written):
        with the snapshot's entry above, the next plan of ``commit`` reads and
        parses nothing of it while the rows keep their digest."""
        trees = self.repo.table_trees(commit)
        schema = self.schema_id(commit, table)
        if trees and table in trees and schema:
            self.cache.remember(schema, self._tree_entry(table, trees[table]))

    # ---- validate -----------------------------------------------------------------

    def for_validate(self) -> Known:
        """Tables whose work-tree directory is HEAD's and passed its schema before."""
        trees = self._worktree_trees()
        if not trees:
            return Known(trees)
        schemas = {t: self._worktree_schema_id(t) for t in trees}
        skip: dict[str, set[str]] = {t: set() for t in self.config.tables
                if schemas.get(t) and self.cache.knows_valid(schemas[t], self._tree_entry(t, trees[t]))}
        return Known(trees, schemas, {}, skip)

    def validated(self, known: Known, table: str) -> None:
        if known.trees and known.schemas.get(table):
            self.cache.remember(known.schemas[table], self._tree_entry(table, known.trees[table]))

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

    # ---- shared ----------------------------------------------------------------------

    def _tree_entry(self, table: str, tree: str) -> str:
        """The cache's name for "this table directory passed validation": the
        tree, and every setting of configsync.yaml that validation depends on
        (key, filename, exclude, secret, the environments whose overlays are
        merged), so editing configsync.yaml never reuses an old answer."""
        table_config = self.config.table(table)
        # Sets sorted: their order changes from one process to the next.
        fields = [(f.name, sorted(v) if isinstance(v := getattr(table_config, f.name), (set, frozenset)) else v)
                  for f in dataclasses.fields(table_config)]
        settings = repr((fields, self.config.snapshots, sorted(self.config.environments)))
        return TREE_PREFIX + tree + ":" + content_id(settings.encode())

    def schema_id(self, commit: pygit2.Commit, table: str) -> str:
        try:
            blob = commit.tree[self.repo.prefix + self.config.schema_path(table)].peel(pygit2.Blob)
        except KeyError:
            return ""
        return self.cache.schema_id(blob.data)

    def _sync_setting(self, spec: ReadSpec, schema: str, display_url: str) -> str:
        """Everything besides the files and the rows that decides whether a
        table is in sync: a cache entry made under another is never used."""
        table = spec.table.name
        settings = self.config.table(table)
        columns = [(c.name, c.db_type, c.kind, c.nullable) for c in spec.table.columns if c.name in spec.columns]
        return content_id(__version__.encode(), repr((
            table, columns, spec.key, settings.template(spec.key), sorted(settings.hidden()),
            schema, self.config.snapshots, display_url,
        )).encode())


class Pending(Collection[str]):
    """A set of names computed by a forked child process while this one goes
    on (git's status holds the interpreter's lock throughout: a thread would
    run it before, not beside, the database's work). Any question about it
    waits for the answer; where there is no fork, or the child fails, the
    answer is computed here, when first asked."""

    def __init__(self, compute: Callable[[], set[str]]) -> None:
        self._compute = compute
        self._value: set[str] | None = None
        self._child: tuple[int, int] | None = None  # pid, read end of its pipe
        if hasattr(os, "fork"):
            self._child = self._fork()

    def _fork(self) -> tuple[int, int] | None:
        read, write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return None
        if pid == 0:  # the child: answer through the pipe, and leave without running any cleanup
            code = 1
            try:
                os.close(read)
                with os.fdopen(write, "wb") as out:
                    out.write("\0".join(sorted(self._compute())).encode("utf-8", "surrogateescape"))
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        return pid, read

    def value(self) -> set[str]:
        if self._value is None:
            self._value = self._collect()
        return self._value

    def _collect(self) -> set[str]:
        if self._child is not None:
            pid, read = self._child
            self._child = None
            with os.fdopen(read, "rb") as answer:
                data = answer.read()
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) == 0:
                return set(data.decode("utf-8", "surrogateescape").split("\0")) - {""}
        return self._compute()

    def __del__(self) -> None:
        if self._child is not None:  # never asked: the child is still reaped
            with contextlib.suppress(OSError):
                os.close(self._child[1])
                os.waitpid(self._child[0], 0)

    def __contains__(self, item: object) -> bool:
        return item in self.value()

    def __iter__(self) -> Iterator[str]:
        return iter(self.value())

    def __len__(self) -> int:
        return len(self.value())


class _CleanOnly(Mapping[str, set[str]]):
    """``known`` restricted to the tables in ``clean`` (asked only when used)."""

    def __init__(self, known: Mapping[str, set[str]], clean: Collection[str]) -> None:
        self._known, self._clean = known, clean

    def __getitem__(self, table: str) -> set[str]:
        if table not in self._clean:
            raise KeyError(table)
        return self._known[table]

    def __iter__(self) -> Iterator[str]:
        return (t for t in self._known if t in self._clean)

    def __len__(self) -> int:
        return sum(1 for _ in self)


__all__ = ["Known", "Pending", "Shortcuts"]
