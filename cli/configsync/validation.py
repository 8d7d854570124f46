"""Turning record files into a desired State, collecting every problem.

Checks that need no database: file layout, strict YAML, the table's JSON
Schema, secret/excluded columns, key presence, file name = key, duplicates and
case-only collisions. Checks against the database's columns come later in
``check_columns`` once the backend has described the tables.
"""
from __future__ import annotations

import errno
import functools
import gc
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import jsonschema
from referencing import Registry
from referencing.exceptions import Unresolvable
from yaml.nodes import MappingNode, Node

from . import fast_validation, limits, naming, parallel, progress, values, yamlio
from .backends.base import Column, TableInfo
from .cache import ValidationCache, content_id
from .config import Config, TableConfig
from .errors import NamingError, Problem, ValidationError
from .layout import ENVIRONMENTS, TableLayout, twin_name
from .overlay import DELETE, deep_merge, deletion_problem, is_deletion
from .records import Key, Record, Source, SourceFile, State, git_blob_id, key_of
from .values import Row, Value, kind_mismatch

GITKEEP = ".gitkeep"
# A record of one file is checked where the file is read (tests turn it off:
# every record then goes through _finish here, the way a merged one does).
_OWN_CHECKS_WHERE_READ = True
# Beyond this many problems in one file the rest are counted, not located:
# finding the line of each of 30,000 unknown columns takes minutes.
MAX_PROBLEMS_PER_FILE = 20


@dataclass
class Loaded:
    """A desired state and the file bytes behind it (to point at lines later)."""

    state: State
    files: dict[str, SourceFile] = field(default_factory=dict)
    from_database: set[str] = field(default_factory=set)  # record files that are renderings of read rows
    # A record merged from an overlay and its base file: the overlay's path -> both paths, overlay first.
    layers: dict[str, list[str]] = field(default_factory=dict)
    # Records whose columns were checked against the database's where their file was read: their problems.
    columns_checked: dict[str, tuple[Problem, ...]] = field(default_factory=dict)
    _nodes: dict[str, Node | None] = field(default_factory=dict)  # parsed once per file

    def _node(self, path: str) -> Node | None:
        file = self.files.get(path)
        if file is None:
            return None
        if path not in self._nodes:
            try:
                self._nodes[path] = yamlio.parse(file.data)[1]
            except (yamlio.YamlError, OSError):  # OSError: a work-tree file read again for a line, gone since
                self._nodes[path] = None
        return self._nodes[path]

    def line(self, path: str, column: str | None = None) -> int:
        if path not in self.files:
            return 0
        node = self._node(path)
        if node is None:
            return 0
        return yamlio.key_line(node, column) if column else 1

    def where(self, path: str, column: str) -> tuple[str, int]:
        """The file and line that set ``column`` of the record read as ``path``:
        the overlay when it sets the column, else the base file under it."""
        for layer in self.layers.get(path, ()):
            node = self._node(layer)
            if isinstance(node, MappingNode) and any(k.value == column for k, _ in node.value):
                return layer, yamlio.key_line(node, column)
        return path, self.line(path, column)


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
        except RecursionError:
            problems.append(Problem(path, 0, "invalid JSON: nested too deeply"))
            continue
        try:
            validator_class = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
            validator_class.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(map(str, exc.absolute_path)) or "top level"
            problems.append(Problem(path, 0, f"not a valid JSON Schema at {where}: {exc.message}"))
            continue
        except RecursionError:
            problems.append(Problem(path, 0, "not a valid JSON Schema: nested too deeply"))
            continue
        validators[table] = compile_schema(schema, validator_class)
    return validators, problems


def compile_schema(schema: Any, validator_class: Any = None) -> jsonschema.protocols.Validator:
    """configsync's validator for a checked schema: jsonschema's, with linear
    uniqueItems and NaN let through range keywords."""
    if validator_class is None:
        validator_class = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
    # An empty registry: a $ref outside the file is never fetched (jsonschema
    # would otherwise open any http:// or file:// URL a schema names).
    fast = jsonschema.validators.extend(validator_class, {  # type: ignore[no-untyped-call]
        "uniqueItems": _unique_items, **_nan_unordered(validator_class)})
    validator: jsonschema.protocols.Validator = fast(schema, format_checker=validator_class.FORMAT_CHECKER,
                                                     registry=Registry())
    return validator


def _nan_unordered(validator_class: Any) -> dict[str, Any]:
    """Range keywords that let NaN through, as they do a float NaN (NaN is not
    ordered; a numeric(p,s) column holds it), instead of failing on a Decimal NaN;
    ±Infinity is a multiple of nothing."""
    def wrap(keyword: str, original: Any) -> Any:
        def check(validator: Any, bound: Any, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
            if isinstance(instance, Decimal) and not instance.is_finite():
                if instance.is_nan():
                    return
                if keyword == "multipleOf":
                    yield jsonschema.ValidationError(f"{values.format_decimal_yaml(instance)} is not a multiple of {bound}")
                    return
            yield from original(validator, bound, instance, schema)
        return check

    return {keyword: wrap(keyword, validator_class.VALIDATORS[keyword])
            for keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
            if keyword in validator_class.VALIDATORS}


def _unique_items(
    validator: Any, unique: Any, instance: Any, schema: Any
) -> Iterator[jsonschema.ValidationError]:
    """uniqueItems in linear time: jsonschema compares every pair of items
    that are not hashable, minutes for a list of 20,000 mappings."""
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[str] = set()
    for item in instance:
        # canonical: 1 and 1.0 are one value, true and 1 are not (as JSON Schema says)
        text = values.dumps(values.canonical(item), sort_keys=True)
        if text in seen:
            yield jsonschema.ValidationError(f"{values.dumps(item)} appears more than once (items must be unique)")
            return
        seen.add(text)


@dataclass(slots=True)
class _Parsed:
    """One record file, parsed. Its node tree, which points problems at lines,
    is composed only when a problem needs it (the slow part of reading YAML)."""

    path: str
    row: Row
    file: SourceFile
    from_database: bool = False  # the file is the rendering of a row just read
    plain: str | None = ""  # its plain file name, where found while reading (None: it has none)
    own: _Own | None = None  # its own checks, where done while reading (a record of this file alone)
    _node: Node | None = None
    _composed: bool = False

    @property
    def node(self) -> Node | None:
        if not self._composed:
            try:
                self._node = yamlio.parse(self.file.data)[1]
            except OSError:  # a work-tree file read again for a line, gone since: no line
                self._node = None
            self._composed = True
        return self._node


@dataclass(slots=True)
class _Draft:
    """A record being assembled from a base file and an environment overlay."""

    name: str
    row: Row
    sources: list[_Parsed]  # overlay first: its lines win

    @property
    def file(self) -> str:
        return self.sources[0].path


# What reading a record file found, here or in a worker process: plain tuples,
# as a worker pickles them and the parent unpickles them one at a time.
#
# _Own, the checks of a record that need its file alone (schema, key columns,
# a key that can be a file name), done where the file was read:
# (problems in _finish's order, named: the key checks passed and the file name
# is compared next, the key, checked: the schema was asked, not known valid
# from the cache, the problems of its columns against the database's (None:
# not asked, no infos)).
_Own = tuple[tuple[Problem, ...], bool, Key, bool, tuple[Problem, ...] | None]
# _Read: (the file's own problems in reading order (YAML, columns), the row
# (None: refused, or not wanted back), ok: a record (whatever problems come
# later), its plain file name ("": not asked; None: the key cannot be one),
# its own checks (a record of this file alone), the git blob id of the bytes
# read, where the file had none (a work-tree file): the validation cache's
# name for them, never taken from a second reading of the file).
_Read = tuple[tuple[Problem, ...], Row | None, bool, str | None, _Own | None, str]


@dataclass
class _Reader:
    """Reads the record files of ``jobs`` one by one: the same function in
    this process and in workers (parallel.mapped), so both give one result."""

    config: Config
    validators: Mapping[str, jsonschema.protocols.Validator]
    fast: Mapping[str, Callable[[Value], bool] | None]
    schema_ids: Mapping[str, str]
    cache: ValidationCache
    keys: Mapping[str, tuple[str, ...] | None]
    layouts: Mapping[str, TableLayout]
    owned: Mapping[str, Mapping[str, str]]
    infos: Mapping[str, TableInfo]
    # (file, table, alone: a record of this file only, keep: its row is wanted back)
    jobs: list[tuple[SourceFile, str, bool, bool]] = field(default_factory=list)
    _columns: dict[str, dict[str, Column]] = field(default_factory=dict)
    _rules: dict[str, _ColumnRules] = field(default_factory=dict)

    def read(self, index: int) -> _Read:
        file, table, alone, keep = self.jobs[index]
        blob = ""
        if not file.blob_id:  # a work-tree file, read here (in a worker: Repo.worktree_source, lazy)
            try:
                blob = file.blob_id = git_blob_id(file.data)
            except OSError as exc:
                return (_unreadable(file.path, exc),), None, False, "", None, ""
        problems: list[Problem] = []
        owned = self.owned.get(table, {})
        rules = self._rules.get(table)
        if rules is None:
            rules = self._rules[table] = _column_rules(self.config.table(table), owned)
        parsed = _parse_record(self.config, table, file, problems, {}, owned, rules)
        if parsed is None:
            return tuple(problems), None, False, "", None, blob
        layout = self.layouts.get(table)
        if layout is not None:
            try:
                parsed.plain = layout.plain_name(parsed.row)
            except NamingError:
                parsed.plain = None
        own = self._own(table, parsed) if alone else None
        return tuple(problems), parsed.row if keep else None, True, parsed.plain, own, blob

    def _own(self, table: str, parsed: _Parsed) -> _Own:
        draft = _Draft("", parsed.row, [parsed])
        record_id = _record_id(draft.sources)
        validator = self.validators.get(table)
        if validator is not None and self.cache.is_valid(self.schema_ids[table], record_id):
            validator = None  # these exact bytes passed this exact schema before
        checked = validator is not None
        if validator is not None and _fast_yes(draft, self.fast.get(table)):
            validator = None  # valid: jsonschema would find nothing to say
        problems: list[Problem] = []
        key_columns = self.keys.get(table)
        layout = self.layouts.get(table)
        plain = _own_checks(self.config, table, draft, key_columns, validator, problems,
                            None if layout is None else _plain_of(layout))
        key: Key = key_of(draft.row, key_columns) if plain is not None and key_columns else (draft.file,)
        info = self.infos.get(table)
        columns: tuple[Problem, ...] | None = None
        if info is not None:
            named = self._columns.get(table)
            if named is None:
                named = self._columns[table] = {c.name: c for c in info.columns}
            columns = tuple(_column_problems(table, info, named, draft.row, parsed.path,
                                             lambda column: (parsed.path, _key_line(parsed, column))))
        return tuple(problems), plain is not None, key, checked, columns


def _unreadable(path: str, exc: OSError) -> Problem:
    """A record file listed, then not read: made a symbolic link since (refused
    as one listed as a link is), or gone."""
    if exc.errno == errno.ELOOP:
        return Problem(path, 0, "record files must not be symbolic links")
    return Problem(path, 0, f"cannot read it ({exc.strerror or exc})")


def _key_line(parsed: _Parsed, column: str) -> int:
    """Loaded.line for a file read alone: the line that sets ``column``."""
    if not column:
        return 1
    try:
        node = parsed.node
    except yamlio.YamlError:
        return 0
    return yamlio.key_line(node, column) if node is not None else 0


def _plain_of(layout: TableLayout) -> Callable[[_Draft], str]:
    """A draft's plain file name: found while reading it, else NamingError says why there is none."""
    def plain(draft: _Draft) -> str:
        found = draft.sources[0].plain if len(draft.sources) == 1 else None
        return found if found is not None else layout.plain_name(draft.row)
    return plain


def load_state(
    config: Config,
    source: Source,
    keys: Mapping[str, tuple[str, ...] | None],
    tables: Sequence[str] | None = None,
    env: str | None = None,
    cache: ValidationCache | None = None,
    known: Mapping[str, Row] | None = None,
    owned: Mapping[str, Mapping[str, str]] | None = None,
    *,
    rows: bool = True,
    infos: Mapping[str, TableInfo] | None = None,
) -> Loaded:
    """The desired state of ``tables`` (default: all) from ``source``, with the
    overlay of environment ``env`` merged in when given.

    ``known`` maps git blob ids to the rows whose rendering they are (rows
    just read from the database): such files are not read or parsed, and
    their columns need no checking against the database.

    ``keys`` gives each table's key columns; where a key is unknown (no
    database and none configured) the file name stands in for it.
    ``owned`` gives, per table, the columns the database owns (generated,
    identity GENERATED ALWAYS) with the reason: a file naming one is refused.
    ``rows=False``: only the problems are wanted (see ``problems_in``); a
    record's values may then be left empty. ``infos`` (the database's tables):
    a record of one file has its columns checked where the file is read, for
    ``check_columns`` (which checks the others).
    Raises ValidationError with every problem found.
    """
    # Reading many files makes a few objects per record and frees few: the
    # garbage collector's passes over them all found nothing and took a third
    # of the time at 100,000 records. Paused where workers read and check the
    # records (the cycles jsonschema's errors make stay there); cycles made
    # here meanwhile are collected after.
    collecting = gc.isenabled() and parallel.forks(len(source.snapshots))
    if collecting:
        gc.disable()
    try:
        return _load_state(config, source, keys, tables, env, cache, known, owned, rows, infos)
    finally:
        if collecting:
            gc.enable()


def _load_state(
    config: Config,
    source: Source,
    keys: Mapping[str, tuple[str, ...] | None],
    tables: Sequence[str] | None,
    env: str | None,
    cache: ValidationCache | None,
    known: Mapping[str, Row] | None,
    owned: Mapping[str, Mapping[str, str]] | None,
    rows: bool,
    infos: Mapping[str, TableInfo] | None,
) -> Loaded:
    wanted = list(tables) if tables is not None else list(config.tables)
    validators, problems = load_schemas(config, source, wanted)
    # A fast yes per schema (jsonschema-rs), where one is safe: see fast_validation.
    fast = {t: fast_validation.fast_yes(v.schema, checked_formats(v)) for t, v in validators.items()}
    cache = cache or ValidationCache(None)
    schema_ids: dict[str, str] = {}
    for table in wanted:
        schema_file = source.schemas.get(config.schema_path(table))
        schema_ids[table] = cache.schema_id(schema_file.data) if schema_file else ""
        if table in validators:
            cache.is_valid(schema_ids[table], "")  # the records known valid, loaded before any fork
    drafts: dict[str, dict[str, _Draft]] = {t: {} for t in wanted}
    files: dict[str, SourceFile] = {}
    overlays: list[tuple[str, str, _Parsed]] = []
    # Where each file goes, and the problems of those that go nowhere, in file order.
    placed: list[tuple[SourceFile, list[Problem], tuple[bool, str, str] | None]] = []
    for file in sorted(source.snapshots, key=lambda f: f.path):
        misplaced: list[Problem] = []
        located = _locate_file(config, file, env, misplaced)
        placed.append((file, misplaced, located if located is not None and located[1] in wanted else None))
    # A base file with no overlay over it is a record of its own: its own checks
    # are done where it is read. Its row comes back only if wanted (a table with
    # overlays wants them all: orphaned overlays are found by comparing rows).
    layered = {(where[1], where[2]) for _, _, where in placed if where is not None and where[0]}
    with_overlays = {table for table, _ in layered}
    reader = _Reader(config, validators, fast, schema_ids, cache, keys,
                     {t: TableLayout(config, t, k) for t in wanted if (k := keys.get(t))}, owned or {}, infos or {})
    for file, _, where in placed:
        if where is not None and not (file.blob_id and known and file.blob_id in known):
            overlay, table, name = where
            alone = _OWN_CHECKS_WHERE_READ and not overlay and (table, name) not in layered
            reader.jobs.append((file, table, alone, rows or not alone or table in with_overlays))
    # Many files: read on every core.
    with parallel.mapped(len(reader.jobs), reader.read) as mapped, \
            progress.task("reading record files", len(source.snapshots)) as bar:
        results = mapped if mapped is not None else map(reader.read, range(len(reader.jobs)))
        for file, misplaced, located in placed:
            bar.advance()
            problems += misplaced
            if located is None:
                continue
            overlay, table, name = located
            if file.blob_id and known and file.blob_id in known:
                # A rendering of a row with the table's columns: no secret or excluded ones.
                parsed = _Parsed(file.path, known[file.blob_id], file, from_database=True)
            else:
                found, row, ok, plain, own, blob = next(results)
                if blob:
                    file.blob_id = blob
                problems += found
                if not ok:
                    continue
                file.release()
                parsed = _Parsed(file.path, row if row is not None else {}, file, plain=plain, own=own)
            files[file.path] = file
            if overlay:
                overlays.append((table, name, parsed))
            else:
                drafts[table][name] = _Draft(name, parsed.row, [parsed])
    base_drafts = {t: list(d.values()) for t, d in drafts.items()}
    for table, name, parsed in overlays:
        _merge_overlay(drafts[table], name, parsed, keys.get(table), problems)
    loaded = Loaded({t: {} for t in wanted}, files)
    for table in wanted:
        seen_names: dict[str, str] = {}
        schema_id = schema_ids[table]
        key = keys.get(table)
        names = _Names(TableLayout(config, table, key), base_drafts[table], drafts[table].values(),
                       f"{config.snapshots}/{ENVIRONMENTS}/") if key else None
        orphans = _orphaned_overlays(base_drafts[table], drafts[table].values(), f"{config.snapshots}/{ENVIRONMENTS}/")
        problems += orphans
        orphaned = {p.file for p in orphans}
        for draft in sorted(drafts[table].values(), key=lambda d: d.name):
            if draft.file in orphaned:
                continue
            before = len(problems)
            own = draft.sources[0].own if len(draft.sources) == 1 else None
            if own is not None:  # checked where it was read
                found, named, record_key, checked, columns = own
                record_id = _record_id(draft.sources)
                problems += found
                plain = draft.sources[0].plain if named and key else ("" if named else None)
                record = _named_record(table, draft, key, plain, problems, names, record_key)
                if record is not None and columns is not None:
                    loaded.columns_checked[record.file] = columns
            else:
                validator = validators.get(table)
                record_id = _record_id(draft.sources)
                if validator is not None and cache.is_valid(schema_id, record_id):
                    validator = None  # these exact bytes passed this exact schema before
                checked = validator is not None
                if validator is not None and _fast_yes(draft, fast.get(table)):
                    validator = None  # valid: jsonschema would find nothing to say
                record = _finish(config, table, draft, key, validator, problems, names)
            if checked and len(problems) == before:
                cache.remember(schema_id, record_id)
            if record is None:
                continue
            if len(draft.sources) == 1 and draft.sources[0].from_database:
                loaded.from_database.add(record.file)
            if len(draft.sources) > 1:
                loaded.layers[record.file] = [source.path for source in draft.sources]
            folded = naming.collision_key(draft.name)
            if folded in seen_names:
                problems.append(Problem(record.file, 0, f"same name as {seen_names[folded]} apart from letter case; "
                                                        "the two would collide on macOS and Windows"))
                continue
            seen_names[folded] = record.file
            existing = loaded.state[table].get(record.key)
            if existing is not None:
                problems.append(Problem(record.file, 0, f"same key as {existing.file}"))
                continue
            loaded.state[table][record.key] = record
    if problems:
        raise ValidationError(problems)
    return loaded


def problems_in(
    config: Config,
    source: Source,
    keys: Mapping[str, tuple[str, ...] | None],
    tables: Sequence[str] | None = None,
    env: str | None = None,
    cache: ValidationCache | None = None,
) -> list[Problem]:
    """Every problem ``load_state`` finds, without keeping the records'
    values (what `validate` needs: a worker sends back no row)."""
    try:
        load_state(config, source, keys, tables, env, cache, rows=False)
    except ValidationError as exc:
        return list(exc.problems)
    return []


def checked_formats(validator: jsonschema.protocols.Validator) -> frozenset[str]:
    """The formats ``validator`` checks (what a fast answer must check too)."""
    checker = getattr(validator, "format_checker", None)
    return frozenset(checker.checkers) if checker is not None else frozenset()


def _fast_yes(draft: _Draft, check: Callable[[Value], bool] | None) -> bool:
    """Did the schema's fast yes pass the record?"""
    return check is not None and check(draft.row)


def _locate_file(
    config: Config, file: SourceFile, env: str | None, problems: list[Problem]
) -> tuple[bool, str, str] | None:
    """(is an overlay, table, file name) of a record file, or None to skip it."""
    prefix = config.snapshots + "/"
    parts = file.path[len(prefix):].split("/") if file.path.startswith(prefix) else []
    if not parts or parts[-1] == GITKEEP:
        return None
    if file.symlink:  # first: a linked directory is no better than a linked file
        problems.append(Problem(file.path, 0, "record files must not be symbolic links"))
        return None
    overlay = parts[0] == ENVIRONMENTS
    if overlay:
        if len(parts) >= 2 and parts[1] not in config.environments:
            known = ", ".join(config.environments) or "none are defined"
            problems.append(Problem(file.path, 0, f"environment {parts[1]!r} is not in configsync.yaml environments ({known})"))
            return None
        if len(parts) < 2 or parts[1] != env:
            return None
        parts = parts[2:]
    if len(parts) != 2:
        where = f"{config.snapshots}/{ENVIRONMENTS}/<env>/" if overlay else f"{config.snapshots}/"
        problems.append(Problem(file.path, 0, f"record files go in {where}<table>/<name>.yaml"))
        return None
    table, name = parts
    if table not in config.tables:
        known = ", ".join(config.tables)
        problems.append(Problem(file.path, 0, f"directory {table!r} is not a table in configsync.yaml (tables: {known})"))
        return None
    if not name.endswith(naming.EXTENSION):
        problems.append(Problem(file.path, 0, f"record files must end in {naming.EXTENSION}"))
        return None
    return overlay, table, name


def _record_id(sources: Sequence[_Parsed]) -> str:
    """The validation cache's name for these file contents, from their git blob
    ids (a git blob id is already one: no reading the file again)."""
    if len(sources) == 1:
        return "blob:" + (sources[0].file.blob_id or git_blob_id(sources[0].file.data))
    return content_id(*((s.file.blob_id or git_blob_id(s.file.data)).encode() for s in sources))


def _parse_record(
    config: Config, table: str, file: SourceFile, problems: list[Problem], known: Mapping[str, Row],
    owned: Mapping[str, str] | None = None, rules: _ColumnRules | None = None,
) -> _Parsed | None:
    row_from_db = known.get(file.blob_id) if file.blob_id else None
    if row_from_db is not None:
        # A rendering of a row with the table's columns: no secret or excluded ones.
        return _Parsed(file.path, row_from_db, file, from_database=True)
    try:
        row = yamlio.load(file.data)
    except yamlio.YamlError as exc:
        problems.append(Problem(file.path, exc.line, exc.message))
        return None
    if row is None:
        problems.append(Problem(file.path, 1, "file is empty; a record is a mapping of column: value"))
        return None
    file.release()
    parsed = _Parsed(file.path, row if isinstance(row, dict) else {}, file)
    if not isinstance(row, dict):
        problems.append(Problem(file.path, yamlio.line_of(parsed.node), "a record must be a mapping of column: value"))
        return None
    settings = config.table(table)
    refused, excluded = rules if rules is not None else _column_rules(settings, owned)
    if not refused.isdisjoint(row):  # most rows have none: no look at each column
        for column in row:
            if owned and column in owned:
                problems.append(Problem(file.path, yamlio.key_line(parsed.node, column),
                                        f"column {column!r} is {owned[column]}; it is never written and never in "
                                        "files: remove it"))
            elif column in settings.secret:
                problems.append(Problem(file.path, yamlio.key_line(parsed.node, column),
                                        f"column {column!r} is secret and must never be in git; remove it"))
            elif column in settings.exclude:
                problems.append(Problem(file.path, yamlio.key_line(parsed.node, column),
                                        f"column {column!r} is excluded in configsync.yaml; remove it"))
    for column, paths in excluded.items():
        for path in paths:
            if _has_path(row.get(column), path):
                problems.append(Problem(file.path, yamlio.key_line(parsed.node, [column, *path]),
                                        f"{'.'.join((column, *path))} is excluded in configsync.yaml (the "
                                        "database owns it); remove it"))
    for column in [c for c in row if c in owned] if owned else ():
        del row[column]  # reported once above, not again as unknown to the schema
    return parsed


# What _parse_record refuses in a table's rows: the columns (the database's own,
# secret, excluded) and the excluded paths into json columns.
_ColumnRules = tuple[frozenset[str], dict[str, tuple[tuple[str, ...], ...]]]


def _column_rules(settings: TableConfig, owned: Mapping[str, str] | None) -> _ColumnRules:
    return frozenset(owned or ()) | settings.secret | settings.exclude, _json_excludes(settings)


@functools.lru_cache(maxsize=256)  # asked once per record file
def _json_excludes(settings: TableConfig) -> dict[str, tuple[tuple[str, ...], ...]]:
    return settings.json_excludes()


def _has_path(value: object, path: tuple[str, ...]) -> bool:
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


def _merge_overlay(
    drafts: dict[str, _Draft], name: str, overlay: _Parsed, key: tuple[str, ...] | None, problems: list[Problem]
) -> None:
    base = drafts.get(name)
    if is_deletion(overlay.row):
        problem = deletion_problem(overlay.row, key)
        if problem:
            problems.append(Problem(overlay.path, yamlio.key_line(overlay.node, DELETE), problem))
        elif base is None:
            problems.append(Problem(overlay.path, 1, f"{DELETE}: there is no record {name} in the base to remove"))
        else:
            del drafts[name]
        return
    if base is None:
        drafts[name] = _Draft(name, overlay.row, [overlay])
        return
    drafts[name] = _Draft(name, deep_merge(base.row, overlay.row), [overlay, *base.sources])


def _overlay_only(draft: _Draft, overlays: str) -> bool:
    """Is the record an overlay's alone (no base file under it)?"""
    return draft.sources[-1].path.startswith(overlays)


def _orphaned_overlays(base: Sequence[_Draft], merged: Iterable[_Draft], overlays: str) -> list[Problem]:
    """Overlay files that patch a base record which is not there (renamed or
    deleted in the base): they would keep a partial record alive in that
    environment. An overlay that defines a whole record (every column each
    base record of the table has) is a record of its own and fine."""
    alone = [d for d in merged if _overlay_only(d, overlays)]
    if not base or not alone:
        return []
    whole = set.intersection(*(set(d.row) for d in base))
    found = []
    for draft in alone:
        missing = sorted(whole - set(draft.row))
        if missing:
            name = draft.file.rsplit("/", 1)[-1]
            found.append(Problem(draft.file, 1, f"there is no base record {name} for this overlay to change (was it "
                                 f"renamed or deleted?), and it sets only some columns (not {', '.join(missing)}); "
                                 "delete it, or write the whole record"))
    return found


class _Names:
    """The name each record of a table must have. Keys that differ only in
    letter case get twin names, decided among the base's records for a record
    the base has, and among the base's and the overlay's for one only the
    overlay has (so an overlay never renames a base file)."""

    def __init__(self, layout: TableLayout, base: Sequence[_Draft], merged: Iterable[_Draft], overlays: str) -> None:
        self.layout = layout
        self._overlays = overlays
        # Each draft's plain name, computed once (None: the key cannot be a name).
        self._plain: dict[int, str | None] = {}
        self._base = self._index(base)
        alone = [d for d in merged if _overlay_only(d, overlays)]
        self._all = self._index([*base, *alone]) if alone else self._base
        self._any_alone = bool(alone)

    def plain(self, draft: _Draft) -> str:
        """The record's plain file name; NamingError says why there is none."""
        name = self._plain.get(id(draft))
        return name if name is not None else self.layout.plain_name(draft.row)

    def _index(self, drafts: Iterable[_Draft]) -> dict[str, dict[str, str]]:
        """Case-folded name -> each distinct plain name in it -> a file holding it."""
        found: dict[str, dict[str, str]] = {}
        for draft in drafts:
            if id(draft) not in self._plain:
                if len(draft.sources) == 1 and draft.sources[0].plain != "":
                    self._plain[id(draft)] = draft.sources[0].plain  # a worker's answer
                else:
                    [self._plain[id(draft)]] = self.layout.plain_names([draft.row])
            plain = self._plain[id(draft)]
            if plain is not None:
                found.setdefault(naming.collision_key(plain), {}).setdefault(plain, draft.sources[-1].path)
        return found

    def expected(self, draft: _Draft, plain: str) -> tuple[str, str | None]:
        """The expected name, and (for a twin) the file of another member."""
        namespace = self._all if self._any_alone and _overlay_only(draft, self._overlays) else self._base
        members = namespace.get(naming.collision_key(plain), {})
        if len(members) < 2:
            return plain, None
        other = next(path for name, path in sorted(members.items()) if name != plain)
        return twin_name(plain), other


def _finish(
    config: Config,
    table: str,
    draft: _Draft,
    key_columns: tuple[str, ...] | None,
    validator: jsonschema.protocols.Validator | None,
    problems: list[Problem],
    names: _Names | None,
) -> Record | None:
    """Schema, key and file-name checks on the final (merged) record."""
    plain = _own_checks(config, table, draft, key_columns, validator, problems, None if names is None else names.plain)
    return _named_record(table, draft, key_columns, plain, problems, names)


def _own_checks(
    config: Config,
    table: str,
    draft: _Draft,
    key_columns: tuple[str, ...] | None,
    validator: jsonschema.protocols.Validator | None,
    problems: list[Problem],
    plain_of: Callable[[_Draft], str] | None,
) -> str | None:
    """The checks that need no other record (schema, key columns, a key that
    can be a file name): the record's plain file name ("" where there is no
    key: the file is its identity), or None when it is refused."""
    row = draft.row
    if validator is not None:
        try:
            problems.extend(_schema_problems(validator, row, draft.sources))
        except Unresolvable as exc:
            problems.append(Problem(config.schema_path(table), 0, f"$ref {exc.ref!r} cannot be resolved within the file "
                                    "(configsync never fetches remote or file references: keep the schema "
                                    "self-contained, using $defs)"))
    if key_columns is None or plain_of is None:
        return ""
    top = draft.sources[0]
    missing = [c for c in key_columns if row.get(c) is None or row.get(c) == ""]
    for column in missing:
        problems.append(Problem(top.path, yamlio.key_line(top.node, column) if column in top.row else 1,
                                f"key column {column!r} is missing or empty"))
    bad_keys = [c for c in key_columns if c not in missing and isinstance(row[c], (list, dict))]
    for column in bad_keys:
        problems.append(Problem(top.path, yamlio.key_line(top.node, column), f"key column {column!r} must be a string or number"))
    if missing or bad_keys:
        return None
    try:
        return plain_of(draft)
    except NamingError as exc:
        problems.append(Problem(top.path, yamlio.key_line(top.node, key_columns[0]), str(exc)))
        return None


def _named_record(
    table: str,
    draft: _Draft,
    key_columns: tuple[str, ...] | None,
    plain: str | None,
    problems: list[Problem],
    names: _Names | None,
    key: Key | None = None,
) -> Record | None:
    """The record, once its file name is the one its key gives (``plain``:
    from _own_checks; ``key``: the key, where known already)."""
    if plain is None:
        return None
    if key_columns is None or names is None:
        # No database and no configured key: the file itself is the identity.
        return Record(table, (draft.file,), draft.row, draft.file)
    top = draft.sources[0]
    expected, twin = names.expected(draft, plain)
    if expected != draft.name:
        where = names.layout.directory
        if twin is not None and draft.name == plain:
            problems.append(Problem(draft.file, 0, f"same name as {twin} apart from letter case; the two would collide "
                                                   f"on macOS and Windows. Keys that differ only in letter case are "
                                                   f"named with a suffix: expected {where}/{expected}"))
        else:
            problems.append(Problem(top.path, yamlio.key_line(top.node, key_columns[0]),
                                    f"file name does not match the record's key: expected {where}/{expected}"))
        return None
    return Record(table, key if key is not None else key_of(draft.row, key_columns), draft.row, draft.file)


def _schema_problems(
    validator: jsonschema.protocols.Validator, row: Row, sources: Sequence[_Parsed]
) -> list[Problem]:
    problems: list[Problem] = []
    hidden = 0
    for error in validator.iter_errors(dict(row)):  # type: ignore[arg-type]
        if len(problems) >= MAX_PROBLEMS_PER_FILE:
            hidden += 1
            continue
        location = list(error.absolute_path)
        where = ".".join(map(str, location))
        path, node = _owner(sources, location)
        line = yamlio.line_of(node, location)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            schema = error.schema if isinstance(error.schema, dict) else {}
            allowed = set(schema.get("properties", {}))
            for extra in sorted(set(error.instance) - allowed):
                if len(problems) >= MAX_PROBLEMS_PER_FILE:
                    hidden += 1
                    continue
                inner = location + [extra]
                extra_path, extra_node = _owner(sources, inner)
                label = ".".join(map(str, location + [extra if extra != "" else "''"]))
                problems.append(Problem(extra_path, yamlio.key_line(extra_node, inner),
                                        f"{label}: not allowed by the schema (unknown column or field)"))
            continue
        message = _short(error.message)
        problems.append(Problem(path, line, f"{where}: {message}" if where else message))
    if hidden:
        problems.append(Problem(sources[0].path, 0, f"{hidden} more problems in this file are not shown"))
    return problems


_PY_REPRS = ((re.compile(r"Decimal\('([^']*)'\)"), r"\1"), (re.compile(r"\bNone\b"), "null"),
             (re.compile(r"\bTrue\b"), "true"), (re.compile(r"\bFalse\b"), "false"))


def _owner(sources: Sequence[_Parsed], location: Sequence[str | int]) -> tuple[str, Node | None]:
    """The file that sets the value at ``location``: an overlay if it does, else the base."""
    for source in sources:
        value: object = source.row
        for step in location:
            if isinstance(value, dict) and step in value:
                value = value[step]
            elif isinstance(value, list) and isinstance(step, int) and step < len(value):
                value = value[step]
            else:
                break
        else:
            return source.path, source.node
    return sources[-1].path, sources[-1].node


def _short(message: str) -> str:
    """jsonschema speaks Python (None, Decimal('1.0')); record authors write YAML."""
    for pattern, replacement in _PY_REPRS:
        message = pattern.sub(replacement, message)
    return message if len(message) <= 200 else message[:197] + "..."


def check_columns(loaded: Loaded, infos: Mapping[str, TableInfo]) -> None:
    """Every column of every record exists in the database and fits its type
    (kind, and the limits the database enforces: ``limits``). A record checked
    where its file was read (load_state with ``infos``) is not checked again."""
    problems: list[Problem] = []
    for table, records in loaded.state.items():
        info = infos.get(table)
        if info is None:
            continue
        named = {c.name: c for c in info.columns}  # info.column() looks through the list: 600,000 times
        for record in records.values():
            if record.file in loaded.from_database:
                continue
            checked = loaded.columns_checked.get(record.file)
            if checked is not None:
                problems += checked
                continue
            problems += _column_problems(table, info, named, record.values, record.file,
                                         functools.partial(loaded.where, record.file))
    if problems:
        raise ValidationError(problems)


def _column_problems(table: str, info: TableInfo, named: Mapping[str, Column], row: Row, file: str,
                     where: Callable[[str], tuple[str, int]]) -> list[Problem]:
    """The columns of one record that the table does not have or that do not fit
    their type; ``where``: the file and line that set a column."""
    problems = []
    found = 0
    for column, value in row.items():
        described = named.get(column)
        if described is None:
            message = f"unknown column {column!r}: table {table} has {', '.join(info.column_names)}"
        elif value is None and not described.nullable:
            message = f"{column}: cannot be null (the column is NOT NULL)"
        elif values.is_nan(value) and not described.stores_nan:
            message = f"{column}: this database cannot store NaN (SQLite would keep NULL instead)"
        else:
            mismatch = kind_mismatch(described.kind, value)
            if mismatch:
                message = f"{column}: {mismatch} (column type {described.db_type})"
            else:
                # Fits the kind; does it fit the type (range, length, precision)?
                unfit = limits.problem(described, value)
                if not unfit:
                    continue
                message = unfit
        found += 1
        if found <= MAX_PROBLEMS_PER_FILE:
            problems.append(Problem(*where(column), message))
    if found > MAX_PROBLEMS_PER_FILE:
        problems.append(Problem(file, 0, f"{found - MAX_PROBLEMS_PER_FILE} more problems in this file are not shown"))
    return problems
