"""Git, through pygit2: revisions in, commits and refs out.

Desired state is read from a commit's tree without checking it out. Commits
made here touch only the paths they are given, so a user's other staged or
unstaged work is left alone.
"""
from __future__ import annotations

import datetime as dt
import errno
import functools
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import CheckoutStrategy, DeltaStatus, FileMode, FileStatus, ObjectType

from . import files, packs
from .config import CONFIG_FILE, Config
from .errors import RepoError
from .records import Source, SourceFile
from .yamlio import MAX_BYTES

BACKUP_PREFIX = "refs/configsync/backups/"
#: Where a rollback that did not land keeps its commit, per environment, until
#: HEAD moves (a retry that lands, or any other commit): `plan` and `status`
#: then say that HEAD is not what the rollback wanted. A ref, not a file: it
#: keeps the commit from git's garbage collection, works on every backend, and
#: the commit's message already says what it undoes.
PENDING_PREFIX = "refs/configsync/pending-rollback/"


@dataclass(frozen=True)
class _NewTree:
    """A directory written whole (raw id), in the pack with the new blobs."""

    id: bytes


# A directory's changed entries by name: a blob's raw id, None (removed), a
# directory's changes, or a new directory already written.
_Nested = dict[str, "bytes | None | _NewTree | _Nested"]
FALLBACK_IDENTITY = ("configsync", "configsync@localhost")


@dataclass(frozen=True)
class PathVersion:
    """One commit that changed a file: its content before and after."""

    commit: pygit2.Commit
    before: bytes | None
    after: bytes | None


@dataclass(frozen=True)
class TreeChange:
    """One path a new commit would change: its new mode, None when removed."""

    path: str  # relative to the top of the git work tree
    mode: FileMode | None

    @property
    def is_plain_file(self) -> bool:
        """A removal, or a regular file (not a symbolic link, not a submodule)."""
        return self.mode is None or self.mode in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE)


@dataclass(frozen=True)
class CommitInfo:
    """What people are shown of a commit: callers outside this module need no pygit2."""

    id: str
    subject: str  # the first line of the message
    author: str
    time: dt.datetime  # commit time, in the committer's time zone

    @classmethod
    def of(cls, commit: pygit2.Commit) -> CommitInfo:
        offset = dt.timezone(dt.timedelta(minutes=commit.commit_time_offset))
        return cls(
            id=str(commit.id),
            subject=commit.message.splitlines()[0] if commit.message else "",
            author=commit.author.name,
            time=dt.datetime.fromtimestamp(commit.commit_time, offset),
        )


class Repo:
    def __init__(self, config: Config) -> None:
        self.config = config
        found = pygit2.discover_repository(str(config.root))
        if found is None:
            raise RepoError(f"{config.root} is not inside a git work tree: run `git init` there first")
        self.git = pygit2.Repository(found)
        if self.git.is_bare or self.git.workdir is None:
            raise RepoError(f"{found} is a bare repository; configsync needs a work tree")
        workdir = Path(self.git.workdir).resolve()
        rel = os.path.relpath(config.root.resolve(), workdir)
        self.workdir = workdir
        self.prefix = "" if rel == "." else Path(rel).as_posix() + "/"
        self._refreshing: subprocess.Popen[bytes] | None = None  # see _refresh_index

    # ---- revisions -----------------------------------------------------------

    def resolve(self, ref: str = "HEAD") -> pygit2.Commit:
        if ref == "HEAD" and self.git.head_is_unborn:
            raise RepoError("the repository has no commits yet: commit the config files first")
        try:
            obj = self.git.revparse_single(ref)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise RepoError(f"unknown revision {ref!r}") from None
        return commit

    def has_refs(self, prefix: str) -> bool:
        """Is there any ref whose name starts with ``prefix``?"""
        return any(name.startswith(prefix) for name in self.git.references)

    def head(self) -> pygit2.Commit | None:
        return None if self.git.head_is_unborn else self.resolve("HEAD")

    def describe(self, commit: pygit2.Commit, ref: str = "") -> str:
        short = str(commit.id)[:7]
        if not ref or ref == str(commit.id) or str(commit.id).startswith(ref):
            if not self.git.head_is_unborn and not self.git.head_is_detached and self.git.head.target == commit.id:
                return f"{short} ({self.git.head.shorthand})"
            return short
        if ref == "HEAD" and not self.git.head_is_detached:
            return f"{short} ({self.git.head.shorthand})"
        return f"{short} ({ref})"

    # ---- reading files ---------------------------------------------------------

    def source_at(self, commit: pygit2.Commit, ref: str = "", tables: Sequence[str] | None = None) -> Source:
        """The files of a revision; with ``tables``, only those tables' record
        files (the caller has checked nothing else is in the directory)."""
        source = Source(f"revision {self.describe(commit, ref)}", revision=str(commit.id))
        for directory in self._record_dirs(tables):
            source.snapshots += self._tree_files(commit.tree, directory)
        source.schemas = {f.path: f for f in self._tree_files(commit.tree, self.config.schemas)}
        return source

    def table_trees(self, commit: pygit2.Commit) -> dict[str, str] | None:
        """Git tree id of each table's record directory ("" where there is
        none), or None when the snapshots directory holds anything besides
        table directories (stray files and overlays need the whole validation)."""
        try:
            top = commit.tree[self.prefix + self.config.snapshots]
        except KeyError:
            return {table: "" for table in self.config.tables}
        if top.type != ObjectType.TREE:
            return None
        entries = {e.name: e for e in top.peel(pygit2.Tree)}
        if any(name != ".gitkeep" and (name not in self.config.tables or e.type != ObjectType.TREE)
               for name, e in entries.items()):
            return None
        return {table: str(entries[table].id) if table in entries else "" for table in self.config.tables}

    def tree_id(self, commit: pygit2.Commit, directory: str) -> str | None:
        """The git tree id of ``directory`` (config-relative) at ``commit``; None where it is no directory."""
        try:
            entry = commit.tree[self.prefix + directory]
        except KeyError:
            return None
        return str(entry.id) if entry.type == ObjectType.TREE else None

    def _tree_files(self, tree: pygit2.Tree, directory: str) -> Iterator[SourceFile]:
        try:
            entry = tree[self.prefix + directory]
        except KeyError:
            return
        if entry.type != ObjectType.TREE:
            return
        yield from self._walk(entry.peel(pygit2.Tree), directory)

    def _walk(self, tree: pygit2.Tree, base: str) -> Iterator[SourceFile]:
        for obj in tree:
            path = f"{base}/{obj.name}"
            if obj.type == ObjectType.TREE:
                yield from self._walk(obj.peel(pygit2.Tree), path)
            elif obj.filemode == FileMode.LINK:
                yield SourceFile(path, b"", symlink=True)
            elif obj.type == ObjectType.BLOB:
                yield SourceFile(path, blob_id=str(obj.id), load=functools.partial(self._blob_data, obj.id))

    def _record_dirs(self, tables: Sequence[str] | None) -> list[str]:
        snapshots = self.config.snapshots
        return [snapshots] if tables is None else [f"{snapshots}/{table}" for table in tables]

    def file_at(self, commit: pygit2.Commit, path: str) -> bytes | None:
        """The content of the file ``path`` (config-relative) at ``commit``;
        None where there is none. RepoError when it is a symbolic link, a
        directory or a submodule: what it points to is not the file's content."""
        try:
            entry = commit.tree[self.prefix + path]
        except KeyError:
            return None
        if entry.filemode not in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE):
            raise RepoError(f"{path} at {str(commit.id)[:7]} is not a regular file")
        return entry.peel(pygit2.Blob).data

    def _blob_data(self, oid: pygit2.Oid) -> bytes:
        return self.git[oid].peel(pygit2.Blob).data

    def worktree_source(self, tables: Sequence[str] | None = None, *, lazy: bool = False) -> Source:
        """The work tree's files; with ``tables``, only those tables' record files.
        ``lazy``: a record file is read on first use (`validate` reads them in its
        workers, on every core), without following a symbolic link made since
        (OSError then, ELOOP for a link)."""
        source = Source("work tree")
        for directory in self._record_dirs(tables):
            source.snapshots += self._listed_files(directory) if lazy else self._disk_files(directory)
        source.schemas = {f.path: f for f in self._disk_files(self.config.schemas)}
        return source

    def _listed_files(self, directory: str) -> list[SourceFile]:
        """`_disk_files` (the same files and links, in another order), listed only:
        each file is read on first use. A link is told from its directory entry,
        not by an lstat of each file (100,000 calls)."""
        found: list[SourceFile] = []
        top = self.config.root / directory
        if not top.is_dir():
            return found
        pending = [(str(top), directory)]
        while pending:
            full_dir, rel_dir = pending.pop()
            with os.scandir(full_dir) as listing:
                for entry in listing:
                    path = f"{rel_dir}/{entry.name}"
                    if entry.is_dir(follow_symlinks=False):
                        pending.append((entry.path, path))  # os.walk goes in, never through a link
                    elif entry.is_symlink():
                        found.append(SourceFile(path, b"", symlink=True))  # to a file or a directory, or broken
                    else:
                        found.append(SourceFile(path, load=functools.partial(read_regular_file, entry.path)))
        return found

    def _disk_files(self, directory: str) -> Iterator[SourceFile]:
        root = self.config.root
        top = root / directory
        if not top.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(top):
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            for name in sorted(dirnames):
                if os.path.islink(os.path.join(dirpath, name)):
                    yield SourceFile(f"{rel_dir}/{name}", b"", symlink=True)
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                rel = f"{rel_dir}/{name}"
                try:
                    data = read_regular_file(full)
                except OSError as exc:
                    if exc.errno == errno.ELOOP:  # a link (to a file, a directory or nothing): O_NOFOLLOW refused it
                        yield SourceFile(rel, b"", symlink=True)
                        continue
                    if exc.errno == errno.EINVAL:
                        # A named pipe would block the read (and a snapshot's write) forever.
                        raise RepoError(f"{rel}: not a regular file (a named pipe, socket or device); "
                                        "configsync reads only regular files here: remove it") from None
                    raise
                yield SourceFile(rel, data)

    def clean_tables(self, tables: Sequence[str]) -> set[str]:
        """Tables whose record directory in the work tree is exactly HEAD's."""
        prefixes = {t: f"{self.prefix}{self.config.snapshots}/{t}/" for t in tables}
        dirty: set[str] = set()
        for path, flags in self.git.status(untracked_files="normal").items():
            if flags & FileStatus.IGNORED or flags == FileStatus.CURRENT:
                continue
            dirty.update(t for t, prefix in prefixes.items() if path.startswith(prefix) or prefix.startswith(path))
        return set(tables) - dirty

    def worktree_changes(self, directories: Sequence[str],
                         skip: Container[str] = ()) -> dict[str, tuple[str, bytes | None]]:
        """Files under ``directories`` (config-relative) whose work-tree content
        differs from HEAD's: path -> ("A" | "M" | "D", the work tree's bytes).
        ``skip``: paths the caller has already (a snapshot's own writes), not read again."""
        prefixes = tuple(self.prefix + d.rstrip("/") + "/" for d in directories)
        changed: dict[str, tuple[str, bytes | None]] = {}
        if not prefixes:
            return changed
        # git's status lists every file of an untracked directory one by one
        # (after a first snapshot: each file it wrote, all skipped here). It
        # is asked for them only when such a directory holds one not skipped.
        status = self.git.status(untracked_files="normal")
        untracked = [path for path in status if path.endswith("/")]
        if all(self._only_skipped(path, prefixes, skip) for path in untracked):
            for path in untracked:
                del status[path]
        else:
            status = self.git.status(untracked_files="all")
        for path, flags in status.items():
            if flags & FileStatus.IGNORED or flags == FileStatus.CURRENT or not path.startswith(prefixes):
                continue
            rel = path[len(self.prefix):]
            if rel in skip:
                continue
            data = files.read(self.config.root, rel)
            new = bool(flags & (FileStatus.WT_NEW | FileStatus.INDEX_NEW))
            changed[rel] = ("D" if data is None else "A" if new else "M", data)
        return changed

    def _only_skipped(self, untracked: str, prefixes: tuple[str, ...], skip: Container[str]) -> bool:
        """Is every file of the untracked directory ``untracked`` (a git path)
        that lies under ``prefixes`` in ``skip``? Anything else there, a
        symbolic link or a nested repository's .git too, is a no."""
        pending = [untracked] if untracked.startswith(prefixes) else [p for p in prefixes if p.startswith(untracked)]
        while pending:
            directory = pending.pop()
            try:
                entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in os.scandir(self.workdir / directory)]
            except FileNotFoundError:
                continue
            except OSError:
                return False
            for name, is_directory in entries:
                path = directory + name
                if is_directory:
                    pending.append(path + "/")
                elif path[len(self.prefix):] not in skip:
                    return False
        return True

    def dirty_paths(self) -> list[str]:
        """Uncommitted changes that apply would silently ignore."""
        watched = (
            self.prefix + self.config.snapshots + "/",
            self.prefix + self.config.schemas + "/",
        )
        config_file = self.prefix + CONFIG_FILE
        dirty = []
        for path, flags in self.git.status(untracked_files="normal").items():
            if flags & FileStatus.IGNORED or flags == FileStatus.CURRENT:
                continue
            if path.startswith(watched) or path == config_file:
                dirty.append(path)
        return sorted(dirty)

    # ---- writing ---------------------------------------------------------------

    def signature(self) -> pygit2.Signature:
        """Git's own precedence: GIT_AUTHOR_* (set by CI setups), git config, then a fallback."""
        name, email = os.environ.get("GIT_AUTHOR_NAME"), os.environ.get("GIT_AUTHOR_EMAIL")
        if name and email:
            return pygit2.Signature(name, email)
        try:
            return self.git.default_signature
        except (KeyError, pygit2.GitError):
            return pygit2.Signature(*FALLBACK_IDENTITY)

    def tree_with(self, base: pygit2.Commit | None, files: dict[str, bytes | None],
                  blob_ids: dict[str, bytes] | None = None, meanwhile: Callable[[], None] | None = None) -> pygit2.Oid:
        """A tree equal to ``base``'s with ``files`` (config-root paths) written or removed.
        ``blob_ids``, when given, receives the id (raw) of each file written;
        ``meanwhile`` runs once they are known, while the objects are written
        (``packs.write_pack``).

        Only the directories on the way to a changed file are rebuilt; the
        rest keep their tree ids (an index of every path costs O(n) per path)."""
        written = [(path, data) for path, data in files.items() if data is not None]
        # The new blobs first, all at once: a pack when there are many (packs.py),
        # with the trees of the directories that are new, written here too.
        packed = len(written) >= packs.MIN_OBJECTS
        if packed:
            ids = [packs.object_id(packs.BLOB, data) for _, data in written]
        else:
            ids = [self.git.create_blob(data).raw for _, data in written]
        if blob_ids is not None:
            blob_ids.update((path, oid) for (path, _), oid in zip(written, ids, strict=True))
        oids = iter(ids)
        nested: _Nested = {}
        for path, data in files.items():
            *directories, name = (self.prefix + path).split("/")
            level = nested
            for directory in directories:
                sub = level.setdefault(directory, {})
                if not isinstance(sub, dict):  # a file where a directory goes: the directory wins
                    sub = level[directory] = {}
                level = sub
            level[name] = None if data is None else next(oids)
        if packed:
            objects = [(oid, packs.BLOB, data) for oid, (_, data) in zip(ids, written, strict=True)]
            self._new_trees(base.tree if base is not None else None, nested, objects)
            packs.write_pack(self.git, objects, meanwhile)
        elif meanwhile is not None:
            meanwhile()
        return self._write_tree(base.tree if base is not None else None, nested) or self.git.TreeBuilder().write()

    def _new_trees(self, tree: pygit2.Tree | None, changes: _Nested,
                   objects: list[tuple[bytes, int, bytes]]) -> None:
        """Each directory of ``changes`` that ``tree`` does not have, written
        whole (``packs.tree_object``, its objects added to ``objects``) and
        put in ``changes`` as a _NewTree; libgit2's tree builder then only
        edits the directories that were there before."""
        for name, change in changes.items():
            if not isinstance(change, dict):
                continue
            existing = tree[name] if tree is not None and name in tree else None
            if existing is not None and existing.type == ObjectType.TREE:
                self._new_trees(existing.peel(pygit2.Tree), change, objects)
            else:
                written = _new_tree(change, objects)
                if written is not None and written is not _EMPTY:  # an empty one: the tree builder removes it
                    changes[name] = written

    def _write_tree(self, tree: pygit2.Tree | None, changes: _Nested) -> pygit2.Oid | None:
        """The tree with ``changes`` made; None when nothing is left in it (git keeps no empty directories)."""
        builder = self.git.TreeBuilder(tree) if tree is not None else self.git.TreeBuilder()
        for name, change in changes.items():
            existing = builder.get(name)
            if isinstance(change, dict):
                subtree = existing.peel(pygit2.Tree) if existing is not None and existing.type == ObjectType.TREE else None
                oid = self._write_tree(subtree, change)
                if oid is not None:
                    builder.insert(name, oid, FileMode.TREE)
                elif existing is not None:
                    builder.remove(name)
            elif isinstance(change, _NewTree):
                builder.insert(name, pygit2.Oid(raw=change.id), FileMode.TREE)
            elif change is None:
                if existing is not None:
                    builder.remove(name)
            else:
                builder.insert(name, pygit2.Oid(raw=change), FileMode.BLOB)
        return builder.write() if len(builder) else None

    def commit_files(self, files: dict[str, bytes | None], message: str, blob_ids: dict[str, bytes] | None = None,
                     meanwhile: Callable[[], None] | None = None) -> pygit2.Oid:
        """Commit exactly these paths on top of HEAD, and stage them so the work
        tree stays clean; nothing else the user has staged is included.
        ``blob_ids``, ``meanwhile``: as for ``tree_with``. Call ``settle`` before this process
        ends: the index may still be being refreshed (``_refresh_index``)."""
        self.settle()
        head = self.head()
        tree = self.tree_with(head, files, blob_ids, meanwhile)
        sig = self.signature()
        index = self.git.index
        index.read()
        # Nothing else staged (the usual case, always in CI): the new index is
        # the new tree, read in one go. Adding paths one by one costs O(n) each.
        nothing_staged = head is not None and not index.conflicts and index.write_tree() == head.tree.id
        oid = self.git.create_commit("HEAD", sig, sig, message, tree, [head.id] if head else [])
        if nothing_staged:
            index.read_tree(tree)
            index.write()
            self._refresh_index()
            return oid
        for path in files:
            git_path = self.prefix + path
            if files[path] is None:
                if git_path in index:
                    index.remove(git_path)
            else:
                index.add(git_path)
        index.write()
        return oid

    def _refresh_index(self) -> None:
        """Record the new files' stat data in the index, as `git add` would.

        read_tree leaves new entries without it, and libgit2 never writes back
        what its status learns, so every later status (and snapshot) would
        re-hash every file this commit added: 15 s at 300,000 files. git's own
        refresh does it once (reading every new file: a second at 100,000
        files), started here and waited for by ``settle``, so it runs beside
        what the caller does meanwhile; without git installed, status is
        merely slower."""
        self.settle()
        git = shutil.which("git")
        if git is None:
            return
        try:
            self._refreshing = subprocess.Popen(
                [git, "update-index", "-q", "--refresh"], cwd=self.workdir,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            return  # only ever a speed-up

    def settle(self) -> None:
        """Wait for the index refresh ``commit_files`` started, if any: it holds
        the index's lock until it is done."""
        refreshing, self._refreshing = self._refreshing, None
        if refreshing is None:
            return
        try:
            refreshing.wait(timeout=600)
        except subprocess.TimeoutExpired:
            refreshing.kill()  # only ever a speed-up; git leaves the index as it was
            refreshing.wait()

    def save_backup(self, base: pygit2.Commit | None, files: dict[str, bytes | None], message: str,
                    namespace: str | None = None) -> str:
        """Store a commit holding the database's state under refs/configsync/backups/
        (an environment's under refs/configsync/backups/<namespace>/)."""
        tree = self.tree_with(base, files)
        sig = self.signature()
        oid = self.git.create_commit(None, sig, sig, message, tree, [base.id] if base else [])
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        prefix = BACKUP_PREFIX + (f"{namespace}/" if namespace else "")
        name = prefix + stamp
        suffix = 1
        while name in self.git.references:
            suffix += 1
            name = f"{prefix}{stamp}-{suffix}"
        self.git.references.create(name, oid)
        return name

    def delete_ref(self, name: str) -> None:
        if name in self.git.references:
            self.git.references.delete(name)

    def revert_tree(self, commit: pygit2.Commit) -> pygit2.Oid:
        """The tree HEAD would have after reverting ``commit``; RepoError on conflict."""
        head = self.resolve("HEAD")
        # A merge commit is a merged pull request: undo it against its first
        # parent, which is what "revert the PR" means.
        mainline = 1 if len(commit.parents) > 1 else 0
        try:
            index = self.git.revert_commit(commit, head, mainline)
        except pygit2.GitError as exc:
            raise RepoError(f"cannot revert {str(commit.id)[:7]}: {exc}") from None
        if index.conflicts is not None:
            paths = sorted({(ours or theirs or ancestor).path for ancestor, ours, theirs in index.conflicts})
            shown = ", ".join(p[len(self.prefix):] if p.startswith(self.prefix) else p for p in paths)
            raise RepoError(
                f"reverting {str(commit.id)[:7]} conflicts with later changes to {shown}; "
                "nothing was changed. Resolve it by hand (git revert) or restore an earlier state "
                "with `configsync rollback --to REF`"
            )
        return index.write_tree(self.git)

    def in_history(self, commit: pygit2.Commit) -> bool:
        """Is ``commit`` HEAD or one of its ancestors: part of the current branch?"""
        head = self.resolve("HEAD")
        return commit.id == head.id or bool(self.git.descendant_of(head.id, commit.id))

    def changed_entries(self, tree: pygit2.Oid) -> list[TreeChange]:
        """What a commit of ``tree`` on top of HEAD would change: each path
        that differs (relative to the top of the git work tree), with its new
        mode, None where it is removed."""
        head = self.resolve("HEAD")
        diff = head.tree.diff_to_tree(self.git[tree].peel(pygit2.Tree))  # no rename detection: paths as they are
        found = []
        for delta in diff.deltas:
            if delta.status == DeltaStatus.DELETED:
                found.append(TreeChange(delta.old_file.path, None))
            else:
                found.append(TreeChange(delta.new_file.path, FileMode(delta.new_file.mode)))
        return sorted(found, key=lambda c: c.path)

    def restore_tree(self, source: pygit2.Commit, directories: Sequence[str] | None = None) -> pygit2.Oid:
        """HEAD's tree with the snapshot and schema directories (or only
        ``directories``, config-relative) taken from ``source``."""
        head = self.resolve("HEAD")
        wanted = directories if directories is not None else (self.config.snapshots, self.config.schemas)
        dirs = tuple(self.prefix + d.rstrip("/") + "/" for d in wanted)
        index = pygit2.Index()
        index.read_tree(head.tree)
        for entry in list(index):
            if entry.path.startswith(dirs):
                index.remove(entry.path)
        theirs = pygit2.Index()
        theirs.read_tree(source.tree)
        for entry in theirs:
            if entry.path.startswith(dirs):
                index.add(entry)
        return index.write_tree(self.git)

    def make_commit(self, tree: pygit2.Oid, message: str) -> pygit2.Commit:
        """A commit on top of HEAD that no branch points to yet."""
        head = self.resolve("HEAD")
        sig = self.signature()
        oid = self.git.create_commit(None, sig, sig, message, tree, [head.id])
        return self.git[oid].peel(pygit2.Commit)

    def advance(self, commit: pygit2.Commit) -> None:
        """Move HEAD (and its branch) to ``commit`` and update the work tree."""
        try:
            self.git.checkout_tree(commit.tree, strategy=CheckoutStrategy.SAFE)  # type: ignore[no-untyped-call]
        except pygit2.GitError as exc:
            raise RepoError(f"cannot update the work tree: {exc}") from None
        if self.git.head_is_detached:
            self.git.set_head(commit.id)
        else:
            self.git.head.set_target(commit.id, f"configsync: {commit.message.splitlines()[0]}")

    # ---- history ---------------------------------------------------------------

    def log_path(self, path: str, limit: int = 50) -> list[PathVersion]:
        head = self.head()
        if head is None:
            return []
        git_path = self.prefix + path
        found = []
        for commit in self.git.walk(head.id, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME):
            after = self._blob_id(commit, git_path)
            parent_ids = [self._blob_id(p, git_path) for p in commit.parents]
            if parent_ids and any(p == after for p in parent_ids):
                continue
            if not parent_ids and after is None:
                continue
            before = parent_ids[0] if parent_ids else None
            found.append(PathVersion(commit, self._data(before), self._data(after)))
            if len(found) >= limit:
                break
        return found

    @staticmethod
    def _blob_id(commit: pygit2.Commit, path: str) -> pygit2.Oid | None:
        try:
            return commit.tree[path].id
        except KeyError:
            return None

    def _data(self, oid: pygit2.Oid | None) -> bytes | None:
        return None if oid is None else self.git[oid].peel(pygit2.Blob).data


def read_regular_file(path: str) -> bytes:
    """A work-tree file's bytes, at most one byte past the size limit (enough to
    refuse, never a gigabyte into memory). A symbolic link is not followed:
    OSError (ELOOP), as for a file that is gone; nor is anything but a regular
    file read (a FIFO put there since would block: O_NONBLOCK opens it, EINVAL)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        limit = MAX_BYTES + 1
        wanted = min(info.st_size + 1, limit)
        data = os.read(fd, wanted)
        if len(data) == wanted < limit:  # it grew since: read on to its end (or the limit)
            parts, total = [data], len(data)
            while total < limit and (more := os.read(fd, limit - total)):
                parts.append(more)
                total += len(more)
            data = b"".join(parts)
        return data
    finally:
        os.close(fd)


_EMPTY = _NewTree(b"")


def _new_tree(changes: _Nested, objects: list[tuple[bytes, int, bytes]]) -> _NewTree | None:
    """A directory that did not exist, holding only what ``changes`` puts in
    it, written as a tree object (its subdirectories too) and added to
    ``objects``; _EMPTY when nothing is put in it, None when a name is one
    only libgit2's tree builder may judge (``packs.plain_name``)."""
    if not packs.plain_names(list(changes)):
        return None
    entries: list[tuple[str, bool, bytes]] = []
    for name, change in changes.items():
        if isinstance(change, dict):
            sub = _new_tree(change, objects)
            if sub is None:
                return None
            if sub is not _EMPTY:
                entries.append((name, True, sub.id))
        elif isinstance(change, _NewTree):
            entries.append((name, True, change.id))
        elif change is not None:  # a removal of what was not there: nothing
            entries.append((name, False, change))
    if not entries:
        return _EMPTY
    data = packs.tree_object(entries)
    oid = packs.object_id(packs.TREE, data)
    objects.append((oid, packs.TREE, data))
    return _NewTree(oid)
