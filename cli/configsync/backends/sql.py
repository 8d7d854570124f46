"""What SQLite and PostgreSQL share: SQL text, the apply transaction, history.

Dialects supply the connection, how a column is selected and bound, and how
the write lock is taken.
"""
from __future__ import annotations

import abc
import contextlib
import datetime as dt
import gc
from collections.abc import Iterator
from typing import Any

from .. import readback
from ..errors import BackendError, ConfigsyncError, OutcomeUnknownError
from ..values import Row, Value
from .base import (
    HISTORY_COLUMNS,
    ApplyOutcome,
    Backend,
    Column,
    HistoryEntry,
    Operation,
    ReadSpec,
    TableInfo,
    Verify,
    WriteBatch,
)
from .messages import safe_error

#: Rows re-read by key per statement after an apply's writes.
READ_BACK_CHUNK = 200


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a read builds its rows.

    Every row is new dicts and lists that live on, and no cycle among them:
    the collector, run every few hundred of them, would walk the whole heap
    (the files' state too) again and again for nothing, which was two fifths
    of a large read. Collection resumes as before afterwards (or stays off if
    it was off); the objects are freed by reference counting all the same."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def quote(name: str) -> str:
    """Quote a possibly schema-qualified identifier."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


class SqlBackend(Backend):
    """A DB-API backend; subclasses fill in the dialect."""

    param = "?"
    #: The driver's base exception: these become BackendError with a clean message.
    driver_errors: tuple[type[Exception], ...] = ()
    _conn: Any = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ---- dialect -----------------------------------------------------------

    @abc.abstractmethod
    def _connection(self) -> Any:
        """An open DB-API connection (created lazily, reused)."""

    @abc.abstractmethod
    def _begin_read(self, cur: Any) -> None:
        """Start a read-only transaction that sees one consistent state."""

    @abc.abstractmethod
    def _begin_write(self, cur: Any, batch: WriteBatch) -> None:
        """Start the transaction and take the apply lock and table locks."""

    @abc.abstractmethod
    def _select_expr(self, column: Column) -> str: ...

    @abc.abstractmethod
    def _from_db(self, column: Column, value: Any) -> Value: ...

    @abc.abstractmethod
    def _to_db(self, column: Column, value: Value) -> Any: ...

    @abc.abstractmethod
    def _history_ddl(self, table: str) -> str: ...

    @abc.abstractmethod
    def _table_exists(self, cur: Any, table: str) -> bool: ...

    @abc.abstractmethod
    def _describe_error(self, exc: Exception) -> str:
        """One line for a driver error, without secrets."""

    def _bind(self, column: Column) -> str:
        return self.param

    # ---- reading -------------------------------------------------------------

    def read(self, specs: list[ReadSpec]) -> dict[str, list[Row]]:
        conn = self._connection()
        try:
            cur = conn.cursor()
            self._begin_read(cur)
            try:
                return {spec.table.name: self._read_rows(cur, spec) for spec in specs}
            finally:
                cur.execute("ROLLBACK")
        except self.driver_errors as exc:
            raise BackendError(f"reading from {self.display_url} failed: {self._describe_error(exc)}") from None

    def _read_rows(self, cur: Any, spec: ReadSpec, where: str = "", params: list[Any] | None = None) -> list[Row]:
        columns = [self._column(spec.table, name) for name in spec.columns]
        select = ", ".join(self._select_expr(c) for c in columns) or "1"
        order = ", ".join(quote(k) for k in spec.key)
        cur.execute(f"SELECT {select} FROM {quote(spec.table.name)}{where} ORDER BY {order}", params or [])
        with collector_paused():
            return self._rows_from_db(columns, cur.fetchall())

    def _rows_from_db(self, columns: list[Column], raw_rows: list[Any]) -> list[Row]:
        """The rows of a read, converted by `_from_db` (a dialect may do the same faster)."""
        return [{c.name: self._from_db(c, v) for c, v in zip(columns, raw, strict=True)} for raw in raw_rows]

    def _read_back(self, cur: Any, batch: WriteBatch) -> None:
        """Re-read the rows just written, by key, the way plan reads them; a
        value the database changed raises NotConvergedError (readback.py)."""
        rows: dict[str, list[Row]] = {}
        proven: set[int] = set()  # ids of the operations whose rows read back as text as predicted
        for spec, keys in readback.specs(batch):
            if len(keys) > READ_BACK_CHUNK and self._most_rows(cur, spec.table, len(keys)):
                # A restore: one ordered read of the table beats hundreds of
                # lookups by key (the rows not written are not looked at).
                # First the rows whose text is the one predicted (a dialect
                # may): the others are then read and compared as values.
                written = [op for op in batch.operations if op.table.name == spec.table.name
                           and op.action != "delete" and op.expected is not None]
                same = self._same_as_text(cur, spec, written, bool(batch.json_excludes.get(spec.table.name)))
                proven.update(id(written[i]) for i in same)
                keys = [op.key for i, op in enumerate(written) if i not in same]
                if len(keys) > 4 * READ_BACK_CHUNK:  # many left: still one read of the table
                    rows[spec.table.name] = self._read_rows(cur, spec)
                    continue
            key_columns = [self._column(spec.table, k) for k in spec.key]
            match = "(" + " AND ".join(f"{quote(c.name)} = {self._bind(c)}" for c in key_columns) + ")"
            found = rows.setdefault(spec.table.name, [])
            for start in range(0, len(keys), READ_BACK_CHUNK):
                chunk = keys[start:start + READ_BACK_CHUNK]
                params = [self._to_db(c, key.get(c.name)) for key in chunk for c in key_columns]
                found += self._read_rows(cur, spec, " WHERE " + " OR ".join([match] * len(chunk)), params)
        readback.check(batch, rows, [op for op in batch.operations if id(op) not in proven] if proven else None)

    def _same_as_text(self, cur: Any, spec: ReadSpec, written: list[Operation], excludes: bool) -> set[int]:
        """The indexes of ``written`` whose rows the database holds exactly as
        meant, proven by their text alone (``excludes``: the table's json
        columns have paths that are not managed). None here: every row is
        compared as values."""
        return set()

    def _most_rows(self, cur: Any, table: TableInfo, count: int) -> bool:
        """Are ``count`` rows at least half of the table's?"""
        cur.execute(f"SELECT count(*) FROM {quote(table.name)}")
        row = cur.fetchone()
        return row is not None and count * 2 >= int(row[0])

    def _unchanged_by_digest(self, cur: Any, batch: WriteBatch) -> set[str]:
        """Tables whose digest is still the plan's (their rows need no re-reading).
        Raises StalePlanError if a table the plan did not read has changed."""
        if batch.digests:  # only a backend with capabilities.server_digests gives any
            raise BackendError(f"{self.display_url}: this database cannot check table digests")
        return set()

    @staticmethod
    def _column(table: TableInfo, name: str) -> Column:
        column = table.column(name)
        if column is None:
            raise BackendError(f"table {table.name} has no column {name!r}")
        return column

    # ---- writing -------------------------------------------------------------

    def apply(self, batch: WriteBatch, verify: Verify) -> ApplyOutcome:
        conn = self._connection()
        cur = conn.cursor()
        current: Operation | None = None
        try:
            self._begin_write(cur, batch)
            try:
                unchanged = self._unchanged_by_digest(cur, batch)
                verify({spec.table.name: self._read_rows(cur, spec) for spec in batch.reads
                        if spec.table.name not in unchanged})
                for group in _groups(batch.operations):
                    current = group[0]
                    self._execute_group(cur, group)
                    self._advance_sequences(cur, group)
                current = None
                self._read_back(cur, batch)
                self._record(cur, batch.history_table, batch.history)
                self._announce(cur, batch)
            except BaseException:
                # Quietly: when the connection is gone the server has rolled
                # back already, and the error worth reporting is the first one.
                self._rollback_quietly(conn)
                raise
            try:
                cur.execute("COMMIT")
            except self.driver_errors as exc:
                # An error the server sent means it rolled back. A connection
                # lost on the way (psycopg: no SQLSTATE) may have committed.
                if not self._connection_lost(exc):
                    raise
                raise OutcomeUnknownError(
                    f"apply failed: the connection was lost while committing ({self._describe_error(exc)}), "
                    "so the changes may or may not have been committed; run `configsync plan` to see"
                ) from None
        except ConfigsyncError:
            raise
        except self.driver_errors as exc:
            self._rollback_quietly(conn)
            where = f" at {current.table.name} {current.file}" if current else ""
            raise BackendError(
                f"apply failed{where}: {self._describe_error(exc)}; nothing was changed"
            ) from None
        return ApplyOutcome()

    def _announce(self, cur: Any, batch: WriteBatch) -> None:
        """Tell listeners inside the transaction, so they hear of committed applies only."""

    def _connection_lost(self, exc: BaseException) -> bool:
        """Did ``exc`` come from a lost connection rather than from the server?"""
        return False

    def _rollback_quietly(self, conn: Any) -> None:
        try:
            conn.rollback()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            return

    def _execute_group(self, cur: Any, group: list[Operation]) -> None:
        """Like operations as one batch (``_write_batch``). If the batch fails,
        it is undone to a savepoint and run row by row, so the error names the
        record that caused it, with the same message whatever the batch was."""
        if len(group) == 1:
            self._execute(cur, group[0])
            return
        cur.execute("SAVEPOINT configsync_batch")
        retry: tuple[type[BaseException], ...] = (*self.driver_errors, ValueError, OverflowError)
        try:
            self._write_batch(cur, group)
        except retry as exc:
            try:
                cur.execute("ROLLBACK TO SAVEPOINT configsync_batch")
            except self.driver_errors:
                raise exc from None  # the connection is gone: report what broke it, not the rollback
            for op in group:
                self._execute(cur, op)
        cur.execute("RELEASE SAVEPOINT configsync_batch")

    def _write_batch(self, cur: Any, group: list[Operation]) -> None:
        """Like operations in one round trip (executemany: a pipeline on PostgreSQL)."""
        cur.executemany(self._statement(group[0]), (self._params(op) for op in group))
        if cur.rowcount not in (-1, len(group)):
            raise ValueError("row count mismatch")

    def _execute(self, cur: Any, op: Operation) -> None:
        try:
            cur.execute(self._statement(op), self._params(op))
        except (ValueError, OverflowError) as exc:
            # A value the driver or database cannot take: still a user error,
            # reported with its record file (and, like every database message,
            # without the value: messages.py).
            raise BackendError(
                f"apply failed at {op.table.name} {op.file}: {safe_error(str(exc) or type(exc).__name__)}; "
                "nothing was changed"
            ) from None
        except self.driver_errors as exc:
            raise BackendError(
                f"apply failed at {op.table.name} {op.file}: {self._describe_error(exc)}; nothing was changed"
            ) from None
        if cur.rowcount != 1:
            raise BackendError(
                f"{op.action} of {op.table.name} {op.file} touched {cur.rowcount} rows instead of 1 "
                "(is the key unique?); nothing was changed"
            )

    def _statement(self, op: Operation) -> str:
        table = op.table
        where = " AND ".join(f"{quote(c.name)} = {self._bind(c)}" for c in (self._column(table, n) for n in op.key))
        columns = [self._column(table, n) for n in op.values]
        if op.action == "delete":
            return f"DELETE FROM {quote(table.name)} WHERE {where}"
        if op.action == "update":
            sets = ", ".join(f"{quote(c.name)} = {self._bind(c)}" for c in columns)
            return f"UPDATE {quote(table.name)} SET {sets} WHERE {where}"
        names = ", ".join(quote(c.name) for c in columns)
        binds = ", ".join(self._bind(c) for c in columns)
        # Only a key column can be an identity GENERATED ALWAYS here (any other
        # is never written): restoring it needs PostgreSQL's override.
        overriding = " OVERRIDING SYSTEM VALUE" if any(c.identity == "always" for c in columns) else ""
        return f"INSERT INTO {quote(table.name)} ({names}){overriding} VALUES ({binds})"

    def _advance_sequences(self, cur: Any, operations: list[Operation]) -> None:
        """After a group of inserts that wrote explicit values into a serial or identity
        column (a restore), move its sequence past the largest value, in the same
        transaction and before any later insert that leaves the column to the
        database (applier.operations puts those last), so neither collides.
        PostgreSQL only: SQLite's rowid needs nothing (no column has a sequence).
        ``greatest`` with nextval never moves a sequence backwards (it may skip one value)."""
        first = operations[0]  # a group: one table, one set of columns
        if first.action != "insert":
            return
        columns = [c for c in first.table.columns if c.sequence and c.name in first.values]
        p = self.param
        for column in columns:
            if any(op.values.get(column.name) is not None for op in operations):
                cur.execute(f"SELECT setval({p}::regclass, greatest((SELECT max({quote(column.name)}) "
                            f"FROM {quote(first.table.name)}), nextval({p}::regclass)))",
                            [column.sequence, column.sequence])

    def _params(self, op: Operation) -> list[Any]:
        table = op.table
        key = [self._to_db(self._column(table, n), op.key[n]) for n in op.key]
        values = [self._to_db(self._column(table, n), v) for n, v in op.values.items()]
        if op.action == "delete":
            return key
        return values + key if op.action == "update" else values

    # ---- history -------------------------------------------------------------

    def _record(self, cur: Any, table: str, entry: HistoryEntry) -> None:
        # Only when missing: PostgreSQL wants CREATE on the schema even for
        # CREATE TABLE IF NOT EXISTS of a table that exists, and the writer
        # role (roles.py) has none; its SQL creates the table.
        if not self._table_exists(cur, table):
            cur.execute(self._history_ddl(table))
        p = self.param
        cur.execute(
            f"INSERT INTO {quote(table)} (applied_at, revision, ref, actor, creates, updates, deletes, "
            f"checksum, tool_version) VALUES ({', '.join([p] * 9)})",
            [
                entry.applied_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                entry.revision, entry.ref, entry.actor, entry.creates, entry.updates,
                entry.deletes, entry.checksum, entry.tool_version,
            ],
        )

    def history(self, table: str, limit: int = 20) -> list[HistoryEntry]:
        conn = self._connection()
        try:
            cur = conn.cursor()
            self._begin_read(cur)
            try:
                if not self._table_exists(cur, table):
                    return []
                cur.execute(
                    f"SELECT {', '.join(HISTORY_COLUMNS)} FROM {quote(table)} ORDER BY id DESC LIMIT {int(limit)}"
                )
                return [HistoryEntry.from_row(dict(zip(HISTORY_COLUMNS, row, strict=True))) for row in cur.fetchall()]
            finally:
                cur.execute("ROLLBACK")
        except self.driver_errors as exc:
            raise BackendError(f"reading {table} failed: {self._describe_error(exc)}") from None


def _groups(operations: list[Operation]) -> list[list[Operation]]:
    """Runs of operations that share one statement (action, table, columns)."""
    groups: list[list[Operation]] = []
    for op in operations:
        shape = (op.action, op.table.name, tuple(op.key), tuple(op.values))
        last = groups[-1][0] if groups else None
        if last is not None and (last.action, last.table.name, tuple(last.key), tuple(last.values)) == shape:
            groups[-1].append(op)
        else:
            groups.append([op])
    return groups
