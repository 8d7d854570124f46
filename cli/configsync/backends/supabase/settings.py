"""The project URL and the API key of a Supabase REST connection."""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

from ...errors import ConfigError

KEY_ENV = "SUPABASE_SERVICE_ROLE_KEY"
#: How to fix any refusal that comes from using the wrong key.
KEY_HINT = f"use the service-role key (${KEY_ENV}, from Project Settings > API)"


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
