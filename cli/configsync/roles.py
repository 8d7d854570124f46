"""Least privilege in PostgreSQL: the SQL for a reader role and a writer role.

The reader is what a pull request's plan connects as: it may read exactly the
columns plan, status and snapshot read (never a ``secret`` or ``exclude``d
column, nor one the database owns), the history table, nothing else. The
writer is what apply connects as: those columns to read, insert and update,
rows to delete, the sequences behind serial columns, and the history table.
Both are NOLOGIN group roles; a login role is given one of them (see
docs/security-roles.md).

Which privileges apply needs, read from backends/sql.py and postgres.py:
SELECT on the columns read (the stale check's digest, the verify read, the
read-back, ``max()`` before ``setval``), INSERT/UPDATE of the columns in
record files, DELETE (reconcile), and ``LOCK TABLE ... IN EXCLUSIVE MODE``,
which PostgreSQL allows only with table-level UPDATE, DELETE or TRUNCATE:
DELETE is the one of those that cannot write a secret column, so the writer
has it on every table. ``pg_advisory_xact_lock`` and ``pg_notify`` need no
privilege. ``setval`` needs UPDATE on a sequence, ``nextval`` USAGE. The
history table is created here, by its owner, so the writer needs no CREATE on
any schema.

Row level security applies to both roles (they neither own the tables nor
bypass RLS), so for every table with RLS enabled (or where it is unknown,
over the REST API) the SQL adds a permissive policy USING (true) for each
role: the RLS check in sides.py recognises it, and a plan sees every row.

Nothing here runs SQL: the text is for a person to review and run as the
tables' owner. Every identifier is quoted.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import __version__
from .backends import TableInfo
from .backends.postgres import history_table_ddl
from .config import Config
from .errors import ConfigError
from .sides import Sides

DEFAULT_READER = "configsync_reader"
DEFAULT_WRITER = "configsync_writer"

# Role names PostgreSQL reserves or treats specially.
_RESERVED = {"public", "none", "current_role", "current_user", "session_user"}
_MAX_NAME = 63  # bytes: PostgreSQL cuts longer identifiers short


def check_role_name(option: str, name: str) -> None:
    """A ConfigError naming ``option`` for a role name PostgreSQL would refuse or silently shorten."""
    if not name or not name.isprintable():
        raise ConfigError(f"{option}: a role name must not be empty nor hold control characters")
    if len(name.encode()) > _MAX_NAME:
        raise ConfigError(f"{option}: {name!r} is longer than PostgreSQL's {_MAX_NAME} bytes")
    if name.lower() in _RESERVED or name.lower().startswith("pg_"):
        raise ConfigError(f"{option}: {name!r} is reserved by PostgreSQL; choose another name")


@dataclass(frozen=True)
class RoleNames:
    reader: str = DEFAULT_READER
    writer: str = DEFAULT_WRITER

    def check(self) -> None:
        """A ConfigError for a name PostgreSQL would refuse or silently shorten."""
        for option, name in (("--reader", self.reader), ("--writer", self.writer)):
            check_role_name(option, name)
        if self.reader == self.writer:
            raise ConfigError("--reader and --writer must be different roles")


@dataclass(frozen=True)
class ManagedTable:
    """What the roles need to know of one managed table."""

    name: str  # as in configsync.yaml, possibly schema-qualified
    readable: tuple[str, ...]  # the columns configsync reads and writes
    key: tuple[str, ...]
    left_out: tuple[str, ...]  # secret, excluded and database-owned columns: no privilege at all
    row_security: bool | None  # RLS enabled; None: unknown (REST)
    sequences: tuple[str, ...] = ()  # serial/identity sequences of readable columns, as PostgreSQL names them


def managed_tables(config: Config, tables: Sequence[str], infos: Mapping[str, TableInfo],
                   keys: Mapping[str, tuple[str, ...]]) -> list[ManagedTable]:
    """The managed tables as the roles see them. A ``secret`` or ``exclude``
    column the table does not have is an error: a misspelt secret would
    otherwise be granted to the reader."""
    found = []
    for table in tables:
        info, settings = infos[table], config.table(table)
        for setting, columns in (("secret", settings.secret), ("exclude", settings.exclude)):
            for column in sorted(columns):
                if "." not in column and info.column(column) is None:
                    raise ConfigError(f"configsync.yaml: tables.{table}.{setting}: table {table} has no column "
                                      f"{column!r}; fix it before granting anything")
        key = keys[table]
        hidden = settings.hidden() | {c.name for c in info.database_owned(key)}
        readable = tuple(c for c in info.column_names if c not in hidden)
        security = info.row_security
        found.append(ManagedTable(
            name=table,
            readable=readable,
            key=key,
            left_out=tuple(c for c in info.column_names if c in hidden),
            row_security=None if security is None else security.enabled,
            sequences=tuple(sorted({c.sequence for c in info.columns if c.sequence and c.name in readable})),
        ))
    return found


def database_roles_sql(sides: Sides, names: RoleNames = RoleNames(), supabase: bool = False) -> str:
    """The roles SQL for every table of configsync.yaml, as the connected
    database has them (columns, row level security, sequences). Reads the
    catalog only: the connected role needs no privilege on the rows."""
    names.check()
    return roles_sql(database_tables(sides), sides.config.history_table, names, supabase)


def database_tables(sides: Sides) -> list[ManagedTable]:
    """Every table of configsync.yaml as the roles see it, from the connected database's catalog."""
    tables = list(sides.config.tables)
    infos = sides.backend.describe(tables)
    keys = {t: sides.key_columns(t, infos[t]) for t in tables}
    return managed_tables(sides.config, tables, infos, keys)


def ident(name: str) -> str:
    """One quoted identifier (a role, a column, a policy, a schema)."""
    return '"' + name.replace('"', '""') + '"'


def qualified(table: str) -> str:
    """A configured table name, schema-qualified and quoted; unqualified means public."""
    schema, _, name = table.rpartition(".")
    return f"{ident(schema or 'public')}.{ident(name)}"


def schema_of(table: str) -> str:
    return table.rpartition(".")[0] or "public"


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _do(body: str, declare: str = "") -> str:
    """A DO block whose dollar quote cannot be closed by anything in the body."""
    tag, n = "$configsync$", 0
    while tag in body or tag in declare:
        n += 1
        tag = f"$configsync{n}$"
    declarations = f"DECLARE\n  {declare}\n" if declare else ""
    return f"DO {tag}\n{declarations}BEGIN\n{body}\nEND\n{tag};"


def _create_role(name: str) -> str:
    # A role of that name that exists already keeps its attributes; one that
    # is a superuser would read every column whatever is granted: refused.
    return _do(f"  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {literal(name)}) THEN\n"
               f"    CREATE ROLE {ident(name)} NOLOGIN;\n"
               f"  ELSIF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = {literal(name)}) THEN\n"
               f"    RAISE EXCEPTION 'role % is a superuser: it can read every column; choose another name', "
               f"{literal(name)};\n  END IF;")


def _comment(text: str) -> str:
    """``text`` safe inside a -- comment: a line break in a table or column name
    would end the comment and make the rest of the name a statement."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _columns(names: Sequence[str]) -> str:
    return ", ".join(ident(c) for c in names)


def policy_name(role: str) -> str:
    """The policy each role gets on a table with row level security."""
    return f"{role}_all_rows"[:_MAX_NAME]


def roles_sql(tables: Sequence[ManagedTable], history_table: str, names: RoleNames = RoleNames(),
              supabase: bool = False) -> str:
    """The SQL that creates (or brings up to date) the reader and writer roles.

    Idempotent: run it again after changing configsync.yaml (a new table, a
    new secret column) or enabling row level security; it revokes what the
    roles had on each table before granting what they need now."""
    names.check()
    reader, writer = ident(names.reader), ident(names.writer)
    history = qualified(history_table)
    schemas = sorted({schema_of(t.name) for t in tables} | {schema_of(history_table)})
    out = [
        f"-- configsync {__version__}: least-privilege roles for the tables in configsync.yaml",
        "-- (docs/security-roles.md).",
        "-- Review it, then run it as the tables' owner (configsync never runs it). It can be run",
        "-- again: after adding a table or a secret column, or enabling row level security.",
        f"--   {reader}: what `configsync plan`, `status` and `snapshot` read; no secret column.",
        f"--   {writer}: what `configsync apply` and `rollback` need; no secret column either.",
        "-- Both are NOLOGIN roles; give one to a login role, e.g. for the pull-request job:",
        f"--   CREATE ROLE configsync_plan LOGIN PASSWORD '<a long random password>' IN ROLE {reader};",
    ]
    if supabase:
        out += [
            "-- Supabase: service_role and postgres bypass row level security and can read every",
            "-- column, so never give them to a pull request: the plan job connects as its own login",
            "-- role (above), over the session pooler as configsync_plan.<project-ref>, or directly.",
        ]
    out += ["", "BEGIN;", "", _create_role(names.reader), _create_role(names.writer), ""]
    out += [f"GRANT USAGE ON SCHEMA {ident(s)} TO {reader}, {writer};" for s in schemas]
    for table in tables:
        target = qualified(table.name)
        updatable = [c for c in table.readable if c not in table.key]
        left_out = f": no privilege on {', '.join(table.left_out)}" if table.left_out else ""
        out += ["", _comment(f"-- {table.name}{left_out}")]
        out += [f"REVOKE ALL ON TABLE {target} FROM {reader}, {writer};", *_reader_select(table, names.reader)]
        if table.readable:
            out.append(f"GRANT SELECT ({_columns(table.readable)}), INSERT ({_columns(table.readable)}) "
                       f"ON TABLE {target} TO {writer};")
        if updatable:
            out.append(f"GRANT UPDATE ({_columns(updatable)}) ON TABLE {target} TO {writer};")
        out.append("-- DELETE is also what lets the writer LOCK TABLE ... IN EXCLUSIVE MODE")
        out.append(f"GRANT DELETE ON TABLE {target} TO {writer};")
        out += [f"GRANT USAGE, UPDATE ON SEQUENCE {sequence} TO {writer};" for sequence in table.sequences]
        if table.row_security is not False:
            out += [f"-- {_why_policy(table)}: each role sees every row", *_policies(target, names)]
    sequence = f"pg_catalog.pg_get_serial_sequence({literal(history)}, 'id')"
    out += [
        "",
        "-- the apply history: created here, so the writer needs no CREATE on a schema",
        history_table_ddl(history) + ";",
    ]
    if supabase:
        out += _supabase_history(history)
    out += [
        f"REVOKE ALL ON TABLE {history} FROM {reader}, {writer};",
        f"GRANT SELECT ON TABLE {history} TO {reader};",
        f"GRANT SELECT, INSERT ON TABLE {history} TO {writer};",
        _do(f"  EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', {sequence}, {literal(names.writer)});"),
        "-- the configsync_apply migration enables row level security on it: the roles see",
        "-- every row and the writer may add one (a policy does nothing where RLS is off)",
        *_policies(history, names),
        "",
        "COMMIT;",
        "",
    ]
    return "\n".join(out)


#: The role PostgREST logs in as and switches from to the JWT's ``role`` (Supabase's name).
AUTHENTICATOR = "authenticator"
#: The read-only function the configsync_apply migration may install beside it.
DESCRIBE_FUNCTION = "configsync_describe"


#: Roles Supabase (and PostgREST) give their own meaning: the reader's SQL would
#: take their grants away, and a key for one of them is not read-only.
SUPABASE_ROLES = frozenset({"anon", "authenticated", "service_role", "authenticator", "postgres", "supabase_admin",
                            "supabase_auth_admin", "supabase_storage_admin", "dashboard_user"})


def check_rest_reader_name(reader: str, authenticator: str = AUTHENTICATOR) -> None:
    """A ConfigError for a reader role name that is not a role of its own."""
    check_role_name("--reader", reader)
    check_role_name("--authenticator", authenticator)
    if reader.lower() in SUPABASE_ROLES or reader == authenticator:
        raise ConfigError(f"--reader: {reader!r} is one of Supabase's own roles; the reader must be a role of its "
                          "own (default configsync_reader)")


def rest_reader_sql(tables: Sequence[ManagedTable], history_table: str, reader: str = DEFAULT_READER,
                    authenticator: str = AUTHENTICATOR) -> str:
    """The SQL for a reader role that a REST API key (a JWT whose ``role`` is
    ``reader``) acts as: the reader of :func:`roles_sql` (the same grants and
    policies, so the two can be run on one database), made a role PostgREST
    may switch to, with EXECUTE on configsync_describe when it is installed,
    ending with the reload of PostgREST's schema cache.

    Idempotent, like roles_sql: run it again after changing configsync.yaml."""
    check_rest_reader_name(reader, authenticator)
    role = ident(reader)
    history = qualified(history_table)
    schemas = sorted({schema_of(t.name) for t in tables} | {schema_of(history_table)})
    describe = _do(
        "  FOR fn IN SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p\n"
        f"           WHERE p.proname = {literal(DESCRIBE_FUNCTION)} "
        "AND p.pronamespace = 'public'::pg_catalog.regnamespace LOOP\n"
        f"    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn, {literal(reader)});\n"
        "  END LOOP;", declare="fn pg_catalog.regprocedure;")
    out = [
        f"-- configsync {__version__}: a read-only role for a Supabase REST API key (docs/supabase.md).",
        "-- Review it, then run it as the tables' owner (the SQL editor runs as postgres); configsync",
        "-- never runs it. Run it again after adding a table, a column or a secret to configsync.yaml.",
        f"--   {role}: SELECT on the columns `configsync plan`, `status` and `snapshot` read of the",
        "--   tables in configsync.yaml (no secret, excluded or generated column) and on the history",
        "--   table; nothing else, no write. A permissive SELECT policy shows it every row where row",
        "--   level security may be enabled (over the REST API configsync cannot see it: say so in",
        "--   configsync.yaml with `rls: all-rows-visible` on each table).",
        "-- Then mint its key from the project's JWT secret (read from stdin, never stored) straight",
        "-- into the pull-request job's secret:",
        "--   configsync supabase reader --url < jwt-secret | gh secret set CONFIGSYNC_READONLY_DATABASE_URL",
        "",
        "BEGIN;",
        "",
        _create_role(reader),
        f"-- PostgREST logs in as {authenticator} and switches to the role a key names: only to its members",
        f"GRANT {role} TO {ident(authenticator)};",
    ]
    out += [f"GRANT USAGE ON SCHEMA {ident(s)} TO {role};" for s in schemas]
    for table in tables:
        target = qualified(table.name)
        left_out = f": no privilege on {', '.join(table.left_out)}" if table.left_out else ""
        out += ["", _comment(f"-- {table.name}{left_out}"), f"REVOKE ALL ON TABLE {target} FROM {role};",
                *_reader_select(table, reader)]
        if table.row_security is not False:
            out += [f"-- {_why_policy(table)}: the role sees every row", *_read_policy(target, reader)]
    out += [
        "",
        "-- the apply history (the configsync_apply migration creates it), for `configsync status`",
        _do(f"  IF pg_catalog.to_regclass({literal(history)}) IS NULL THEN\n"
            f"    RAISE NOTICE 'no table %: run this again after deploying the configsync_apply migration', "
            f"{literal(history_table)};\n"
            "    RETURN;\n"
            "  END IF;\n"
            + "\n".join("  " + line for line in [
                f"REVOKE ALL ON TABLE {history} FROM {role};",
                f"GRANT SELECT ON TABLE {history} TO {role};",
                *_read_policy(history, reader),
            ])),
        "",
        f"-- {DESCRIBE_FUNCTION}(), when the configsync_apply migration installed it: what the REST API",
        "-- does not say about the tables (keys, constraints, defaults); it reads no row",
        describe,
        "",
        "COMMIT;",
        "",
        "-- PostgREST caches roles and privileges: reload it so the new key works at once",
        "NOTIFY pgrst, 'reload schema';",
        "",
    ]
    return "\n".join(out)


def _reader_select(table: ManagedTable, reader: str) -> list[str]:
    """The reader's SELECT on a table: the readable columns only (column-level,
    so ``SELECT *`` and a secret column are refused)."""
    if not table.readable:
        return []
    return [f"GRANT SELECT ({_columns(table.readable)}) ON TABLE {qualified(table.name)} TO {ident(reader)};"]


def _why_policy(table: ManagedTable) -> str:
    if table.row_security:
        return "row level security is enabled"
    return "row level security may be enabled (the REST API does not say); a policy does nothing where it is off"


def _supabase_history(history: str) -> list[str]:
    """As the configsync_apply migration has it: Supabase's default privileges
    would otherwise let the anon key read and write the history over the REST API."""
    sequence = f"pg_catalog.pg_get_serial_sequence({literal(history)}, 'id')"
    return [
        f"ALTER TABLE {history} ENABLE ROW LEVEL SECURITY;",
        f"REVOKE ALL ON TABLE {history} FROM PUBLIC, anon, authenticated;",
        _do(f"  EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM PUBLIC, anon, authenticated', {sequence});"),
    ]


def _read_policy(target: str, reader: str) -> list[str]:
    read = ident(policy_name(reader))
    return [
        f"DROP POLICY IF EXISTS {read} ON {target};",
        f"CREATE POLICY {read} ON {target} AS PERMISSIVE FOR SELECT TO {ident(reader)} USING (true);",
    ]


def _policies(target: str, names: RoleNames) -> list[str]:
    write = ident(policy_name(names.writer))
    return [
        *_read_policy(target, names.reader),
        f"DROP POLICY IF EXISTS {write} ON {target};",
        f"CREATE POLICY {write} ON {target} AS PERMISSIVE FOR ALL TO {ident(names.writer)} "
        "USING (true) WITH CHECK (true);",
    ]


__all__ = ["AUTHENTICATOR", "DEFAULT_READER", "DEFAULT_WRITER", "ManagedTable", "RoleNames", "check_rest_reader_name",
           "check_role_name", "database_roles_sql", "database_tables", "managed_tables", "rest_reader_sql", "roles_sql"]
