"""The verdict of validation on record files a snapshot has just created,
from the rows they render, without validation's machinery.

After `snapshot --commit` creates every record file of a table, the next
plan should find that table validated already (its warm path). Running
``load_state`` over those files, even with their rows known, cost a third of
the command at 100,000 rows: placing each file, naming it again, checking it
against the others. For files the snapshot itself named and rendered, all of
that holds by construction:

- a file's name is the one ``TableLayout.record_paths`` gave its row, twins
  decided over every row of the table: the name validation expects, which it
  computes with the same function over the same rows (the files are exactly
  the table's rows: the caller checks the commit's directory holds nothing
  else);
- two rows never share a key or a name apart from letter case (the reading
  of the database and ``TableLayout.unique`` refuse that);
- a row's columns are the database's own (not checked against it again,
  as for any file a plan knows as a rendering of a row).

What is left is each row's schema, checked here with validation's fast
"valid" answer (jsonschema-rs), and its key columns. Only a "yes" is given
here: any doubt (no fast answer for the schema, a row it does not call valid,
an empty key) returns None, and the caller runs the full validation, which
words the problems. The answer must be the one validation would give; the
tests compare the cache entries of both.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from . import fast_validation
from .cache import ValidationCache
from .config import Config
from .records import Source
from .validation import checked_formats, load_schemas
from .values import Row


def rows_pass(config: Config, schemas: Source, table: str, key_columns: Sequence[str],
              rows: Iterable[tuple[str, Row]], cache: ValidationCache) -> tuple[str, list[str]] | None:
    """(schema id, the validation cache's new entries) when every (git blob
    id, row) passes ``table``'s schema in ``schemas`` and has its key columns,
    as ``validation.load_state`` would find; None when that is not certain."""
    validators, problems = load_schemas(config, schemas, [table])
    validator = validators.get(table)
    if problems or validator is None:
        return None
    check = fast_validation.fast_yes(validator.schema, checked_formats(validator))
    if check is None:
        return None
    schema_id = cache.schema_id(schemas.schemas[config.schema_path(table)].data)
    is_valid = cache.is_valid
    new: list[str] = []
    for blob_id, row in rows:
        for column in key_columns:  # validation's key checks (_own_checks)
            value = row.get(column)
            if value is None or value == "" or isinstance(value, (list, dict)):
                return None
        record = "blob:" + blob_id  # validation's name for the file (_record_id)
        if is_valid(schema_id, record):
            continue  # known valid: validation asks no schema, and remembers nothing new
        if not check(row):
            return None
        new.append(record)
    return schema_id, new


__all__ = ["rows_pass"]
