"""Environment overlays: merging them over the base, and diffing them out.

An environment's files under ``<snapshots>/_environments/<env>/<table>/`` say
only how that environment differs from the base record of the same name: a
partial mapping merged key by key, a whole record the base lacks, or
``$delete: true``. Reading merges (``deep_merge``); a snapshot of an
environment does the reverse (``overlay_rows``).
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from .config import Config
from .errors import ConfigsyncError
from .layout import ENVIRONMENTS, TableLayout, table_dir
from .records import Source, TableRecords
from .values import Row, equal

DELETE = "$delete"


def environments_in(config: Config, source: Source) -> list[str]:
    """Environment names that have an overlay directory."""
    prefix = f"{config.snapshots}/{ENVIRONMENTS}/"
    return sorted({f.path[len(prefix):].split("/")[0] for f in source.snapshots if f.path.startswith(prefix)})


def deep_merge(base: Row, overlay: Row) -> Row:
    """Mappings merge key by key; lists and scalars replace."""
    merged = dict(base)
    for column, value in overlay.items():
        old = merged.get(column)
        if isinstance(old, dict) and isinstance(value, dict):
            merged[column] = deep_merge(old, value)
        else:
            merged[column] = value
    return merged


def is_deletion(row: Row) -> bool:
    return DELETE in row


def deletion_problem(row: Row, key: Sequence[str] | None) -> str | None:
    """Why a ``$delete`` overlay is malformed, or None."""
    extra = set(row) - {DELETE, *(key or ())}
    if row[DELETE] is not True or extra:
        return f"{DELETE}: true removes the record in this environment; nothing else may be set"
    return None


def ordered(row: Row, column_order: Sequence[str]) -> Row:
    """The row's columns in table order, any others after."""
    order = [c for c in column_order if c in row]
    return {**{c: row[c] for c in order}, **{c: v for c, v in row.items() if c not in order}}


def header(table: str, env: str, config: Config) -> str:
    return f"# configsync overlay: {table} in {env}; only what differs from {table_dir(config, table)}/\n"


def overlay_rows(
    layout: TableLayout,
    env: str,
    base: TableRecords,
    actual: TableRecords,
    kinds: Mapping[str, str],
    assigned: Collection[str] = (),
) -> tuple[dict[str, Row], dict[str, Row]]:
    """The overlay files that turn the base into ``actual``: only what differs.

    A row the base lacks is written whole; a base row the environment lacks
    becomes ``$delete: true``. A column a base file leaves out is written
    when the environment has it (a new column, as a snapshot of the base would
    write it), unless the database assigns it (``assigned``: serial, identity,
    defaults), which the base leaves unmanaged.
    Returns the overlay rows by path, and the base row under each partial one."""
    key = layout.key
    rows: dict[str, Row] = {}
    under: dict[str, Row] = {}
    directory = layout.directory_for(env)
    # A record the base has keeps the base file's name; one it lacks is named
    # among the base's keys (a twin of a base record gets the twin suffix).
    new = [r.values for k, r in actual.items() if k not in base]
    taken = layout.plain_names(b.values for b in base.values())
    for row, path in zip(new, layout.record_paths(new, env, others=taken), strict=True):
        rows[path] = dict(row)
    for record_key, record in actual.items():
        have = base.get(record_key)
        if have is None:
            continue
        differing = _field_differences(have.values, record.values, kinds, f"{have.file}", assigned)
        if differing:
            path = f"{directory}/{_name(have.file)}"
            rows[path] = {**{c: record.values[c] for c in key}, **differing}
            under[path] = have.values
    for record_key, have in base.items():
        if record_key not in actual:
            rows[f"{directory}/{_name(have.file)}"] = {**{c: have.values.get(c) for c in key}, DELETE: True}
    return rows, under


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _field_differences(base: Row, actual: Row, kinds: Mapping[str, str], where: str,
                       assigned: Collection[str] = ()) -> Row:
    found: Row = {}
    for column, value in actual.items():
        if column not in base:
            if column not in assigned:
                found[column] = value  # a column (or JSON key) only this environment has
            continue
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


__all__ = ["DELETE", "ENVIRONMENTS", "deep_merge", "deletion_problem", "environments_in", "header",
           "is_deletion", "ordered", "overlay_rows"]
