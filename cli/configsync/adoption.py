"""Getting a team from a live database, or a folder of JSON backups, to a config repo.

`init` writes configsync.yaml, one schema per table, the first snapshot, the
GitHub workflows and a pre-commit hook. Run again on a repository that has a
configsync.yaml, it adds the tables that file lacks (an entry in the file's
own style, a schema, a snapshot) and leaves the tables already there alone.
It never overwrites a file a person edited unless forced, and reports what it
left alone.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import pygit2

from . import files, inference, naming, readback, values, yamlio
from .backends import Column, TableInfo, open_backend
from .cache import make_private_dir
from .config import CONFIG_FILE, Config, TableConfig, load_config
from .errors import BackendError, ConfigError, RepoError, UnsafePathError
from .layout import TableLayout, table_dir
from .records import render
from .secrets_guess import secret_columns
from .sides import row_security_refusal
from .values import Row

PRE_COMMIT_CONFIG = """\
# Runs `configsync validate` before each commit that touches the config.
repos:
  - repo: local
    hooks:
      - id: configsync-validate
        name: configsync validate
        entry: configsync validate
        language: system
        files: ^(config-snapshots/|schemas/|configsync\\.yaml$)
        pass_filenames: false
"""

WRITTEN, UNCHANGED, LEFT_ALONE, OVERWRITTEN = "created", "unchanged", "left alone (edited; --force overwrites)", "overwritten"
UPDATED = "updated"
# What init wrote, by path: the sha256 of the bytes. A file whose bytes still
# have that digest was not edited by a person, so init may bring it up to date
# (a new workflow template) without --force. Local state, like the cache: a
# fresh clone has none and init then compares with what it would write.
WRITTEN_DIGESTS = ".configsync/init-written.json"


@dataclass
class InitResult:
    files: list[tuple[str, str]] = field(default_factory=list)  # (path, what happened)
    tables: list[str] = field(default_factory=list)  # every table init was asked for
    # Tables already in configsync.yaml: their entries, schemas and records are left as they are.
    kept: list[str] = field(default_factory=list)
    # The columns init marked secret, per new table.
    secrets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # What the backend says about how it described the tables (REST without configsync_describe).
    notes: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for _, s in self.files if s == status)

    @property
    def added(self) -> list[str]:
        return [t for t in self.tables if t not in self.kept]


@dataclass
class TablePlan:
    """What init decided for one table."""

    name: str
    key: tuple[str, ...] | None
    exclude: tuple[str, ...] = ()
    filename: str | None = None
    # Excluded columns the database owns -> why (written as comments under `exclude`).
    reasons: dict[str, str] = field(default_factory=dict)
    # Columns never read: named with --secret, or guessed from their name or comment.
    secret: tuple[str, ...] = ()


def _require_git(root: Path) -> None:
    if pygit2.discover_repository(str(root)) is None:
        raise RepoError(f"{root} is not inside a git work tree: run `git init` there first")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Writer:
    def __init__(self, root: Path, force: bool, result: InitResult) -> None:
        self.root, self.force, self.result = root, force, result
        self.written = self._load_digests()

    def _load_digests(self) -> dict[str, str]:
        try:
            data = json.loads(files.read(self.root, WRITTEN_DIGESTS) or b"{}")
        except (ValueError, UnsafePathError):
            return {}  # unreadable local state only means "compare with what init would write"
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} \
            if isinstance(data, dict) else {}

    def write(self, rel: str, data: bytes, same: Callable[[bytes], bool] | None = None) -> None:
        current = files.read(self.root, rel)
        if current is not None:
            if current == data or (same is not None and same(current)):
                self.result.files.append((rel, UNCHANGED))
                return
            if self.written.get(rel) == _digest(current):
                status = UPDATED  # what init wrote before, untouched since: nobody's edit is lost
            elif not self.force:
                self.result.files.append((rel, LEFT_ALONE))
                return
            else:
                status = OVERWRITTEN
        else:
            status = WRITTEN
        files.write(self.root, rel, data)
        if same is None:  # record files compare by their data; thousands of digests would buy nothing
            self.written[rel] = _digest(data)
        self.result.files.append((rel, status))

    def record(self, rel: str, data: bytes, status: str) -> None:
        """A file init changed itself (configsync.yaml with tables added)."""
        self.written[rel] = _digest(data)
        self.result.files.append((rel, status))

    def save_digests(self) -> None:
        try:
            make_private_dir(self.root / ".configsync")
            files.write(self.root, WRITTEN_DIGESTS, (json.dumps(self.written, indent=1, sort_keys=True) + "\n").encode())
        except (OSError, UnsafePathError):
            pass  # like the cache: without it init only compares with what it would write


_EXCLUDED_NOTE = [
    "# Columns the database maintains itself (created_at, updated_at, ...) are",
    "# excluded: they change on every write and would show as drift in every",
    "# snapshot. Delete a column from `exclude` to manage it in git.",
]
_BACKUP_NOTE = [
    "# Every column of the backup is kept, so applying these files restores every",
    "# value. To let the database own timestamps instead, add for example",
    "#   exclude: [created_at, updated_at]",
    "# to a table and delete those lines from its record files.",
]


def table_lines(table: TablePlan) -> list[tuple[int, str]]:
    """One table's entry under `tables:`, as (indent level, text) lines."""
    lines = [(1, f"{table.name}:")]
    if table.key:
        key = table.key[0] if len(table.key) == 1 else "[" + ", ".join(table.key) + "]"
        lines.append((2, f"key: {key}"))
    if table.filename:
        lines.append((2, f'filename: "{table.filename}"'))
    if table.secret:
        lines.append((2, f"secret: [{', '.join(table.secret)}]"))
        lines.append((2, "# secret: never read, never in files or plans (init's guess from the names; "
                         "remove a column to keep it in git)"))
    if table.exclude:
        lines.append((2, f"exclude: [{', '.join(table.exclude)}]"))
        lines += [(2, f"# {column}: {reason}; never written, never in files") for column, reason in table.reasons.items()]
    if len(lines) == 1:
        lines[0] = (1, f"{table.name}: {{}}")
    return lines


def config_text(tables: Sequence[TablePlan], database: str | None, source: str, *, backup: bool = False) -> str:
    lines = [
        "# configsync: which database tables live in git, and how.",
        f"# Written by `configsync init` from {source}; edit freely, init will not overwrite it.",
        "#",
        *(_BACKUP_NOTE if backup else _EXCLUDED_NOTE),
        "",
    ]
    if database:
        lines += [f"database: {database}", ""]
    else:
        lines += [
            "# The database: --database URL, --env NAME (see environments) or",
            "# $CONFIGSYNC_DATABASE_URL. Never write a password here.",
            "# environments:",
            "#   production: ${PRODUCTION_DATABASE_URL}",
            "",
        ]
    lines.append("tables:")
    lines += ["  " * level + text for table in tables for level, text in table_lines(table)]
    return "\n".join(lines) + "\n"


_TABLES_LINE = re.compile(r"tables:[ \t]*(#.*)?")


def with_tables_added(text: str, tables: Sequence[TablePlan]) -> str:
    """``text`` (a configsync.yaml) with entries for ``tables`` inserted at the
    end of its `tables:` block, in the indentation it already uses.

    Everything else, comments included, stays byte for byte: re-dumping the
    YAML would lose what a person wrote. ConfigError (with the lines to paste)
    when the result would not be exactly the old settings plus the new tables.
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _TABLES_LINE.fullmatch(line)), None)
    last = start
    step, nested = 2, 2
    if start is not None:
        indents = []
        for i in range(start + 1, len(lines)):
            line = lines[i]
            if not line.strip():
                continue
            if not line[0].isspace():
                if line.startswith("#"):
                    continue  # a comment at column 0 may sit between two tables
                break
            last = i
            if not line.lstrip().startswith("#"):
                indents.append(len(line) - len(line.lstrip(" ")))
        if indents:
            step = indents[0] or 2
            nested = next((n - step for n in indents if n > step), 2)
    block = [(" " * (step if level == 1 else step + nested)) + body
             for table in tables for level, body in table_lines(table)]
    by_hand = newline.join(["tables:", *block])
    if start is None or last is None:
        raise ConfigError(f"{CONFIG_FILE}: cannot find a block-style `tables:` setting to add "
                          f"{', '.join(t.name for t in tables)} to; add these lines by hand:{newline}{by_hand}")
    new_lines = lines[: last + 1] + block + lines[last + 1:]
    new_text = newline.join(new_lines) + newline
    before, after = yamlio.load(text.encode()), yamlio.load(new_text.encode())
    added = yamlio.load(("tables:\n" + "\n".join(block) + "\n").encode())
    expected: dict[str, values.Value] | None = None
    if isinstance(before, dict) and isinstance(before.get("tables"), dict) and isinstance(added, dict):
        old_tables, new_tables = before["tables"], added["tables"]
        if isinstance(old_tables, dict) and isinstance(new_tables, dict):
            expected = {**before, "tables": {**old_tables, **new_tables}}
    if expected is None or after != expected:
        raise ConfigError(f"{CONFIG_FILE}: cannot add {', '.join(t.name for t in tables)} without changing "
                          f"other settings (is `tables:` in flow style?); add these lines by hand:{newline}{by_hand}")
    return new_text


def schema_bytes(schema: dict[str, Any]) -> bytes:
    return (json.dumps(schema, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _templates() -> Traversable | None:
    root = resources.files("configsync").joinpath("templates/github")
    return root if root.is_dir() else None


ACTION_PLACEHOLDER = "OWNER/REPO/.github/actions/configsync@REF"
_FULL_SHA = re.compile(r"[0-9a-f]{40}")


def action_ref_warning(action: str | None) -> str | None:
    """What init says about ``--action OWNER/REPO@REF`` whose REF is not a full commit SHA.

    A tag or a branch can be moved to other code after review; the workflows
    hand that action the database secrets, so only a commit pins it."""
    if not action:
        return None
    ref = action.partition("@")[2]
    if _FULL_SHA.fullmatch(ref):
        return None
    return (f"Warning: --action {action}: {ref!r} is a tag or branch, not a commit. Whoever can move it "
            "decides what runs with your database secrets. Pin the full 40-character commit SHA of that "
            f"release: --action {action.partition('@')[0]}@<commit SHA> --force.")


def _write_support_files(writer: Writer, action: str | None) -> None:
    """The pre-commit hook and the GitHub workflows (templates/github/workflows).

    ``action`` is ``owner/repo@ref`` of the repository publishing configsync;
    without it the workflows keep a placeholder that init reports."""
    writer.write(".pre-commit-config.yaml", PRE_COMMIT_CONFIG.encode())
    templates = _templates()
    if templates is None:
        return
    workflows = templates.joinpath("workflows")
    uses = ACTION_PLACEHOLDER
    if action:
        repo, _, ref = action.partition("@")
        if repo.count("/") != 1 or not ref:
            raise ConfigError(f"--action {action}: expected OWNER/REPO@REF, e.g. acme/configsync@v0.1.0")
        uses = f"{repo}/.github/actions/configsync@{ref}"
    for child in sorted(workflows.iterdir(), key=lambda c: c.name):
        if child.name.endswith((".yml", ".yaml")):
            text = child.read_text(encoding="utf-8").replace(ACTION_PLACEHOLDER, uses)
            writer.write(f".github/workflows/{child.name}", text.encode("utf-8"))


def plan_tables(
    infos: dict[str, TableInfo], *, guess_secrets: bool = True, secret: Sequence[str] = (),
) -> list[TablePlan]:
    plans = []
    _check_named_secrets(infos, secret)
    for name, info in infos.items():
        key = inference.natural_key(info)
        if key is None:
            raise ConfigError(
                f"table {name} has no primary key or unique NOT NULL column to name its rows by; "
                "add one, or write configsync.yaml by hand with tables.{name}.key"
            )
        exclude = tuple(c for c in inference.MAINTAINED_COLUMNS if info.column(c) is not None and c not in key)
        owned = {c.name: c.ownership() for c in info.database_owned(key)}
        exclude += tuple(c for c in owned if c not in exclude)
        secrets = secret_columns(name, info.columns, key, guess=guess_secrets, named=secret)
        exclude = tuple(c for c in exclude if c not in secrets)
        plans.append(TablePlan(name, key, exclude, naming.default_template(key) if len(key) == 1 else None,
                               {c: r for c, r in owned.items() if c not in secrets}, secrets))
    return plans


def _check_named_secrets(infos: dict[str, TableInfo], named: Sequence[str]) -> None:
    """Every --secret names a column of a table being adopted, and never a key column."""
    for item in named:
        table, _, column = item.rpartition(".")
        candidates = [infos[table]] if table in infos else [] if table else list(infos.values())
        if not any(info.column(column) is not None for info in candidates):
            where = f"table {table}" if table else "any table being adopted"
            raise ConfigError(f"--secret {item}: {where} has no column {column}")
        if table and column in (inference.natural_key(infos[table]) or ()):
            raise ConfigError(f"--secret {item}: {column} names the rows of {table} (its key); "
                              "a key column cannot be secret")


def init_from_database(
    root: Path,
    database: str,
    *,
    tables: Sequence[str] | None,
    choose: Callable[[list[str]], list[str]] | None = None,
    force: bool = False,
    history_table: str = "configsync_history",
    action: str | None = None,
    guess_secrets: bool = True,
    secret: Sequence[str] = (),
) -> InitResult:
    """Adopt a live database: config, schemas, first snapshot, workflows, hook.

    Columns named in ``secret`` (``COL`` or ``TABLE.COL``) and, with
    ``guess_secrets``, those whose name or comment says key, secret, token,
    password or credential (``secrets_guess``) are marked secret before any
    row is read: their values never reach a file."""
    from .workspace import Workspace

    root = root.resolve()
    _require_git(root)
    backend = open_backend(database, root)
    capabilities = backend.capabilities
    try:
        if not tables and not capabilities.list_tables:
            raise ConfigError(f"{backend.display_url} cannot list its tables: name them with --tables a,b,c")
        available = [t for t in backend.list_tables() if t != history_table] if not tables else []
        if not tables:
            if choose is None:
                raise ConfigError("name the tables with --tables a,b,c (or --all)")
            tables = choose(available)
        if not tables:
            raise ConfigError("no tables chosen")
        infos = backend.describe(list(tables))
        # Adopting part of a table would make its hidden rows deletions later.
        refusal = row_security_refusal(infos, lambda table: False)
        if refusal:
            raise BackendError(refusal)
        notes = backend.describe_notes()
    finally:
        backend.close()
    configured = _configured(root)
    # A configured table keeps its settings: no key is inferred for it (it may have none to infer).
    plans = plan_tables({name: info for name, info in infos.items() if name not in configured},
                        guess_secrets=guess_secrets, secret=secret)
    result = InitResult(tables=list(infos), kept=[t for t in infos if t in configured],
                        secrets={p.name: p.secret for p in plans if p.secret}, notes=notes)
    writer = Writer(root, force, result)
    database_line = database if capabilities.embedded else None  # any other URL may hold a password
    source = database if database_line else "a PostgreSQL database"
    config, adopt = _write_config(writer, plans, lambda: config_text(plans, database_line, source))
    if adopt:
        with Workspace(config, database) as ws:
            infos = ws.describe(adopt)
            actual = ws.actual_state(adopt, infos)
            for table in adopt:
                settings = config.table(table)
                key = ws.key_columns(table, infos[table])
                rows = [r.values for r in actual[table].values()]
                schema = inference.table_schema(table, infos[table], key, settings.hidden(), rows)
                writer.write(config.schema_path(table), schema_bytes(schema))
                for path, data in ws.sides.render_files(table, infos[table], actual[table]).items():
                    writer.write(path, data, same=_same_record(data))
                _keep_dir(writer, config, table, actual[table])
    _write_support_files(writer, action)
    writer.save_digests()
    return result


def _configured(root: Path) -> frozenset[str]:
    """The tables the repository's configsync.yaml already manages (none without one)."""
    if files.read(root, CONFIG_FILE) is None:
        return frozenset()
    return frozenset(load_config(root / CONFIG_FILE).tables)


def _write_config(writer: Writer, plans: Sequence[TablePlan], fresh: Callable[[], str]) -> tuple[Config, list[str]]:
    """Write configsync.yaml, or add the tables it lacks to the one there.

    A table already in configsync.yaml is left as it is: its settings, schema
    and records belong to the team now. Returns the config and the tables
    whose schema and first snapshot init writes: the new ones, and any whose
    schema file is missing (an init that stopped half-way).
    """
    root = writer.root
    current = files.read(root, CONFIG_FILE)
    if current is None:
        writer.write(CONFIG_FILE, fresh().encode())
        return load_config(root / CONFIG_FILE), [p.name for p in plans]
    config = load_config(root / CONFIG_FILE)
    new = [p for p in plans if p.name not in config.tables]
    if new:
        text = with_tables_added(current.decode("utf-8"), new)
        files.write(root, CONFIG_FILE, text.encode("utf-8"))
        writer.record(CONFIG_FILE, text.encode("utf-8"), UPDATED)
        config = load_config(root / CONFIG_FILE)
    else:
        writer.result.files.append((CONFIG_FILE, UNCHANGED))
    missing = [t for t in writer.result.kept if files.read(root, config.schema_path(t)) is None]
    return config, [p.name for p in new] + missing


def _same_record(rendered: bytes) -> Callable[[bytes], bool]:
    """Equal data counts as unchanged: a person's comments are not an edit to undo."""
    from . import yamlio

    def same(current: bytes) -> bool:
        try:
            return values.equal(yamlio.load(current), yamlio.load(rendered))
        except yamlio.YamlError:
            return False

    return same


def _keep_dir(writer: Writer, config: Config, table: str, records: object) -> None:
    # git keeps no empty directories; an empty table still gets its folder.
    if not records:
        writer.write(f"{config.snapshots}/{table}/.gitkeep", b"")


# ---- JSON backups ---------------------------------------------------------------


def load_backup(path: Path) -> dict[str, list[Row]]:
    """Tables of a JSON backup: every top-level key holding a list of objects."""
    try:
        data = json.loads(path.read_bytes(), parse_float=Decimal)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected an object of table name -> list of rows")
    tables: dict[str, list[Row]] = {}
    for name, rows in data.items():
        if not isinstance(rows, list):
            continue  # metadata: timestamp, version, ...
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise ConfigError(f"{path}: {name}[{index}] is not an object (a row)")
        tables[name] = [{k: values.from_db(v) for k, v in row.items()} for row in rows]
    if not tables:
        raise ConfigError(f"{path}: no tables found (expected top-level keys holding lists of rows)")
    return tables


def init_from_backup(
    root: Path, backup: Path, *, force: bool = False, action: str | None = None,
    guess_secrets: bool = True, secret: Sequence[str] = (),
) -> InitResult:
    """Adopt a JSON backup without any database: config, inferred schemas, records.
    Likely secrets are marked as for a database (by column name; a backup has no comments)."""
    root = root.resolve()
    _require_git(root)
    tables = load_backup(backup)
    configured = _configured(root)
    plans = []
    for name, rows in tables.items():
        if name in configured:
            continue  # keeps its settings
        key = inference.key_from_rows(rows)
        if rows and key is None:
            raise ConfigError(f"{backup}: table {name}: no column identifies every row; cannot name the files")
        columns = [Column(c, "other", "") for c in dict.fromkeys(c for row in rows for c in row)]
        secrets = secret_columns(name, columns, key or (), guess=guess_secrets, named=secret)
        plans.append(TablePlan(name, key, (), naming.default_template(key) if key else None, secret=secrets))
    named_columns = {c for rows in tables.values() for row in rows for c in row}
    for item in secret:
        table, _, column = item.rpartition(".")
        if column not in (named_columns if not table else {c for row in tables.get(table, []) for c in row}):
            raise ConfigError(f"--secret {item}: {'table ' + table if table else 'the backup'} has no column {column}")
    result = InitResult(tables=list(tables), kept=[t for t in tables if t in configured],
                        secrets={p.name: p.secret for p in plans if p.secret})
    writer = Writer(root, force, result)
    config, adopt = _write_config(writer, plans, lambda: config_text(plans, None, backup.name, backup=True))
    for name in adopt:
        rows = tables[name]
        hidden = config.table(name).hidden()
        shown = [{c: v for c, v in row.items() if c not in hidden} for row in rows]
        writer.write(config.schema_path(name), schema_bytes(inference.rows_schema(name, shown)))
        for rel, data in backup_files(config, name, rows).items():
            writer.write(rel, data, same=_same_record(data))
        _keep_dir(writer, config, name, rows)
    _write_support_files(writer, action)
    writer.save_digests()
    return result


def backup_files(config: Config, table: str, rows: Sequence[Row]) -> dict[str, bytes]:
    """Record files for a backup's rows, named by the table's configured key."""
    settings: TableConfig = config.table(table)
    if settings.key is None:
        if not rows:
            return {}
        raise ConfigError(f"tables.{table}.key is not set in configsync.yaml; it names the files of a backup's rows")
    layout = TableLayout(config, table, settings.key)
    visible = [readback.strip({k: v for k, v in row.items() if k not in settings.hidden()}, settings.json_excludes())
               for row in rows]
    return {path: render(config, table, row, list(row)) for path, row in layout.paths(visible).items()}


def import_backup(config: Config, backup: Path) -> tuple[dict[str, bytes], list[str]]:
    """Write a backup's rows for the configured tables; mirror them like a snapshot.

    Returns (written files, deleted files)."""
    tables = load_backup(backup)
    unknown = sorted(set(tables) - set(config.tables))
    if unknown:
        raise ConfigError(f"{backup}: tables not in configsync.yaml: {', '.join(unknown)}")
    written: dict[str, bytes] = {}
    deleted: list[str] = []
    for table, rows in tables.items():
        records = backup_files(config, table, rows)
        directory = table_dir(config, table)
        files.check(config.root, directory)
        on_disk = config.root / directory
        existing = {p.relative_to(config.root).as_posix() for p in on_disk.glob(f"*{naming.EXTENSION}")} if on_disk.is_dir() else set()
        for rel, data in records.items():
            current = files.read(config.root, rel)
            if current is None or not _same_record(data)(current):
                written[rel] = data
        deleted += sorted(existing - set(records))
    # Every path is checked before the first write: a refusal writes nothing.
    for rel in [*written, *deleted]:
        files.check(config.root, rel)
    for rel, data in written.items():
        files.write(config.root, rel, data)
    for rel in deleted:
        files.delete(config.root, rel)
    return written, deleted


__all__ = ["InitResult", "import_backup", "init_from_backup", "init_from_database", "load_backup"]
