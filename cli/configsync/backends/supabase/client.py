"""The HTTP client of the Supabase REST backend: one project's REST API.

supabase-py builds the client: the ``/rest/v1`` URL, the ``apikey`` and
``Authorization`` headers, the HTTP session. Requests are sent on that session
with bodies and answers handled here, because supabase-py's query builder
decodes JSON numbers as floats and cannot encode ``Decimal``: a ``numeric``
must never lose a digit. Reads are retried with backoff on network errors and
5xx; every error becomes one line that says what to do and holds no key.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import httpx

from ... import values
from ...errors import BackendError
from ...urls import MASK, POSTGREST_PREFIX, scrub
from ...values import Value
from ..messages import safe_error
from .settings import ANON_KEY_ENV, KEY_HINT, URL_FORMS, key_role

#: How to fix a URL where no REST API answers.
URL_HINT = f"check the URL: {URL_FORMS}"

RETRY_STATUSES = frozenset({429, 502, 503, 504, 520, 522, 524})


class RestClient:
    """Requests to one Supabase project's REST API with one API key."""

    def __init__(
        self,
        url: str,
        key: str,
        display_url: str,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        gateway_key: str | None = None,
    ) -> None:
        self.url = url
        self.display_url = display_url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._key = key
        self._gateway_key = gateway_key
        self._http: httpx.Client | None = None
        self._rest_url = ""
        self._headers: dict[str, str] = {}

    @property
    def rest_url(self) -> str:
        """The REST API's root (``<project>/rest/v1``; a postgrest+ URL's own
        address), known once a request was made."""
        return self._rest_url

    def _session(self) -> httpx.Client:
        if self._http is None:
            from supabase import ClientOptions, create_client

            # No redirects: the apikey header would follow them to any host.
            http = httpx.Client(timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                                follow_redirects=False)
            # postgrest+http(s)://: a bare PostgREST at that very URL. supabase-py
            # still builds the headers; only its /rest/v1 address is not used.
            bare = self.url.startswith(POSTGREST_PREFIX)
            url = self.url.removeprefix(POSTGREST_PREFIX)
            try:
                client = create_client(url, self._key, ClientOptions(
                    httpx_client=http, auto_refresh_token=False, persist_session=False,
                ))
                rest = client.postgrest
            except Exception as exc:  # noqa: BLE001 - supabase-py's own validation errors
                http.close()
                raise BackendError(f"cannot set up the Supabase client for {self.display_url}: "
                                   f"{self.hide_key(str(exc) or type(exc).__name__)}") from None
            self._rest_url = url.rstrip("/") if bare else str(rest.base_url).rstrip("/")
            self._headers = {k: v for k, v in rest.headers.items()
                             if k.lower() not in ("accept-profile", "content-profile")}
            if self._gateway_key is not None:
                self._headers["apikey"] = self._gateway_key
            self._http = http
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def request(
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
                    raise BackendError(self.transport_message(exc, timeout)) from None
            else:
                if not (retry and response.status_code in RETRY_STATUSES and attempt < self.retries):
                    return response
            time.sleep(self.backoff * 2**attempt)
            attempt += 1

    def hide_key(self, text: str) -> str:
        """``text`` (an HTTP library's words) without the key in any form it
        may quote it in: as is, escaped (h11's "Illegal header value
        b'...'"), or in pieces around a character it refused."""
        key = self._key
        forms = {key, key.encode("unicode_escape").decode("ascii"), repr(key)[1:-1],
                 repr(key.encode("utf-8", "surrogateescape"))[2:-1]}
        forms |= {piece for piece in re.split(r"[\x00-\x20\x7f\\'\"]+", key) if len(piece) >= 6}
        for form in sorted(forms, key=len, reverse=True):
            if form:
                text = text.replace(form, MASK)
        return scrub(text)

    def transport_message(self, exc: httpx.TransportError, timeout: float | None = None) -> str:
        """One line for a request that got no answer (never quoting the key)."""
        if isinstance(exc, httpx.TimeoutException):
            return f"no answer from {self.display_url} within {timeout or self.timeout:g} seconds ({type(exc).__name__})"
        reason = self.hide_key(str(exc).strip() or type(exc).__name__)
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect to {self.display_url}: {reason}; check the project URL"
        return f"the connection to {self.display_url} failed: {reason}"

    def fail(self, response: httpx.Response, what: str, table: str | None = None) -> NoReturn:
        raise BackendError(f"{what} failed: {self.explain(response, table)}")

    def explain(self, response: httpx.Response, table: str | None = None) -> str:
        """One line for a PostgREST (or gateway) error: what happened and what to do."""
        status = response.status_code
        if 300 <= status < 400:
            target = response.headers.get("location", "elsewhere")
            return f"{self.display_url} redirects (HTTP {status}) to {target}: use the URL it points to"
        body = json_object(response)
        code = str(body.get("code") or "")
        # The database's words without any value in them (messages.py): a
        # failing row or a constraint's key values never reach the log.
        raw = str(body.get("message") or "").strip()
        message = safe_error(raw, secrets=[self._key])
        if (code in ("42P01", "PGRST205") or (status == 404 and not code)) and table:
            return (f"table {table} does not exist in {self.display_url}, or the REST API does not "
                    "expose it (Project Settings > API > Exposed schemas)")
        if not body:
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            return (f"{self.display_url} did not answer like a Supabase REST API (HTTP {status}, {kind}); "
                    f"{URL_HINT}")
        if status == 401 and not code:
            if key_role(self._key) not in (None, "anon", "authenticated", "service_role") \
                    and self._gateway_key is None:
                return (f"the API gateway rejected the key ({message or 'HTTP 401'}): a key for the "
                        f"{key_role(self._key)} role needs the project's anon key beside it: set "
                        f"${ANON_KEY_ENV} (Project Settings > API)")
            return f"the API key was rejected ({message or 'HTTP 401'}): {KEY_HINT}"
        if code.startswith("PGRST30"):
            return f"the API key was rejected ({message}): {KEY_HINT}"
        if code == "42501":
            return f"{message}: {KEY_HINT}"
        if code == "22023" and "role" in message:
            return f"the key's role is unknown to the database ({message}): {KEY_HINT}"
        if code == "PGRST106":
            return f"{message}: add the schema in Project Settings > API > Exposed schemas"
        if code == "55P03":
            return "another apply is running and did not finish within the lock timeout"
        if code == "57014":
            return (f"the database cancelled the statement ({message}): a statement timeout is set for the "
                    "API roles; raise it for service_role, or use the postgresql:// connection")
        text = safe_error(raw or f"HTTP {status}", str(body.get("details") or ""), secrets=[self._key])
        if status >= 500 and not code:
            text += "; the server failed, try again"
        return text


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object (an error's code, message, hint); empty if it is none."""
    try:
        data = json.loads(response.content)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def content_range_total(response: httpx.Response) -> int | None:
    """The total of ``Content-Range: 0-999/2500`` (None when unknown: ``*``)."""
    total = response.headers.get("content-range", "").rpartition("/")[2]
    return int(total) if total.isdigit() else None
