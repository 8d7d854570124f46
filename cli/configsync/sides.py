"""The two sides of every plan, read for one environment.

The desired side is a revision's record files (with the environment's overlay
merged in); the actual side is the database's rows. Both become the same
``State``; everything that compares them is pure and lives elsewhere.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from . import naming, progress, readback
from .backends import Backend, ReadSpec, TableInfo, open_backend, redact
from .backends.sql import quote
from .cache import ValidationCache
from .config import ALL_ROWS_VISIBLE, Config
from .errors import BackendError, ConfigError
from .layout import TableLayout
from .records import Source, State, TableRecords, git_blob_id, render, render_files, state_of_rows
from .repo import Repo
from .values import Row


class Sides:
    """A config repository's files and one database, for one environment."""

    def __init__(self, config: Config, repo: Repo, cache: ValidationCache,
                 database_url: str | Callable[[], str], env: str | None = None) -> None:
        self.config = config
        self.repo = repo
        self.cache = cache
        # The environment whose overlay (config-snapshots/_environments/<env>/)
        # is merged over the base files; None: the base alone.
        self.env = env
        # Resolved on first use: commands that need no database (validate,
        # diff, history) never fail on an unset ${VAR} in its URL.
        self._database_url = database_url
        self._backend: Backend | None = None

    @property
    def database_url(self) -> str:
        if callable(self._database_url):
            self._database_url = self._database_url()
        return self._database_url

    @property
    def display_url(self) -> str:
        return redact(self.database_url)

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = open_backend(self.database_url, self.config.root)
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    # ---- tables ----------------------------------------------------------------

    def describe(self, tables: Sequence[str]) -> dict[str, TableInfo]:
        """The tables' structure, checked against configsync.yaml. Every command
        that reads rows starts here, so a table the connected role may see only
        part of (row level security) is refused before anything is read."""
        infos = self.backend.describe(list(tables))
        for table in tables:
            self._check_table_against_db(table, infos[table])
        refusal = row_security_refusal(
            {t: infos[t] for t in tables}, lambda t: self.config.table(t).rls_all_rows_visible)
        if refusal:
            raise BackendError(refusal)
        return infos

    def _check_table_against_db(self, table: str, info: TableInfo) -> None:
        settings = self.config.table(table)
        key = self.key_columns(table, info)
        where = f"configsync.yaml: tables.{table}"
        for column in key:
            if info.column(column) is None:
                raise ConfigError(f"{where}.key: table {table} has no column {column!r} ({', '.join(info.column_names)})")
        for setting, columns in (("exclude", settings.exclude), ("secret", settings.secret)):
            for column in sorted(columns):
                if info.column(column) is None and not (setting == "exclude" and "." in column):
                    raise ConfigError(f"{where}.{setting}: table {table} has no column {column!r}")
        for column in settings.json_excludes():
            found = info.column(column)
            if found is None:
                raise ConfigError(f"{where}.exclude: table {table} has no column {column!r}")
            if found.kind != "json":
                raise ConfigError(f"{where}.exclude: a path into {column!r} needs a json or jsonb column, "
                                  f"and {column} is {found.db_type}")
        fields = naming.template_fields(settings.template(key))
        if set(fields) != set(key):
            raise ConfigError(
                f"{where}.filename: the template must use exactly the key columns ({', '.join(key)})"
            )

    def key_columns(self, table: str, info: TableInfo) -> tuple[str, ...]:
        settings = self.config.table(table)
        if settings.key:
            return settings.key
        if not info.primary_key:
            raise ConfigError(
                f"configsync.yaml: tables.{table}: the table has no primary key; set `key:` to the "
                "column(s) that identify a row"
            )
        return info.primary_key

    def layout(self, table: str, info: TableInfo) -> TableLayout:
        return TableLayout(self.config, table, self.key_columns(table, info))

    def read_specs(self, tables: Sequence[str], infos: Mapping[str, TableInfo]) -> list[ReadSpec]:
        specs = []
        for table in tables:
            info = infos[table]
            key = self.key_columns(table, info)
            # Generated and GENERATED ALWAYS identity columns belong to the
            # database: never read into files, never written.
            hidden = self.config.table(table).hidden() | {c.name for c in info.database_owned(key)}
            columns = tuple(c for c in info.column_names if c not in hidden)
            specs.append(ReadSpec(info, columns, key))
        return specs

    # ---- the database's side ---------------------------------------------------------

    def actual_state(self, tables: Sequence[str], infos: Mapping[str, TableInfo]) -> State:
        specs = self.read_specs(tables, infos)
        return self.state_of(specs, self.backend.read(specs))

    def state_of(self, specs: Sequence[ReadSpec], rows: Mapping[str, list[Row] | None]) -> State:
        """The records of every table that was read (a table not read: absent)."""
        return {s.table.name: state_of_rows(self.config, s.table.name, self._managed(s.table.name, table_rows), s.key)
                for s in specs if (table_rows := rows.get(s.table.name)) is not None}

    def _managed(self, table: str, rows: list[Row]) -> list[Row]:
        """Rows without the json paths ``exclude`` names: not in files, not compared."""
        excluded = self.config.table(table).json_excludes()
        return [readback.strip(row, excluded) for row in rows] if excluded else rows

    def render_files(self, table: str, info: TableInfo, records: TableRecords) -> dict[str, bytes]:
        """The record files of these rows; NamingError for a key that cannot be a file name."""
        return render_files(self.config, self.layout(table, info), (r.values for r in records.values()),
                            info.column_names)

    def render_record(self, table: str, info: TableInfo, row: Row) -> bytes:
        return render(self.config, table, row, info.column_names)

    # ---- the files' side -------------------------------------------------------------

    def desired_state(
        self, source: Source, tables: Sequence[str], infos: Mapping[str, TableInfo],
        known: Mapping[str, Row] | None = None,
    ) -> State:
        if not tables and not source.snapshots:  # every table skipped: no JSON Schema to load
            return {}
        from .validation import check_columns, load_state  # a tenth of a second: only where files are read
        keys = {t: self.key_columns(t, infos[t]) for t in tables}
        owned = {t: {c.name: c.ownership() for c in infos[t].database_owned(keys[t])} for t in tables}
        loaded = load_state(self.config, source, keys, tables, self.env, self.cache, known, owned, infos=infos)
        self.cache.save()
        check_columns(loaded, infos)
        return loaded.state

    def renderings(self, tables: Sequence[str], infos: Mapping[str, TableInfo], actual: State) -> dict[str, Row]:
        """Git blob id of each row's record file -> the row. A file in the tree
        with that id says exactly that row, so it is neither read nor parsed:
        the way an unchanged record costs a render and a hash."""
        known: dict[str, Row] = {}
        with progress.task("comparing rows", sum(len(actual[t]) for t in tables)) as bar:
            for table in tables:
                columns = infos[table].column_names
                for record in actual[table].values():
                    if not record.file.endswith("/?"):  # a key that cannot be a file name
                        known[git_blob_id(render(self.config, table, record.values, columns))] = record.values
                    bar.advance()
        return known


def row_security_refusal(infos: Mapping[str, TableInfo], stated: Callable[[str], bool]) -> str | None:
    """Why reading these tables could see only part of them (row level
    security that applies to the connected role), or None. A partial read
    must never become a deletion; ``stated(table)``: the user says (`rls:
    all-rows-visible`) that the policies show the role every row."""
    lines = []
    fixes = []
    refused = []
    over_rest = False
    for table, info in infos.items():
        security = info.row_security
        if security is None or not security.may_hide_rows or stated(table):
            continue
        refused.append(table)
        if security.enabled is None:
            over_rest = True
            role = f"the key's role {security.role} is not" if security.role else "the key is not known to be"
            lines.append(f"{table}: the REST API does not say whether row level security is enabled, and "
                         f"{role} service_role")
        else:
            lines.append(f"{table}: row level security is enabled and applies to role {security.role} (not the "
                         "owner, no BYPASSRLS), and no permissive SELECT policy USING (true) shows it every row")
            role = '"' + security.role.replace('"', '""') + '"'
            fixes.append(f"CREATE POLICY configsync_read ON {quote(table)} AS PERMISSIVE FOR SELECT "
                         f"TO {role} USING (true);")
    if not lines:
        return None
    how = ["connect as a role that sees every row (the table's owner, or one with BYPASSRLS"
           + (": over REST, the service-role key)" if over_rest else ")")]
    if fixes:
        how.append("give this role a policy that shows it every row:\n      " + "\n      ".join(fixes))
    stated_as = ", ".join(f"tables.{table}.rls: {ALL_ROWS_VISIBLE}" for table in refused)
    how.append(f"if the policies do show this role every row, say so in configsync.yaml: {stated_as}")
    return ("row level security may hide rows from the connected role; configsync refuses to read part "
            "of a table, because the rows it cannot see would look deleted:\n  " + "\n  ".join(lines)
            + "\nNothing was read or written. To fix it:\n  - " + "\n  - ".join(how))


__all__ = ["Sides", "row_security_refusal"]
