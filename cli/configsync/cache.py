"""A local cache of work already done, by content hash.

- Record files already found valid under a given schema. JSON Schema
  validation is the slowest part of reading a large config repo; a file whose
  exact bytes were valid under the exact bytes of its schema is valid again.
- Tables found in sync: a git tree of a table's record files, and the digest
  PostgreSQL computed of the table's rows when a full comparison found no
  difference (under one "setting": configsync version, columns, schema...).
  The same tree and the same digest again need no rows read and no file parsed.

`.configsync/cache.sqlite` only ever skips work: deleting it changes no result.
"""
from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from . import __version__


def content_id(*parts: bytes) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


# Written into .configsync/ (as pytest and ruff do with their caches), so a
# plain `git add -A` never commits the cache or the embedded local.db.
IGNORE_ALL = b"# configsync's local cache and state: never committed\n*\n"


def make_private_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists() and not ignore.is_symlink():
        ignore.write_bytes(IGNORE_ALL)


class ValidationCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._known: dict[str, set[str]] = {}
        self._new: list[tuple[str, str]] = []
        self._in_sync: list[tuple[str, str, str]] = []

    def _connect(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        try:
            make_private_dir(self.path.parent)
            conn = sqlite3.connect(self.path, timeout=5)
            conn.execute("CREATE TABLE IF NOT EXISTS valid (schema TEXT, record TEXT, PRIMARY KEY (schema, record))")
            conn.execute("CREATE TABLE IF NOT EXISTS in_sync (setting TEXT, tree TEXT, digest TEXT, "
                         "PRIMARY KEY (setting, tree, digest))")
            return conn
        except (OSError, sqlite3.Error):
            # A read-only or broken cache only costs time: run without it.
            self.path = None
            return None

    def schema_id(self, schema: bytes) -> str:
        return content_id(__version__.encode(), schema)

    def _select(self, sql: str, params: Sequence[str]) -> list[str]:
        """The first column of a query's rows; none when the cache cannot be read."""
        conn = self._connect()
        if conn is None:
            return []
        try:
            return [row[0] for row in conn.execute(sql, params).fetchall()]
        except sqlite3.Error:
            return []
        finally:
            conn.close()

    def is_valid(self, schema: str, record: str) -> bool:
        if schema not in self._known:
            self._known[schema] = set(self._select("SELECT record FROM valid WHERE schema = ?", [schema]))
        return record in self._known[schema]

    def in_sync_digests(self, setting: str, tree: str) -> set[str]:
        """Digests of the table's rows known to match this tree of files."""
        return set(self._select("SELECT digest FROM in_sync WHERE setting = ? AND tree = ?", [setting, tree]))

    def remember_in_sync(self, setting: str, tree: str, digest: str) -> None:
        self._in_sync.append((setting, tree, digest))

    def knows_valid(self, schema: str, record: str) -> bool:
        """is_valid for one entry, without loading the schema's whole set."""
        return record in self._known.get(schema, ()) or bool(
            self._select("SELECT record FROM valid WHERE schema = ? AND record = ?", [schema, record]))

    def remember(self, schema: str, record: str) -> None:
        self._known.setdefault(schema, set()).add(record)
        self._new.append((schema, record))

    def remember_all(self, schema: str, records: Sequence[str]) -> None:
        """``remember`` of each record, at once (a snapshot's 100,000)."""
        self._known.setdefault(schema, set()).update(records)
        self._new.extend((schema, record) for record in records)

    def save(self) -> None:
        if not self._new and not self._in_sync:
            return
        conn = self._connect()
        if conn is None:
            return
        try:
            with conn:
                # In key order: each row goes at the end of the key's b-tree, mostly.
                conn.executemany("INSERT OR IGNORE INTO valid VALUES (?, ?)", sorted(self._new))
                conn.executemany("INSERT OR IGNORE INTO in_sync VALUES (?, ?, ?)", self._in_sync)
        except sqlite3.Error:
            return  # see _connect: a cache that cannot be written is skipped
        finally:
            conn.close()
        self._new.clear()
        self._in_sync.clear()
