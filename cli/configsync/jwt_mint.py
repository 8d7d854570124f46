"""A Supabase API key for a database role, minted from the project's JWT secret.

Supabase's legacy API keys are HS256 JSON Web Tokens signed with the
project's JWT secret; PostgREST checks the signature and the expiry, then
switches to the role the ``role`` claim names. A key for a role of our own
(the read-only ``configsync_reader``) is made the same way, with the
standard library only.

The secret is the most powerful credential of a project: with it anyone can
mint a service_role key. So it is read from standard input (without echo on a
terminal), kept in memory for the one signature, and never part of any
output or error message: messages say what is wrong with it (empty, too
short, an API key instead of the secret), never what it is.
"""
from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import json
import re
from typing import IO, Any

from .errors import ConfigError

#: Supabase refuses shorter JWT secrets; PostgREST too (HS256 needs 32 bytes).
MIN_SECRET_LENGTH = 32
DEFAULT_EXPIRES_IN = "365d"
#: Supabase's own anon and service_role keys live ten years; no longer than that.
MAX_EXPIRES_IN_S = 10 * 365 * 24 * 3600
WHERE = "Project Settings > API > JWT Settings > JWT Secret"
PROMPT = f"JWT secret ({WHERE}): "

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 24 * 3600, "w": 7 * 24 * 3600, "y": 365 * 24 * 3600}
_DURATION = re.compile(r"\s*(\d{1,9})\s*([smhdwy])\s*")
_JWT_LIKE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def parse_duration(text: str, option: str = "--expires-in") -> int:
    """Seconds in ``90d``, ``12h``, ``1y`` (365 days), ``2w``, ``30m`` or ``3600s``."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ConfigError(f"{option} {text!r}: expected a number and a unit, e.g. 90d, 12h, 1y "
                          "(units: s, m, h, d, w, y)")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ConfigError(f"{option} {text!r}: must be more than nothing")
    if seconds > MAX_EXPIRES_IN_S:
        raise ConfigError(f"{option} {text!r}: at most 10y (3650d); mint a new key instead")
    return seconds


def read_secret(stream: IO[str], interactive: bool) -> str:
    """The JWT secret: from a terminal without echo, else the first line of ``stream``."""
    if interactive:
        text = getpass.getpass(PROMPT)
    else:
        text = stream.read()
        first, _, rest = text.partition("\n")
        if rest.strip():
            raise ConfigError("standard input holds more than one line; give the JWT secret alone "
                              f"({WHERE}), e.g. `... < jwt-secret`")
        text = first
    secret = text.strip()
    check_secret(secret)
    return secret


def check_secret(secret: str) -> None:
    """A ConfigError, which never quotes the secret, when ``secret`` cannot be a project's JWT secret."""
    if not secret:
        raise ConfigError(f"no JWT secret on standard input: give the project's JWT secret ({WHERE}), "
                          "e.g. `configsync supabase reader --token < jwt-secret`")
    if not secret.isprintable():
        raise ConfigError(f"the JWT secret on standard input holds control characters; give it as one line "
                          f"of text ({WHERE})")
    if _JWT_LIKE.fullmatch(secret) and secret.startswith("eyJ"):
        raise ConfigError("standard input holds an API key (a JWT), not the JWT secret that signs them: "
                          f"copy the secret from {WHERE}")
    if secret.startswith(("sb_secret_", "sb_publishable_")):
        raise ConfigError("standard input holds an API key, not the JWT secret that signs keys: "
                          f"copy the legacy JWT secret from {WHERE}")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"the JWT secret on standard input is {len(secret)} characters long; a project's "
                          f"JWT secret has at least {MIN_SECRET_LENGTH} ({WHERE})")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign(claims: dict[str, Any], secret: str) -> str:
    """An HS256 JSON Web Token of ``claims`` (RFC 7519), as Supabase signs its API keys."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signature = hmac.new(secret.encode("utf-8"), f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def role_claims(role: str, now: int, lifetime: int, ref: str | None = None) -> dict[str, Any]:
    """The claims of a Supabase API key for ``role``: the same as its anon and
    service_role keys (iss, ref, role, iat, exp)."""
    claims: dict[str, Any] = {"iss": "supabase", "role": role, "iat": now, "exp": now + lifetime}
    if ref:
        claims["ref"] = ref
    return claims


__all__ = ["DEFAULT_EXPIRES_IN", "check_secret", "parse_duration", "read_secret", "role_claims", "sign"]
