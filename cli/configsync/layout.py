"""Where a table's record files live.

One ``TableLayout`` per table answers every question about paths: the table's
directory, an environment's overlay directory, and the one function that turns
a row into its file's path. Snapshot, init, import-backup, validate and the
plan all ask it, so a key is named, refused or found colliding the same way
everywhere.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from . import naming
from .config import Config
from .errors import NamingError
from .values import Row, Value

#: Overlays live in <snapshots>/_environments/<env>/<table>/.
ENVIRONMENTS = "_environments"


def table_dir(config: Config, table: str) -> str:
    return f"{config.snapshots}/{table}"


def overlay_dir(config: Config, env: str, table: str) -> str:
    return f"{config.snapshots}/{ENVIRONMENTS}/{env}/{table}"


class TableLayout:
    """The files of one table, named by its key columns and ``filename`` template."""

    __slots__ = ("table", "key", "template", "directory", "_config")

    def __init__(self, config: Config, table: str, key: Sequence[str]) -> None:
        self._config = config
        self.table = table
        self.key = tuple(key)
        self.template = config.table(table).template(self.key)
        self.directory = table_dir(config, table)

    def file_name(self, row: Mapping[str, Value]) -> str:
        """The record's file name; raises NamingError without naming the row."""
        return naming.file_name(self.template, row)

    def path(self, row: Mapping[str, Value], env: str | None = None) -> str:
        """The path of the record file of this row (in ``env``'s overlay when
        given); NamingError names the table and the row's key."""
        try:
            name = naming.file_name(self.template, row)
        except NamingError as exc:
            raise NamingError(f"table {self.table}, row {self.describe(row)}: {exc}") from None
        directory = self.directory if env is None else overlay_dir(self._config, env, self.table)
        return f"{directory}/{name}"

    def paths(self, rows: Iterable[Row], env: str | None = None) -> dict[str, Row]:
        """Path -> row for rows that must all get files of their own."""
        found: dict[str, Row] = {}
        folded: dict[str, str] = {}
        for row in rows:
            path = self.path(row, env)
            clash = folded.setdefault(naming.collision_key(path), path)
            if clash != path:
                raise NamingError(
                    f"table {self.table}: rows {path} and {clash} differ only in letter case; their files "
                    "would collide on macOS and Windows. Rename one of the keys."
                )
            if path in found:
                raise NamingError(f"table {self.table}: two rows have the key of {path}")
            found[path] = row
        return found

    def describe(self, row: Mapping[str, Value]) -> str:
        return ", ".join(f"{c}={row.get(c)!r}" for c in self.key)


__all__ = ["ENVIRONMENTS", "TableLayout", "overlay_dir", "table_dir"]
