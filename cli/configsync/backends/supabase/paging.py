"""Reading a whole table over the REST API, in ordered, keyed pages.

Every response is capped (``db-max-rows``, 1000 on Supabase), so rows come
in pages of ``key > last key``. The row count (``Prefer: count=exact``) is
checked against the rows read, and a table that changed meanwhile is read
again.
"""
from __future__ import annotations

from collections.abc import Sequence

from ... import values
from ...errors import BackendError
from ...values import Row
from ..base import Column, ReadSpec
from .client import RestClient, content_range_total
from .codec import filter_text, from_rest, ident, quoted, select_expr, split

PAGE_SIZE = 1000  # Supabase's default db-max-rows; a lower cap only means more pages
COUNT_ATTEMPTS = 3  # reads of a table whose row count keeps changing


def read_table(client: RestClient, spec: ReadSpec, page_size: int = PAGE_SIZE) -> list[Row]:
    """The rows of one table in key order, values as the PostgreSQL backend reads them."""
    table = spec.table
    columns: dict[str, Column] = {}
    for name in [*spec.columns, *spec.key]:
        column = table.column(name)
        if column is None:
            raise BackendError(f"table {table.name} has no column {name!r}")
        columns[name] = column
    counted = read = 0
    for _ in range(COUNT_ATTEMPTS):
        raw, counted = _read_pages(client, table.name, list(columns.values()), spec.key, page_size)
        read = len(raw)
        if read == counted:
            try:
                return [{name: from_rest(columns[name], row[name]) for name in spec.columns} for row in raw]
            except KeyError as exc:
                raise BackendError(f"reading {table.name} failed: the answer has no column {exc}") from None
    raise BackendError(
        f"reading {table.name} from {client.display_url} failed: the table changed while it was being read "
        f"({counted} rows counted, {read} read), {COUNT_ATTEMPTS} times; try again when nothing is writing to it"
    )


def _read_pages(
    client: RestClient, table: str, columns: list[Column], key: Sequence[str], page_size: int
) -> tuple[list[Row], int]:
    """All rows in key order, page by page; and the row count the server reported."""
    schema, name = split(table)
    select = ",".join(select_expr(c) for c in columns)
    order = ",".join(f"{ident(k)}.asc" for k in key)
    where = f"reading {table} from {client.display_url}"
    rows: list[Row] = []
    total: int | None = None
    last: Row | None = None
    while True:
        params = [("select", select), ("order", order), ("limit", str(page_size))]
        if last is not None:
            params.append(_after(table, key, last))
        prefer = "timezone=UTC" if total is not None else "timezone=UTC, count=exact"
        response = client.request("GET", name, schema=schema, params=params, headers={"Prefer": prefer},
                                  retry=True)
        if not response.is_success:
            client.fail(response, where, table)
        try:
            page = values.loads(response.content)
        except ValueError:
            raise BackendError(f"{where} failed: the answer is not JSON") from None
        if not isinstance(page, list) or not all(isinstance(r, dict) for r in page):
            raise BackendError(f"{where} failed: unexpected answer")
        if total is None:
            total = content_range_total(response)
            if total is None:
                raise BackendError(f"{where} failed: the server did not report the row count (Prefer: count=exact)")
        got: list[Row] = [r for r in page if isinstance(r, dict)]
        if got and last is not None and [got[-1].get(k) for k in key] == [last.get(k) for k in key]:
            raise BackendError(f"{where} failed: the pages do not advance")
        rows.extend(got)
        # A short page is the last one only if the count is reached: the
        # server may cap pages below the size asked for (db-max-rows).
        if not got or (len(got) < page_size and len(rows) >= total):
            return rows, total
        if len(rows) > 2 * total + page_size:
            return rows, total  # growing while read: the count check reads it again
        last = got[-1]


def _after(table: str, key: Sequence[str], last: Row) -> tuple[str, str]:
    """The filter for the rows after ``last`` in key order."""
    texts = [filter_text(table, k, last.get(k)) for k in key]
    if len(key) == 1:
        return ident(key[0]), f"gt.{texts[0]}"
    terms = []
    for i, column in enumerate(key):
        parts = [f"{ident(key[j])}.eq.{quoted(texts[j])}" for j in range(i)]
        parts.append(f"{ident(column)}.gt.{quoted(texts[i])}")
        terms.append(parts[0] if len(parts) == 1 else f"and({','.join(parts)})")
    return "or", f"({','.join(terms)})"
