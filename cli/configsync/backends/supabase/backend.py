"""RestBackend: a Supabase project over https with the service-role key.

The provider half of the octoDNS split: it decides what to ask and in which
order; ``client`` talks HTTP, ``introspection`` describes, ``paging`` reads,
``rpc`` and ``stepwise`` apply.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ... import values
from ...errors import BackendError
from ...values import Row
from ..base import (
    HISTORY_COLUMNS,
    ApplyOutcome,
    Backend,
    Capabilities,
    HistoryEntry,
    ReadSpec,
    RowSecurity,
    TableInfo,
    Verify,
    WriteBatch,
)
from .client import RestClient, json_object
from .codec import split
from .describe import OPENAPI_NOTE, Installed, apply_refusal, describe_tables
from .introspection import Catalog
from .paging import PAGE_SIZE, read_table
from .rpc import FUNCTION, apply_in_one_call, missing_function_message
from .settings import KEY_HINT, key_role
from .stepwise import apply_step_by_step


class RestBackend(Backend):
    """A Supabase project over https, with the service-role key."""

    # No digests: PostgREST computes none, so every table is read. Apply is one
    # transaction only through configsync_apply; without it, --non-atomic.
    capabilities = Capabilities(atomic_apply=False, list_tables=True)

    def __init__(
        self,
        url: str,
        key: str,
        display_url: str,
        *,
        timeout: float = 30.0,
        page_size: int = PAGE_SIZE,
        retries: int = 3,
        backoff: float = 0.5,
        gateway_key: str | None = None,
    ) -> None:
        self.url = url
        self.display_url = display_url
        self.page_size = page_size
        self.client = RestClient(url, key, display_url, timeout=timeout, retries=retries, backoff=backoff,
                                 gateway_key=gateway_key)
        self.catalog = Catalog(self.client)
        self._role = key_role(key)
        # What configsync_describe said is installed; False: the function is
        # not there (the OpenAPI description is used); None: not asked yet.
        self._installed: Installed | bool | None = None
        # Tables already described in this command: plan's check of the
        # installed function and the plan itself need one request, not two.
        self._described: dict[str, TableInfo] = {}

    def close(self) -> None:
        self.client.close()

    def _require_service_key(self, table: str) -> None:
        """The anon (or a user's) key sees only what row-level security allows:
        a snapshot through it could miss rows. Refuse it before anything runs."""
        if self._role in ("anon", "authenticated"):
            raise BackendError(
                f"permission denied for table {table}: this is the {self._role} key; {KEY_HINT}"
            )

    # ---- structure -------------------------------------------------------------

    def describe(self, tables: list[str]) -> dict[str, TableInfo]:
        for table in tables:
            self._require_service_key(table)
        if all(table in self._described for table in tables):
            return {table: self._described[table] for table in tables}
        described = describe_tables(self.client, tables) if self._installed is not False else None
        if described is None:
            # An older migration, or none: what the OpenAPI description shows.
            self._installed = False
            return {table: replace(self.catalog.describe(table), row_security=self._row_security())
                    for table in tables}
        self._installed, infos = described
        for table in tables:
            if table not in infos:
                raise BackendError(f"table {table} does not exist in {self.display_url}, or the key cannot see it "
                                   f"({KEY_HINT}; a schema other than public must be exposed in Project Settings > API)")
        self._described.update((table, infos[table]) for table in tables)
        return {table: infos[table] for table in tables}

    def describe_notes(self) -> list[str]:
        return [OPENAPI_NOTE] if self._installed is False else []

    def apply_refusal(self, tables: Sequence[str], history_table: str) -> str | None:
        # Described first: a table that does not exist is named as such.
        self.describe(list(tables))
        if not isinstance(self._installed, Installed):
            return None  # no configsync_describe: apply finds out (an older migration)
        return apply_refusal(self._installed, self.display_url, tables, history_table)

    def _row_security(self) -> RowSecurity | None:
        """The REST API does not say whether a table has row level security:
        only the service role (BYPASSRLS on Supabase) is known to see every
        row. Any other role may be shown part of a table."""
        if self._role == "service_role":
            return None
        return RowSecurity(self._role or "", enabled=None, applies=None)

    def list_tables(self) -> list[str]:
        return self.catalog.tables()

    def has_apply_function(self) -> bool:
        """Is configsync_apply installed (and callable with this key)?"""
        return self.catalog.has_function(FUNCTION)

    # ---- reading -----------------------------------------------------------------

    def read(self, specs: list[ReadSpec]) -> dict[str, list[Row]]:
        result = {}
        for spec in specs:
            self._require_service_key(spec.table.name)
            result[spec.table.name] = self._read_table(spec)
        return result

    def _read_table(self, spec: ReadSpec) -> list[Row]:
        return read_table(self.client, spec, self.page_size)

    # ---- applying ----------------------------------------------------------------

    def apply(self, batch: WriteBatch, verify: Verify) -> ApplyOutcome:
        for spec in batch.reads:
            self._require_service_key(spec.table.name)
        installed = self.has_apply_function()
        if not installed and not batch.non_atomic:
            raise BackendError(missing_function_message(self._role))
        # The rows as they are now; a plan made against other rows stops here.
        current = {spec.table.name: self._read_table(spec) for spec in batch.reads}
        verify(current)
        if installed:
            return apply_in_one_call(
                self.client, batch, current, verify, read=self._read_table, recorded=self._recorded,
                missing_function=missing_function_message(self._role),
            )
        return apply_step_by_step(self.client, batch, self._read_table)

    def _recorded(self, batch: WriteBatch) -> bool:
        """Does the history show this batch applied? (Asked when the answer to
        the apply was lost: the transaction committed or it did not.)
        BackendError when the history cannot be read: the caller says so."""
        entries = self.history(batch.history_table, limit=20)
        return any(e.checksum == batch.history.checksum and e.revision == batch.history.revision for e in entries)

    # ---- history -------------------------------------------------------------------

    def history(self, table: str, limit: int = 20) -> list[HistoryEntry]:
        self._require_service_key(table)
        schema, name = split(table)
        response = self.client.request(
            "GET", name, schema=schema, retry=True, headers={"Prefer": "timezone=UTC"},
            params=[("select", ",".join(HISTORY_COLUMNS)), ("order", "id.desc"), ("limit", str(int(limit)))],
        )
        if response.status_code == 404 or json_object(response).get("code") in ("42P01", "PGRST205"):
            return []
        if not response.is_success:
            self.client.fail(response, f"reading {table}", table)
        rows = values.loads(response.content)
        if not isinstance(rows, list):
            raise BackendError(f"reading {table} failed: unexpected answer")
        return [HistoryEntry.from_row(r) for r in rows if isinstance(r, dict)]
