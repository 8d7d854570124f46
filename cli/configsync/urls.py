"""Database URLs read the way their clients read them, and shown without secrets.

PostgreSQL URLs and ``key=value`` strings are parsed as libpq 18 parses them
(``conninfo_uri_parse_options`` and ``conninfo_parse`` in fe-connect.c): the
user name and password run up to the *first* ``@`` before any ``/``, so an
unencoded ``#`` or ``?`` is part of the password; several ``host:port`` pairs
may be given, separated by commas; the query string and ``key=value`` strings
may carry ``password=``. The REST backend's ``http(s)://`` URL keeps the key as
the password of the user part, which runs up to the *last* ``@``.

Whatever cannot be read with certainty -- an ``@`` or ``/`` libpq would read
differently from what the writer probably meant, a bad percent-escape, a
port that is not a number -- is an error (:class:`UrlError`, whose message
never quotes the input) and is shown as :data:`PLACEHOLDER`.
:func:`redact` never raises and never returns a password: it builds what it
shows from the parts it understood, with every secret replaced by ``***``.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import quote

#: Shown instead of a URL that cannot be parsed with certainty.
PLACEHOLDER = "<unparseable database URL>"
MASK = "***"
POSTGRES_SCHEMES = ("postgresql", "postgres")
HTTP_SCHEMES = ("http", "https")
#: A PostgREST served at the URL itself, without Supabase's /rest/v1 prefix.
POSTGREST_PREFIX = "postgrest+"
POSTGREST_SCHEMES = ("postgrest+http", "postgrest+https")
#: Every scheme of the REST backend.
REST_SCHEMES = HTTP_SCHEMES + POSTGREST_SCHEMES

# libpq 18's connection keywords (PQconndefaults()); a URI query or a
# key=value string with any other keyword is refused by libpq.
LIBPQ_KEYWORDS = frozenset({
    "application_name", "channel_binding", "client_encoding", "connect_timeout", "dbname",
    "fallback_application_name", "gssdelegation", "gssencmode", "gsslib", "host", "hostaddr", "keepalives",
    "keepalives_count", "keepalives_idle", "keepalives_interval", "krbsrvname", "load_balance_hosts",
    "max_protocol_version", "min_protocol_version", "oauth_client_id", "oauth_client_secret", "oauth_issuer",
    "oauth_scope", "options", "passfile", "password", "port", "replication", "require_auth", "requirepeer",
    "scram_client_key", "scram_server_key", "service", "ssl_max_protocol_version", "ssl_min_protocol_version",
    "sslcert", "sslcertmode", "sslcompression", "sslcrl", "sslcrldir", "sslkey", "sslkeylogfile", "sslmode",
    "sslnegotiation", "sslpassword", "sslrootcert", "sslsni", "target_session_attrs", "tcp_user_timeout", "user",
    # accepted and translated by libpq: requiressl=1 -> sslmode, and JDBC's ssl=true (URIs only)
    "requiressl", "ssl",
})
#: Keywords whose value is a secret: never shown.
SECRET_KEYWORDS = frozenset({"password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key"})
#: ... and in free text also the names an API key goes by (``?apikey=...``).
_SCRUBBED_KEYWORDS = SECRET_KEYWORDS | {"apikey", "api_key", "access_token", "service_role_key"}

# C isspace() in the C locale, which libpq's key=value parser uses.
_C_SPACE = " \t\n\v\f\r"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?")
_ENCODE_HINT = "percent-encode '@' as %40, '/' as %2F and '%' as %25 in the user name and password"


class UrlError(ValueError):
    """A URL that cannot be read with certainty; the message never quotes it."""


@dataclass(frozen=True)
class Conninfo:
    """A PostgreSQL connection string as libpq reads it."""

    #: What to hand to libpq (the scheme written in lower case, which libpq requires).
    conninfo: str
    #: The settings libpq takes from it, decoded; a later setting wins as in libpq.
    params: dict[str, str]
    #: The string with every secret replaced by ***.
    shown: str
    #: (start, end) of each secret value as written, in ``conninfo``.
    secret_spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class HttpUrl:
    """An http(s) URL (or postgrest+http(s)) as the REST backend reads it."""

    scheme: str  # http or https, also of a postgrest+ URL
    host: str  # lower case, IPv6 without brackets
    port: int | None
    netloc: str  # host[:port] as written
    path: str
    user: str | None
    password: str | None
    has_userinfo: bool
    has_query_or_fragment: bool
    shown: str
    password_span: tuple[int, int] | None = field(default=None)
    #: postgrest+http(s)://: the REST API is the URL itself (no /rest/v1 added).
    bare_postgrest: bool = False

    def is_loopback(self) -> bool:
        """Whether the host is this machine (localhost, 127.0.0.0/8, ::1)."""
        if self.host in ("localhost", "localhost."):
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def scheme_of(url: str) -> str:
    """The URL's scheme in lower case; '' when it has none."""
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else ""


# ---- redaction ------------------------------------------------------------------


def redact(url: object) -> str:
    """``url`` with every password and key replaced by ***, safe for any output.

    Never raises; when the URL cannot be read with certainty the answer is
    :data:`PLACEHOLDER`, never the input."""
    try:
        if not isinstance(url, str):
            return PLACEHOLDER
        return _redact(url)
    except Exception:  # noqa: BLE001 - a redaction that fails must still hide the URL
        return PLACEHOLDER


def _redact(url: str) -> str:
    if _CONTROL.search(url):
        return PLACEHOLDER
    scheme = scheme_of(url)
    try:
        if scheme in POSTGRES_SCHEMES or (not scheme and "=" in url):
            return parse_conninfo(url).shown
        if scheme in REST_SCHEMES:
            return parse_http(url).shown
    except UrlError:
        return PLACEHOLDER
    if scheme:
        return _redact_other(url, scheme)
    return PLACEHOLDER


def _redact_other(url: str, scheme: str) -> str:
    """A URL of another scheme (sqlite:, an unsupported one): the user part up
    to the last '@' and any query or fragment are hidden."""
    rest = url[len(scheme) + 3:]
    shown = f"{scheme}://"
    if "@" in rest:
        shown += MASK + "@"
        rest = rest[rest.rfind("@") + 1:]
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    shown += rest[:cut]
    if cut < len(rest):
        shown += rest[cut] + MASK
    return shown


def scrub(text: str) -> str:
    """Free text (an error message, a traceback) with every URL in it redacted
    and every ``password=`` value hidden: the last line of defence."""
    try:
        return _hide_api_keys(_hide_password_values(_redact_urls_in(text)))
    except Exception:  # noqa: BLE001 - never let scrubbing raise from an error path
        return "<message hidden: it may contain a password>"


def secrets_of(conninfo: str) -> list[str]:
    """Every secret of ``conninfo``, as written and decoded; [] when it cannot
    be read. Never raises."""
    try:
        info = parse_conninfo(conninfo)
        secrets = {info.conninfo[a:b] for a, b in info.secret_spans}
        secrets |= {value for key, value in info.params.items() if key in SECRET_KEYWORDS}
        return sorted((s for s in secrets if s), key=len, reverse=True)
    except Exception:  # noqa: BLE001 - a secret-finder that raises would break the error path
        return []


def hide_secrets(text: str, conninfo: str) -> str:
    """``text`` (a driver's message) without any secret of ``conninfo``, as
    written or decoded, and with every URL in it redacted. Never raises."""
    try:
        parse_conninfo(conninfo)  # one that cannot be read: hide the whole message
        for secret in secrets_of(conninfo):
            text = text.replace(secret, MASK)
        return scrub(text)
    except Exception:  # noqa: BLE001 - the connection string cannot be read: hide the message
        return "<message hidden: it may contain the password>"


# What messages write where a password goes, in examples of how to fix a URL.
_EXAMPLE_PASSWORDS = frozenset({MASK, "KEY", "PASSWORD", "password", "${PGPASSWORD}", "${SUPABASE_SERVICE_ROLE_KEY}"})


def _is_harmless(url: str) -> bool:
    """A URL in a message that holds no credentials: none in a user part or a
    query (it has neither '@' nor '='), or one showing where a password goes."""
    if "@" not in url and "=" not in url:
        return True
    match = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://[^:/@]*:([^@/]*)@[^@]*\Z", url)
    return match is not None and match.group(1) in _EXAMPLE_PASSWORDS


_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_URL_END = frozenset(" \t\n\r\v\f'\"<>")


def _redact_urls_in(text: str) -> str:
    """Every ``scheme://...`` in prose redacted, in linear time (a regular
    expression for it backtracks quadratically on long runs of letters)."""
    out: list[str] = []
    done = 0
    at = text.find("://")
    while at >= 0:
        start = at
        while start > done and at - start < 32 and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        while start < at and not text[start].isalpha():
            start += 1  # a scheme starts with a letter
        end = at + 3
        while end < len(text) and text[end] not in _URL_END:
            end += 1
        while end > at + 3 and text[end - 1] in ".,;:)]":
            end -= 1  # the punctuation that ends a sentence
        url = text[start:end]
        out.append(text[done:start])
        out.append(url if _is_harmless(url) else redact(url))
        done = end
        at = text.find("://", max(end, at + 3))
    out.append(text[done:])
    return "".join(out)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_VALUE_AFTER_KEYWORD = re.compile(r"(\s*=\s*)('(?:[^'\\]|\\.)*'?|[^&\s'\"]+)")


def _hide_password_values(text: str) -> str:
    """``password=value`` (and the other secret keywords, in any case) with the
    value hidden; found with str.find, as a regular expression trying the
    keywords at every position is slow on long messages."""
    lower = text.translate(_ASCII_LOWER)  # str.lower() may change the length ('İ')
    hide: list[tuple[int, int]] = []
    for keyword in _SCRUBBED_KEYWORDS:
        at = lower.find(keyword)
        while at >= 0:
            match = _VALUE_AFTER_KEYWORD.match(text, at + len(keyword))
            if match and match.group(2) not in _EXAMPLE_PASSWORDS:
                hide.append((match.start(2), match.end(2)))
            # on after the value: what it holds is hidden already (and a
            # search inside it would make this quadratic)
            at = lower.find(keyword, match.end() if match else at + len(keyword))
    out: list[str] = []
    done = 0
    for start, end in sorted(hide):
        if start >= done:
            out += [text[done:start], MASK]
            done = end
    out.append(text[done:])
    return "".join(out)


_TOKEN_CHAR = r"[A-Za-z0-9_-]"
# A JSON Web Token (a Supabase API key: its header and payload are base64 of
# '{"'), and Supabase's sb_secret_ keys.
_API_KEYS = re.compile(rf"eyJ{_TOKEN_CHAR}*\.eyJ{_TOKEN_CHAR}*\.{_TOKEN_CHAR}*|sb_secret_{_TOKEN_CHAR}+")
_TOKEN_RUN = re.compile(rf"{_TOKEN_CHAR}*")


def _hide_api_keys(text: str) -> str:
    """Every API key (a JWT, an sb_secret_ key) in ``text`` replaced by ***,
    wherever it stands (a header, a JSON body, a URL of no known form). Linear:
    each needle's next place is searched for again only once passed, and a
    start that fails is skipped with the run of token characters it is in (a
    later start in that run would fail the same way)."""
    out: list[str] = []
    done = 0
    nexts = {needle: text.find(needle) for needle in ("eyJ", "sb_secret_")}
    while True:
        found = [at for at in nexts.values() if at >= 0]
        if not found:
            break
        at = min(found)
        match = _API_KEYS.match(text, at)
        if match:
            out += [text[done:at], MASK]
            done = end = match.end()
        else:
            run = _TOKEN_RUN.match(text, at)
            end = max(run.end() if run else at + 1, at + 1)
        for needle, place in nexts.items():
            if 0 <= place < end:
                nexts[needle] = text.find(needle, end)
    out.append(text[done:])
    return "".join(out)


# ---- libpq ------------------------------------------------------------------------


def parse_conninfo(text: str) -> Conninfo:
    """``text`` read as libpq reads a connection string: a postgresql:// or
    postgres:// URI, or ``key=value`` pairs."""
    if "\x00" in text:
        raise UrlError("contains a NUL character")
    scheme = scheme_of(text)
    if scheme in POSTGRES_SCHEMES:
        # libpq recognises the prefix in lower case only; in any other case it
        # would read the URI as a key=value string and quote it whole in its error.
        return _parse_uri(scheme + text[len(scheme):], len(scheme) + 3)
    if scheme:
        raise UrlError(f"not a PostgreSQL URL (scheme {scheme!r})")
    return _parse_keywords(text)


def password_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Where the passwords are written in ``text`` (a PostgreSQL or http(s)
    URL, or a key=value string); () when it cannot be read."""
    try:
        scheme = scheme_of(text)
        if scheme in REST_SCHEMES:
            span = parse_http(text).password_span
            return (span,) if span else ()
        return parse_conninfo(text).secret_spans
    except UrlError:
        return ()


def encode_password(value: str, text: str, span: tuple[int, int]) -> str:
    """``value`` written so that it reads back as itself at ``span`` of ``text``:
    percent-encoded in a URL, quoted in a key=value string."""
    if scheme_of(text):
        return quote(value, safe="")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _uri_decode(raw: str, what: str) -> str:
    """libpq's conninfo_uri_decode: %XX escapes; spaces only at either end."""
    text = raw.lstrip(" ")
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%":
            digits = text[i + 1:i + 3]
            if len(digits) != 2 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise UrlError(f"the {what} has an invalid percent-escape (write '%' as %25)")
            byte = int(digits, 16)
            if byte == 0:
                raise UrlError(f"the {what} contains %00")
            out.append(byte)
            i += 3
            continue
        if char == " ":
            if text[i:].strip(" "):
                raise UrlError(f"the {what} contains a space: write it as %20")
            break
        out += char.encode("utf-8", "surrogatepass")
        i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        # psycopg decodes libpq's settings as UTF-8: it would fail with a traceback.
        raise UrlError(f"the {what} is not UTF-8 once percent-decoded") from None


def _parse_uri(uri: str, start: int) -> Conninfo:
    params: dict[str, str] = {}
    secrets: list[tuple[int, int]] = []
    shown = uri[:start]
    n = len(uri)
    p = start
    while p < n and uri[p] not in "@/":
        p += 1
    at_signs = uri.count("@", start)
    if p < n and uri[p] == "@":
        # scheme://user[:password]@netloc: up to the first '@'.
        userinfo = uri[start:p]
        user, colon, password = userinfo.partition(":")
        if at_signs > 1:
            raise UrlError(f"more than one '@': {_ENCODE_HINT}")
        if any(c in user for c in "?#&="):
            raise UrlError(f"the user name has '?', '#', '&' or '=' before the '@': {_ENCODE_HINT}")
        if user:
            params["user"] = _uri_decode(user, "user name")
        if colon:
            secrets.append((start + len(user) + 1, p))
            if password:
                params["password"] = _uri_decode(password, "password")
        shown += user + (":" + MASK if colon else "") + "@"
        p += 1
    elif at_signs:
        # libpq reads no user part here, yet an '@' follows: a password with
        # an unencoded '/' (or an '@' in the path or query) -- either way,
        # what libpq would do is not what was meant.
        raise UrlError(f"an '@' after a '/': {_ENCODE_HINT}")
    else:
        p = start  # no user part: the host starts right after the scheme
    hosts: list[str] = []
    ports: list[str] = []
    netloc_start = p
    while True:
        if p < n and uri[p] == "[":
            host_start = p + 1
            close = uri.find("]", host_start)
            if close < 0:
                raise UrlError("an IPv6 address without its closing ']'")
            if close == host_start:
                raise UrlError("an empty IPv6 address '[]'")
            host = uri[host_start:close]
            p = close + 1
            if p < n and uri[p] not in ":/?,":
                raise UrlError("unexpected text after an IPv6 address (expected ':', '/', '?' or ',')")
        else:
            host_start = p
            while p < n and uri[p] not in ":/?,":
                p += 1
            host = uri[host_start:p]
        hosts.append(host)
        terminator = uri[p] if p < n else ""
        if terminator == ":":
            p += 1
            port_start = p
            while p < n and uri[p] not in "/?,":
                p += 1
            ports.append(uri[port_start:p])
            terminator = uri[p] if p < n else ""
        else:
            ports.append("")
        if terminator != ",":
            break
        p += 1
    shown += uri[netloc_start:p]
    host_value = ",".join(hosts)
    if host_value:
        params["host"] = _uri_decode(host_value, "host")
    port_value = ",".join(ports)
    if port_value:
        decoded = _uri_decode(port_value, "port")
        # libpq would refuse it only on connecting, quoting it in its message.
        if not all(_is_port(part) for part in decoded.split(",")):
            raise UrlError("the port is not a number")
        params["port"] = decoded
    if p < n and uri[p] == "/":
        db_start = p + 1
        query_at = uri.find("?", db_start)
        p = query_at if query_at >= 0 else n
        dbname = uri[db_start:p]
        if dbname:
            params["dbname"] = _uri_decode(dbname, "database name")
        shown += uri[db_start - 1:p]
    if p < n:  # '?'
        p += 1
        shown += "?"
        hidden = False
        for piece_start, piece in _pieces(uri, p, n):
            keyword_raw, equals, value_raw = piece.partition("=")
            if not equals:
                raise UrlError("a query parameter without '=' (percent-encode '&' in a password as %26)")
            if "=" in value_raw:
                raise UrlError("a query parameter with two '=' (percent-encode '=' in a password as %3D)")
            keyword = _uri_decode(keyword_raw, "query parameter name")
            value = _uri_decode(value_raw, "query parameter value")
            if keyword == "ssl" and value == "true":
                keyword, value = "sslmode", "require"
            if keyword not in LIBPQ_KEYWORDS or keyword == "ssl":
                raise UrlError("unknown query parameter (a libpq connection parameter is expected; "
                               "percent-encode '&' and '=' in a password as %26 and %3D)")
            if keyword == "requiressl":
                keyword, value = "sslmode", "require" if value.startswith("1") else "prefer"
            params[keyword] = value
            if keyword in SECRET_KEYWORDS:
                secrets.append((piece_start + len(keyword_raw) + 1, piece_start + len(piece)))
            if hidden:
                continue
            if keyword in SECRET_KEYWORDS:
                # Everything after a password is hidden: a password with an
                # unencoded '&' would otherwise show its tail as parameters.
                shown += keyword_raw + "=" + MASK
                hidden = True
            else:
                shown += piece + "&"
        shown = shown.rstrip("&")
    return Conninfo(conninfo=uri, params=params, shown=shown, secret_spans=tuple(secrets))


def _pieces(text: str, start: int, end: int) -> list[tuple[int, str]]:
    pieces = []
    while start < end:
        amp = text.find("&", start, end)
        stop = amp if amp >= 0 else end
        pieces.append((start, text[start:stop]))
        start = stop + 1 if amp >= 0 else end
    return pieces


def _parse_keywords(text: str) -> Conninfo:
    """libpq's conninfo_parse: ``key = value`` pairs, values quoted with ' and
    escaped with backslash."""
    params: dict[str, str] = {}
    secrets: list[tuple[int, int]] = []
    shown_until: int | None = None
    n = len(text)
    cp = 0
    while cp < n:
        if text[cp] in _C_SPACE:
            cp += 1
            continue
        name_start = cp
        while cp < n and text[cp] != "=" and text[cp] not in _C_SPACE:
            cp += 1
        name = text[name_start:cp]
        while cp < n and text[cp] in _C_SPACE:
            cp += 1
        if cp >= n or text[cp] != "=":
            raise UrlError("not a URL, nor key=value settings (a setting without '=')")
        cp += 1
        after_equals = cp
        while cp < n and text[cp] in _C_SPACE:
            cp += 1
        value_start = cp
        value: list[str] = []
        if cp < n and text[cp] == "'":
            cp += 1
            while True:
                if cp >= n:
                    raise UrlError("a quoted value without its closing quote")
                if text[cp] == "\\":
                    cp += 1
                    if cp < n:
                        value.append(text[cp])
                        cp += 1
                    continue
                if text[cp] == "'":
                    cp += 1
                    break
                value.append(text[cp])
                cp += 1
        else:
            while cp < n and text[cp] not in _C_SPACE:
                if text[cp] == "\\":
                    cp += 1
                    if cp < n:
                        value.append(text[cp])
                        cp += 1
                else:
                    value.append(text[cp])
                    cp += 1
        if name not in LIBPQ_KEYWORDS or name == "ssl":
            raise UrlError("unknown setting in the key=value string (a libpq connection parameter is expected; "
                           "quote a password with spaces: password='a b')")
        keyword, decoded = name, "".join(value)
        if keyword == "requiressl":
            keyword, decoded = "sslmode", "require" if decoded.startswith("1") else "prefer"
        params[keyword] = decoded
        if keyword in SECRET_KEYWORDS:
            secrets.append((value_start, cp))
            if shown_until is None:
                shown_until = after_equals
    shown = text.strip(_C_SPACE) if shown_until is None else text[:shown_until].lstrip(_C_SPACE) + MASK
    return Conninfo(conninfo=text, params=params, shown=shown, secret_spans=tuple(secrets))


# ---- http(s) ----------------------------------------------------------------------


def parse_http(url: str) -> HttpUrl:
    """An http(s) (or postgrest+http(s)) URL as the REST backend reads it; the
    user part runs up to the last '@', so a key with an unencoded '@', '#' or
    '?' stays in it."""
    if _CONTROL.search(url):
        raise UrlError("contains a control character")
    written = scheme_of(url)
    if written not in REST_SCHEMES:
        raise UrlError("not an http(s) URL")
    scheme = written.removeprefix(POSTGREST_PREFIX)
    start = len(written) + 3
    rest = url[start:]
    at = rest.rfind("@")
    user = password = None
    password_span = None
    shown = f"{written}://"
    if at >= 0:
        userinfo = rest[:at]
        raw_user, colon, raw_password = userinfo.partition(":")
        if colon:
            user = _strict_decode(raw_user, "user name")
            password = _strict_decode(raw_password, "key")
            password_span = (start + len(raw_user) + 1, start + at)
            # The documented user name is shown; any other may be part of the key.
            shown += f"{user}:{MASK}@" if user == "service_role" else f"{MASK}:{MASK}@"
        else:
            shown += MASK + "@"  # https://KEY@host: the user part may be the key
        rest = rest[at + 1:]
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    query_at = min((i for i in (tail.find("?"), tail.find("#")) if i >= 0), default=len(tail))
    path, after = tail[:query_at], tail[query_at:]
    host, port = _host_port(netloc)
    if any(c in _C_SPACE for c in path):
        raise UrlError("the path contains a space")
    shown += netloc + path + (after[0] + MASK if after else "")
    return HttpUrl(
        scheme=scheme, host=host, port=port, netloc=netloc, path=path, user=user, password=password,
        has_userinfo=at >= 0, has_query_or_fragment=bool(after), shown=shown, password_span=password_span,
        bare_postgrest=written in POSTGREST_SCHEMES,
    )


def _is_port(text: str) -> bool:
    text = text.strip(_C_SPACE)
    return not text or (text.isascii() and text.isdigit())


def _strict_decode(raw: str, what: str) -> str:
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == "%":
            digits = raw[i + 1:i + 3]
            if len(digits) != 2 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise UrlError(f"the {what} has an invalid percent-escape (write '%' as %25)")
            out.append(int(digits, 16))
            i += 3
        else:
            out += raw[i].encode("utf-8", "surrogatepass")
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise UrlError(f"the {what} is not UTF-8 once percent-decoded") from None


def _host_port(netloc: str) -> tuple[str, int | None]:
    if netloc.startswith("["):
        close = netloc.find("]")
        if close < 0:
            raise UrlError("an IPv6 address without its closing ']'")
        host, rest = netloc[1:close], netloc[close + 1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UrlError("not a valid IPv6 address in [...]") from None
        host = host.lower()
    else:
        host, colon, port_text = netloc.partition(":")
        rest = colon + port_text
        if host and not _HOSTNAME.fullmatch(host):
            raise UrlError("not a valid host name (letters, digits, '-' and '.'; non-ASCII names in punycode)")
        host = host.lower()
    if not rest:
        return host, None
    if not rest.startswith(":") or not rest[1:].isdigit() or not rest[1:].isascii() or not 0 < int(rest[1:]) < 65536:
        raise UrlError("the port is not a number from 1 to 65535")
    return host, int(rest[1:])
