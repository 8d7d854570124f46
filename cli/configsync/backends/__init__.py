"""Database backends, chosen by URL scheme."""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError
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

_SCHEMES = "sqlite:///path/to/file.db or postgresql://user:password@host:5432/dbname"


# password=... in a URL's query string or a libpq key=value string.
_PASSWORD_PARAM = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)", re.IGNORECASE)


def redact(url: str) -> str:
    """The URL with any password replaced by ***, safe for any output."""
    url = _PASSWORD_PARAM.sub(r"\1***", url)
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable database URL>"
    if password is None:
        if parts.username and parts.scheme.lower() in ("http", "https"):
            # https://KEY@host: the user part of a REST URL may be the key.
            return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[-1]))
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[-1]}"))


def open_backend(url: str, root: Path) -> Backend:
    """A backend for ``url``; relative SQLite paths are relative to ``root``."""
    shown = redact(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise ConfigError(f"database URL {shown}: {exc} (expected {_SCHEMES})") from None
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc or not parts.path or parts.path == "/":
            raise ConfigError(f"database URL {shown}: expected sqlite:///relative/path.db or sqlite:////absolute/path.db")
        path = Path(parts.path[1:])
        from .sqlite import SqliteBackend

        return SqliteBackend(path if path.is_absolute() else root / path, shown)
    if scheme in ("postgres", "postgresql"):
        if not parts.hostname and "host=" not in parts.query:
            raise ConfigError(f"database URL {shown}: no host given (expected {_SCHEMES})")
        from .postgres import PostgresBackend

        return PostgresBackend(url, shown)
    if scheme in ("http", "https"):
        # Supabase's REST API: the project URL, and the service-role key from
        # the URL's password or $SUPABASE_SERVICE_ROLE_KEY (never shown).
        from .supabase.backend import RestBackend
        from .supabase.settings import settings_from_url

        base, key = settings_from_url(url, shown, os.environ)
        return RestBackend(base, key, shown)
    raise ConfigError(f"database URL {shown}: unsupported scheme {parts.scheme or '(none)'!r} (expected {_SCHEMES})")
