"""The interface every backend implements, and the types it speaks.

A backend describes tables, reads rows, and applies a whole ``WriteBatch`` in
one transaction under a lock. The batch is complete before the backend sees it
(ordered operations, the rows to re-read for the stale check, the history
entry), so a backend that can only reach the database through one remote call
(Supabase REST + an RPC) implements the same method without the core changing.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Callable, Literal, Mapping

from ..errors import BackendError
from ..values import Row


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


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()  # unique constraints besides the primary key

    def column(self, name: str) -> Column | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


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


@dataclass
class WriteBatch:
    reads: list[ReadSpec]
    operations: list[Operation]
    history: HistoryEntry
    history_table: str
    lock_timeout: float = 60.0
    extra: dict[str, object] = field(default_factory=dict)
    # (what to digest, the digest the plan saw), where the backend gave one.
    # Under the lock, a table whose digest still matches needs no re-read; one
    # not in ``reads`` whose digest moved raises StalePlanError.
    digests: list[tuple[ReadSpec, str]] = field(default_factory=list)


# Called inside the transaction, after the lock, with the freshly read rows;
# raises StalePlanError to abort before anything is written.
Verify = Callable[[dict[str, list[Row]]], None]


class Backend(abc.ABC):
    """One database connection target."""

    #: The URL with any password replaced by ***; safe to print.
    display_url: str

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
        rows where the database can compute one; a table whose digest is in
        ``skip`` is not read (None). Returns (rows, digests)."""
        rows: dict[str, list[Row] | None] = dict(self.read(specs))
        return rows, {}

    @abc.abstractmethod
    def apply(self, batch: WriteBatch, verify: Verify) -> None:
        """Lock, re-read and verify, write every operation in order, record history;
        all in one transaction. Nothing is written if anything fails."""

    def list_tables(self) -> list[str]:
        """Names of the user tables, for `configsync init`."""
        raise BackendError(f"{self.display_url}: cannot list tables here; name them with --tables")

    @abc.abstractmethod
    def history(self, table: str, limit: int = 20) -> list[HistoryEntry]:
        """Most recent applies first; empty if the history table does not exist yet."""

    def close(self) -> None:
        """Release connections."""
