"""Database backends, chosen by URL scheme."""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import ConfigError
from ..urls import POSTGRES_SCHEMES, REST_SCHEMES, UrlError, parse_conninfo, redact, scheme_of
from .base import (
    ApplyOutcome,
    Backend,
    Capabilities,
    Column,
    ForeignKey,
    HistoryEntry,
    Operation,
    ReadSpec,
    TableInfo,
    WriteBatch,
)

__all__ = [
    "ApplyOutcome", "Backend", "Capabilities", "Column", "ForeignKey", "HistoryEntry", "Operation", "ReadSpec",
    "TableInfo", "WriteBatch", "open_backend", "redact",
]

_SCHEMES = ("sqlite:///path/to/file.db, postgresql://user:password@host:5432/dbname or, for Supabase's "
            "REST API, https://<project-ref>.supabase.co with $SUPABASE_SERVICE_ROLE_KEY (a PostgREST without "
            "the /rest/v1 prefix: postgrest+https://<host>)")


def open_backend(url: str, root: Path) -> Backend:
    """A backend for ``url``; relative SQLite paths are relative to ``root``.

    Every message names the URL redacted; a PostgreSQL URL is read here as
    libpq reads it, so libpq (whose parse errors quote the URL, password and
    all) is only ever handed one it accepts."""
    shown = redact(url)
    scheme = scheme_of(url)
    if scheme == "sqlite":
        path_text = re.split(r"[?#]", url[len("sqlite://"):], maxsplit=1)[0]
        if not path_text.startswith("/") or path_text == "/":
            raise ConfigError(f"database URL {shown}: expected sqlite:///relative/path.db or sqlite:////absolute/path.db")
        path = Path(path_text[1:])
        from .sqlite import SqliteBackend

        return SqliteBackend(path if path.is_absolute() else root / path, shown)
    if scheme in POSTGRES_SCHEMES:
        try:
            info = parse_conninfo(url)
        except UrlError as exc:
            raise ConfigError(f"database URL {shown}: {exc} (expected {_SCHEMES})") from None
        if not info.params.get("host", "").strip(",") and not info.params.get("hostaddr"):
            raise ConfigError(f"database URL {shown}: no host given (expected {_SCHEMES})")
        from .postgres import PostgresBackend

        return PostgresBackend(info.conninfo, shown)
    if scheme in REST_SCHEMES:
        # Supabase's REST API: the project URL, and the service-role key from
        # the URL's password or $SUPABASE_SERVICE_ROLE_KEY (never shown).
        from .supabase.backend import RestBackend
        from .supabase.settings import gateway_key, settings_from_url

        base, key = settings_from_url(url, shown, os.environ)
        return RestBackend(base, key, shown, gateway_key=gateway_key(key, shown, os.environ))
    raise ConfigError(f"database URL {shown}: unsupported scheme {scheme or '(none)'!r} (expected {_SCHEMES})")
