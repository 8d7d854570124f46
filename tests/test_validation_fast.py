"""The fast paths of `configsync validate` against the slow ones.

jsonschema-rs may only say "valid" where jsonschema finds no problem (the
problem lists are always jsonschema's); generated schemas, from inference's
shapes and from the keywords the fast yes accepts, against generated records.
"""
from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema_rs  # noqa: F401 - a dependency (pyproject): its absence must fail here, not skip
import pytest
from configsync import fast_validation, inference, validation
from configsync.backends.base import Column, TableInfo
from helpers import commit_all, init_repo, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TEXT = st.one_of(
    st.sampled_from(["", "a", "abc", "USD", "json", "ea6a007e-43af-44c3-99e5-e4e6e94aa064", "EA6A007E-43AF-44C3-99E5-E4E6E94AA064",
                     "2024-02-29", "2025-02-29", "2025-10-03T10:00:00Z", "10:00:00", "a@b.c", "x\n", "abc\n", "é", "٣",
                     "\ufeff", " ", "\x1c", "a" * 101, "🚀", "key_0000001", "1.0.1", "ab\u2028"]),
    st.text(max_size=6),
)
NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70), st.sampled_from([0, 1, -1, 128000, 2**31, 2**63]),
    st.decimals(allow_nan=True, allow_infinity=True, places=None).filter(lambda d: not d.is_snan()),
    st.sampled_from([Decimal("1.0"), Decimal("0.0"), Decimal("-0.0"), Decimal("1E+2"), Decimal("0.5"), Decimal("0.00000015"),
                     Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("100.00"), Decimal("1E-30")]),
)
LEAVES = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
VALUES = st.recursive(LEAVES, lambda children: st.one_of(
    st.lists(children, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), children, max_size=3)),
    max_leaves=8)
COLUMNS = ["a", "b", "c", "d"]
SCHEMA_NUMBERS = st.one_of(st.integers(-3, 200), st.sampled_from([0.5, 1.5, 2**63]))


def _leaf_schema() -> st.SearchStrategy[dict[str, Any]]:
    type_names = st.sampled_from(["string", "integer", "number", "boolean", "null", "array", "object"])
    return st.fixed_dictionaries({}, optional={
        "type": st.one_of(type_names, st.lists(type_names, min_size=1, max_size=3, unique=True)),
        "enum": st.lists(st.one_of(LEAVES, st.just(0.5)), min_size=1, max_size=3),
        "const": st.one_of(LEAVES, st.just([1, 2])),
        "minimum": SCHEMA_NUMBERS, "maximum": SCHEMA_NUMBERS, "exclusiveMinimum": SCHEMA_NUMBERS,
        "exclusiveMaximum": SCHEMA_NUMBERS,
        "minLength": st.integers(0, 3), "maxLength": st.integers(0, 101),
        "pattern": st.sampled_from(["^[a-z0-9][a-z0-9_.-]*$", "^\\d+$", "^\\w+$", "^\\s*$", "^.$", "a", "^[A-Z]{3}$"]),
        "format": st.sampled_from(["uuid", "date", "date-time", "time", "email", "ipv4", "hostname", "regex"]),
        "minItems": st.integers(0, 2), "maxItems": st.integers(0, 2), "uniqueItems": st.booleans(),
        "multipleOf": st.sampled_from([2, 0.01]),
    })


SCHEMAS = st.recursive(_leaf_schema(), lambda inner: st.one_of(
    st.builds(lambda props, required, extra: {"type": "object", "properties": props, "required": required,
                                              "additionalProperties": extra},
              st.dictionaries(st.sampled_from(COLUMNS), inner, max_size=3), st.lists(st.sampled_from(COLUMNS), max_size=2),
              st.one_of(st.booleans(), inner)),
    st.builds(lambda items: {"type": "array", "items": items}, inner),
    st.builds(lambda parts, how: {how: parts}, st.lists(inner, min_size=1, max_size=2), st.sampled_from(["allOf", "anyOf", "oneOf"])),
    st.builds(lambda i, t, e: {"if": i, "then": t, "else": e}, inner, inner, inner),
    st.builds(lambda n: {"not": n}, inner),
), max_leaves=6)


def _slow_valid(schema: dict[str, Any], row: object) -> bool:
    validator = validation.compile_schema(schema)
    return not list(validator.iter_errors(row))


def _agree(schema: dict[str, Any], row: object) -> bool | None:
    """The fast answer, after checking it against jsonschema (None: no fast yes for the schema)."""
    check = fast_validation.fast_yes(schema, validation.checked_formats(validation.compile_schema(schema)))
    if check is None:
        return None
    said = check(row)  # type: ignore[arg-type]
    if said:
        assert _slow_valid(schema, row), (schema, row)
    return said


@given(SCHEMAS, st.dictionaries(st.sampled_from(COLUMNS), VALUES, max_size=4))
@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fast_yes_only_for_records_jsonschema_finds_valid(schema: dict[str, Any], row: dict[str, object]) -> None:
    _agree(schema, row)


KINDS = ["text", "uuid", "integer", "numeric", "float", "boolean", "json", "date", "timestamp", "time", "array"]


@st.composite
def inferred_tables(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, object]]]:
    """A schema as `configsync init` infers one (inference.table_schema), and rows for it."""
    columns = []
    for index in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(KINDS))
        type_name = {"integer": draw(st.sampled_from(["int4", "int8", "int2"])), "numeric": "numeric",
                     "float": "float8"}.get(kind, kind)
        columns.append(Column(f"c{index}", kind, type_name, draw(st.booleans()),
                              precision=draw(st.sampled_from([None, 20])) if kind == "numeric" else None,
                              scale=10 if kind == "numeric" else None,
                              element_kind=draw(st.sampled_from(["text", "integer", "numeric"])) if kind == "array" else None,
                              type_name=type_name))
    info = TableInfo("t", tuple(columns), ("c0",))
    rows = draw(st.lists(st.fixed_dictionaries({c.name: VALUES for c in columns}), max_size=4))
    schema = inference.table_schema("t", info, ("c0",), set(), rows[:2])
    return json.loads(json.dumps(schema)), rows


@given(inferred_tables())
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fast_yes_agrees_on_inferred_schemas(table: tuple[dict[str, Any], list[dict[str, object]]]) -> None:
    schema, rows = table
    for row in rows:
        _agree(schema, row)


def test_the_moose_schemas_get_a_fast_yes_and_it_is_used() -> None:
    """Not only a safe answer but a useful one: the example schemas take the fast path."""
    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "schemas").glob("*.json")):
        schema = json.loads(path.read_text())
        assert fast_validation.fast_yes(schema, frozenset({"uuid", "date", "email"})) is not None, path.name
    good = {"config_key": "budget_limits", "config_value": {"daily": 50}, "config_type": "json", "description": None}
    schema = json.loads((root / "schemas/system_config.schema.json").read_text())
    assert _agree(schema, good) is True
    assert _agree(schema, {**good, "config_key": "Bad Key"}) is False


@pytest.mark.parametrize("schema", [
    {"$ref": "https://example.com/s.json"},  # never fetched
    {"patternProperties": {"^a": {"type": "string"}}},  # a keyword outside the shared set
    {"enum": [0.1]},  # a float in the schema against Decimals
    {"format": "ipv4"},  # a format the two check differently
    {"$schema": "http://json-schema.org/draft-07/schema#"},
])
def test_no_fast_yes_where_the_two_could_differ(schema: dict[str, Any]) -> None:
    assert fast_validation.fast_yes(schema, frozenset({"uuid", "date", "email", "ipv4"})) is None


@pytest.mark.parametrize(("schema", "row"), [
    ({"type": "integer"}, Decimal("1.0")),  # an integer to jsonschema-rs, not to jsonschema
    ({"properties": {"doc": {"items": {"properties": {"n": {"type": "integer"}}}}}}, {"doc": [{"n": 1}, {"n": Decimal("2.0")}]}),
    ({"properties": {"n": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}}, {"n": Decimal("2.0")}),
    ({"additionalProperties": {"type": "integer"}}, {"n": Decimal("2.0")}),
    ({"pattern": "^\\s*$"}, "\ufeff"),  # Rust's \s and Python's differ beyond ASCII
    ({"type": "number"}, Decimal("NaN")),
])
def test_records_read_differently_take_the_slow_path(schema: dict[str, Any], row: object) -> None:
    check = fast_validation.fast_yes(schema, frozenset())
    assert check is not None
    assert check(row) is False  # type: ignore[arg-type]


def test_an_integral_number_where_the_schema_says_number_keeps_the_fast_yes() -> None:
    """A jsonb number 1.5 that is 3.0 in some rows: where the schema says "integer"
    elsewhere (an id), only the integer places are looked at."""
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "doc": {"type": "object", "properties": {
        "burst": {"type": "number"}, "daily": {"type": "integer"}}}}}
    check = fast_validation.fast_yes(schema, frozenset())
    assert check is not None
    assert check({"id": 1, "doc": {"burst": Decimal("3.0"), "daily": 2}}) is True
    assert check({"id": 1, "doc": {"burst": Decimal("3.0"), "daily": Decimal("2.0")}}) is False
    assert _slow_valid(schema, {"id": 1, "doc": {"burst": Decimal("3.0"), "daily": 2}})


def test_validate_prints_the_same_problems_with_and_without_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: records valid and invalid; the printed problems do not depend on the shortcut."""
    repo = tmp_path / "repo"
    init_repo(repo)
    base = repo / "config-snapshots/system_config"
    base.mkdir(parents=True)
    for index in range(30):
        key = f"key_{index:03d}"
        value = "{limit: 5}" if index % 3 else "not-an-object"
        config_type = "json" if index % 5 else "boolean"
        (base / f"{key}.yaml").write_text(f"config_key: {key}\nconfig_value: {value}\nconfig_type: {config_type}\n"
                                          f"description: Setting {index}\n")
    commit_all(repo, "records")
    fast = run(repo, "validate")
    shutil.rmtree(repo / ".configsync")  # no record known valid: the slow path reads them all
    monkeypatch.setattr(fast_validation, "_rs", None)
    slow = run(repo, "validate")
    assert fast.code == slow.code == 1
    assert fast.text == slow.text
    assert "config-snapshots/system_config/key_000.yaml:2: config_value: 'not-an-object' is not of type 'boolean'" in fast.text


def _damaged_repo(path: Path, count: int) -> None:
    """Records of the three Moose tables, one in six damaged in one of eight ways."""
    init_repo(path)
    rows = {
        "system_config": "config_key: key_{i:04d}\nconfig_value:\n  enabled: true\n  limit: {i}\n  ratio: 0.5\n"
                         "config_type: json\ndescription: Setting {i}\nupdated_by: null\n",
        "proposer_configs": "name: model-{i:04d}\nprovider: openai\nendpoint: https://api.example.com/v1\n"
                            "context_limit: 128000\ncost_profile:\n  currency: USD\n  input_cost_per_token: 0.00000015\n"
                            "strengths:\n- fast\n- cheap\ncomplexity_threshold: 0.{d}\nnotes: n\nis_active: true\n",
        "contracts": "name: contract-{i:04d}\nversion: 1.0.{d}\nspecification:\n  fields:\n  - id\n  - name\n"
                     "  type: object\ndescription: Contract {i}\nis_active: true\n",
    }
    names = {"system_config": "key_{i:04d}", "proposer_configs": "model-{i:04d}", "contracts": "contract-{i:04d}@1.0.{d}"}
    damages = [
        lambda s: s + "name: again\nconfig_key: again\n",  # duplicate keys
        lambda s: s.replace("is_active: true", "is_active: !!str yes").replace("config_type: json", "config_type: !!str json"),
        lambda s: s.replace(": ", ": &a ", 1),  # an anchor
        lambda s: s.replace("description:", "descriptio:").replace("notes:", "note:"),  # unknown columns
        lambda s: s.replace("config_type: json", "config_type: jsonx").replace("provider: openai", "provider: 7")
                   .replace("is_active: true", "is_active: 1.0"),  # schema problems
        lambda s: s.replace("\n", "\n  ", 1),  # broken indentation
        lambda s: s.replace("name: ", "name: x", 1).replace("config_key: ", "config_key: X", 1),  # name != key
        lambda s: "# only a comment\n",
    ]
    for table, text in rows.items():
        directory = path / "config-snapshots" / table
        directory.mkdir(parents=True)
        for i in range(count):
            body = text.format(i=i, d=i % 5)
            if i % 6 == 5:
                body = damages[(i // 6) % len(damages)](body)
            (directory / (names[table].format(i=i, d=i % 5) + ".yaml")).write_text(body)
    (path / "config-snapshots/strange.yaml").write_text("a: 1\n")
    commit_all(path, "records")


def test_every_fast_path_prints_what_the_slow_paths_print(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes, the line reader and jsonschema-rs together, against none
    of them: the same problems, lines and order, on valid and damaged records."""
    from configsync import parallel, yamlio

    repo = tmp_path / "repo"
    _damaged_repo(repo, 100)
    monkeypatch.setattr(parallel, "MIN_FILES", 50)
    monkeypatch.setattr(parallel, "_CHUNK", 16)
    fast = run(repo, "validate")
    shutil.rmtree(repo / ".configsync")

    def unusual(text: str) -> object:
        raise yamlio._Unusual

    monkeypatch.setattr(parallel, "MIN_FILES", 10**9)
    monkeypatch.setattr(fast_validation, "_rs", None)
    monkeypatch.setattr(yamlio, "read_written", unusual)
    slow = run(repo, "validate")
    assert fast.code == slow.code == 1
    assert fast.text == slow.text
    assert fast.text.count("\n") > 40, fast.text


def _layered_repo(path: Path, count: int) -> None:
    """`_damaged_repo` with more that only other files decide (case-only twins,
    keys used twice) or that the database would own (excluded columns), and a
    production overlay: records changed, removed ($delete) and added, some of
    them orphaned or damaged."""
    _damaged_repo(path, count)
    snapshots = path / "config-snapshots"
    config = snapshots / "system_config"
    (config / "KEY_0001.yaml").write_text("config_key: KEY_0001\nconfig_value: 1\nconfig_type: json\n")
    (config / "key_0002~1.yaml").write_text("config_key: key_0002\nconfig_value: 1\nconfig_type: json\n")
    (config / "key_0003.yaml").write_text((config / "key_0003.yaml").read_text() + "created_at: now\n")
    overlay = snapshots / "_environments" / "production" / "system_config"
    overlay.mkdir(parents=True)
    for i in range(0, count, 7):
        (overlay / f"key_{i:04d}.yaml").write_text("config_value:\n  enabled: false\n")
    (overlay / "key_0004.yaml").write_text("$delete: true\n")
    (overlay / "gone.yaml").write_text("config_value: 3\n")  # orphaned: no base record, not a whole one
    (overlay / "added.yaml").write_text("config_key: added\nconfig_value: 2\nconfig_type: json\ndescription: new\n"
                                        "updated_by: null\n")
    (overlay / "broken.yaml").write_text("config_value: [\n")
    commit_all(path, "layers")


def _state_text(loaded: validation.Loaded, rows: bool) -> list[str]:
    """The records (``rows``: with their values; without, a record may hold none)."""
    return [f"{t} {r.key!r} {r.file}" + (f" {json.dumps(r.values, sort_keys=True, default=str)}" if rows else "")
            for t, records in loaded.state.items() for r in records.values()]


def test_workers_and_one_process_find_the_same_problems_and_records(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker checks a record of one file on its own (schema, key, name) and
    sends back no row when only problems are wanted: the problems, their order
    and (rows wanted) the records are those of reading every file here and
    checking every record after all are read (the way a merged one is)."""
    from configsync import parallel
    from configsync.config import load_config
    from configsync.repo import Repo

    repo = tmp_path / "repo"
    _layered_repo(repo, 120)
    config = load_config(repo / "configsync.yaml")
    keys = {t: s.key for t, s in config.tables.items()}

    def every_reading() -> tuple[str, list[list[str]]]:
        text = run(repo, "validate").text
        shutil.rmtree(repo / ".configsync", ignore_errors=True)
        found = []
        for env in (None, "production"):
            for rows in (True, False):
                for lazy in (False, True):  # files read here, or where they are checked (as validate does)
                    source = Repo(config).worktree_source(lazy=lazy)
                    try:
                        found.append(_state_text(validation.load_state(config, source, keys, env=env, rows=rows), rows))
                    except validation.ValidationError as exc:
                        found.append([str(p) for p in exc.problems])
        assert found[0::2] == found[1::2]  # lazy or not, the same
        return text, found

    monkeypatch.setattr(parallel, "MIN_FILES", 50)
    monkeypatch.setattr(parallel, "_CHUNK", 16)
    workers = every_reading()
    monkeypatch.setattr(parallel, "MIN_FILES", 10**9)
    monkeypatch.setattr(validation, "_OWN_CHECKS_WHERE_READ", False)
    alone = every_reading()
    assert workers == alone
    text, found = workers
    assert "same name as config-snapshots/system_config/key_0001.yaml apart from letter case" in text
    assert "column 'created_at' is excluded" in text
    assert "gone.yaml:1: there is no base record gone.yaml" in text
    assert "broken.yaml" in text
    assert all(len(problems) > 40 for problems in found)

    # Valid records: the records themselves (rows wanted) agree.
    valid = tmp_path / "valid"
    init_repo(valid)
    base = valid / "config-snapshots" / "system_config"
    overlay = valid / "config-snapshots" / "_environments" / "production" / "system_config"
    base.mkdir(parents=True)
    overlay.mkdir(parents=True)
    for i in range(120):
        (base / f"key_{i:04d}.yaml").write_text(f"config_key: key_{i:04d}\nconfig_value:\n  limit: {i}\n  ratio: 0.5\n"
                                                f"config_type: json\ndescription: Setting {i}\nupdated_by: null\n")
        if i % 7 == 0:
            (overlay / f"key_{i:04d}.yaml").write_text(f"config_value:\n  limit: {i + 1000}\n")
    (overlay / "key_0004.yaml").write_text("$delete: true\n")
    (overlay / "added.yaml").write_text("config_key: added\nconfig_value: {a: 1}\nconfig_type: json\n"
                                        "description: new\nupdated_by: null\n")
    commit_all(valid, "valid records")
    repo, config = valid, load_config(valid / "configsync.yaml")
    monkeypatch.setattr(parallel, "MIN_FILES", 50)
    monkeypatch.setattr(validation, "_OWN_CHECKS_WHERE_READ", True)
    workers = every_reading()
    monkeypatch.setattr(parallel, "MIN_FILES", 10**9)
    monkeypatch.setattr(validation, "_OWN_CHECKS_WHERE_READ", False)
    alone = every_reading()
    assert workers == alone
    assert workers[0].startswith("All record files are valid"), workers[0]
    base_rows, _, _, _, production_rows, _, _, _ = workers[1]
    assert len(base_rows) == 120 and len(production_rows) == 120
    assert all(line.endswith("}") and not line.endswith(" {}") for line in base_rows + production_rows)
    assert any('"limit": 1007' in line for line in production_rows)


def test_columns_checked_where_read_give_what_check_columns_gives(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """load_state with the database's tables checks a record of one file against
    them where it reads the file (a worker); check_columns then gives the same
    problems, in the same order, as checking every record after reading."""
    from configsync import parallel
    from configsync.config import load_config
    from configsync.repo import Repo

    repo = tmp_path / "repo"
    init_repo(repo)
    base = repo / "config-snapshots" / "system_config"
    overlay = repo / "config-snapshots" / "_environments" / "production" / "system_config"
    base.mkdir(parents=True)
    overlay.mkdir(parents=True)
    extras = ["", "extra: 1\n", "config_type: null\n", "description: 5\n", "description: " + "x" * 40 + "\n",
              "updated_by: 2.5\n", "".join(f"unknown_{j}: 1\n" for j in range(25))]
    for i in range(150):
        lines = f"config_key: key_{i:04d}\nconfig_value:\n  limit: {i}\nconfig_type: json\ndescription: Setting {i}\n"
        extra = extras[i % len(extras)]
        kept = [line for line in lines.splitlines(keepends=True) if line.split(":")[0] + ":" not in extra]
        (base / f"key_{i:04d}.yaml").write_text("".join(kept) + extra)
        if i % 9 == 0:
            (overlay / f"key_{i:04d}.yaml").write_text("description: 7\n")
    (repo / "schemas" / "system_config.schema.json").write_text(json.dumps(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}))  # the database's checks only
    commit_all(repo, "records")
    config = load_config(repo / "configsync.yaml")
    keys = {t: s.key for t, s in config.tables.items()}
    text = Column("x", "text", "text")
    infos = {"system_config": TableInfo("system_config", (
        Column("config_key", "text", "text", nullable=False), Column("config_value", "json", "jsonb"),
        Column("config_type", "text", "text", nullable=False),
        Column("description", "text", "varchar(20)", max_length=20, type_name="varchar"),
        Column("updated_by", "integer", "integer"), text), ("config_key",))}

    def problems(where_read: bool) -> list[list[str]]:
        found = []
        for env in (None, "production"):
            source = Repo(config).worktree_source()
            loaded = validation.load_state(config, source, keys, ["system_config"], env,
                                           infos=infos if where_read else None)
            assert bool(loaded.columns_checked) == where_read
            try:
                validation.check_columns(loaded, infos)
            except validation.ValidationError as exc:
                found.append([str(p) for p in exc.problems])
        return found

    monkeypatch.setattr(parallel, "MIN_FILES", 50)
    monkeypatch.setattr(parallel, "_CHUNK", 16)
    workers = problems(True)
    monkeypatch.setattr(parallel, "MIN_FILES", 10**9)
    assert workers == problems(False)
    assert problems(True) == workers
    shown = "\n".join(workers[0])
    assert "key_0001.yaml:6: unknown column 'extra': table system_config has" in shown
    assert "key_0002.yaml:5: config_type: cannot be null" in shown
    assert "key_0004.yaml:5: description: 40 characters, more than the 20" in shown
    assert "key_0006.yaml: 5 more problems in this file are not shown" in shown
    assert "_environments/production/system_config/key_0009.yaml:1: description: expected a string" in "\n".join(workers[1])
