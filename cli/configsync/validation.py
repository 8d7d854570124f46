"""Turning record files into a desired State, collecting every problem.

Checks that need no database: file layout, strict YAML, the table's JSON
Schema, secret/excluded columns, key presence, file name = key, duplicates and
case-only collisions. Checks against the database's columns come later in
``check_columns`` once the backend has described the tables.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import jsonschema
from yaml.nodes import Node

from . import naming, yamlio
from .backends.base import TableInfo
from .config import Config
from .errors import Problem, ValidationError
from .records import Key, Record, Source, SourceFile, State, key_of, table_dir
from .values import Row, kind_mismatch

GITKEEP = ".gitkeep"


@dataclass
class Loaded:
    """A desired state and the file bytes behind it (to point at lines later)."""

    state: State
    files: dict[str, bytes] = field(default_factory=dict)

    def line(self, path: str, column: str | None = None) -> int:
        data = self.files.get(path)
        if data is None:
            return 0
        try:
            _, node = yamlio.parse(data)
        except yamlio.YamlError:
            return 0
        return yamlio.key_line(node, column) if column else 1


def load_schemas(
    config: Config, source: Source, tables: Sequence[str]
) -> tuple[dict[str, jsonschema.protocols.Validator], list[Problem]]:
    validators: dict[str, jsonschema.protocols.Validator] = {}
    problems: list[Problem] = []
    for table in tables:
        path = config.schema_path(table)
        file = source.schemas.get(path)
        if file is None:
            problems.append(Problem(path, 0, f"no schema for table {table}: add {path} (JSON Schema, draft 2020-12)"))
            continue
        if file.symlink:
            problems.append(Problem(path, 0, "schema files must not be symbolic links"))
            continue
        try:
            schema = json.loads(file.data.decode("utf-8"))
        except UnicodeDecodeError:
            problems.append(Problem(path, 0, "not valid UTF-8"))
            continue
        except json.JSONDecodeError as exc:
            problems.append(Problem(path, exc.lineno, f"invalid JSON: {exc.msg}"))
            continue
        try:
            validator_class = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
            validator_class.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(map(str, exc.absolute_path)) or "top level"
            problems.append(Problem(path, 0, f"not a valid JSON Schema at {where}: {exc.message}"))
            continue
        validators[table] = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return validators, problems


def load_state(
    config: Config,
    source: Source,
    keys: Mapping[str, tuple[str, ...] | None],
    tables: Sequence[str] | None = None,
) -> Loaded:
    """The desired state of ``tables`` (default: all) from ``source``.

    ``keys`` gives each table's key columns; where a key is unknown (no
    database and none configured) the file name stands in for it.
    Raises ValidationError with every problem found.
    """
    wanted = list(tables) if tables is not None else list(config.tables)
    validators, problems = load_schemas(config, source, wanted)
    loaded = Loaded({t: {} for t in wanted})
    seen_names: dict[str, dict[str, str]] = {t: {} for t in wanted}
    prefix = config.snapshots + "/"
    for file in sorted(source.snapshots, key=lambda f: f.path):
        parts = file.path[len(prefix):].split("/") if file.path.startswith(prefix) else []
        if not parts or parts[-1] == GITKEEP:
            continue
        if len(parts) != 2:
            problems.append(Problem(file.path, 0, f"record files go in {config.snapshots}/<table>/<name>.yaml"))
            continue
        table, name = parts
        if table not in config.tables:
            known = ", ".join(config.tables)
            problems.append(Problem(file.path, 0, f"directory {table!r} is not a table in configsync.yaml (tables: {known})"))
            continue
        if table not in wanted:
            continue
        if not name.endswith(naming.EXTENSION):
            problems.append(Problem(file.path, 0, f"record files must end in {naming.EXTENSION}"))
            continue
        if file.symlink:
            problems.append(Problem(file.path, 0, "record files must not be symbolic links"))
            continue
        record, file_problems = _load_record(config, table, file, keys.get(table), validators.get(table))
        problems.extend(file_problems)
        if record is None:
            continue
        loaded.files[file.path] = file.data
        folded = naming.collision_key(name)
        if folded in seen_names[table]:
            other = seen_names[table][folded]
            problems.append(Problem(file.path, 0, f"same name as {other} apart from letter case; the two would collide on macOS and Windows"))
            continue
        seen_names[table][folded] = file.path
        existing = loaded.state[table].get(record.key)
        if existing is not None:
            problems.append(Problem(file.path, 0, f"same key as {existing.file}"))
            continue
        loaded.state[table][record.key] = record
    if problems:
        raise ValidationError(problems)
    return loaded


def _load_record(
    config: Config,
    table: str,
    file: SourceFile,
    key_columns: tuple[str, ...] | None,
    validator: jsonschema.protocols.Validator | None,
) -> tuple[Record | None, list[Problem]]:
    try:
        row, node = yamlio.parse(file.data)
    except yamlio.YamlError as exc:
        return None, [Problem(file.path, exc.line, exc.message)]
    if row is None:
        return None, [Problem(file.path, 1, "file is empty; a record is a mapping of column: value")]
    if not isinstance(row, dict):
        return None, [Problem(file.path, yamlio.line_of(node), "a record must be a mapping of column: value")]
    problems = []
    settings = config.table(table)
    for column in row:
        if column in settings.secret:
            problems.append(Problem(file.path, yamlio.key_line(node, column),
                                    f"column {column!r} is secret and must never be in git; remove it"))
        elif column in settings.exclude:
            problems.append(Problem(file.path, yamlio.key_line(node, column),
                                    f"column {column!r} is excluded in configsync.yaml; remove it"))
    if validator is not None:
        problems.extend(_schema_problems(validator, row, node, file.path))
    if key_columns is None:
        # No database and no configured key: the file itself is the identity.
        return Record(table, (file.path,), row, file.path), problems
    missing = [c for c in key_columns if row.get(c) is None or row.get(c) == ""]
    for column in missing:
        problems.append(Problem(file.path, yamlio.key_line(node, column) if column in row else 1,
                                f"key column {column!r} is missing or empty"))
    if missing:
        return None, problems
    bad_keys = [c for c in key_columns if isinstance(row[c], (list, dict))]
    for column in bad_keys:
        problems.append(Problem(file.path, yamlio.key_line(node, column), f"key column {column!r} must be a string or number"))
    if bad_keys:
        return None, problems
    template = settings.template(key_columns)
    try:
        expected = naming.file_name(template, row)
    except naming.NamingError as exc:
        return None, problems + [Problem(file.path, yamlio.key_line(node, key_columns[0]), str(exc))]
    actual = file.path.rsplit("/", 1)[-1]
    if expected != actual:
        problems.append(Problem(file.path, yamlio.key_line(node, key_columns[0]),
                                f"file name does not match the record's key: expected {table_dir(config, table)}/{expected}"))
        return None, problems
    key: Key = key_of(row, key_columns)
    return Record(table, key, row, file.path), problems


def _schema_problems(
    validator: jsonschema.protocols.Validator, row: Row, node: Node | None, path: str
) -> list[Problem]:
    problems = []
    for error in validator.iter_errors(dict(row)):  # type: ignore[arg-type]
        location = list(error.absolute_path)
        where = ".".join(map(str, location))
        line = yamlio.line_of(node, location)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            schema = error.schema if isinstance(error.schema, dict) else {}
            allowed = set(schema.get("properties", {}))
            for extra in sorted(set(error.instance) - allowed):
                inner = location + [extra]
                problems.append(Problem(path, yamlio.key_line(node, inner),
                                        f"{'.'.join(map(str, inner))}: not allowed by the schema (unknown column or field)"))
            continue
        message = _short(error.message)
        problems.append(Problem(path, line, f"{where}: {message}" if where else message))
    return problems


_PY_REPRS = ((re.compile(r"Decimal\('([^']*)'\)"), r"\1"), (re.compile(r"\bNone\b"), "null"),
             (re.compile(r"\bTrue\b"), "true"), (re.compile(r"\bFalse\b"), "false"))


def _short(message: str) -> str:
    """jsonschema speaks Python (None, Decimal('1.0')); record authors write YAML."""
    for pattern, replacement in _PY_REPRS:
        message = pattern.sub(replacement, message)
    return message if len(message) <= 200 else message[:197] + "..."


def check_columns(loaded: Loaded, infos: Mapping[str, TableInfo]) -> None:
    """Every column of every record exists in the database and fits its type."""
    problems = []
    for table, records in loaded.state.items():
        info = infos.get(table)
        if info is None:
            continue
        for record in records.values():
            for column, value in record.values.items():
                described = info.column(column)
                if described is None:
                    problems.append(Problem(record.file, loaded.line(record.file, column),
                                            f"unknown column {column!r}: table {table} has {', '.join(info.column_names)}"))
                    continue
                if value is None and not described.nullable:
                    problems.append(Problem(record.file, loaded.line(record.file, column),
                                            f"{column}: cannot be null (the column is NOT NULL)"))
                    continue
                mismatch = kind_mismatch(described.kind, value)
                if mismatch:
                    problems.append(Problem(record.file, loaded.line(record.file, column),
                                            f"{column}: {mismatch} (column type {described.db_type})"))
    if problems:
        raise ValidationError(problems)
