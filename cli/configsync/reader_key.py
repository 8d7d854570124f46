"""Which Supabase project a minted reader key is for: its ref (the key's
``ref`` claim, which configsync checks against the host before sending a key)
and its URL (for a database URL that holds the key).

Found without connecting: the database URL as every command resolves it
(--database, --env, $CONFIGSYNC_DATABASE_URL, configsync.yaml) when it is an
http(s) URL, else $SUPABASE_URL.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .urls import UrlError, parse_http, scheme_of

_SUPABASE_HOST = re.compile(r"([a-z0-9]+)\.supabase\.co\.?")
_REF = re.compile(r"[a-z0-9]{1,63}")
PROJECT_URL_ENV = "SUPABASE_URL"


@dataclass(frozen=True)
class Project:
    ref: str | None
    url: str | None  # scheme://host[:port][/path], no credentials, no /rest/v1

    def url_with(self, role: str, key: str) -> str:
        """The project's URL with ``key`` as the password, the form the REST backend reads."""
        if self.url is None:
            raise ConfigError("--url: no project URL; give --database https://<project-ref>.supabase.co "
                              f"or set ${PROJECT_URL_ENV}")
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{role}:{key}@{rest}"


def project_of(config_path: str | None, database: str | None, env: str | None, ref: str | None,
               *, need_url: bool, environ: Mapping[str, str] | None = None) -> Project:
    """The project a key is minted for; ``ref`` (--project-ref) wins, and must agree with a supabase.co URL."""
    environ = os.environ if environ is None else environ
    if ref is not None and not _REF.fullmatch(ref):
        raise ConfigError(f"--project-ref {ref!r}: a project ref is lower-case letters and digits "
                          "(the <ref> of https://<ref>.supabase.co)")
    url = _project_url(config_path, database, env, environ, need_url)
    if url is None:
        return Project(ref, None)
    parts = parse_http(url)
    match = _SUPABASE_HOST.fullmatch(parts.host)
    if match and ref is not None and ref != match.group(1):
        raise ConfigError(f"--project-ref {ref}: the database URL is project {match.group(1)}; a key is sent only "
                          "to the project it names")
    path = parts.path.rstrip("/").removesuffix("/rest/v1")
    return Project(ref or (match.group(1) if match else None), f"{parts.scheme}://{parts.netloc}{path}")


def _project_url(config_path: str | None, database: str | None, env: str | None, environ: Mapping[str, str],
                 need_url: bool) -> str | None:
    """The http(s) database URL, else $SUPABASE_URL, else None. A configsync.yaml
    is read only when one is there, or named, or the URL is needed."""
    from .config import CONFIG_FILE, expand_env, load_config, resolve_database

    candidates = []
    if database:  # no configsync.yaml needed
        candidates.append(("--database", expand_env(database, "--database", environ)))
    elif env or config_path or Path(CONFIG_FILE).is_file():
        config = load_config(config_path)
        candidates.append(("the database URL", resolve_database(config, env=env, environ=environ)))
    elif environ.get("CONFIGSYNC_DATABASE_URL"):
        candidates.append(("$CONFIGSYNC_DATABASE_URL", environ["CONFIGSYNC_DATABASE_URL"]))
    if environ.get(PROJECT_URL_ENV, "").strip():
        candidates.append((f"${PROJECT_URL_ENV}", environ[PROJECT_URL_ENV].strip()))
    for what, url in candidates:
        if scheme_of(url) in ("http", "https"):
            try:
                parse_http(url)
            except UrlError as exc:
                raise ConfigError(f"{what}: {exc} (expected https://<project-ref>.supabase.co)") from None
            return url
    if need_url:
        raise ConfigError("--url: no https:// project URL in --database, --env, $CONFIGSYNC_DATABASE_URL, "
                          f"configsync.yaml or ${PROJECT_URL_ENV}; give --database https://<project-ref>.supabase.co")
    return None


__all__ = ["Project", "project_of"]
