"""The project URL and the API key of a Supabase REST connection."""
from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from ...errors import ConfigError
from ...urls import POSTGREST_PREFIX, HttpUrl, UrlError, parse_http

KEY_ENV = "SUPABASE_SERVICE_ROLE_KEY"
#: The project's public anon (publishable) key: the API gateway's key beside a
#: key for a role of the project's own (``configsync supabase reader``).
ANON_KEY_ENV = "SUPABASE_ANON_KEY"
#: The project's URL: when set, the only non-local host the key is sent to.
PROJECT_URL_ENV = "SUPABASE_URL"
_SUPABASE_HOST = re.compile(r"([a-z0-9]+)\.supabase\.co\.?")
#: How to fix any refusal that comes from using the wrong key.
KEY_HINT = f"use the service-role key (${KEY_ENV}, from Project Settings > API)"
#: The URL forms of the REST backend, for every "expected ..." message.
URL_FORMS = ("https://<project-ref>.supabase.co (a Supabase project), or postgrest+https://<host>[/path] "
             "(a PostgREST served at that URL, without Supabase's /rest/v1 prefix)")


def settings_from_url(url: str, shown: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """The project URL (no credentials, no /rest/v1) and the API key.

    The key is the URL's password (``https://service_role:${KEY}@<ref>.supabase.co``)
    or ``$SUPABASE_SERVICE_ROLE_KEY``; it is sent only where
    :func:`check_destination` allows, checked before any request.

    A ``postgrest+https://host/path`` URL (``postgrest+http://`` to this
    machine) names a PostgREST served at that very URL, with no gateway adding
    /rest/v1 in front: the answer keeps that scheme and path, and the client
    sends requests there (same key, same destination rules).
    """
    example = URL_FORMS
    try:
        parts = parse_http(url)
    except UrlError as exc:
        raise ConfigError(f"database URL {shown}: {exc} (expected {example})") from None
    if not parts.host:
        raise ConfigError(f"database URL {shown}: no host given (expected {example})")
    if parts.has_query_or_fragment:
        raise ConfigError(
            f"database URL {shown}: unexpected ?query or #fragment (expected {example}); an API key goes in "
            f"${KEY_ENV} or in the URL as https://service_role:${{{KEY_ENV}}}@<host>, never in ?apikey="
        )
    if parts.has_userinfo and parts.password is None:
        raise ConfigError(
            f"database URL {shown}: put the key after a colon (https://service_role:KEY@host) "
            f"or in ${KEY_ENV}"
        )
    key = parts.password if parts.password else environ.get(KEY_ENV, "").strip()
    if not key:
        raise ConfigError(
            f"database URL {shown}: the Supabase REST API needs the project's service-role key: "
            f"set ${KEY_ENV} (Project Settings > API), or give it in the URL as "
            f"https://service_role:${{{KEY_ENV}}}@<project-ref>.supabase.co"
        )
    if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        # Refused here, in words; sent, the HTTP library's error would quote it.
        where = "the URL's key" if parts.password else f"${KEY_ENV}"
        raise ConfigError(f"database URL {shown}: {where} contains a space, a control or a non-ASCII character; "
                          "an API key has none (copy it again from Project Settings > API)")
    check_destination(parts, key, shown, environ)
    path = parts.path.rstrip("/")
    if parts.bare_postgrest:
        return f"{POSTGREST_PREFIX}{parts.scheme}://{parts.netloc}{path}", key
    path = path.removesuffix("/rest/v1")
    return f"{parts.scheme}://{parts.netloc}{path}", key


def check_destination(parts: HttpUrl, key: str, shown: str, environ: Mapping[str, str]) -> None:
    """Refuse to send ``key`` anywhere but the configured project.

    The key bypasses row level security, and the URL may come from a
    configsync.yaml written by anyone who can open a pull request. So: https
    only (plain http only to this machine: localhost, 127.0.0.0/8, ::1), and
    only to the project's host, which is the host of ``$SUPABASE_URL`` when that
    is set (the environment, not the repository, names the project), else a
    Supabase-hosted ``<ref>.supabase.co`` -- the project the key itself names,
    when it names one (the ``ref`` of a JWT key).
    """
    if parts.is_loopback():
        return  # the key does not leave this machine
    if parts.scheme != "https":
        secure = f"{POSTGREST_PREFIX if parts.bare_postgrest else ''}https://{parts.netloc}"
        raise ConfigError(
            f"database URL {shown}: the service-role key is sent only over https "
            f"(plain http only to this machine: localhost, 127.0.0.0/8, ::1); use {secure}"
        )
    project = environ.get(PROJECT_URL_ENV, "").strip()
    if project:
        try:
            expected = parse_http(project)
        except UrlError as exc:
            raise ConfigError(f"${PROJECT_URL_ENV}: {exc} (expected {URL_FORMS})") from None
        if (parts.host, _port(parts)) != (expected.host, _port(expected)):
            raise ConfigError(
                f"database URL {shown}: the host is not the project in ${PROJECT_URL_ENV} ({expected.netloc}); "
                f"configsync sends the service-role key only to the configured project: use ${PROJECT_URL_ENV}'s "
                f"URL, or set ${PROJECT_URL_ENV} to this one"
            )
    elif not _SUPABASE_HOST.fullmatch(parts.host):
        raise ConfigError(
            f"database URL {shown}: configsync sends the service-role key only to the configured project: "
            f"a https://<project-ref>.supabase.co URL, or the host of ${PROJECT_URL_ENV}; for a self-hosted "
            f"project set ${PROJECT_URL_ENV}=https://{parts.netloc}"
        )
    match = _SUPABASE_HOST.fullmatch(parts.host)
    ref = key_ref(key)
    if match and ref is not None and ref != match.group(1):
        raise ConfigError(
            f"database URL {shown}: the service-role key belongs to project {ref!r}, not to "
            f"{match.group(1)!r}; configsync sends a key only to its own project"
        )


def _port(parts: HttpUrl) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def gateway_key(key: str, shown: str, environ: Mapping[str, str]) -> str | None:
    """The key for the ``apikey`` header when it is not ``key`` itself.

    Supabase's API gateway admits only the project's own keys (anon or
    service role) in ``apikey``; a key minted for another role (the reader of
    ``configsync supabase reader``) goes in ``Authorization`` only, beside the
    anon key, which is public. None: send ``key`` in both headers.
    """
    if key_role(key) in (None, "anon", "authenticated", "service_role"):
        return None
    anon = environ.get(ANON_KEY_ENV, "").strip()
    if not anon:
        return None
    if not anon.isascii() or not anon.isprintable() or any(c.isspace() for c in anon):
        raise ConfigError(f"database URL {shown}: ${ANON_KEY_ENV} contains a space, a control or a non-ASCII "
                          "character; an API key has none (copy it again from Project Settings > API)")
    if key_role(anon) != "anon":
        raise ConfigError(f"database URL {shown}: ${ANON_KEY_ENV} is not the project's anon (publishable) key "
                          "(Project Settings > API); the API gateway is given no other key beside a reader key")
    if None not in (key_ref(anon), key_ref(key)) and key_ref(anon) != key_ref(key):
        raise ConfigError(f"database URL {shown}: ${ANON_KEY_ENV} belongs to another project than the URL's key")
    return anon


def key_role(key: str) -> str | None:
    """The database role a Supabase API key acts as, when the key says so."""
    if key.startswith("sb_publishable_"):
        return "anon"
    if key.startswith("sb_secret_"):
        return "service_role"
    role = _jwt_payload(key).get("role")
    return role if isinstance(role, str) else None


def key_ref(key: str) -> str | None:
    """The project a Supabase API key belongs to, when it names one (the
    ``ref`` claim of the JWT keys; sb_secret_ keys name none)."""
    ref = _jwt_payload(key).get("ref")
    return ref if isinstance(ref, str) else None


def _jwt_payload(key: str) -> dict[str, Any]:
    parts = key.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return payload if isinstance(payload, dict) else {}
