"""Snapshot: write the database into record files.

A file is rewritten only when its data differs, so a person's comments and
layout survive until the value really changes. With an environment, only
what differs from the base goes into that environment's overlay.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pygit2

from . import files, naming, packs, progress, yamlio
from .backends import TableInfo
from .errors import ConfigsyncError, UnsafePlanError
from .layout import ENVIRONMENTS, table_dir
from .overlay import deep_merge, ordered, overlay_rows
from .overlay import header as overlay_header
from .plan import MAX_SAFE_DELETE_FRACTION, mass_deletion
from .records import SourceFile, State, git_blob_id, render
from .row_render import TableRenderer
from .shortcuts import Shortcuts
from .sides import Sides
from .values import Row, equal

# A snapshot commit's message lists the files it changed, up to this many.
COMMIT_FILES_LISTED = 200


@dataclass
class SnapshotResult:
    written: dict[str, bytes] = field(default_factory=dict)  # path -> new content
    added: set[str] = field(default_factory=set)
    deleted: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> added/updated/removed
    commit: str | None = None
    # Files an earlier command wrote (they differ from HEAD) that already say
    # what the database holds: `snapshot --commit` commits them too.
    earlier: dict[str, bytes | None] = field(default_factory=dict)

    @property
    def drift(self) -> bool:
        return bool(self.written or self.deleted or (self.commit and self.earlier))

    def files(self) -> list[tuple[str, str, bool]]:
        """(A | M | D, path, written by an earlier command) of every file this snapshot changed or committed."""
        found = [("A" if p in self.added else "M", p, False) for p in sorted(self.written)]
        found += [("D", p, False) for p in self.deleted]
        if self.commit:
            found += [("D" if data is None else "A" if p in self.added else "M", p, True)
                      for p, data in sorted(self.earlier.items())]
        return found

    def to_json(self) -> dict[str, object]:
        return {
            "drift": self.drift,
            "files": [{"status": status, "path": path, "earlier": earlier} for status, path, earlier in self.files()],
            "counts": self.counts,
            "commit": self.commit,
        }

    def message(self) -> str:
        parts = []
        for table, counts in self.counts.items():
            shown = [f"{n} {what}" for what, n in counts.items() if n]
            if shown:
                parts.append(f"{table} {', '.join(shown)}")
        return "snapshot: " + ("; ".join(parts) if parts else "no changes")


class Snapshotter:
    def __init__(self, sides: Sides, shortcuts: Shortcuts) -> None:
        self.sides = sides
        self.shortcuts = shortcuts

    def snapshot(self, tables: Sequence[str] | None = None, *, commit: bool = False,
                 message: str | None = None, with_assigned: bool = False,
                 allow_mass_delete: bool = False) -> SnapshotResult:
        """``with_assigned``: also write the values the database assigned (serial,
        identity, defaults) into files that leave them out; without it such a
        column stays out of that file, as plan leaves it unmanaged."""
        sides = self.sides
        config = sides.config
        names = config.select(list(tables) if tables else None)
        infos = sides.describe(names)
        specs = sides.read_specs(names, infos)
        known, clean = self.shortcuts.for_snapshot(specs, sides.display_url, sides.env,
                                                   sides.backend.capabilities.server_digests)
        with progress.task("reading the database", one_call=True):
            read, digests = sides.backend.read_unless(specs, {} if with_assigned else known.skip)
        actual = sides.state_of(specs, read)
        live = [t for t in names if t in actual]
        worktree = sides.repo.worktree_source(live if sides.env is None else None)
        on_disk = {f.path: f for f in worktree.snapshots}
        base = None
        if sides.env:
            keys = {t: sides.key_columns(t, infos[t]) for t in names}
            from .validation import load_state  # JSON Schema: not for a snapshot without --env
            base = load_state(config, worktree, keys, names).state
        result = SnapshotResult()
        prefixes: dict[str, str] = {}
        refusals: list[str] = []
        for table in live:
            info = infos[table]
            kinds = {c.name: c.kind for c in info.columns}
            layout = sides.layout(table, info)
            under: dict[str, Row] = {}  # overlay path -> the base row it applies to
            assigned = set() if with_assigned else {
                c.name for c in info.columns if c.database_assigned and c.name not in layout.key}
            if base is None or sides.env is None:
                prefix = layout.directory + "/"
                records = actual[table].values()
                if any(r.file == prefix + "?" for r in records):  # a key that cannot be a name: paths says which
                    rows = layout.paths(r.values for r in records)
                else:  # the paths reading the database gave, not computed again
                    rows = layout.unique((r.file, r.values) for r in records)
                header = None
            else:
                rows, under = overlay_rows(layout, sides.env, base[table], actual[table], kinds, assigned)
                prefix = layout.directory_for(sides.env) + "/"
                header = overlay_header(table, sides.env, config)
                assigned = set()
            prefixes[table] = prefix
            result.counts[table] = self._compare(result, table, info, rows, under, header, prefix, on_disk, kinds,
                                                 assigned)
            if header is None and not allow_mass_delete:
                existing = sum(1 for p in on_disk if p.startswith(prefix) and p.endswith(naming.EXTENSION))
                reason = _mass_removal(table, result.counts[table], existing)
                if reason:
                    refusals.append(reason)
        if refusals:
            raise UnsafePlanError(
                "refusing to remove record files (was the database read in full?):\n  " + "\n  ".join(refusals)
                + "\nNothing was written. If these rows were really deleted, run again with --allow-mass-delete."
            )
        self._write(result)
        if commit:
            self._add_earlier(result, [prefixes[t] for t in live], on_disk)
        blob_ids: dict[str, bytes] = {}  # path -> git blob id (raw) of each file committed
        vouching_for = [t for t in live if t in clean and t in digests] if commit and sides.env is None else []
        verdicts: dict[str, tuple[str, str, list[str]]] = {}
        try:
            if commit and (result.drift or result.earlier):
                # Each table's verdict is found while git's objects are written (packs.write_pack).
                result.commit = str(sides.repo.commit_files(
                    self._changed(result), self._message(result, message), blob_ids,
                    lambda: verdicts.update(self._verdicts(result, vouching_for, infos, actual, blob_ids))))
            unchanged = {t for t in live if not any(result.counts[t].values())}
            self.shortcuts.snapshotted(known, clean, live, digests, unchanged, result.commit)
            if result.commit and sides.env is None:
                self._vouch(result, vouching_for, infos, actual, verdicts)
            sides.cache.save()
        finally:
            sides.repo.settle()
        return result

    def _verdicts(self, result: SnapshotResult, tables: Sequence[str], infos: Mapping[str, TableInfo],
                  actual: State, blob_ids: Mapping[str, bytes]) -> dict[str, tuple[str, str, list[str]]]:
        """For each table whose record files this snapshot created, all of
        them, and whose rows all pass (``vouching.rows_pass``, under HEAD's
        schemas: the commit changes record files only): the tree id its
        directory has when it holds just those files, the schema id, and the
        validation cache's new entries. Found before the commit is made."""
        from . import vouching  # JSON Schema: not for a snapshot without --commit
        sides = self.sides
        head = sides.repo.head()
        if head is None or not tables:
            return {}
        schemas = sides.repo.source_at(head, "", [])
        found = {}
        for table in tables:
            rows = {r.file: r.values for r in actual[table].values()}
            tree = self._created_tree(table, rows, result, blob_ids)
            if tree is None:
                continue
            passed = vouching.rows_pass(sides.config, schemas, table, sides.key_columns(table, infos[table]),
                                        ((blob_ids[path].hex(), row) for path, row in rows.items()), sides.cache)
            if passed is not None:
                found[table] = (tree, *passed)
        return found

    def _vouch(self, result: SnapshotResult, tables: Sequence[str], infos: Mapping[str, TableInfo],
               actual: State, verdicts: Mapping[str, tuple[str, str, list[str]]]) -> None:
        """Leave the next plan of the new commit its warm path: a table whose
        record files this snapshot created, every one of them, is validated
        now as a plan validates it, from the rows those files render (a file
        created is ``render(row)``: no person's layout kept, no database-assigned
        column left out), so nothing is parsed again. Only a table that passes
        is remembered valid; one that does not (a row its schema refuses) is
        left for the plan to report, as before. A verdict found before the
        commit holds for a table whose directory and schema are at the commit
        what the verdict was found on; any other table takes the full validation."""
        sides = self.sides
        commit = sides.repo.resolve(result.commit or "HEAD")
        for table in tables:
            verdict = verdicts.get(table)
            if (verdict is not None and verdict[0] == sides.repo.tree_id(commit, table_dir(sides.config, table))
                    and verdict[1] == self.shortcuts.schema_id(commit, table)):
                sides.cache.remember_all(verdict[1], verdict[2])
            elif not self._validates(commit, result, table, infos, {r.file: r.values for r in actual[table].values()}):
                continue
            self.shortcuts.vouched(commit, table)

    def _created_tree(self, table: str, rows: Mapping[str, Row], result: SnapshotResult,
                      blob_ids: Mapping[str, bytes]) -> str | None:
        """The git tree id of the table's directory holding exactly the files
        this snapshot created, one per row; None where a row's file is not one
        (``vouching``'s premise, checked at the commit by that id)."""
        directory = table_dir(self.sides.config, table)
        start = len(directory) + 1
        entries = []
        for path in rows:
            name, oid = path[start:], blob_ids.get(path)
            if (oid is None or not path.startswith(directory + "/") or "/" in name or path not in result.added
                    or path not in result.written):
                return None
            entries.append((name, False, oid))
        try:
            tree = packs.tree_object(entries)
        except ValueError:  # a name only libgit2 judges: the full validation reads the tree
            return None
        return packs.object_id(packs.TREE, tree).hex()

    def _validates(self, commit: pygit2.Commit, result: SnapshotResult, table: str,
                   infos: Mapping[str, TableInfo], rows: Mapping[str, Row]) -> bool:
        """Does the table's directory at ``commit`` pass validation as a plan
        validates it, the files this snapshot created known by their rows?"""
        sides = self.sides
        source = sides.repo.source_at(commit, result.commit or "", [table])
        known: dict[str, Row] = {}
        for file in source.snapshots:
            if not file.path.endswith(naming.EXTENSION):
                continue  # validation says what it makes of it, as in a plan
            data = result.written.get(file.path)
            if file.path not in result.added or data is None or file.path not in rows \
                    or file.blob_id != git_blob_id(data):
                return False  # a file this snapshot did not create: a plan reads it
            known[file.blob_id] = rows[file.path]
        try:
            sides.desired_state(source, [table], infos, known=known)
        except ConfigsyncError:
            return False
        return True

    def _compare(self, result: SnapshotResult, table: str, info: TableInfo, rows: Mapping[str, Row],
                 under: Mapping[str, Row], header: str | None, prefix: str,
                 on_disk: Mapping[str, SourceFile], kinds: Mapping[str, str],
                 assigned: set[str] | None = None) -> dict[str, int]:
        """Record in ``result`` the files of this table that differ; their counts.

        A column in ``assigned`` (the database gives it a value) that an existing
        file leaves out stays out: that row was created from a file without it,
        and plan leaves it unmanaged; it is no drift."""
        counts = {"added": 0, "updated": 0, "removed": 0}
        config, columns = self.sides.config, info.column_names
        # Rendering is much of a full snapshot's work, yet done here, one row at a
        # time: forked workers rendering 100,000 rows saved 2 s of 15 on two cores
        # but copied every page of the rows they touched (reference counts),
        # 240 MB more memory, which a large snapshot cannot spare.
        # One renderer per table: the header and the column order worked out once.
        renderer = TableRenderer(config, table, columns)
        for path, row in rows.items():
            data = renderer(row) if header is None else yamlio.dump(ordered(row, columns), header)
            current = on_disk.get(path)
            if assigned and current is not None and not current.symlink and current.data != data:
                left_out = _left_out(current.data, row, assigned)
                if left_out:
                    row = {c: v for c, v in row.items() if c not in left_out}
                    data = render(self.sides.config, table, row, info.column_names)
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
        return counts

    def _write(self, result: SnapshotResult) -> None:
        # One writer: each directory is looked at once, not once per file.
        with files.Writer(self.sides.config.root) as writer:
            self._write_with(writer, result)

    @staticmethod
    def _write_with(writer: files.Writer, result: SnapshotResult) -> None:
        # Every path is checked before the first write: a refusal leaves no half-written snapshot.
        for path in [*result.written, *result.deleted]:
            writer.check(path)
        with progress.task("writing record files", len(result.written) + len(result.deleted)) as bar:
            for path, data in result.written.items():
                writer.write(path, data)
                bar.advance()
            for path in result.deleted:
                writer.delete(path)
                bar.advance()

    def _add_earlier(self, result: SnapshotResult, prefixes: Sequence[str], on_disk: Mapping[str, SourceFile]) -> None:
        """What differs from HEAD in the snapshotted directories besides what
        this run wrote: files that match the database, written by an earlier
        `snapshot` without --commit (or by hand)."""
        mine = {*result.written, *result.deleted}
        for path, (status, data) in self.sides.repo.worktree_changes(prefixes, mine).items():
            if path in mine or not path.endswith(naming.EXTENSION):
                continue
            result.earlier[path] = data
            if status == "A":
                result.added.add(path)
            parts = path[len(self.sides.config.snapshots) + 1:].split("/")
            counts = result.counts.get(parts[2] if parts[0] == ENVIRONMENTS else parts[0])
            if counts is not None:
                counts[{"A": "added", "M": "updated", "D": "removed"}[status]] += 1

    @staticmethod
    def _changed(result: SnapshotResult) -> dict[str, bytes | None]:
        changed: dict[str, bytes | None] = dict(result.earlier)
        changed.update(result.written)
        changed.update({p: None for p in result.deleted})
        return changed

    def _message(self, result: SnapshotResult, message: str | None) -> str:
        changed = self._changed(result)
        listed = sorted(changed)[:COMMIT_FILES_LISTED]
        body = f"\n\nDatabase: {self.sides.display_url}\n" + "".join(
            f"\n{'D' if changed[p] is None else 'A' if p in result.added else 'M'} {p}" for p in listed
        )
        if len(changed) > len(listed):
            body += f"\n... and {len(changed) - len(listed)} more files"
        return (message or result.message()) + body + "\n"


def _left_out(data: bytes, row: Row, assigned: set[str]) -> set[str]:
    """The database-assigned columns of ``row`` that the file ``data`` leaves out."""
    try:
        current = yamlio.load(data)
    except yamlio.YamlError:
        return set()
    if not isinstance(current, dict):
        return set()
    return {c for c in assigned if c in row and c not in current}


def _mass_removal(table: str, counts: Mapping[str, int], existing: int) -> str | None:
    """Apply's mass-deletion rule (``plan.mass_deletion``), for the files of one table."""
    removed = counts["removed"]
    limit = mass_deletion(removed, existing, counts["added"])
    if limit == "all":
        return f"{table}: would remove all {existing} files, as if the table were empty"
    if limit == "share":
        return f"{table}: would remove {removed} of {existing} files (more than {MAX_SAFE_DELETE_FRACTION:.0%})"
    return None


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


__all__ = ["SnapshotResult", "Snapshotter"]
