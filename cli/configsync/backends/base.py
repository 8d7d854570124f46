"""The interface every backend implements, and the types it speaks.

A backend describes tables, reads rows, and applies a whole ``WriteBatch`` in
one transaction under a lock. The batch is complete before the backend sees it
(ordered operations, the rows to re-read for the stale check, the history
entry), so a backend that can only reach the database through one remote call
(Supabase REST + an RPC) implements the same method without the core changing.
What a backend can do beyond that is declared in its ``capabilities``.
"""
from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar, Literal

from ..errors import BackendError
from ..values import Row, Value


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # one of values.KINDS
    db_type: str  # the type as the database spells it, used for casts
    nullable: bool = True
    has_default: bool = False
    element_kind: str | None = None  # for arrays
    # What schema inference needs beyond reading and writing:
    type_name: str = ""  # the base type's name (int2, varchar, my_enum, INTEGER)
    max_length: int | None = None  # varchar(n) / char(n)
    precision: int | None = None  # numeric(p, s)
    scale: int | None = None
    choices: tuple[str, ...] | None = None  # enum labels or CHECK (col IN (...))
    comment: str | None = None
    dimensions: int | None = None  # an array's declared dimensions (PostgreSQL attndims), where known
    stores_nan: bool = True  # False where NaN cannot be stored (SQLite keeps NULL instead)
    # Who owns the column (README "Column ownership"):
    generated: bool = False  # GENERATED ALWAYS AS (...): the database computes it
    # "always" | "by default" for GENERATED ... AS IDENTITY (SQLite's INTEGER
    # PRIMARY KEY, the rowid, counts as "by default"); None otherwise.
    identity: str | None = None
    sequence: str | None = None  # the sequence behind a serial or identity column (PostgreSQL)

    @property
    def database_owned(self) -> bool:
        """Never written and never in files: generated, or an identity GENERATED ALWAYS."""
        return self.generated or self.identity == "always"

    @property
    def database_assigned(self) -> bool:
        """The database gives it a value when an insert leaves it out (a default,
        serial, identity, rowid): a record file may leave it out."""
        return self.has_default or self.identity is not None or self.generated

    def ownership(self) -> str:
        """Why the database owns this column (for messages and init's comments)."""
        if self.generated:
            return "a generated column (GENERATED ALWAYS AS ...): the database computes it"
        if self.identity == "always":
            return "an identity column GENERATED ALWAYS: the database assigns it"
        return ""


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class RowSecurity:
    """Whether row level security may hide rows of a table from the connected
    role, as far as the backend can tell (None: it cannot)."""

    role: str  # the connected role, for messages ("": unknown)
    enabled: bool | None  # RLS is enabled on the table
    applies: bool | None  # ... and applies to the role (not the owner without FORCE, no BYPASSRLS)
    # A permissive SELECT policy USING (true) applies to the role, and no
    # restrictive one narrows it: the role sees every row despite RLS.
    all_rows_policy: bool = False

    @property
    def may_hide_rows(self) -> bool:
        return self.applies is not False and not self.all_rows_policy


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()  # unique constraints besides the primary key
    # What row level security means for the connected role; None: no such thing (SQLite).
    row_security: RowSecurity | None = None

    def column(self, name: str) -> Column | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def database_owned(self, key: tuple[str, ...] | list[str] = ()) -> list[Column]:
        """The columns never written nor kept in files (a key column is kept: it names the files)."""
        return [c for c in self.columns if c.database_owned and c.name not in key]


@dataclass(frozen=True)
class ReadSpec:
    """Which columns of a table to read, ordered by the key."""

    table: TableInfo
    columns: tuple[str, ...]
    key: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Operation:
    action: Literal["insert", "update", "delete"]
    table: TableInfo
    key: Row
    values: Row  # columns to write (insert: the whole row; update: changed ones)
    file: str  # the record file, for error messages
    # insert/update: the values apply manages in this row (the file's), which
    # must read back equal after the writes; None: not checked
    expected: Row | None = None


#: The history table's columns, in HistoryEntry's order.
HISTORY_COLUMNS = ("revision", "ref", "actor", "creates", "updates", "deletes", "checksum", "applied_at",
                   "tool_version")


@dataclass(frozen=True)
class HistoryEntry:
    revision: str
    ref: str
    actor: str
    creates: int
    updates: int
    deletes: int
    checksum: str
    applied_at: str = ""
    tool_version: str = ""

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> HistoryEntry:
        """An entry from a row of the history table, whichever backend read it.

        ``applied_at`` comes as a datetime (psycopg), as ISO text with an offset
        (PostgREST, SQLite) or as other text; it is shown in UTC to the second.
        """
        applied = row.get("applied_at")
        if isinstance(applied, str):
            try:
                parsed = dt.datetime.fromisoformat(applied)
            except ValueError:
                pass
            else:
                # Without an offset the text is kept: its zone is unknown.
                applied = parsed if parsed.tzinfo is not None else applied
        if isinstance(applied, dt.datetime):
            applied = applied.astimezone(dt.UTC).isoformat(timespec="seconds")

        def text(name: str) -> str:
            value = row.get(name)
            return "" if value is None else str(value)

        def number(name: str) -> int:
            value = row.get(name)
            return int(value) if isinstance(value, (int, Decimal)) else 0

        return cls(
            revision=text("revision"), ref=text("ref"), actor=text("actor"), creates=number("creates"),
            updates=number("updates"), deletes=number("deletes"), checksum=text("checksum"),
            applied_at="" if applied is None else str(applied), tool_version=text("tool_version"),
        )

    def to_row(self) -> dict[str, Value]:
        """The entry as a row of the history table (``applied_at`` may be empty: "now")."""
        return {name: getattr(self, name) for name in HISTORY_COLUMNS}


@dataclass
class WriteBatch:
    reads: list[ReadSpec]
    operations: list[Operation]
    history: HistoryEntry
    history_table: str
    lock_timeout: float = 60.0
    # (what to digest, the digest the plan saw), where the backend gave one.
    # Under the lock, a table whose digest still matches needs no re-read; one
    # not in ``reads`` whose digest moved raises StalePlanError.
    digests: list[tuple[ReadSpec, str]] = field(default_factory=list)
    # PostgreSQL: pg_notify on this channel inside the apply's transaction.
    notify_channel: str | None = None
    # The user allows a change-by-change apply (--non-atomic) where one
    # transaction is impossible; only a backend without atomic_apply asks.
    non_atomic: bool = False
    # table -> json column -> key paths inside it that ``exclude`` names: not
    # compared when the written rows are read back (see readback.py)
    json_excludes: dict[str, dict[str, tuple[tuple[str, ...], ...]]] = field(default_factory=dict)


@dataclass
class ApplyOutcome:
    """What an apply that succeeded reports besides having succeeded."""

    notes: list[str] = field(default_factory=list)  # what the backend wants the user to know


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, declared per class so that callers ask instead of
    trying (octoDNS's ``SUPPORTS_*``)."""

    #: ``read_unless`` gives a digest of each table's rows (a table found in
    #: sync before is then not read), and ``apply`` checks the batch's digests
    #: under its lock. Without it every table is read every time.
    server_digests: bool = False
    #: Every apply is one transaction. False: only with the database's help
    #: (Supabase REST: the configsync_apply function); without it the user may
    #: allow a change-by-change apply (``WriteBatch.non_atomic``).
    atomic_apply: bool = True
    #: ``list_tables`` names the user tables (`configsync init` without --tables).
    list_tables: bool = False
    #: A local database file: its URL is a path and holds no secret, so
    #: `configsync init` writes it into configsync.yaml.
    embedded: bool = False


# Called inside the transaction, after the lock, with the freshly read rows;
# raises StalePlanError to abort before anything is written.
Verify = Callable[[dict[str, list[Row]]], None]


class Backend(abc.ABC):
    """One database connection target."""

    #: The URL with any password replaced by ***; safe to print.
    display_url: str
    capabilities: ClassVar[Capabilities] = Capabilities()

    @abc.abstractmethod
    def describe(self, tables: list[str]) -> dict[str, TableInfo]:
        """Columns, kinds, primary and foreign keys; BackendError if a table is missing."""

    @abc.abstractmethod
    def read(self, specs: list[ReadSpec]) -> dict[str, list[Row]]:
        """Rows of several tables, read from one consistent snapshot where possible."""

    def read_unless(
        self, specs: list[ReadSpec], skip: Mapping[str, set[str]]
    ) -> tuple[dict[str, list[Row] | None], dict[str, str]]:
        """Like ``read``, from one snapshot, but with a digest of each table's
        rows where the database can compute one (``capabilities.server_digests``);
        a table whose digest is in ``skip`` is not read (None). Returns (rows, digests)."""
        rows: dict[str, list[Row] | None] = dict(self.read(specs))
        return rows, {}

    @abc.abstractmethod
    def apply(self, batch: WriteBatch, verify: Verify) -> ApplyOutcome:
        """Lock, re-read and verify, write every operation in order, record history;
        all in one transaction. Nothing is written if anything fails, except
        where OutcomeUnknownError says the writes may have happened."""

    def describe_notes(self) -> list[str]:
        """What the user should know about how tables were described (a
        description poorer than the database's own, and how to fix it)."""
        return []

    def apply_refusal(self, tables: Sequence[str], history_table: str) -> str | None:
        """Why an apply to these tables would be refused whatever the plan (the
        database is not set up for them), with the fix; None: it would not.
        Asked by `plan`, so that a pull request's plan fails as its apply would."""
        return None

    def list_tables(self) -> list[str]:
        """Names of the user tables, for `configsync init` (``capabilities.list_tables``)."""
        raise BackendError(f"{self.display_url}: cannot list tables here; name them with --tables")

    @abc.abstractmethod
    def history(self, table: str, limit: int = 20) -> list[HistoryEntry]:
        """Most recent applies first; empty if the history table does not exist yet."""

    def close(self) -> None:  # noqa: B027 - optional: a backend without connections keeps it
        """Release connections."""
