"""configsync.yaml: loading, validating and resolving settings."""
from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from . import naming, selection, urls, yamlio
from .errors import ConfigError

if TYPE_CHECKING:
    import jsonschema

CONFIG_FILE = "configsync.yaml"
DEFAULT_DATABASE = "sqlite:///.configsync/local.db"
MODES = ("reconcile", "upsert", "seed")
#: The value of a table's `rls` setting.
ALL_ROWS_VISIBLE = "all-rows-visible"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class TableConfig:
    name: str
    key: tuple[str, ...] | None = None
    filename: str | None = None
    exclude: frozenset[str] = frozenset()
    secret: frozenset[str] = frozenset()
    mode: str = "reconcile"
    # `rls: all-rows-visible`: the user states that row level security's
    # policies show the connected role every row of the table.
    rls_all_rows_visible: bool = False
    # What apply does with drift and conflicts in this table (see baseline.py):
    # refuse (the default), overwrite (undo them) or keep (leave them).
    drift: Literal["refuse", "overwrite", "keep"] = "refuse"

    def hidden(self) -> frozenset[str]:
        """Columns that never leave the database."""
        return self.exclude | self.secret

    def json_excludes(self) -> dict[str, tuple[tuple[str, ...], ...]]:
        """``exclude`` entries that are paths into a json column
        (``config_value.last_seen``): column -> the key paths inside it."""
        paths: dict[str, list[tuple[str, ...]]] = {}
        for entry in sorted(self.exclude):
            column, dot, rest = entry.partition(".")
            if dot:
                paths.setdefault(column, []).append(tuple(rest.split(".")))
        return {column: tuple(found) for column, found in paths.items()}

    def template(self, key: tuple[str, ...]) -> str:
        return self.filename or naming.default_template(key)


@dataclass(frozen=True)
class Config:
    path: Path
    tables: dict[str, TableConfig]
    database: str | None = None
    environments: dict[str, str] = field(default_factory=dict)
    # Fleets: named lists of environment names or globs, and the waves apply rolls out in.
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rollout: tuple[str, ...] = ()
    snapshots: str = "config-snapshots"
    schemas: str = "schemas"
    history_table: str = "configsync_history"
    notify_channel: str | None = "configsync"  # pg_notify after each apply; None: off

    @property
    def root(self) -> Path:
        """The config repository: the directory holding configsync.yaml."""
        return self.path.parent

    def table(self, name: str) -> TableConfig:
        try:
            return self.tables[name]
        except KeyError:
            known = ", ".join(self.tables)
            raise ConfigError(f"unknown table {name!r}: configsync.yaml manages {known}") from None

    def select(self, names: tuple[str, ...] | list[str] | None) -> list[str]:
        """Table names to work on: the given ones (checked) or all."""
        if not names:
            return list(self.tables)
        return [self.table(n).name for n in names]

    def schema_path(self, table: str) -> str:
        return f"{self.schemas}/{table}.schema.json"


# Beside this module, read as a plain file: importlib.resources would cost every
# command 30 ms of imports (zipfile among them) for a package never run zipped.
_SCHEMA_FILE = Path(__file__).with_name("config.schema.json")


def _schema() -> dict[str, Any]:
    text = _SCHEMA_FILE.read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def find_config(path: str | os.PathLike[str] | None) -> Path:
    """The config file to use: the one given, else ./configsync.yaml."""
    config_path = Path(path) if path else Path.cwd() / CONFIG_FILE
    if not config_path.is_file():
        hint = "" if path else " (run configsync in the config repository, or pass --config FILE)"
        raise ConfigError(f"{config_path}: no such file{hint}")
    return config_path.resolve()


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    config_path = find_config(path)
    return parse_config(config_path.read_bytes(), config_path)


def parse_config(text: bytes, config_path: Path) -> Config:
    """The settings in ``text``, for the config file at ``config_path`` (its
    directory is the config root); e.g. a revision's copy, read from git."""
    shown = config_path.name
    try:
        data = yamlio.load(text)
    except yamlio.YamlError as exc:
        raise ConfigError(_where(shown, exc.line) + exc.message) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}: expected a mapping with a 'tables' setting")
    errors = _checked(data, text, config_path)
    if errors:
        root_node = yamlio.parse(text)[1]  # the node tree, to point at lines
        lines = []
        for error in errors:
            path_ = list(error.absolute_path)
            line = yamlio.line_of(root_node, path_)
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                schema = error.schema if isinstance(error.schema, dict) else {}
                unknown = sorted(set(error.instance) - set(schema.get("properties", {})))
                line = yamlio.key_line(root_node, path_ + unknown[:1])
            lines.append(_where(shown, line) + _describe(error, path_))
        raise ConfigError("\n".join(lines))
    try:
        return _build(config_path, data)
    except ConfigError as exc:
        raise ConfigError(f"{shown}: {exc}") from None


def _schema_errors(data: dict[str, Any]) -> list[jsonschema.ValidationError]:
    import jsonschema  # a tenth of a second: only where the cache has not seen this file

    validator = jsonschema.Draft202012Validator(_schema())
    return sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))


def _checked(data: dict[str, Any], text: bytes, config_path: Path) -> list[jsonschema.ValidationError]:
    """The settings schema's errors. Bytes that passed before (this version,
    this schema: the local cache, where one exists) are not checked again:
    that spares every command importing jsonschema."""
    from .cache import ValidationCache, content_id

    path = config_path.parent / ".configsync" / "cache.sqlite"
    if not path.is_file():  # never creates .configsync/ (init, a copy read from git)
        return _schema_errors(data)
    cache = ValidationCache(path)
    schema = cache.schema_id(_SCHEMA_FILE.read_bytes())
    entry = "settings:" + content_id(text)
    if cache.knows_valid(schema, entry):
        return []
    errors = _schema_errors(data)
    if not errors:
        cache.remember(schema, entry)
        cache.save()
    return errors


def _where(file: str, line: int) -> str:
    return f"{file}:{line}: " if line else f"{file}: "


def _describe(error: jsonschema.ValidationError, path: list[Any]) -> str:
    setting = ".".join(map(str, path)) or "(top level)"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        where = f"{setting}." if path else ""
        return f"unknown setting {where}{unknown[0]!r} (allowed: {', '.join(allowed)})"
    if "propertyNames" in error.schema_path:
        return f"{setting}: {error.instance!r} is not a valid name (letters, digits and _; optionally schema.table)"
    if error.validator == "oneOf" and path and path[-1] == "key":
        return f"{setting}: expected a column name or a list of column names"
    return f"{setting}: {error.message}"


def _build(path: Path, data: dict[str, Any]) -> Config:
    tables = {}
    for name, settings in data["tables"].items():
        settings = settings or {}
        key = settings.get("key")
        key_cols = (key,) if isinstance(key, str) else tuple(key) if key else None
        table = TableConfig(
            name=name,
            key=key_cols,
            filename=settings.get("filename"),
            exclude=frozenset(settings.get("exclude", ())),
            secret=frozenset(settings.get("secret", ())),
            mode=settings.get("mode", "reconcile"),
            rls_all_rows_visible=settings.get("rls") == ALL_ROWS_VISIBLE,
            drift=settings.get("drift", "refuse"),
        )
        _check_table(table)
        tables[name] = table
    config = Config(
        path=path,
        tables=tables,
        database=data.get("database"),
        environments=_environments(path.parent, data),
        groups={name: tuple(terms) for name, terms in data.get("groups", {}).items()},
        rollout=tuple(data.get("rollout", ())),
        snapshots=_relative_dir(data.get("snapshots", "config-snapshots"), "snapshots"),
        schemas=_relative_dir(data.get("schemas", "schemas"), "schemas"),
        history_table=data.get("history_table", "configsync_history"),
        notify_channel=data.get("notify", "configsync") or None,
    )
    if config.history_table in tables:
        raise ConfigError(f"history_table {config.history_table!r} is also listed under tables")
    selection.check_settings(list(config.environments), config.groups, config.rollout)
    return config


def _environments(root: Path, data: dict[str, Any]) -> dict[str, str]:
    """``environments:``, then those of ``environments_file`` (for hundreds of
    tenants): a YAML mapping of the same shape, name -> URL or ${VAR}."""
    found = dict(data.get("environments", {}))
    if "environments_file" not in data:
        return found
    relative = _relative_dir(data["environments_file"], "environments_file")
    shown = f"environments_file: {relative}"
    try:
        listed, node = yamlio.parse((root / relative).read_bytes())
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read it ({exc.strerror or exc})") from None
    except yamlio.YamlError as exc:
        raise ConfigError(f"{shown}:{exc.line}: {exc.message}") from None
    if not isinstance(listed, dict) or not listed:
        # An empty list of tenants is a failed lookup, never "a fleet of none".
        raise ConfigError(f"{shown}: expected a mapping of environment names to database URLs "
                          "(tenant-01: ${URL_TENANT_01}); it holds none")
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema()["properties"]["environments"])
    for error in sorted(validator.iter_errors(listed), key=lambda e: list(map(str, e.absolute_path))):
        where = list(error.absolute_path)
        line = yamlio.line_of(node, where)
        message = f"{'.'.join(map(str, where))}: {error.message}"
        if "propertyNames" in error.schema_path:
            line = yamlio.key_line(node, [error.instance])
            message = f"{error.instance!r} is not a valid environment name (letters, digits, _ . -)"
        raise ConfigError(f"{shown}:{line}: {message}")
    for name, url in listed.items():
        if name in found:
            raise ConfigError(f"{shown}: environment {name!r} is also under environments:")
        found[name] = url
    return found


def _check_table(table: TableConfig) -> None:
    where = f"tables.{table.name}"
    hidden_keys = set(table.key or ()) & (table.hidden() | set(table.json_excludes()))
    if hidden_keys:
        raise ConfigError(f"{where}: key column {sorted(hidden_keys)[0]!r} cannot be excluded or secret")
    for entry in sorted(table.exclude):
        if "." in entry and any(not part for part in entry.split(".")):
            raise ConfigError(f"{where}.exclude: {entry!r} is not a column nor a path into a json column "
                              "(column.field.field, e.g. config_value.last_seen)")
        if entry.partition(".")[0] in table.secret:
            raise ConfigError(f"{where}.exclude: {entry!r} is inside the secret column {entry.partition('.')[0]!r}")
    if table.filename is not None:
        try:
            fields = naming.template_fields(table.filename)
        except naming.NamingError as exc:
            raise ConfigError(f"{where}.filename: {exc}") from None
        if not fields:
            raise ConfigError(f"{where}.filename: the template must use the key columns, e.g. \"{{id}}\"")
        if table.key is not None and not set(fields) & set(table.key):
            # No key column in the template: most often a misspelt `key` (key: nmae, filename: "{name}").
            key = ", ".join(table.key)
            raise ConfigError(
                f"{where}.key: {key} is not in the filename template {table.filename!r}, which names files by "
                f"{', '.join(fields)}: if the table has no column {key}, correct `key`; "
                f"otherwise make the template use {{{table.key[0]}}}"
            )
        if table.key is not None and set(fields) != set(table.key):
            raise ConfigError(
                f"{where}.filename: the template must use exactly the key columns "
                f"({', '.join(table.key)}), so every row gets its own file; it uses {', '.join(fields)}: "
                f"is `key` or `filename` misspelt?"
            )


def _relative_dir(value: str, setting: str) -> str:
    posix = PurePosixPath(value.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or str(posix) in ("", "."):
        raise ConfigError(f"{setting}: {value!r} must be a directory inside the config repository")
    return str(posix)


def expand_env(value: str, setting: str, environ: Mapping[str, str]) -> str:
    """Replace ``${VAR}`` references; a missing variable is an error naming both.

    A reference may stand only for the whole URL (``${DATABASE_URL}``) or for
    the whole password in it (``postgresql://user:${PGPASSWORD}@host/db``,
    ``?password=${PGPASSWORD}``, ``password=${PGPASSWORD}``,
    ``https://service_role:${SUPABASE_SERVICE_ROLE_KEY}@<ref>.supabase.co``):
    anywhere else, a configsync.yaml from a pull request could send any
    variable of the environment to a host of its choosing. The password is
    inserted encoded, so it may hold any character.
    """
    refs = list(_ENV_REF.finditer(value))
    if not refs:
        return value

    def lookup(name: str) -> str:
        if name not in environ or environ[name] == "":
            raise ConfigError(f"{setting}: environment variable {name} is not set")
        return environ[name]

    if len(refs) == 1 and refs[0].span() == (0, len(value)):
        return lookup(refs[0].group(1))
    spans = urls.password_spans(value)
    for ref in refs:
        if ref.span() not in spans:
            raise ConfigError(
                f"{setting}: ${{{ref.group(1)}}} is not allowed there: a ${{VAR}} may stand only for the whole "
                f"URL (${{DATABASE_URL}}) or for its whole password "
                f"(postgresql://user:${{PGPASSWORD}}@host/db); write the rest of the URL out"
            )
    out = value
    for ref in reversed(refs):  # from the end, so earlier spans stay valid
        out = out[:ref.start()] + urls.encode_password(lookup(ref.group(1)), value, ref.span()) + out[ref.end():]
    return out


def resolve_database(
    config: Config,
    *,
    database: str | None = None,
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The database URL, by precedence: --database, --env, CONFIGSYNC_DATABASE_URL,
    the config's ``database``, then the embedded SQLite file."""
    environ = os.environ if environ is None else environ
    if database:
        return expand_env(database, "--database", environ)
    if env:
        if env not in config.environments:
            known = ", ".join(config.environments) or "none are defined"
            raise ConfigError(f"--env {env}: no such environment in configsync.yaml ({known})")
        return expand_env(config.environments[env], f"environments.{env}", environ)
    if environ.get("CONFIGSYNC_DATABASE_URL"):
        return environ["CONFIGSYNC_DATABASE_URL"]
    if config.database:
        return expand_env(config.database, "database", environ)
    return DEFAULT_DATABASE
