"""Records, the state they form, and their files.

``State`` is what both sides of a plan produce: table -> key -> Record. The
desired state comes from record files (a git tree or the work tree), the actual
state from a database; everything downstream is pure.
"""
from __future__ import annotations

import functools
import hashlib
import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from . import values, yamlio
from .config import Config
from .errors import ConfigError
from .layout import TableLayout, table_dir
from .values import Row, Value

Key = tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Record:
    table: str
    key: Key
    values: Row
    file: str  # path relative to the config repository


TableRecords = dict[Key, Record]
State = dict[str, TableRecords]


class SourceFile:
    """A file as read from a git tree or the work tree (path relative to the config root).

    From git, ``blob_id`` is known without reading the file and ``data`` is
    read on first use: a plan over 300,000 unchanged records reads none."""

    __slots__ = ("path", "symlink", "blob_id", "_data", "_load")

    def __init__(self, path: str, data: bytes | None = None, symlink: bool = False, *,
                 blob_id: str = "", load: Callable[[], bytes] | None = None) -> None:
        self.path = path
        self.symlink = symlink
        self.blob_id = blob_id
        self._data = data
        self._load = load

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = self._load() if self._load is not None else b""
        return self._data

    def release(self) -> None:
        """Forget the bytes if they can be read again (from git): 300,000
        parsed files need not stay in memory for the rare error message."""
        if self._load is not None:
            self._data = None


@dataclass
class Source:
    """The record and schema files of one revision (or of the work tree)."""

    description: str  # "revision 3f2a1c7 (main)" or "work tree"
    snapshots: list[SourceFile] = field(default_factory=list)
    schemas: dict[str, SourceFile] = field(default_factory=dict)
    revision: str = ""  # full commit id; empty for the work tree


def git_blob_id(data: bytes) -> str:
    """The id git gives a file with these bytes."""
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


def key_of(row: Mapping[str, Value], key_columns: Sequence[str]) -> Key:
    return tuple(values.canonical(row.get(c)) for c in key_columns)


def key_dict(row: Mapping[str, Value], key_columns: Sequence[str]) -> Row:
    return {c: row.get(c) for c in key_columns}


def header(config: Config, table: str) -> str:
    return _header(config.schema_path(table), table_dir(config, table))


@functools.lru_cache(maxsize=256)
def _header(schema_path: str, directory: str) -> str:
    # relpath per file was a tenth of a large snapshot's time
    return f"# yaml-language-server: $schema={posixpath.relpath(schema_path, directory)}\n"


def render(config: Config, table: str, row: Mapping[str, Value], column_order: Iterable[str]) -> bytes:
    """The bytes of a record file: fixed column order, deterministic YAML."""
    ordered = {c: row[c] for c in column_order if c in row}
    if len(ordered) != len(row):  # columns the order does not name go last
        ordered.update({c: v for c, v in row.items() if c not in ordered})
    return yamlio.dump(ordered, header(config, table))


def render_files(config: Config, layout: TableLayout, rows: Iterable[Row], column_order: Sequence[str]) -> dict[str, bytes]:
    """Path -> bytes of every row's record file; NamingError for a key that
    cannot be a file name or two that would collide."""
    return {path: render(config, layout.table, row, column_order) for path, row in layout.paths(rows).items()}


def state_of_rows(
    config: Config,
    table: str,
    rows: Iterable[Row],
    key_columns: Sequence[str],
) -> TableRecords:
    """Records for rows read from a database."""
    layout = TableLayout(config, table, key_columns)
    listed = list(rows)
    # A key that cannot be a file name gets "<dir>/?": reported by whatever
    # writes the file; the plan still needs the record to compare against.
    paths = layout.record_paths(listed, lenient=True)
    records: TableRecords = {}
    for row, path in zip(listed, paths, strict=True):
        key = key_of(row, key_columns)
        if key in records:
            shown = ", ".join(f"{c}={row.get(c)!r}" for c in key_columns)
            raise ConfigError(
                f"table {table}: two rows have the key {shown}; set tables.{table}.key "
                "in configsync.yaml to columns that are unique"
            )
        records[key] = Record(table, key, row, path)
    return records
