"""SQLite, the embedded default: stdlib sqlite3, declared types honoured.

SQLite stores few types, so the declared column type decides what a value
means: BOOLEAN reads as true/false, JSON as structured data, a type ending in
``[]`` as a list (stored as JSON text), NUMERIC/REAL as exact decimals. One
table then looks the same in YAML here as on PostgreSQL.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from .. import values
from ..config import DEFAULT_DATABASE
from ..errors import BackendError
from ..values import Value
from .base import Capabilities, Column, ForeignKey, TableInfo, WriteBatch
from .messages import safe_error
from .sql import SqlBackend, quote

INT64 = range(-(2**63), 2**63)
_LENGTH = re.compile(r"\(\s*(\d+)\s*\)")
_CHECK_IN = re.compile(r"""CHECK\s*\(\s*["`\[]?([A-Za-z_][A-Za-z0-9_]*)["`\]]?\s+IN\s*\(([^)]*)\)\s*\)""", re.IGNORECASE)
_LITERAL = re.compile(r"'((?:[^']|'')*)'")


def choices_from_sql(sql: str) -> dict[str, tuple[str, ...]]:
    """Column -> allowed values, from `CHECK (col IN ('a', 'b'))` in a CREATE TABLE."""
    return {
        m.group(1): tuple(v.replace("''", "'") for v in _LITERAL.findall(m.group(2)))
        for m in _CHECK_IN.finditer(sql)
    }


def _check_storable(column: str, value: int | Decimal) -> None:
    if isinstance(value, Decimal) and not value.is_finite():
        if value.is_nan():  # validation refuses it first, naming the file and line
            raise ValueError(f"column {column}: SQLite cannot store NaN (it would store NULL instead)")
        return  # ±Infinity is a double
    if (not isinstance(value, Decimal) or value == value.to_integral_value()) and int(value) in INT64:
        return
    if _exact_double(value):
        return
    raise ValueError(
        f"column {column}: SQLite cannot store {value} exactly (it keeps 64-bit integers and about 16 "
        "significant digits); use PostgreSQL for this value"
    )


def _exact_double(value: int | Decimal) -> bool:
    """Does a double hold ``value`` exactly (1e20 does, as SQLite read it)?"""
    try:
        return Decimal(repr(float(value))) == value
    except OverflowError:
        return False


def kind_of(declared: str) -> str:
    upper = declared.upper().strip()
    if upper.endswith("[]"):
        return "array"
    for needle, kind in (
        ("BOOL", "boolean"), ("JSON", "json"), ("UUID", "uuid"), ("INT", "integer"),
        ("TIMESTAMP", "timestamp"), ("DATETIME", "timestamp"), ("DATE", "date"), ("TIME", "time"),
        ("CHAR", "text"), ("CLOB", "text"), ("TEXT", "text"),
        ("REAL", "float"), ("FLOA", "float"), ("DOUB", "float"),
        ("NUMERIC", "numeric"), ("DECIMAL", "numeric"),
    ):
        if needle in upper:
            return kind
    return "other"


_WITHOUT_ROWID = re.compile(r"\)\s*WITHOUT\s+ROWID\s*(,|;|$)", re.IGNORECASE)


def _with_ownership(columns: list[Column], pk: list[tuple[int, str]], described: list[Any], sql: str) -> list[Column]:
    """Generated columns (table_xinfo's hidden 2 or 3), and the rowid alias: a lone
    INTEGER PRIMARY KEY of a rowid table, which SQLite assigns when an insert leaves it out."""
    generated = {c[1] for c in described if c[6] in (2, 3)}
    rowid = None
    if len(pk) == 1 and not _WITHOUT_ROWID.search(sql.strip()):
        declared = next((c[2] for c in described if c[1] == pk[0][1]), "")
        if (declared or "").strip().upper() == "INTEGER":
            rowid = pk[0][1]
    return [replace(c, generated=True) if c.name in generated
            else replace(c, identity="by default") if c.name == rowid else c for c in columns]


class SqliteBackend(SqlBackend):
    capabilities = Capabilities(list_tables=True, embedded=True)
    param = "?"
    driver_errors = (sqlite3.Error,)

    def __init__(self, path: Path, display_url: str) -> None:
        self.path = path
        self.display_url = display_url
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            if not self.path.is_file():
                if self.display_url == DEFAULT_DATABASE:
                    raise BackendError(
                        f"{DEFAULT_DATABASE}: no such database file. It is the embedded default, used when "
                        "no --database URL, --env NAME, $CONFIGSYNC_DATABASE_URL or `database:` in "
                        "configsync.yaml names another database: give one of those"
                    )
                raise BackendError(
                    f"{self.display_url}: no such database file ({self.path}); check the URL, "
                    "or create the tables there first"
                )
            try:
                # isolation_level=None: we issue BEGIN/COMMIT ourselves.
                self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=60.0)
                self._conn.execute("PRAGMA foreign_keys = ON")
            except (OSError, sqlite3.Error) as exc:
                raise BackendError(f"cannot open {self.display_url}: {exc}") from None
        return self._conn

    def _describe_error(self, exc: Exception) -> str:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return "the database is locked: another apply is running (try again when it has finished)"
        return safe_error(str(exc) or type(exc).__name__)

    def describe(self, tables: list[str]) -> dict[str, TableInfo]:
        conn = self._connection()
        result = {}
        try:
            for name in tables:
                # table_xinfo, not table_info: it also lists generated columns
                # (hidden 2: VIRTUAL, 3: STORED; 1 is a virtual table's hidden column).
                cols = [c for c in conn.execute(f"PRAGMA table_xinfo({quote(name)})").fetchall() if c[6] != 1]
                if not cols:
                    raise BackendError(f"table {name} does not exist in {self.display_url}")
                row = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name]).fetchone()
                checks = choices_from_sql(row[0] if row and row[0] else "")
                columns = []
                pk: list[tuple[int, str]] = []
                for _cid, col, declared, notnull, default, pk_index, _hidden in cols:
                    declared = declared or ""
                    kind = kind_of(declared)
                    base = declared.rstrip().upper()
                    dimensions = 0
                    while base.endswith("[]"):  # INTEGER[][]: a list of lists
                        base, dimensions = base[:-2].rstrip(), dimensions + 1
                    element = kind_of(base) if kind == "array" else None
                    length = _LENGTH.search(declared) if kind == "text" else None
                    columns.append(Column(
                        col, kind, declared, not notnull and not pk_index, default is not None, element,
                        # Every SQLite integer (INT, SMALLINT, ...) holds 64 bits: inferred as int8.
                        "int8" if kind == "integer" else declared.split("(")[0].strip().upper(),
                        int(length.group(1)) if length else None,
                        choices=checks.get(col), dimensions=dimensions or None, stores_nan=False,
                    ))
                    if pk_index:
                        pk.append((pk_index, col))
                fks: dict[int, list[Any]] = {}
                for fk_id, _seq, ref_table, from_col, to_col, *_ in conn.execute(
                    f"PRAGMA foreign_key_list({quote(name)})"
                ):
                    fks.setdefault(fk_id, [ref_table, [], []])
                    fks[fk_id][1].append(from_col)
                    fks[fk_id][2].append(to_col)
                unique = []
                for _seq, index, is_unique, origin, *_ in conn.execute(f"PRAGMA index_list({quote(name)})"):
                    if is_unique and origin == "u":
                        info = conn.execute(f"PRAGMA index_info({quote(index)})").fetchall()
                        unique.append(tuple(r[2] for r in sorted(info)))
                columns = _with_ownership(columns, pk, cols, row[0] if row and row[0] else "")
                result[name] = TableInfo(
                    name=name,
                    columns=tuple(columns),
                    primary_key=tuple(c for _, c in sorted(pk)),
                    foreign_keys=tuple(ForeignKey(tuple(f), ref, tuple(t)) for ref, f, t in fks.values()),
                    unique=tuple(unique),
                )
        except sqlite3.Error as exc:
            raise BackendError(f"reading the structure of {self.display_url} failed: {exc}") from None
        return result

    def list_tables(self) -> list[str]:
        rows = self._connection().execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        return [r[0] for r in rows]

    def _begin_read(self, cur: Any) -> None:
        cur.execute("BEGIN")

    def _begin_write(self, cur: Any, batch: WriteBatch) -> None:
        # IMMEDIATE takes the database write lock now: concurrent applies wait
        # here (busy timeout) and readers still see the last committed state.
        cur.connection.execute(f"PRAGMA busy_timeout = {int(batch.lock_timeout * 1000)}")
        cur.execute("BEGIN IMMEDIATE")

    def _select_expr(self, column: Column) -> str:
        return quote(column.name)

    def _from_db(self, column: Column, value: Any) -> Value:
        if value is None:
            return None
        kind = column.kind
        if kind == "boolean" and isinstance(value, int):
            return bool(value)
        if kind == "json" and isinstance(value, (str, bytes)):
            try:
                return values.json_cell(values.loads(value, specials=False))
            except ValueError:
                return str(value)
        if kind == "array" and isinstance(value, (str, bytes)):
            try:
                return values.loads(value)
            except ValueError:
                return str(value)
        if kind in ("numeric", "float") and isinstance(value, str):
            try:
                return Decimal(value)
            except ArithmeticError:
                return value
        return values.from_db(value)

    def _to_db(self, column: Column, value: Value) -> Any:
        if value is None:
            return None
        kind = column.kind
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            # SQLite turns number-like text into a 64-bit integer or a double
            # (JSON columns too: their declared type has NUMERIC affinity);
            # refuse what it would silently round rather than store it wrong.
            _check_storable(column.name, value)
        if kind == "json":
            return values.dumps(values.json_document(value))
        if kind == "array" or isinstance(value, (list, dict)):
            return values.dumps(value)
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int) and value not in INT64:
            return float(value)  # exactly a double (checked above)
        if isinstance(value, Decimal):
            if value.is_finite() and value == value.to_integral_value() and kind != "float" and int(value) in INT64:
                return int(value)
            return float(value)
        return value

    def _history_ddl(self, table: str) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {quote(table)} ("
            "id INTEGER PRIMARY KEY AUTOINCREMENT, applied_at TIMESTAMP NOT NULL, "
            "revision TEXT NOT NULL, ref TEXT, actor TEXT, creates INTEGER, updates INTEGER, "
            "deletes INTEGER, checksum TEXT, tool_version TEXT)"
        )

    def _table_exists(self, cur: Any, table: str) -> bool:
        cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table])
        return cur.fetchone() is not None
