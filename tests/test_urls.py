"""Database URLs are read the way libpq reads them, and never shown with a password.

The parser is checked against libpq itself (psycopg's conninfo_to_dict); the
redaction by property over random passwords in every URL form; the CLI end to
end with such URLs to an unreachable host.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from configsync.backends import open_backend, redact
from configsync.errors import ConfigError
from configsync.urls import PLACEHOLDER, UrlError, hide_secrets, parse_conninfo, scrub
from helpers import head, is_clean, run, sqlite_moose
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

# Passwords as people write them into URLs, and as a fuzzer would: every URL
# delimiter, percent signs with and without valid escapes, quotes, spaces,
# backslashes and non-ASCII text.
DELIMITERS = list("#?@/:%&=,[] '\"\\;$+") + ["%zz", "%4", "%41", "%00", "%%", "é", "密码", "\u00a0"]
passwords = st.lists(
    st.one_of(st.sampled_from(DELIMITERS), st.text(alphabet=st.characters(codec="utf-8",
                                                                          exclude_categories=("Cs", "Cc")),
                                                   min_size=1, max_size=6)),
    min_size=1, max_size=8,
).map("".join)


def libpq_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# Each form embeds the password once: raw (as a user may paste it) or encoded.
FORMS = {
    "userinfo-raw": lambda pw: f"postgresql://app_user:{pw}@db.example.com:5432/appdb",
    "userinfo-encoded": lambda pw: f"postgresql://app_user:{quote(pw, safe='')}@db.example.com:5432/appdb",
    "upper-scheme-raw": lambda pw: f"POSTGRES://app_user:{pw}@db.example.com/appdb",
    "multi-host": lambda pw: f"postgres://app_user:{quote(pw, safe='')}@h1.example.com:5432,h2.example.com:5433/appdb",
    "query-raw": lambda pw: f"postgresql://app_user@db.example.com/appdb?sslmode=require&password={pw}",
    "query-encoded": lambda pw: f"postgresql://app_user@db.example.com/appdb?password={quote(pw, safe='')}&sslmode=require",
    "keywords-quoted": lambda pw: f"host=db.example.com password={libpq_quote(pw)} dbname=appdb",
    "keywords-raw": lambda pw: f"host=db.example.com password={pw} dbname=appdb",
    "rest-raw": lambda pw: f"https://service_role:{pw}@abcdefgh.supabase.co",
    "rest-encoded": lambda pw: f"https://service_role:{quote(pw, safe='')}@abcdefgh.supabase.co/rest/v1",
    "rest-key-as-user": lambda pw: f"https://{pw}@abcdefgh.supabase.co",
    "rest-loopback": lambda pw: f"http://service_role:{pw}@127.0.0.1:3000",
    "rest-query-apikey": lambda pw: f"https://abcdefgh.supabase.co/rest/v1/?apikey={quote(pw, safe='')}",
    "postgrest-raw": lambda pw: f"postgrest+https://service_role:{pw}@rest.example.com/api",
    "postgrest-query-apikey": lambda pw: f"postgrest+http://127.0.0.1:3000?select=x&apikey={quote(pw, safe='')}",
}


def fragments(password: str) -> set[str]:
    """Pieces of the password, split at URL delimiters, long enough to mean something."""
    return {piece for piece in re.split(r"[#?@/:%&=,\[\] '\"\\;\s]+", password) if len(piece) >= 4}


@pytest.mark.parametrize("form", sorted(FORMS))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=passwords)
@example(password="pa#ss")
@example(password="pa?ss")
@example(password="p@ss")
@example(password="pa/ss")
@example(password="bad%zzescape")
@example(password="it's a secret")
@example(password="s3cret&host=evil")
def test_redact_never_raises_nor_shows_the_password(form: str, password: str) -> None:
    url = FORMS[form](password)
    skeleton = FORMS[form]("")
    # Not a piece of the URL's other parts, in either case: redact writes the scheme in lower case.
    assume(password.lower() not in skeleton.lower() and quote(password, safe="").lower() not in skeleton.lower())
    assume(password not in "***")  # the mask itself
    shown = redact(url)
    assert isinstance(shown, str)
    assert shown != url
    assert password not in shown and quote(password, safe="") not in shown, shown
    for piece in fragments(password) - {p for p in fragments(password) if p in skeleton}:
        assert piece not in shown, (piece, shown)


@pytest.mark.parametrize(("url", "shown"), [
    # libpq reads these passwords whole (the user part runs to the first '@'); urlsplit did not
    ("postgresql://u:pa#ss@db.example.com/app", "postgresql://u:***@db.example.com/app"),
    ("postgresql://u:pa?ss@db.example.com/app", "postgresql://u:***@db.example.com/app"),
    ("postgres://u:pw@h1:5432,h2:5433/app?sslmode=require", "postgres://u:***@h1:5432,h2:5433/app?sslmode=require"),
    ("postgresql://u@h/app?password=s3cret&sslmode=require", "postgresql://u@h/app?password=***"),
    ("postgresql://u@h/app?pass%77ord=s3cret", "postgresql://u@h/app?pass%77ord=***"),
    ("POSTGRESQL://u:s3cret@h/app", "postgresql://u:***@h/app"),
    ("host=h password='a b\\' c' dbname=app", "host=h password=***"),
    ("host=h port=5432 dbname=app", "host=h port=5432 dbname=app"),
    ("https://service_role:ab#cd@abc.supabase.co", "https://service_role:***@abc.supabase.co"),
    ("https://s3cret@abc.supabase.co", "https://***@abc.supabase.co"),
    ("https://abc.supabase.co?apikey=s3cret", "https://abc.supabase.co?***"),
    ("postgrest+https://service_role:s3cret@rest.example.com/api", "postgrest+https://service_role:***@rest.example.com/api"),
    ("postgrest+http://s3cret@127.0.0.1:3000/?apikey=s3cret", "postgrest+http://***@127.0.0.1:3000/?***"),
    ("sqlite:///data/local.db", "sqlite:///data/local.db"),
    ("mysql://u:s3cret@h/db", "mysql://***@h/db"),
    # what cannot be read with certainty is not shown at all
    ("postgresql://u:p@ss@h/app", PLACEHOLDER),
    ("postgresql://u:pa/ss@h/app", PLACEHOLDER),
    ("postgresql://u:bad%zz@h/app", PLACEHOLDER),
    ("postgresql://u:s3cret@[::1/app", PLACEHOLDER),
    ("postgresql://u:s3cret", PLACEHOLDER),
    ("host=h password=a b", PLACEHOLDER),
    ("localhost:5432/db s3cret", PLACEHOLDER),
    ("postgresql://u:s3\x00cret@h/app", PLACEHOLDER),
])
def test_redact_examples(url: str, shown: str) -> None:
    assert redact(url) == shown


# ---- the parser agrees with libpq -------------------------------------------------

TOKENS = ["postgresql://", "postgres://", "u", "user", ":", ":", "@", "/", "/", "?", "&", "=", "=", "%", "%4", "%41",
          "%2F", "%00", "%20", ",", "[", "]", "::1", " ", "'", "\\", "#", "host", "password", "port", "dbname",
          "sslmode", "requiressl", "ssl", "true", "1", "require", "5432", "x", "h1", "é", "\t"]
conninfos = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14).map("".join)


@settings(max_examples=2000, deadline=None)
@given(text=conninfos)
@example(text="postgresql://u:p%zz@h/db")
@example(text="postgresql://u:pa#ss@h/db?ssl=true")
@example(text="host = h  password='a\\' b' port=5432")
def test_parser_reads_what_libpq_reads(text: str) -> None:
    """Whatever parse_conninfo accepts, libpq accepts with the same settings, so
    libpq's parse errors (which quote the URL) are never met; it may refuse more."""
    try:
        mine = parse_conninfo(text)
    except UrlError as exc:
        assert len(text) < 8 or text not in str(exc)  # the message never quotes the input
        return
    assert psycopg.conninfo.conninfo_to_dict(mine.conninfo) == mine.params


# ---- where URLs are shown -------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "postgresql://u:bad%zzs3cret@127.0.0.1:1/db",
    "postgresql://u:s3cret%00@127.0.0.1:1/db",
    "postgresql://u:s3 cret@127.0.0.1:1/db",
    "postgresql://u:p@s3cret@127.0.0.1:1/db",
    "postgresql://u:p/s3cret@127.0.0.1:1/db",
    "postgresql://u:s3cret@127.0.0.1:1/db?password=x=y",
    "postgresql://u:s3cret@127.0.0.1:1/db?foo=bar",
    "postgresql://u:s3cret@[::1]x/db",
    "postgresql://u:s3cret@127.0.0.1:port/db",
    "postgresql://u:s3cret%ff@127.0.0.1:1/db",  # psycopg decodes as UTF-8: it crashed
])
def test_open_backend_refuses_what_libpq_would_quote(url: str, tmp_path: Path) -> None:
    """libpq's own message for each of these quotes the password; configsync
    refuses them first, with a message that does not."""
    with pytest.raises(ConfigError) as info:
        open_backend(url, tmp_path)
    assert "s3cret" not in str(info.value)
    assert str(info.value).startswith(f"database URL {PLACEHOLDER}: ")


def test_hide_secrets_never_raises() -> None:
    """The connection error path hides the password whatever the URL (it used to
    parse the URL with libpq again, and raise on a bad escape)."""
    message = 'invalid percent-encoded token: "s3cret%zz"'
    assert "s3cret" not in hide_secrets(message, "postgresql://u:s3cret%zz@h/db")
    assert hide_secrets('could not connect: password "p#s3cret" failed', "postgresql://u:p#s3cret@h/db") == (
        'could not connect: password "***" failed')
    assert hide_secrets("x p@ss y", "postgresql://u:p%40ss@h/db") == "x *** y"
    assert "s3cret" not in scrub("failed for postgresql://u:s3cret@h/db and password=s3cret")
    assert scrub("İİ PASSWORD=s3cret and sslpassword = 'a b'") == "İİ PASSWORD=*** and sslpassword = ***"


@pytest.fixture
def moose_repo(repo_path: Path, tmp_path: Path) -> Path:
    result = run(repo_path, "snapshot", "--commit", database=sqlite_moose(tmp_path / "moose.sqlite"))
    assert result.code == 2, result.text
    return repo_path


@pytest.mark.parametrize("password", [
    "pa#s3cret", "pa?s3cret", "p@s3cret", "pa/s3cret", "bad%zzs3cret", "s3cret%", "s3 cret", "'s3cret\"",
    "s3cret密码", "%00s3cret", "s3cret&sslmode=x",
])
@pytest.mark.parametrize("form", ["userinfo-raw", "query-raw", "upper-scheme-raw"])
def test_plan_with_a_password_never_shows_it(moose_repo: Path, password: str, form: str) -> None:
    """configsync plan against an unreachable or unusable URL: exit 1, a message,
    no traceback, and no piece of the password in stdout or stderr."""
    url = FORMS[form](password).replace("db.example.com:5432", "127.0.0.1:1").replace("db.example.com", "127.0.0.1:1")
    commit = head(moose_repo)
    result = run(moose_repo, "plan", database=url)
    assert result.code == 1, result.text
    assert "Traceback" not in result.text and "failed unexpectedly" not in result.text, result.text
    assert "s3cret" not in result.text and "s3 cret" not in result.text, result.text
    assert is_clean(moose_repo) and head(moose_repo) == commit


def test_unreachable_with_a_password_from_the_environment(moose_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CI path: the whole URL in a secret variable, the password with a '#'."""
    monkeypatch.setenv("SUPABASE_DB_URL", "postgresql://postgres:pa#s3cret@127.0.0.1:1/postgres")
    result = run(moose_repo, "--env", "production", "plan")
    assert result.code == 1, result.text
    assert "cannot connect to postgresql://postgres:***@127.0.0.1:1/postgres" in result.err
    assert "s3cret" not in result.text


def test_scrub_takes_linear_time() -> None:
    """Error messages can be long (a validation of thousands of files): scrubbing
    them must not backtrack (a first regular expression took minutes on this)."""
    import time

    text = "a-" * 100_000 + "password=" * 50_000 + "a://" * 50_000 + "password='\\" * 50_000
    started = time.monotonic()
    scrub(text)
    assert time.monotonic() - started < 10


# ---- the REST backend's URL forms (issue 17, point 6) -----------------------------------

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0."
       "c2lnbmF0dXJlLXMzY3JldC1zaWduYXR1cmU")


@pytest.mark.parametrize("text", [
    "GET /rest/v1/system_config?apikey=s3cretkey&select=* failed",  # a query without its URL
    "request failed: api_key = s3cretkey",
    f"headers: {{'apikey': '{JWT}', 'Authorization': 'Bearer {JWT}'}}",  # a key wherever it stands
    "the key sb_secret_s3cretkey_abc was refused",
    f"abc.supabase.co/rest/v1/?apikey={JWT}",  # a URL without a scheme
])
def test_scrub_hides_api_keys_in_every_form(text: str) -> None:
    shown = scrub(text)
    assert "s3cret" not in shown and "c2lnbmF0dXJl" not in shown and "eyJyb2xl" not in shown, shown


def test_scrub_of_api_keys_takes_linear_time() -> None:
    import time

    text = "eyJ" * 200_000 + ("eyJa" * 50 + ".") * 5_000 + "sb_secret_" * 100_000
    started = time.monotonic()
    scrub(text)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("key", ["s3cretkey\nrest", "s3cretkey\rrest", "s3cretkey rest", "s3cretkéy"])
def test_a_key_with_a_character_no_key_has_is_refused_unquoted(key: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Sent, the HTTP library would refuse the header and quote it whole."""
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", key)
    with pytest.raises(ConfigError, match="contains a space, a control or a non-ASCII character") as info:
        open_backend("http://127.0.0.1:1", tmp_path)
    assert "s3cret" not in str(info.value)


def test_the_rest_clients_errors_never_quote_the_key() -> None:
    """A key the HTTP library refuses (h11: "Illegal header value b'...'") is
    not in the error, in any escaping."""
    import http.server
    import threading

    from configsync.backends.supabase.client import RestClient
    from configsync.errors import BackendError

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for key in ("s3cretkey\nrest", "s3cretkey\x00rest", "s3cretkey\rrest"):
            client = RestClient(f"http://127.0.0.1:{server.server_address[1]}", key, "http://127.0.0.1", retries=0)
            with pytest.raises(BackendError) as info:
                client.request("GET", "", retry=True)
            client.close()
            assert "s3cret" not in str(info.value) and "rest" not in str(info.value).split("/")[-1], str(info.value)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("url", ["abc.supabase.co", "abc.supabase.co/rest/v1", "db.example.com:5432/postgres"])
def test_a_url_without_a_scheme_is_told_every_form(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        open_backend(url, tmp_path)
    message = str(info.value)
    for form in ("sqlite:///", "postgresql://", "https://<project-ref>.supabase.co", "postgrest+https://<host>"):
        assert form in message, message


def test_the_database_option_names_the_https_form(moose_repo: Path) -> None:
    result = run(moose_repo, "--help")
    assert "https://<project-ref>.supabase.co" in result.out, result.out


def test_the_postgrest_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """postgrest+https:// names a PostgREST at that URL: no /rest/v1 is added or
    removed, and the key goes only where an https:// URL's key may go."""
    from configsync.backends.supabase.settings import settings_from_url

    env = {"SUPABASE_SERVICE_ROLE_KEY": "k3y", "SUPABASE_URL": "https://rest.example.com"}
    assert settings_from_url("postgrest+https://rest.example.com/api/", "x", env) == (
        "postgrest+https://rest.example.com/api", "k3y")
    assert settings_from_url("postgrest+https://rest.example.com/rest/v1", "x", env) == (
        "postgrest+https://rest.example.com/rest/v1", "k3y")
    assert settings_from_url("postgrest+http://127.0.0.1:3000", "x", {"SUPABASE_SERVICE_ROLE_KEY": "k3y"}) == (
        "postgrest+http://127.0.0.1:3000", "k3y")
    refusals = [
        ("postgrest+http://rest.example.com", env, "sent only over https.*use postgrest\\+https://rest.example.com"),
        ("postgrest+https://elsewhere.example.com", env, "not the project in \\$SUPABASE_URL"),
        ("postgrest+https://rest.example.com", {"SUPABASE_SERVICE_ROLE_KEY": "k3y"}, "set \\$SUPABASE_URL"),
        ("postgrest+https://rest.example.com?apikey=s3cret", env, "never in \\?apikey="),
    ]
    for url, environ, message in refusals:
        with pytest.raises(ConfigError, match=message) as info:
            settings_from_url(url, redact(url), environ)
        assert "s3cret" not in str(info.value)
