"""A local cache of record files already found valid under a given schema.

JSON Schema validation is the slowest part of reading a large config repo.
A file whose exact bytes were valid under the exact bytes of its schema is
valid again, so `.configsync/cache.sqlite` remembers those pairs by content
hash. The cache only ever skips work: deleting it changes no result.
"""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from . import __version__


def content_id(*parts: bytes) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class ValidationCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._known: dict[str, set[str]] = {}
        self._new: list[tuple[str, str]] = []

    def _connect(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=5)
            conn.execute("CREATE TABLE IF NOT EXISTS valid (schema TEXT, record TEXT, PRIMARY KEY (schema, record))")
            return conn
        except (OSError, sqlite3.Error):
            # A read-only or broken cache only costs time: run without it.
            self.path = None
            return None

    def schema_id(self, schema: bytes) -> str:
        return content_id(__version__.encode(), schema)

    def is_valid(self, schema: str, record: str) -> bool:
        if schema not in self._known:
            self._known[schema] = set()
            conn = self._connect()
            if conn is not None:
                with conn:
                    rows = conn.execute("SELECT record FROM valid WHERE schema = ?", [schema]).fetchall()
                self._known[schema] = {r[0] for r in rows}
                conn.close()
        return record in self._known[schema]

    def remember(self, schema: str, record: str) -> None:
        self._known.setdefault(schema, set()).add(record)
        self._new.append((schema, record))

    def save(self) -> None:
        if not self._new:
            return
        conn = self._connect()
        if conn is None:
            return
        try:
            with conn:
                conn.executemany("INSERT OR IGNORE INTO valid VALUES (?, ?)", self._new)
        except sqlite3.Error:
            return  # see _connect: a cache that cannot be written is skipped
        finally:
            conn.close()
        self._new.clear()
