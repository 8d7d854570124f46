"""Where a table's record files live.

One ``TableLayout`` per table answers every question about paths: the table's
directory, an environment's overlay directory, and the one function that turns
a row into its file's path. Snapshot, init, import-backup, validate and the
plan all ask it, so a key is named, refused or found colliding the same way
everywhere.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from . import naming
from .config import Config
from .errors import NamingError
from .values import Row, Value

#: Overlays live in <snapshots>/_environments/<env>/<table>/.
ENVIRONMENTS = "_environments"
#: Keys that differ only in letter case: name~<digits>.yaml, digits from sha256 of the exact name.
TWIN_MARK = "~"
TWIN_DIGITS = 8


def table_dir(config: Config, table: str) -> str:
    return f"{config.snapshots}/{table}"


def overlay_dir(config: Config, env: str, table: str) -> str:
    return f"{config.snapshots}/{ENVIRONMENTS}/{env}/{table}"


def twin_name(name: str) -> str:
    """The name of a record whose plain name equals another's apart from
    letter case: the plain name and a suffix derived from the exact key, so
    the two never collide on a case-insensitive file system and each name
    still says which key it holds."""
    stem = name[: -len(naming.EXTENSION)]
    digest = hashlib.sha256(stem.encode("utf-8")).hexdigest()[:TWIN_DIGITS]
    return f"{stem}{TWIN_MARK}{digest}{naming.EXTENSION}"


def twin_names(plain: Sequence[str | None], others: Iterable[str | None] = ()) -> list[str | None]:
    """Each plain name, or its twin name where another name of ``plain`` or of
    ``others`` (names already taken in the same directory) equals it apart
    from letter case. None (a key that cannot be a name) stays None."""
    # Distinct names: the same name twice is one key twice, not a twin.
    counts = Counter(naming.collision_key(n) for n in {*plain, *others} if n is not None)
    return [twin_name(n) if n is not None and counts[naming.collision_key(n)] > 1 else n for n in plain]


class TableLayout:
    """The files of one table, named by its key columns and ``filename`` template."""

    __slots__ = ("table", "key", "template", "directory", "_config")

    def __init__(self, config: Config, table: str, key: Sequence[str]) -> None:
        self._config = config
        self.table = table
        self.key = tuple(key)
        self.template = config.table(table).template(self.key)
        self.directory = table_dir(config, table)

    def directory_for(self, env: str | None) -> str:
        """The table's directory, or ``env``'s overlay directory of it."""
        return self.directory if env is None else overlay_dir(self._config, env, self.table)

    def plain_names(self, rows: Iterable[Mapping[str, Value]]) -> list[str | None]:
        """Plain names, None for a key that cannot be one (reported elsewhere)."""
        names: list[str | None] = []
        for row in rows:
            try:
                names.append(self.plain_name(row))
            except NamingError:
                names.append(None)
        return names

    def plain_name(self, row: Mapping[str, Value]) -> str:
        """The record's file name before any twin suffix (NamingError if none)."""
        return naming.file_name(self.template, row)

    def record_paths(self, rows: Sequence[Mapping[str, Value]], env: str | None = None, *,
                     others: Iterable[str | None] = (), lenient: bool = False) -> list[str]:
        """The path of each row's record file, in order: the one place a
        record's path is computed. Names are twin-aware over ``rows`` (and the
        plain names in ``others``). ``lenient``: a key that cannot be a file
        name gets ``<dir>/?`` instead of raising NamingError."""
        plain: list[str | None] = []
        for row in rows:
            try:
                plain.append(self.plain_name(row))
            except NamingError as exc:
                if not lenient:
                    raise NamingError(f"table {self.table}, row {self.describe(row)}: {exc}") from None
                plain.append(None)
        directory = self.directory_for(env)
        paths = []
        for name in twin_names(plain, others):
            if name is not None and len(name.encode("utf-8")) > naming.MAX_NAME_BYTES:
                raise NamingError(f"table {self.table}: the name {name} of a key that differs from another only in "
                                  f"letter case is over {naming.MAX_NAME_BYTES} bytes; shorten the key")
            paths.append(f"{directory}/{name if name is not None else '?'}")
        return paths

    def paths(self, rows: Iterable[Row], env: str | None = None, *, others: Iterable[str | None] = ()) -> dict[str, Row]:
        """Path -> row for rows that must all get files of their own."""
        listed = list(rows)
        return self.unique(zip(self.record_paths(listed, env, others=others), listed, strict=True))

    def unique(self, pairs: Iterable[tuple[str, Row]]) -> dict[str, Row]:
        """Path -> row from paths ``record_paths`` gave (none of them lenient);
        NamingError where two rows would share a file."""
        found: dict[str, Row] = {}
        folded: dict[str, str] = {}
        for path, row in pairs:
            clash = folded.setdefault(naming.collision_key(path), path)
            if clash != path or path in found:
                raise NamingError(f"table {self.table}: two rows would share the file {clash} "
                                  f"({self.describe(found.get(clash, row))} and {self.describe(row)})")
            found[path] = row
        return found

    def describe(self, row: Mapping[str, Value]) -> str:
        return ", ".join(f"{c}={row.get(c)!r}" for c in self.key)


__all__ = ["ENVIRONMENTS", "TableLayout", "overlay_dir", "table_dir", "twin_name", "twin_names"]
