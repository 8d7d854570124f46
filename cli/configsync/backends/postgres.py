"""PostgreSQL through psycopg 3; also a Supabase database (direct or pooler URL)."""
from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import abc
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import Loader
from psycopg.pq import Format
from psycopg.types.json import Jsonb, set_json_loads

from .. import values
from ..errors import BackendError, StalePlanError
from ..urls import hide_secrets, secrets_of
from ..values import Row, Value
from . import pgtext
from .base import Capabilities, Column, ForeignKey, Operation, ReadSpec, RowSecurity, TableInfo, WriteBatch
from .messages import safe_error
from .pgcommon import LOCK_ID, catalog_column, choices_from_checks, ownership, text_cast
from .sql import SqlBackend, quote

# A column's type with domains resolved to the type they are over (a domain over
# a domain too), and the type modifier that applies (the column's, else the
# nearest domain's): a domain over integer reads and infers as an integer.
_BASE_TYPE = """
with recursive chain(oid, typmod, depth) as (
    select a.atttypid, a.atttypmod, 0
    union all
    select d.typbasetype, case when c.typmod >= 0 then c.typmod else d.typtypmod end, c.depth + 1
    from chain c join pg_type d on d.oid = c.oid
    where d.typtype = 'd'
)
select oid, typmod from chain order by depth desc limit 1
"""

_DESCRIBE = """
select a.attname, format_type(a.atttypid, a.atttypmod), t.typname, coalesce(e.typname, ''),
       a.attnotnull, a.atthasdef, base.typmod,
       array(select l.enumlabel from pg_enum l where l.enumtypid = coalesce(e.oid, t.oid)
             order by l.enumsortorder),
       col_description(a.attrelid, a.attnum), a.attndims
from pg_attribute a
cross join lateral (""" + _BASE_TYPE + """) base
join pg_type t on t.oid = base.oid
left join pg_type e on e.oid = t.typelem and t.typcategory = 'A'
where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
order by a.attnum
"""

# Who owns each column: generated ('s' stored, 'v' virtual), identity ('a'
# always, 'd' by default), and the sequence behind a serial or identity column.
_OWNERSHIP = """
select a.attname, a.attgenerated::text, a.attidentity::text,
       pg_get_serial_sequence(a.attrelid::regclass::text, a.attname)
from pg_attribute a
where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
"""

_PRIMARY_KEY = """
select a.attname
from pg_index i
join lateral unnest(i.indkey) with ordinality as k(attnum, n) on true
join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
where i.indrelid = %s::regclass and i.indisprimary
order by k.n
"""

_UNIQUE = """
select array(select a.attname from unnest(i.indkey) with ordinality k(n, o)
             join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.n order by k.o)
from pg_index i
where i.indrelid = %s::regclass and i.indisunique and not i.indisprimary
  and i.indpred is null and i.indexprs is null
order by i.indexrelid
"""

_CHECKS = """
select pg_get_constraintdef(c.oid)
from pg_constraint c
where c.conrelid = %s::regclass and c.contype = 'c'
"""

_LIST_TABLES = """
select case when n.nspname = 'public' then c.relname else n.nspname || '.' || c.relname end
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and not c.relispartition
  and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
  and n.nspname = any(current_schemas(false))
order by 1
"""

_FOREIGN_KEYS = """
select c.conname, c.confrelid::regclass::text,
       array(select a.attname from unnest(c.conkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i),
       array(select a.attname from unnest(c.confkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i)
from pg_constraint c
where c.conrelid = %s::regclass and c.contype = 'f'
order by c.conname
"""

# Row level security as it concerns the connected role. row_security_active()
# is PostgreSQL's own answer (RLS enabled and the role neither a superuser,
# nor BYPASSRLS, nor the owner of a table without FORCE ROW LEVEL SECURITY).
# A policy applies to the role when it names PUBLIC (0) or a role whose
# privileges it has; USING (true) on SELECT (or ALL) shows it every row,
# unless a restrictive policy narrows that.
_ROW_SECURITY = """
with applying as (
  select p.polpermissive, p.polcmd, coalesce(pg_get_expr(p.polqual, p.polrelid), '') as qual
  from pg_policy p
  where p.polrelid = %(table)s::regclass and p.polcmd in ('r', '*')
    and (0 = any(p.polroles)
         or exists(select 1 from unnest(p.polroles) r where pg_has_role(current_user, r, 'USAGE')))
)
select current_user::text, c.relrowsecurity, row_security_active(c.oid),
       exists(select 1 from applying where polpermissive and qual = 'true')
       and not exists(select 1 from applying where not polpermissive and qual <> 'true')
from pg_class c
where c.oid = %(table)s::regclass
"""


# Whether COPY into a table gives what a statement per row would (_copyable).
# pg_trigger.tgtype: bit 0 set for a row trigger, bit 2 for an insert trigger.
_COPYABLE = """
select c.relkind in ('r', 'p') and not row_security_active(c.oid)
       and not exists(select 1 from pg_rewrite r where r.ev_class = c.oid and r.ev_type = '3')
       and not exists(select 1 from pg_trigger t where t.tgrelid = c.oid and not t.tgisinternal
                      and t.tgtype & 1 = 0 and t.tgtype & 4 <> 0)
from pg_class c
where c.oid = %s::regclass
"""


def _with_ownership(cur: Any, regclass: str, columns: list[Column]) -> list[Column]:
    """The columns with who owns them: generated, identity, their sequence."""
    cur.execute(_OWNERSHIP, [regclass])
    owned = {name: ownership(generated, identity, sequence) for name, generated, identity, sequence in cur.fetchall()}
    return [replace(c, **owned[c.name]) if c.name in owned else c for c in columns]


class _SecondaryErrors(logging.Filter):
    """psycopg logs a WARNING when leaving a pipeline (``executemany``) fails
    after a statement in it already failed: "error ignored terminating
    <psycopg.Pipeline ...>". The first error is the one raised, and configsync
    reports it with the record's file; the echo of it would reach stderr
    through logging's last-resort handler, so it is dropped here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error ignored terminating")


logging.getLogger("psycopg").addFilter(_SecondaryErrors())


def _json_loads(text: str | bytes) -> Any:
    # Only called for a value that is not SQL NULL: JSON null becomes {"$json": null}.
    return values.json_cell(values.loads(text, specials=False))


_INFINITIES = (b"infinity", b"-infinity")


def _infinity_aware(loader: type[abc.Loader]) -> type[Loader]:
    """The driver's loader of a date/time type, but ``infinity`` and ``-infinity``
    load as those strings (Python's datetime has no infinity; the driver refuses)."""

    class Infinite(Loader):
        def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
            super().__init__(oid, context)
            self._inner = loader(oid, context)

        def load(self, data: Buffer) -> Any:
            if len(data) in (8, 9) and bytes(data) in _INFINITIES:
                return bytes(data).decode()
            return self._inner.load(data)

    return Infinite


def _register_loaders(conn: psycopg.Connection[Any]) -> None:
    set_json_loads(_json_loads, conn)
    for name in ("timestamptz", "timestamp", "date"):
        oid = conn.adapters.types[name].oid
        loader = conn.adapters.get_loader(oid, Format.TEXT)
        if loader is not None:
            conn.adapters.register_loader(oid, _infinity_aware(loader))


def notification(batch: WriteBatch) -> str:
    """What an apply tells listeners: the revision, the tables it wrote and its counts."""
    tables = sorted({op.table.name for op in batch.operations})
    entry = batch.history
    return json.dumps({"revision": entry.revision, "tables": tables,
                       "created": entry.creates, "updated": entry.updates, "deleted": entry.deletes})


def history_table_ddl(table: str) -> str:
    """CREATE TABLE IF NOT EXISTS for the history table; ``table`` already quoted.
    Also in the roles SQL (roles.py), which creates it for the writer role."""
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "id bigserial PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), "
        "revision text NOT NULL, ref text, actor text, creates integer, updates integer, "
        "deletes integer, checksum text, tool_version text)"
    )


class PostgresBackend(SqlBackend):
    capabilities = Capabilities(server_digests=True, list_tables=True)
    param = "%s"
    driver_errors = (psycopg.Error,)

    def __init__(self, url: str, display_url: str, connect_timeout: int = 10) -> None:
        self.url = url
        self.display_url = display_url
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection[Any] | None = None
        # (table, columns) -> id of each operation COPY wrote as predicted text -> it, and that line
        self._copied: dict[tuple[str, tuple[str, ...]], dict[int, tuple[Operation, str]]] = {}

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            try:
                # prepare_threshold=None: Supabase's transaction pooler cannot
                # keep prepared statements between transactions.
                conn = psycopg.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=self.connect_timeout,
                    prepare_threshold=None,
                    application_name="configsync",
                )
            except psycopg.Error as exc:
                raise BackendError(f"cannot connect to {self.display_url}: {self._describe_error(exc)}") from None
            _register_loaders(conn)
            self._conn = conn
        return self._conn

    def _connection_lost(self, exc: BaseException) -> bool:
        # An error the server sent carries a SQLSTATE; a lost connection none.
        return isinstance(exc, psycopg.Error) and exc.sqlstate is None

    def _announce(self, cur: Any, batch: WriteBatch) -> None:
        if batch.notify_channel:
            cur.execute("SELECT pg_notify(%s, %s)", [batch.notify_channel, notification(batch)])

    def _describe_error(self, exc: Exception) -> str:
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            return "another apply is running and did not finish within the lock timeout"
        # The server's words (a connection failure has only libpq's), through
        # the one sanitizer: no row value, no constraint's key values.
        diag = exc.diag if isinstance(exc, psycopg.Error) else None
        message = (diag.message_primary if diag else None) or str(exc) or type(exc).__name__
        # libpq may echo the connection string; never let a password through
        # (secrets_of and hide_secrets never raise, whatever the URL).
        return hide_secrets(safe_error(message, diag.message_detail if diag else None,
                                       secrets=secrets_of(self.url)), self.url)

    def describe(self, tables: list[str]) -> dict[str, TableInfo]:
        conn = self._connection()
        result = {}
        try:
            with conn.transaction():
                cur = conn.cursor()
                for name in tables:
                    cur.execute("select to_regclass(%s)", [quote(name)])
                    row = cur.fetchone()
                    if row is None or row[0] is None:
                        raise BackendError(f"table {name} does not exist in {self.display_url}")
                    regclass = quote(name)
                    cur.execute(_DESCRIBE, [regclass])
                    described = cur.fetchall()
                    cur.execute(_CHECKS, [regclass])
                    checks = choices_from_checks(r[0] for r in cur.fetchall())
                    columns = [
                        catalog_column(col, db_type, typname, elem, notnull, hasdef, typmod, labels, comment, dims, checks)
                        for col, db_type, typname, elem, notnull, hasdef, typmod, labels, comment, dims in described
                    ]
                    columns = _with_ownership(cur, regclass, columns)
                    cur.execute(_PRIMARY_KEY, [regclass])
                    pk = tuple(r[0] for r in cur.fetchall())
                    cur.execute(_FOREIGN_KEYS, [regclass])
                    fks = tuple(
                        ForeignKey(tuple(f), ref.replace('"', ""), tuple(t))
                        for _, ref, f, t in cur.fetchall()
                    )
                    cur.execute(_UNIQUE, [regclass])
                    unique = tuple(tuple(r[0]) for r in cur.fetchall())
                    result[name] = TableInfo(name, tuple(columns), pk, fks, unique, self._row_security(cur, regclass))
        except psycopg.Error as exc:
            raise BackendError(
                f"reading the structure of {self.display_url} failed: {self._describe_error(exc)}"
            ) from None
        return result

    @staticmethod
    def _row_security(cur: Any, regclass: str) -> RowSecurity:
        cur.execute(_ROW_SECURITY, {"table": regclass})
        role, enabled, active, all_rows = cur.fetchone()
        return RowSecurity(role, bool(enabled), bool(active), bool(all_rows))

    def list_tables(self) -> list[str]:
        try:
            rows = self._connection().execute(_LIST_TABLES).fetchall()
        except psycopg.Error as exc:
            raise BackendError(f"listing tables in {self.display_url} failed: {self._describe_error(exc)}") from None
        return [r[0] for r in rows]

    def _begin_read(self, cur: Any) -> None:
        # One snapshot for all tables: a snapshot never sees half of an apply.
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self._utc(cur)

    @staticmethod
    def _utc(cur: Any) -> None:
        # Timestamps without an offset mean UTC, in files and in the database
        # alike. SET LOCAL, not a session setting: a transaction pooler may
        # hand the next transaction another server connection.
        cur.execute("SET LOCAL TIME ZONE 'UTC'")

    def read_unless(
        self, specs: list[ReadSpec], skip: Mapping[str, set[str]]
    ) -> tuple[dict[str, list[Row] | None], dict[str, str]]:
        rows: dict[str, list[Row] | None] = {}
        digests: dict[str, str] = {}
        conn = self._connection()
        try:
            cur = conn.cursor()
            self._begin_read(cur)
            try:
                digests = self._digests(cur, specs)
                for spec in specs:
                    name = spec.table.name
                    rows[name] = None if digests[name] in skip.get(name, ()) else self._read_rows(cur, spec)
            finally:
                cur.execute("ROLLBACK")
        except psycopg.Error as exc:
            raise BackendError(f"reading from {self.display_url} failed: {self._describe_error(exc)}") from None
        return rows, digests

    @staticmethod
    def _digest_settings(cur: Any, reset: bool = False) -> None:
        # Text output that depends on nothing but the values, while digesting.
        settings = {"DateStyle": "'ISO, YMD'", "IntervalStyle": "'postgres'", "extra_float_digits": "3",
                    "bytea_output": "'hex'"}
        cur.execute("; ".join(f"SET LOCAL {name} = {'DEFAULT' if reset else value}" for name, value in settings.items()))

    def _unchanged_by_digest(self, cur: Any, batch: WriteBatch) -> set[str]:
        if not batch.digests:
            return set()
        now = self._digests(cur, [spec for spec, _ in batch.digests])
        changed = {spec.table.name for spec, seen in batch.digests if now[spec.table.name] != seen}
        read = {spec.table.name for spec in batch.reads}
        unread = sorted(changed - read)  # no rows to compare: the digest is all there is
        if unread:
            raise StalePlanError(
                f"the database changed since this plan was made: {', '.join(unread)} "
                "(rows added, removed or edited)\nNothing was applied. Make a new plan and review it."
            )
        return {spec.table.name for spec, _ in batch.digests} - changed

    def _digests(self, cur: Any, specs: Sequence[ReadSpec]) -> dict[str, str]:
        """Per table, the row count and an md5 over every row's text in key
        order: a seventh of the time of reading the rows, and it changes
        whenever a value does. One statement for all tables; rows read
        afterwards see the session's usual output settings again."""
        if not specs:
            return {}
        parts = []
        for spec in specs:
            row = ", ".join(quote(c) for c in spec.columns) or "1"
            order = ", ".join(quote(k) for k in spec.key)
            parts.append(f"(SELECT count(*) || ':' || coalesce(md5(string_agg(md5(ROW({row})::text), '' "
                         f"ORDER BY {order})), '') FROM {quote(spec.table.name)})")
        self._digest_settings(cur)
        cur.execute("SELECT " + ", ".join(parts))
        found = cur.fetchone()
        self._digest_settings(cur, reset=True)
        return {spec.table.name: str(value) for spec, value in zip(specs, found, strict=True)}

    def _begin_write(self, cur: Any, batch: WriteBatch) -> None:
        self._copied = {}  # of this transaction only
        cur.execute("BEGIN")
        self._utc(cur)
        cur.execute(f"SET LOCAL lock_timeout = '{int(batch.lock_timeout * 1000)}ms'")
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
        tables = sorted({spec.table.name for spec in batch.reads} | {spec.table.name for spec, _ in batch.digests})
        if tables:
            # EXCLUSIVE blocks other writers (dashboard edits) between our
            # stale check and commit, but lets readers through.
            cur.execute(f"LOCK TABLE {', '.join(quote(t) for t in tables)} IN EXCLUSIVE MODE")

    def _write_batch(self, cur: Any, group: list[Operation]) -> None:
        """Many inserts into one table go in one COPY (a restore into an empty
        database: thirty times faster than a statement per row). COPY differs
        from INSERT only where _copyable says; if it fails, _execute_group's
        savepoint undoes it and the rows go in one by one, so an error names its
        record with the same message as without COPY."""
        first = group[0]
        if first.action != "insert" or not self._copyable(cur, first.table):
            super()._write_batch(cur, group)
            return
        columns = [self._column(first.table, n) for n in first.values]
        names = ", ".join(quote(c.name) for c in columns)
        # A row whose every value has its text predicted (pgtext.py) goes as
        # that text, which the read-back then compares with what PostgreSQL
        # sends back; the others through the driver's dumpers, in order (a
        # serial column left to the database numbers them in this order).
        lines = pgtext.lines(columns, [op.values for op in group])
        encoding = cur.connection.info.encoding
        with cur.copy(f"COPY {quote(first.table.name)} ({names}) FROM STDIN") as copy:
            block: list[str] = []
            for op, line in zip(group, lines, strict=True):
                if line is not None:
                    block.append(line)
                    continue
                if block:
                    copy.write(("\n".join(block) + "\n").encode(encoding))
                    block = []
                copy.write_row(self._params(op))
            if block:
                copy.write(("\n".join(block) + "\n").encode(encoding))
        if cur.rowcount != len(group):
            raise ValueError("row count mismatch")
        copied = self._copied.setdefault((first.table.name, tuple(first.values)), {})
        copied.update((id(op), (op, line)) for op, line in zip(group, lines, strict=True) if line is not None)

    def _copyable(self, cur: Any, table: TableInfo) -> bool:
        """May rows go into ``table`` by COPY with the result INSERT would give?
        Not into a view or foreign table, nor past rules (COPY ignores them), row
        level security that applies (COPY refuses it) or statement-level insert
        triggers (COPY fires them once, not once per row)."""
        cur.execute(_COPYABLE, [quote(table.name)])
        row = cur.fetchone()
        return row is not None and bool(row[0])

    def _same_as_text(self, cur: Any, spec: ReadSpec, written: list[Operation], excludes: bool) -> set[int]:
        """The rows of ``written`` whose COPY text, as PostgreSQL sends it back,
        is the line predicted from what the file says (pgtext.py): those hold
        exactly that, and are not loaded and compared value by value. Rows
        COPY wrote as predicted text are compared with that text (its columns:
        what they wrote is what they expect); the others with their expected
        values' text."""
        if excludes or not written:
            return set()
        same: set[int] = set()
        for (table, names), copied in self._copied.items():
            if table != spec.table.name:
                continue
            lines: dict[str, int] = {}
            for i, op in enumerate(written):
                entry = copied.get(id(op))
                expected = op.expected or {}
                # An insert expects what it wrote (the very values), but
                # secret and excluded columns are written and never read back.
                if (entry is not None and entry[0] is op and expected.keys() == op.values.keys()
                        and all(expected[name] is value for name, value in op.values.items())):
                    lines[entry[1]] = i
            same |= self._lines_found(cur, spec.table, [self._column(spec.table, n) for n in names], lines)
        rest = [i for i in range(len(written)) if i not in same]
        if rest:
            columns = [self._column(spec.table, name) for name in spec.columns]
            wanted = set(spec.columns)
            cells = [written[i].expected or {} for i in rest]
            lines = {line: rest[j] for j, line in enumerate(pgtext.lines(columns, cells))
                     if line is not None and cells[j].keys() == wanted}
            same |= self._lines_found(cur, spec.table, columns, lines)
        return same

    def _lines_found(self, cur: Any, table: TableInfo, columns: list[Column], lines: dict[str, int]) -> set[int]:
        """The values of ``lines`` (COPY text of ``columns`` -> a row's index)
        whose line is one the table holds."""
        if not lines:
            return set()
        select = ", ".join(self._select_expr(c) for c in columns)
        with cur.copy(f"COPY (SELECT {select} FROM {quote(table.name)}) TO STDOUT") as copy:
            data = b"".join(copy)
        try:
            text = data.decode(cur.connection.info.encoding)
        except (LookupError, UnicodeDecodeError):
            return set()
        found = set()
        for line in text.split("\n"):
            i = lines.pop(line, None)
            if i is not None:
                found.add(i)
        return found

    def _select_expr(self, column: Column) -> str:
        if column.kind == "other" and column.type_name == "inet":
            return f"abbrev({quote(column.name)})"  # as PostgreSQL prints it: 10.0.0.1, not 10.0.0.1/32
        cast = text_cast(column)
        return f"{quote(column.name)}::{cast}" if cast else quote(column.name)

    def _bind(self, column: Column) -> str:
        return f"%s::{column.db_type}"

    def _from_db(self, column: Column, value: Any) -> Value:
        return values.from_db(value)

    def _rows_from_db(self, columns: list[Column], raw_rows: list[Any]) -> list[Row]:
        # The same values as _from_db per cell (tests/test_db_values.py); json
        # cells come from _json_loads, already in the value model.
        return values.rows_from_db([c.name for c in columns], [c.kind for c in columns], raw_rows, json_parsed=True)

    def _to_db(self, column: Column, value: Value) -> Any:
        if value is None:
            return None
        if column.kind == "json":
            return Jsonb(values.json_document(value), dumps=values.dumps)
        if column.kind == "array" and isinstance(value, list) and column.element_kind in ("integer", "float", "numeric"):
            # One Python type per array (the driver refuses [0, Decimal('1.5')]).
            element = Column(column.name, column.element_kind, column.db_type.removesuffix("[]"))
            return [self._to_db(element, v) for v in value]
        if column.kind == "numeric" and isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value)
        if column.kind == "integer" and isinstance(value, Decimal):
            return int(value)
        if column.kind == "float" and isinstance(value, (Decimal, int)) and not isinstance(value, bool):
            # As a double: numeric has no -0 (PostgreSQL would store 0). A decimal
            # rounds to the same double here as in PostgreSQL's cast.
            try:
                double = float(value)
            except OverflowError:  # an int beyond any double
                double = float("inf")
            if (isinstance(value, int) or value.is_finite()) and (math.isinf(double) or (double == 0 and value != 0)):
                raise ValueError(f"column {column.name}: {value} is out of range for type {column.db_type}")
            return double
        return value

    def _history_ddl(self, table: str) -> str:
        return history_table_ddl(quote(table))

    def _table_exists(self, cur: Any, table: str) -> bool:
        cur.execute("select to_regclass(%s)", [quote(table)])
        row = cur.fetchone()
        return row is not None and row[0] is not None
