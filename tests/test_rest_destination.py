"""The REST backend sends the service-role key only over https (http only to
this machine) and only to the configured project, checked before any request.

"Configured project": the host of $SUPABASE_URL when that is set; otherwise a
Supabase-hosted ``<ref>.supabase.co``, and when the key is a JWT naming its
project (``ref``), that project.
"""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from configsync.backends import open_backend
from configsync.backends.supabase.settings import settings_from_url
from configsync.errors import ConfigError
from helpers import init_repo, run
from support import postgrest

KEY = "sb_secret_0123456789abcdef"
REFUSED_HOST = "sends the service-role key only to the configured project"


def settings(url: str, **environ: str) -> tuple[str, str]:
    return settings_from_url(url, "<shown>", {"SUPABASE_SERVICE_ROLE_KEY": KEY, **environ})


@pytest.mark.parametrize("url", [
    "http://abc.supabase.co",
    "http://service_role:key@abc.supabase.co",
    "http://192.0.2.10:3000",
    "http://localhost.evil.example",
    "http://127.0.0.1.evil.example",
])
def test_plain_http_only_to_this_machine(url: str) -> None:
    with pytest.raises(ConfigError, match="the service-role key is sent only over https"):
        settings(url, SUPABASE_URL=url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:3000", "http://127.5.6.7", "http://localhost:54321",
                                 "http://[::1]:3000", "https://127.0.0.1"])
def test_loopback_is_exempt(url: str) -> None:
    assert settings(url, SUPABASE_URL="https://abc.supabase.co") == (url, KEY)


@pytest.mark.parametrize("url", ["https://evil.example", "https://abc.supabase.co.evil.example",
                                 "https://evil.example/abc.supabase.co", "https://a.b.supabase.co",
                                 "https://service_role:k@evil.example"])
def test_without_supabase_url_only_a_supabase_host(url: str) -> None:
    with pytest.raises(ConfigError, match=REFUSED_HOST):
        settings(url)
    assert settings("https://abcdefgh.supabase.co") == ("https://abcdefgh.supabase.co", KEY)


def test_supabase_url_names_the_project() -> None:
    project = "https://config.internal.example:8443"
    assert settings(project + "/rest/v1", SUPABASE_URL=project) == (project, KEY)
    assert settings("https://CONFIG.internal.example:8443", SUPABASE_URL=project)[0] == "https://CONFIG.internal.example:8443"
    for other in ("https://config.internal.example", "https://abc.supabase.co", "https://evil.example:8443"):
        with pytest.raises(ConfigError, match=r"the host is not the project in \$SUPABASE_URL"):
            settings(other, SUPABASE_URL=project)
    with pytest.raises(ConfigError, match=r"^\$SUPABASE_URL: "):
        settings(project, SUPABASE_URL="https://bad host")


def test_a_jwt_key_goes_only_to_its_own_project() -> None:
    key = postgrest.api_key("service_role", "s" * 40, ref="abcdefgh")
    env = {"SUPABASE_SERVICE_ROLE_KEY": key}
    assert settings_from_url("https://abcdefgh.supabase.co", "x", env) == ("https://abcdefgh.supabase.co", key)
    with pytest.raises(ConfigError, match="the service-role key belongs to project 'abcdefgh', not to 'zzzzzzzz'"):
        settings_from_url("https://zzzzzzzz.supabase.co", "x", env)
    with pytest.raises(ConfigError, match="belongs to project"):  # also when $SUPABASE_URL agrees with the URL
        settings_from_url("https://zzzzzzzz.supabase.co", "x", {**env, "SUPABASE_URL": "https://zzzzzzzz.supabase.co"})


def test_open_backend_checks_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", KEY)
    monkeypatch.delenv("SUPABASE_URL", raising=False)
    with pytest.raises(ConfigError, match=REFUSED_HOST):
        open_backend("https://evil.example", Path("."))


def _outward_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route's source address
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.fixture
def listener() -> Iterator[tuple[str, int, list[bytes]]]:
    """A TCP listener on every interface, recording what connects to it."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))  # noqa: S104 - the test needs a non-loopback address to be reachable
    server.listen()
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    received.append(conn.recv(65536) or b"<connected>")
                except OSError:
                    received.append(b"<connected>")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    address = _outward_address() or "127.0.0.1"
    yield address, server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def test_no_request_leaves_for_a_host_that_is_not_the_project(
        tmp_path: Path, listener: tuple[str, int, list[bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end, with a real listener on this machine's outward address: the
    refusal comes before any connection is made (before, plain http carried
    the key in the clear to any host)."""
    address, port, received = listener
    if address == "127.0.0.1":
        pytest.fail("this machine has no non-loopback address to test with")
    repo = tmp_path / "repo"
    init_repo(repo)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", KEY)
    monkeypatch.delenv("SUPABASE_URL", raising=False)
    for url, message in ((f"http://{address}:{port}", "the service-role key is sent only over https"),
                         (f"https://{address}:{port}", REFUSED_HOST),
                         (f"http://service_role:{KEY}@{address}:{port}", "the service-role key is sent only over https")):
        result = run(repo, "plan", database=url)
        assert result.code == 1 and message in result.err, result.text
        assert KEY not in result.text
    assert received == []
    # The listener does see a client the rules let through: the test can tell.
    monkeypatch.setenv("SUPABASE_URL", f"https://{address}:{port}")
    result = run(repo, "plan", database=f"https://{address}:{port}")
    assert result.code == 1 and KEY not in result.text, result.text
    assert received, "the allowed https request never reached the listener"
