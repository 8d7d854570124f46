"""Supabase through its REST API (PostgREST), for a project URL and a service-role key.

* **Client.** supabase-py builds the client: the ``/rest/v1`` URL, the
  ``apikey`` and ``Authorization`` headers, the HTTP session. Requests are
  sent on that session with bodies and answers handled here, because
  supabase-py's query builder decodes JSON numbers as floats and cannot encode
  ``Decimal``: a ``numeric`` must never lose a digit.
* **Introspection** from PostgREST's OpenAPI description (GET on the REST
  root): columns in table order, types, NOT NULL, defaults, primary keys,
  single-column foreign keys, varchar lengths and enum labels.
* **Reads** in ordered, keyed pages (``key > last key``), because every
  response is capped (``db-max-rows``, 1000 on Supabase); the row count
  (``Prefer: count=exact``) is checked against the rows read, and a table that
  changed meanwhile is read again. Values come out exactly as the PostgreSQL
  backend reads them (UTC timestamps, the same text casts), so both write the
  same files. GETs are retried with backoff on network errors and 5xx.
* **Apply** is one call of the SQL function ``configsync_apply(plan jsonb)``
  (``configsync supabase migration`` writes its migration): one transaction
  with the advisory lock, the stale-plan check against the rows the plan was
  checked against, the ordered writes and the history row. Without the
  function, apply refuses unless ``--non-atomic``: then every change is its
  own request, and the result is read back and reported change by change.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from importlib import resources
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from .. import values
from ..errors import BackendError, ConfigError, StalePlanError
from ..values import Row, Value
from .base import (
    Backend,
    Column,
    ForeignKey,
    HistoryEntry,
    Operation,
    ReadSpec,
    TableInfo,
    Verify,
    WriteBatch,
)

KEY_ENV = "SUPABASE_SERVICE_ROLE_KEY"
FUNCTION = "configsync_apply"
PAYLOAD_FORMAT = "configsync-apply/1"
MIGRATION_NAME = "configsync_apply"
PAGE_SIZE = 1000  # Supabase's default db-max-rows; a lower cap only means more pages
COUNT_ATTEMPTS = 3  # reads of a table whose row count keeps changing
RETRY_STATUSES = frozenset({429, 502, 503, 504, 520, 522, 524})

_KEY_HINT = f"use the service-role key (${KEY_ENV}, from Project Settings > API)"
_NO_FUNCTION = (
    "the database has no configsync_apply function, so this apply cannot run as one transaction. "
    "Install it: `configsync supabase migration --write supabase/migrations`, then `supabase db push`. "
    "Or run apply with --non-atomic (each change is a separate request; the result is verified by "
    "reading back). Nothing was changed."
)

# PostgreSQL's type names as PostgREST's OpenAPI `format` spells them.
_KINDS = {
    "boolean": "boolean",
    "smallint": "integer", "integer": "integer", "bigint": "integer",
    "numeric": "numeric", "real": "float", "double precision": "float",
    "json": "json", "jsonb": "json",
    "timestamp with time zone": "timestamp", "timestamp without time zone": "timestamp", "date": "date",
    "uuid": "uuid",
    "text": "text", "character varying": "text", "character": "text", "name": "text", "citext": "text",
}
# What the PostgreSQL backend reads as ::text / ::text[] (postgres.py _select_expr).
_TEXT_ARRAY_ELEMENTS = ("other", "timestamp", "date", "uuid")
_PK_NOTE = "<pk/>"
_FK_NOTE = re.compile(r"<fk table='([^']*)' column='([^']*)'/>")
_SIMPLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ---- configuration -----------------------------------------------------------------


def settings_from_url(url: str, shown: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """The project URL (no credentials, no /rest/v1) and the API key.

    The key is the URL's password (``https://service_role:${KEY}@<ref>.supabase.co``)
    or ``$SUPABASE_SERVICE_ROLE_KEY``.
    """
    parts = urlsplit(url)
    example = "https://<project-ref>.supabase.co"
    if not parts.hostname:
        raise ConfigError(f"database URL {shown}: no host given (expected {example})")
    if parts.query or parts.fragment:
        raise ConfigError(f"database URL {shown}: unexpected ?query or #fragment (expected {example})")
    if parts.username and parts.password is None:
        raise ConfigError(
            f"database URL {shown}: put the key after a colon (https://service_role:KEY@host) "
            f"or in ${KEY_ENV}"
        )
    key = unquote(parts.password) if parts.password else environ.get(KEY_ENV, "").strip()
    if not key:
        raise ConfigError(
            f"database URL {shown}: the Supabase REST API needs the project's service-role key: "
            f"set ${KEY_ENV} (Project Settings > API), or give it in the URL as "
            f"https://service_role:${{{KEY_ENV}}}@<project-ref>.supabase.co"
        )
    path = parts.path.rstrip("/")
    path = path.removesuffix("/rest/v1")
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme.lower(), netloc, path, "", "")), key


def key_role(key: str) -> str | None:
    """The database role a Supabase API key acts as, when the key says so."""
    if key.startswith("sb_publishable_"):
        return "anon"
    if key.startswith("sb_secret_"):
        return "service_role"
    parts = key.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    role = payload.get("role") if isinstance(payload, dict) else None
    return role if isinstance(role, str) else None


def _split(table: str) -> tuple[str, str]:
    """(schema, table) for a configured name; unqualified means public."""
    schema, _, name = table.rpartition(".")
    return schema or "public", name


def _ident(name: str) -> str:
    """A column name inside PostgREST's select/order syntax."""
    if _SIMPLE_NAME.match(name):
        return name
    if '"' in name:
        raise BackendError(f"column {name!r}: names containing a double quote cannot be read over the REST API")
    return f'"{name}"'


# ---- the migration -------------------------------------------------------------------


def _sql_literal(text: str) -> str:
    return text.replace("'", "''")


def _sql_ident(table: str) -> str:
    schema, name = _split(table)
    return ".".join('"' + part.replace('"', '""') + '"' for part in (schema, name))


def migration_sql(tables: Sequence[str], history_table: str) -> str:
    """The migration that installs configsync_apply for these tables."""
    from .. import __version__
    from .postgres import LOCK_ID

    template = resources.files("configsync").joinpath("supabase", "configsync_apply.sql").read_text("utf-8")
    replacements = {
        "__CONFIGSYNC_VERSION__": __version__,
        "__MANAGED_TABLES_COMMENT__": "\n".join(f"--   {t}" for t in tables),
        "__MANAGED_TABLES_PLAIN__": _sql_literal(", ".join(tables)),
        "__MANAGED_TABLES__": ", ".join(f"'{_sql_literal(t)}'" for t in tables),
        "__HISTORY_TABLE_IDENT_LITERAL__": _sql_literal(_sql_ident(history_table)),
        "__HISTORY_TABLE_IDENT__": _sql_ident(history_table),
        "__HISTORY_TABLE_NAME__": _sql_literal(history_table),
        "__LOCK_ID__": str(LOCK_ID),
    }
    for placeholder, value in replacements.items():
        template = template.replace(placeholder, value)
    left = re.findall(r"__[A-Z_]+__", template)
    if left:
        raise AssertionError(f"unrendered placeholders in the migration template: {left}")
    return template


# ---- values -------------------------------------------------------------------------


def parse_pg_array(text: str) -> Value:
    """A PostgreSQL array literal (``{a,"b c",NULL}``) as a list of strings.

    The same elements the PostgreSQL backend gets from ``column::text[]``.
    """
    if text.startswith("["):  # explicit bounds: [0:1]={...}
        text = text[text.index("=") + 1:]
    pos = 0

    def parse() -> list[Value]:
        nonlocal pos
        if text[pos] != "{":
            raise ValueError("expected {")
        pos += 1
        items: list[Value] = []
        if text[pos] == "}":
            pos += 1
            return items
        while True:
            char = text[pos]
            if char == "{":
                items.append(parse())
            elif char == '"':
                pos += 1
                chunk = []
                while text[pos] != '"':
                    if text[pos] == "\\":
                        pos += 1
                    chunk.append(text[pos])
                    pos += 1
                pos += 1
                items.append("".join(chunk))
            else:
                start = pos
                while text[pos] not in ",}":
                    pos += 1
                raw = text[start:pos]
                items.append(None if raw == "NULL" else raw)
            if text[pos] == ",":
                pos += 1
            elif text[pos] == "}":
                pos += 1
                return items
            else:
                raise ValueError(f"unexpected {text[pos]!r}")

    result = parse()
    if pos != len(text):
        raise ValueError("trailing text")
    return result


def _cast(column: Column) -> str | None:
    """The text cast the PostgreSQL backend reads this column with, if any."""
    if column.kind == "other":
        return "text"
    if column.kind == "array" and column.element_kind in _TEXT_ARRAY_ELEMENTS:
        return "text[]"
    return None


def _from_rest(column: Column, value: Value) -> Value:
    """A value from PostgREST's JSON, as the PostgreSQL backend would have read it."""
    if value is None:
        return None
    if column.kind == "timestamp" and isinstance(value, str):
        try:
            return values.format_timestamp(dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    if _cast(column) == "text[]" and isinstance(value, str):
        try:
            return parse_pg_array(value)
        except (ValueError, IndexError):
            return value
    return value


def _to_rest(table: TableInfo, row: Row) -> Row:
    """Values to send: integral decimals become integers for integer columns."""
    result: Row = {}
    for name, value in row.items():
        column = table.column(name)
        if column is not None and column.kind == "integer" and isinstance(value, Decimal):
            value = int(value)
        result[name] = value
    return result


def _filter_text(table: str, column: str, value: Value) -> str:
    if value is None:
        raise BackendError(f"table {table}: key column {column} is NULL in a row; a configsync key must never be NULL")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal, str)):
        return str(value)
    raise BackendError(f"table {table}: key column {column} holds a {type(value).__name__}; "
                       "over the REST API a key must be text, a number, a uuid or a timestamp")


def _quoted(text: str) -> str:
    """A value inside PostgREST's logic-tree syntax (or=(...))."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(op: Operation) -> str:
    symbol = {"insert": "+", "update": "~", "delete": "-"}[op.action]
    key = ", ".join(str(v) for v in op.key.values())
    return f"{symbol} {op.table.name} {key}  {op.file}"


# ---- the backend -------------------------------------------------------------------


class RestBackend(Backend):
    """A Supabase project over https, with the service-role key."""

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
    ) -> None:
        self.url = url
        self.display_url = display_url
        self.timeout = timeout
        self.page_size = page_size
        self.retries = retries
        self.backoff = backoff
        self._key = key
        self._role = key_role(key)
        self._http: httpx.Client | None = None
        self._rest_url = ""
        self._headers: dict[str, str] = {}
        self._specs: dict[str, dict[str, Any]] = {}

    # ---- HTTP ------------------------------------------------------------------

    def _session(self) -> httpx.Client:
        if self._http is None:
            from supabase import ClientOptions, create_client

            # No redirects: the apikey header would follow them to any host.
            http = httpx.Client(timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                                follow_redirects=False)
            try:
                client = create_client(self.url, self._key, ClientOptions(
                    httpx_client=http, auto_refresh_token=False, persist_session=False,
                ))
                rest = client.postgrest
            except Exception as exc:  # noqa: BLE001 - supabase-py's own validation errors
                http.close()
                raise BackendError(f"cannot set up the Supabase client for {self.display_url}: "
                                   f"{getattr(exc, 'message', None) or type(exc).__name__}") from None
            self._rest_url = str(rest.base_url).rstrip("/")
            self._headers = {k: v for k, v in rest.headers.items()
                             if k.lower() not in ("accept-profile", "content-profile")}
            self._http = http
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _request(
        self,
        method: str,
        path: str,
        *,
        schema: str = "public",
        params: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        body: Value | None = None,
        timeout: float | None = None,
        retry: bool = False,
    ) -> httpx.Response:
        """One request; GETs (``retry``) are retried with backoff on network errors and 5xx."""
        session = self._session()
        all_headers = dict(self._headers)
        all_headers["Accept-Profile" if method in ("GET", "HEAD") else "Content-Profile"] = schema
        all_headers.update(headers or {})
        content = None
        if body is not None:
            content = values.dumps(body).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            try:
                response = session.request(
                    method, f"{self._rest_url}/{path}", params=list(params), headers=all_headers,
                    content=content, timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as exc:
                if not retry or attempt >= self.retries:
                    raise BackendError(self._transport_message(exc, timeout)) from None
            else:
                if not (retry and response.status_code in RETRY_STATUSES and attempt < self.retries):
                    return response
            time.sleep(self.backoff * 2**attempt)
            attempt += 1

    def _transport_message(self, exc: httpx.TransportError, timeout: float | None = None) -> str:
        if isinstance(exc, httpx.TimeoutException):
            return f"no answer from {self.display_url} within {timeout or self.timeout:g} seconds ({type(exc).__name__})"
        reason = str(exc).strip() or type(exc).__name__
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect to {self.display_url}: {reason}; check the project URL"
        return f"the connection to {self.display_url} failed: {reason}"

    @staticmethod
    def _body(response: httpx.Response) -> dict[str, Any]:
        try:
            data = json.loads(response.content)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _fail(self, response: httpx.Response, what: str, table: str | None = None) -> NoReturn:
        raise BackendError(f"{what} failed: {self._explain(response, table)}")

    def _explain(self, response: httpx.Response, table: str | None = None) -> str:
        """One line for a PostgREST (or gateway) error: what happened and what to do."""
        status = response.status_code
        if 300 <= status < 400:
            target = response.headers.get("location", "elsewhere")
            return f"{self.display_url} redirects (HTTP {status}) to {target}: use the URL it points to"
        body = self._body(response)
        code = str(body.get("code") or "")
        message = str(body.get("message") or "").strip()
        details = str(body.get("details") or "").strip()
        if (code in ("42P01", "PGRST205") or (status == 404 and not code)) and table:
            return (f"table {table} does not exist in {self.display_url}, or the REST API does not "
                    "expose it (Project Settings > API > Exposed schemas)")
        if not body:
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            return (f"{self.display_url} did not answer like a Supabase REST API (HTTP {status}, {kind}); "
                    "check the project URL (https://<project-ref>.supabase.co)")
        if status == 401 and not code:
            return f"the API key was rejected ({message or 'HTTP 401'}): {_KEY_HINT}"
        if code.startswith("PGRST30"):
            return f"the API key was rejected ({message}): {_KEY_HINT}"
        if code == "42501":
            return f"{message}: {_KEY_HINT}"
        if code == "22023" and "role" in message:
            return f"the key's role is unknown to the database ({message}): {_KEY_HINT}"
        if code == "PGRST106":
            return f"{message}: add the schema in Project Settings > API > Exposed schemas"
        if code == "55P03":
            return "another apply is running and did not finish within the lock timeout"
        if code == "57014":
            return (f"the database cancelled the statement ({message}): a statement timeout is set for the "
                    "API roles; raise it for service_role, or use the postgresql:// connection")
        text = message or f"HTTP {status}"
        if details:
            text += f" ({details})"
        if status >= 500 and not code:
            text += "; the server failed, try again"
        return text

    # ---- keys ------------------------------------------------------------------

    def _require_service_key(self, table: str) -> None:
        """The anon (or a user's) key sees only what row-level security allows:
        a snapshot through it could miss rows. Refuse it before anything runs."""
        if self._role in ("anon", "authenticated"):
            raise BackendError(
                f"permission denied for table {table}: this is the {self._role} key; {_KEY_HINT}"
            )

    # ---- structure -------------------------------------------------------------

    def _openapi(self, schema: str) -> dict[str, Any]:
        if schema not in self._specs:
            response = self._request("GET", "", schema=schema, retry=True,
                                     headers={"Accept": "application/openapi+json"})
            if response.status_code == 404 and not self._body(response).get("code"):
                raise BackendError(f"{self.display_url} has no REST API at {self._rest_url} (HTTP 404): "
                                   "check the project URL (https://<project-ref>.supabase.co)")
            if not response.is_success:
                self._fail(response, f"reading the structure of {self.display_url}")
            spec = self._body(response)
            if not isinstance(spec.get("definitions"), dict) or not isinstance(spec.get("paths"), dict):
                raise BackendError(
                    f"{self.display_url} did not return its OpenAPI description (is the REST API's "
                    "openapi-mode disabled?); configsync reads the table structure from it"
                )
            self._specs[schema] = spec
        return self._specs[schema]

    def describe(self, tables: list[str]) -> dict[str, TableInfo]:
        result = {}
        for table in tables:
            self._require_service_key(table)
            schema, name = _split(table)
            definition = self._openapi(schema)["definitions"].get(name)
            if not isinstance(definition, dict) or not isinstance(definition.get("properties"), dict):
                raise BackendError(
                    f"table {table} does not exist in {self.display_url}, or the key cannot see it "
                    f"({_KEY_HINT}; a schema other than public must be exposed in Project Settings > API)"
                )
            result[table] = _table_info(table, definition)
        return result

    def list_tables(self) -> list[str]:
        spec = self._openapi("public")
        paths = spec["paths"]
        return sorted(
            name for name in spec["definitions"]
            if isinstance(paths.get(f"/{name}"), dict) and {"post", "delete"} <= set(paths[f"/{name}"])
        )

    def has_apply_function(self) -> bool:
        """Is configsync_apply installed (and callable with this key)?"""
        return f"/rpc/{FUNCTION}" in self._openapi("public")["paths"]

    # ---- reading -----------------------------------------------------------------

    def read(self, specs: list[ReadSpec]) -> dict[str, list[Row]]:
        result = {}
        for spec in specs:
            self._require_service_key(spec.table.name)
            result[spec.table.name] = self._read_table(spec)
        return result

    def _read_table(self, spec: ReadSpec) -> list[Row]:
        table = spec.table
        columns: dict[str, Column] = {}
        for name in [*spec.columns, *spec.key]:
            column = table.column(name)
            if column is None:
                raise BackendError(f"table {table.name} has no column {name!r}")
            columns[name] = column
        counted = read = 0
        for _ in range(COUNT_ATTEMPTS):
            raw, counted = self._read_pages(table.name, list(columns.values()), spec.key)
            read = len(raw)
            if read == counted:
                try:
                    return [{name: _from_rest(columns[name], row[name]) for name in spec.columns} for row in raw]
                except KeyError as exc:
                    raise BackendError(f"reading {table.name} failed: the answer has no column {exc}") from None
        raise BackendError(
            f"reading {table.name} from {self.display_url} failed: the table changed while it was being read "
            f"({counted} rows counted, {read} read), {COUNT_ATTEMPTS} times; try again when nothing is writing to it"
        )

    def _read_pages(self, table: str, columns: list[Column], key: Sequence[str]) -> tuple[list[Row], int]:
        """All rows in key order, page by page; and the row count the server reported."""
        schema, name = _split(table)
        select = ",".join(_ident(c.name) + ("::text" if _cast(c) else "") for c in columns)
        order = ",".join(f"{_ident(k)}.asc" for k in key)
        rows: list[Row] = []
        total: int | None = None
        last: Row | None = None
        while True:
            params = [("select", select), ("order", order), ("limit", str(self.page_size))]
            if last is not None:
                params.append(self._after(table, key, last))
            prefer = "timezone=UTC" if total is not None else "timezone=UTC, count=exact"
            response = self._request("GET", name, schema=schema, params=params, headers={"Prefer": prefer},
                                     retry=True)
            if not response.is_success:
                self._fail(response, f"reading {table} from {self.display_url}", table)
            try:
                page = values.loads(response.content)
            except ValueError:
                raise BackendError(f"reading {table} from {self.display_url} failed: the answer is not JSON") from None
            if not isinstance(page, list) or not all(isinstance(r, dict) for r in page):
                raise BackendError(f"reading {table} from {self.display_url} failed: unexpected answer")
            if total is None:
                total = _content_range_total(response)
                if total is None:
                    raise BackendError(f"reading {table} from {self.display_url} failed: "
                                       "the server did not report the row count (Prefer: count=exact)")
            got: list[Row] = [r for r in page if isinstance(r, dict)]
            if got and last is not None and [got[-1].get(k) for k in key] == [last.get(k) for k in key]:
                raise BackendError(f"reading {table} from {self.display_url} failed: the pages do not advance")
            rows.extend(got)
            # A short page is the last one only if the count is reached: the
            # server may cap pages below the size asked for (db-max-rows).
            if not got or (len(got) < self.page_size and len(rows) >= total):
                return rows, total
            if len(rows) > 2 * total + self.page_size:
                return rows, total  # growing while read: the count check reads it again
            last = got[-1]

    def _after(self, table: str, key: Sequence[str], last: Row) -> tuple[str, str]:
        """The filter for the rows after ``last`` in key order."""
        texts = [_filter_text(table, k, last.get(k)) for k in key]
        if len(key) == 1:
            return _ident(key[0]), f"gt.{texts[0]}"
        terms = []
        for i, column in enumerate(key):
            parts = [f"{_ident(key[j])}.eq.{_quoted(texts[j])}" for j in range(i)]
            parts.append(f"{_ident(column)}.gt.{_quoted(texts[i])}")
            terms.append(parts[0] if len(parts) == 1 else f"and({','.join(parts)})")
        return "or", f"({','.join(terms)})"

    # ---- applying ----------------------------------------------------------------

    def apply(self, batch: WriteBatch, verify: Verify) -> None:
        for spec in batch.reads:
            self._require_service_key(spec.table.name)
        installed = self.has_apply_function()
        if not installed and not batch.extra.get("non_atomic"):
            raise BackendError(self._no_function())
        # The rows as they are now; a plan made against other rows stops here.
        current = {spec.table.name: self._read_table(spec) for spec in batch.reads}
        verify(current)
        if installed:
            self._apply_in_one_call(batch, current, verify)
        else:
            self._apply_step_by_step(batch)

    def _no_function(self) -> str:
        if self._role == "service_role":
            return _NO_FUNCTION
        # The OpenAPI description lists only the functions this key may call.
        return f"{_NO_FUNCTION} If it is installed, this key may not call it: {_KEY_HINT}."

    def _payload(self, batch: WriteBatch, current: Mapping[str, list[Row]]) -> dict[str, Value]:
        reads: list[Value] = []
        for spec in batch.reads:
            columns: list[Value] = []
            for name in spec.columns:
                column = spec.table.column(name)
                columns.append({"name": name, "cast": _cast(column) if column else None})
            expected: list[Value] = list(current[spec.table.name])
            reads.append({"table": spec.table.name, "key": list(spec.key), "columns": columns,
                          "expected": expected})
        operations: list[Value] = [
            {"action": op.action, "table": op.table.name, "key": _to_rest(op.table, op.key),
             "values": _to_rest(op.table, op.values), "file": op.file}
            for op in batch.operations
        ]
        entry = batch.history
        history: Row = {
            "revision": entry.revision, "ref": entry.ref, "actor": entry.actor, "creates": entry.creates,
            "updates": entry.updates, "deletes": entry.deletes, "checksum": entry.checksum,
            "tool_version": entry.tool_version, "applied_at": entry.applied_at,
        }
        return {
            "format": PAYLOAD_FORMAT,
            "lock_timeout_ms": int(batch.lock_timeout * 1000),
            "history_table": batch.history_table,
            "reads": reads,
            "operations": operations,
            "history": history,
        }

    def _apply_in_one_call(self, batch: WriteBatch, current: Mapping[str, list[Row]], verify: Verify) -> None:
        payload = self._payload(batch, current)
        unknown = ""
        try:
            response = self._request("POST", f"rpc/{FUNCTION}", body={"plan": payload},
                                     timeout=batch.lock_timeout + 120.0)
        except BackendError as exc:
            unknown = str(exc)
        else:
            if response.status_code in RETRY_STATUSES - {429} and not self._body(response).get("code"):
                # A gateway's error, not the database's: the call may have run.
                unknown = f"{self.display_url} answered the apply with HTTP {response.status_code}"
        if unknown:
            # The transaction committed or it did not; the history says which.
            if self._recorded(batch):
                return
            error = BackendError(
                f"{unknown}. configsync_apply runs in one transaction, so the database holds all of this "
                "apply's changes or none of them, and its history does not show this apply (yet): run "
                "`configsync plan` to see whether the changes are still to do"
            )
            error.may_have_changed = True  # type: ignore[attr-defined]
            raise error
        if response.is_success:
            result = self._body(response)
            expected = {a: sum(op.action == a for op in batch.operations) for a in ("insert", "update", "delete")}
            done = {"insert": result.get("inserted"), "update": result.get("updated"), "delete": result.get("deleted")}
            if done != expected:
                raise BackendError(f"configsync_apply answered {result}, expected {expected}: check the database")
            return
        body = self._body(response)
        code = str(body.get("code") or "")
        hint = str(body.get("hint") or "")
        if code == "PGRST202":
            raise BackendError(self._no_function())
        if code == "CS001":
            # Re-read so the message names the rows, as on the other backends.
            verify({spec.table.name: self._read_table(spec) for spec in batch.reads})
            raise StalePlanError(
                "the database changed while the apply was being prepared (" + str(body.get("message")) +
                ").\nNothing was applied. Make a new plan and review it."
            )
        if code == "CS002":
            raise BackendError(f"{body.get('message')}; {hint}. Nothing was changed.")
        where = ""
        match = re.match(r"configsync-operation:(\d+)", hint)
        if match and int(match.group(1)) < len(batch.operations):
            op = batch.operations[int(match.group(1))]
            where = f" at {op.table.name} {op.file}"
        raise BackendError(f"apply failed{where}: {self._explain(response)}; nothing was changed")

    def _recorded(self, batch: WriteBatch) -> bool:
        try:
            entries = self.history(batch.history_table, limit=20)
        except BackendError:
            return False
        return any(e.checksum == batch.history.checksum and e.revision == batch.history.revision for e in entries)

    # ---- --non-atomic ----------------------------------------------------------------

    def _apply_step_by_step(self, batch: WriteBatch) -> None:
        done: list[Operation] = []
        failure = ""
        for op in batch.operations:
            try:
                self._write(op)
            except BackendError as exc:
                failure = f"at {op.table.name} {op.file}: {exc}"
                break
            done.append(op)
        recorded = ""
        if not failure:
            recorded = self._record(batch)
        try:
            after = {spec.table.name: self._read_table(spec) for spec in batch.reads}
        except BackendError as exc:
            raise _partial(
                f"apply stopped {failure}" if failure else "apply sent every change",
                f"but reading the database back to check them failed: {exc}",
                batch, done, None,
            ) from None
        applied = [op for op in batch.operations if _is_applied(op, after, batch.reads)]
        missing = [op for op in batch.operations if op not in applied]
        if failure or missing:
            raise _partial(f"apply stopped {failure}" if failure else "apply sent every change, but",
                           "", batch, applied, missing)
        notes = batch.extra.setdefault("notes", [])
        if isinstance(notes, list):
            notes.append(f"--non-atomic: {len(batch.operations)} changes were sent as separate requests; "
                         "reading the database back found every one applied")
            if recorded:
                notes.append(recorded)

    def _write(self, op: Operation) -> None:
        schema, name = _split(op.table.name)
        what = f"{op.action} of {op.table.name} {op.file}"
        prefer = {"Prefer": "return=minimal, count=exact, timezone=UTC"}
        if op.action == "insert":
            response = self._request("POST", name, schema=schema, body=_to_rest(op.table, op.values),
                                     headers={"Prefer": "return=minimal, timezone=UTC"})
            if not response.is_success:
                raise BackendError(self._explain(response, op.table.name))
            return
        filters = [(_ident(k), f"eq.{_filter_text(op.table.name, k, v)}") for k, v in _to_rest(op.table, op.key).items()]
        if op.action == "delete":
            response = self._request("DELETE", name, schema=schema, params=filters, headers=prefer)
        else:
            response = self._request("PATCH", name, schema=schema, params=filters, headers=prefer,
                                     body=_to_rest(op.table, op.values))
        if not response.is_success:
            raise BackendError(self._explain(response, op.table.name))
        touched = _content_range_total(response)
        if touched != 1:
            raise BackendError(f"{what} touched {touched} rows instead of 1 (is the key unique?)")

    def _record(self, batch: WriteBatch) -> str:
        """Insert the history row; a note when that is impossible."""
        entry = batch.history
        row: Row = {
            "revision": entry.revision, "ref": entry.ref, "actor": entry.actor, "creates": entry.creates,
            "updates": entry.updates, "deletes": entry.deletes, "checksum": entry.checksum,
            "tool_version": entry.tool_version,
        }
        if entry.applied_at:
            row["applied_at"] = entry.applied_at
        schema, name = _split(batch.history_table)
        try:
            response = self._request("POST", name, schema=schema, body=row,
                                     headers={"Prefer": "return=minimal, timezone=UTC"})
        except BackendError as exc:
            return f"the apply was not recorded in {batch.history_table}: {exc}"
        if response.is_success:
            return ""
        return (f"the apply was not recorded in {batch.history_table} ({self._explain(response, batch.history_table)}), "
                "so `configsync status` does not show it; the migration from `configsync supabase migration` "
                "creates that table")

    # ---- history -------------------------------------------------------------------

    def history(self, table: str, limit: int = 20) -> list[HistoryEntry]:
        self._require_service_key(table)
        schema, name = _split(table)
        response = self._request(
            "GET", name, schema=schema, retry=True, headers={"Prefer": "timezone=UTC"},
            params=[("select", "revision,ref,actor,creates,updates,deletes,checksum,applied_at,tool_version"),
                    ("order", "id.desc"), ("limit", str(int(limit)))],
        )
        if response.status_code == 404 or self._body(response).get("code") in ("42P01", "PGRST205"):
            return []
        if not response.is_success:
            self._fail(response, f"reading {table}", table)
        rows = values.loads(response.content)
        if not isinstance(rows, list):
            raise BackendError(f"reading {table} failed: unexpected answer")
        return [_history_entry(r) for r in rows if isinstance(r, dict)]


# ---- helpers ---------------------------------------------------------------------------


def _table_info(table: str, definition: dict[str, Any]) -> TableInfo:
    required = set(definition.get("required") or ())
    columns = []
    primary_key = []
    foreign_keys: dict[str, tuple[list[str], list[str]]] = {}
    for name, prop in definition["properties"].items():
        prop = prop if isinstance(prop, dict) else {}
        fmt = str(prop.get("format") or "")
        base = fmt.removesuffix("[]")
        type_name = base.rsplit(".", 1)[-1]  # public.mood -> mood
        element = _KINDS.get(type_name, "other") if fmt.endswith("[]") else None
        kind = "array" if element else _KINDS.get(type_name, "other")
        if not fmt and "type" not in prop:
            kind = "other"
        description = str(prop.get("description") or "")
        comment = description.split("\n\nNote:\n")[0] if "Note:\n" in description else description
        if description.startswith("Note:\n"):
            comment = ""
        choices = prop.get("enum") or (prop.get("items") or {}).get("enum")
        columns.append(Column(
            name, kind, fmt, name not in required, "default" in prop, element,
            type_name=type_name, max_length=prop.get("maxLength") if isinstance(prop.get("maxLength"), int) else None,
            choices=tuple(str(c) for c in choices) if isinstance(choices, list) else None,
            comment=comment or None,
        ))
        if _PK_NOTE in description:
            primary_key.append(name)
        for ref_table, ref_column in _FK_NOTE.findall(description):
            refs = foreign_keys.setdefault(ref_table, ([], []))
            refs[0].append(name)
            refs[1].append(ref_column)
    schema, _ = _split(table)
    return TableInfo(
        name=table,
        columns=tuple(columns),
        primary_key=tuple(primary_key),
        foreign_keys=tuple(
            ForeignKey(tuple(cols), ref if schema == "public" else f"{schema}.{ref}", tuple(ref_cols))
            for ref, (cols, ref_cols) in foreign_keys.items()
        ),
    )


def _content_range_total(response: httpx.Response) -> int | None:
    """The total of ``Content-Range: 0-999/2500`` (None when unknown: ``*``)."""
    total = response.headers.get("content-range", "").rpartition("/")[2]
    return int(total) if total.isdigit() else None


def _is_applied(op: Operation, after: Mapping[str, list[Row]], reads: Sequence[ReadSpec]) -> bool:
    spec = next((s for s in reads if s.table.name == op.table.name), None)
    if spec is None:
        return False
    kinds = {c.name: c.kind for c in op.table.columns}
    wanted = [values.canonical(op.key.get(k)) for k in spec.key]
    row = next((r for r in after[spec.table.name]
                if [values.canonical(r.get(k)) for k in spec.key] == wanted), None)
    if op.action == "delete":
        return row is None
    if row is None:
        return False
    return all(values.equal(value, row.get(name), kinds.get(name, "other"))
               for name, value in op.values.items() if name in row)


def _partial(head: str, tail: str, batch: WriteBatch, applied: list[Operation],
             missing: list[Operation] | None) -> BackendError:
    lines = [f"{head} {tail}".strip() + " (--non-atomic: every change is a separate request)."]
    if missing is None:
        lines.append(f"Sent before it stopped ({len(applied)} of {len(batch.operations)}), not verified:")
        lines += [f"  {_label(op)}" for op in applied]
    else:
        lines.append(f"Reading the database back: {len(applied)} of {len(batch.operations)} changes applied.")
        if applied:
            lines.append("Applied:")
            lines += [f"  {_label(op)}" for op in applied]
        if missing:
            lines.append("Not applied:")
            lines += [f"  {_label(op)}" for op in missing]
    lines.append(
        f"The apply is not recorded in {batch.history_table}. Fix the cause and run apply again "
        "(it plans only what is still to do), or restore the previous state from the backup."
    )
    error = BackendError("\n".join(lines))
    error.may_have_changed = True  # type: ignore[attr-defined]  # the workspace keeps the backup ref
    return error


def _history_entry(row: Mapping[str, Value]) -> HistoryEntry:
    applied = row.get("applied_at")
    if isinstance(applied, str):
        try:
            applied = dt.datetime.fromisoformat(applied).astimezone(dt.UTC).isoformat(timespec="seconds")
        except ValueError:
            pass

    def text(name: str) -> str:
        value = row.get(name)
        return "" if value is None else str(value)

    def number(name: str) -> int:
        value = row.get(name)
        return int(value) if isinstance(value, (int, Decimal)) else 0

    return HistoryEntry(
        revision=text("revision"), ref=text("ref"), actor=text("actor"), creates=number("creates"),
        updates=number("updates"), deletes=number("deletes"), checksum=text("checksum"),
        applied_at=str(applied or ""), tool_version=text("tool_version"),
    )
