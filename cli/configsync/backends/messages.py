"""One line for a database error that holds no value: the sanitizer every backend uses.

A database error reaches the apply job's log, its summary and PR comments,
which GitHub does not mask. PostgreSQL and PostgREST put row values in them:
"Failing row contains (..., sk-live-...)" lists every column of the row, secret
ones included; a unique, exclusion or foreign key violation lists the values of
the constraint's columns (``Key (tenant, api_key)=(t1, sk-live-...)``); an input
error quotes the value it could not read (``invalid input syntax for type
uuid: "..."``). Which column is secret does not matter here: no value is shown.

The rule is safe by default:

- A detail is shown only in one of the value-free forms of ``_DETAILS`` (the
  ``Key (...)`` forms of 23xxx errors, rewritten to keep the column names and
  drop the values); any other detail is dropped. Hints are never shown.
- In the message, a double-quoted text is kept only where it names an object
  (``constraint "x"``, ``column "c"``, ``relation "t"``...); any other quoted
  text is a value and becomes ``"…"``; a ``=(...)`` value list is cut.
- Known secret strings (the database password, a key) are replaced by ``***``
  wherever they still appear.

A message a trigger raises (``RAISE EXCEPTION 'bad key %', NEW.api_key``) is
the database owner's own text: configsync cannot know what in it is a value
unless it is a known secret.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

HIDDEN = "…"

# Words after which a double-quoted text names an object, not a value.
_OBJECT_WORDS = (
    "constraint", "column", "relation", "table", "type", "index", "schema", "function", "procedure",
    "role", "database", "sequence", "domain", "operator", "extension", "trigger", "policy", "view",
    "tablespace", "collation", "publication", "subscription", "server", "channel", "savepoint", "cursor",
    "parameter", "statement", "portal", "attribute", "user", "server at", "host name", "near",
)
_OBJECT_BEFORE = re.compile(r"(?:^|[\s(])(?:" + "|".join(_OBJECT_WORDS) + r") $", re.IGNORECASE)

# "Key (a, b)=(1, 2) ..." as PostgreSQL writes unique, exclusion and foreign
# key details. The column list ends at the first ")=(" (a value comes after
# it, never before), so the non-greedy match never reaches into a value.
_KEY = re.compile(r"^Key \((?P<columns>.*?)\)=\(", re.DOTALL)
# What follows the values; matched at the end, where the database's own text is.
_KEY_TAILS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r" already exists\.?$"), " already exists"),
    (re.compile(r" (?P<t>is not present in table \"[^\"]*\")\.?$"), " {t}"),
    (re.compile(r" (?P<t>is still referenced from table \"[^\"]*\")\.?$"), " {t}"),
    (re.compile(r" conflicts with existing key \(.*\.?$", re.DOTALL), " conflicts with an existing key"),
)

# Details that hold no value, as the database words them, matched whole (a
# deadlock's detail, for one, goes on with other sessions' statements: dropped).
_DETAILS = (
    # The Key form once its values are gone (as configsync_apply re-raises it): no "=".
    re.compile(r"^Key \([^=]*\)(?: already exists| conflicts with an existing key"
               r"| is not present in table \"[^\"=]*\"| is still referenced from table \"[^\"=]*\")$"),
    re.compile(r"^Array value must start with \"\{\" or dimension information\.$"),
    re.compile(r"^Key columns \"[^\"]*\" and \"[^\"]*\" are of incompatible types: [\w ]+ and [\w ]+\.$"),
    re.compile(r"^Multiple-dimensional arrays must have sub-arrays with matching dimensions\.$"),
    re.compile(r"^Unexpected end of input\.$"),
)


def safe_error(
    message: str,
    detail: str | None = None,
    *,
    secrets: Iterable[str | None] = (),
) -> str:
    """One line for a database error: ``message (detail)`` with no value in it.

    ``message`` and ``detail`` are the database's (PostgreSQL's message_primary
    and message_detail, PostgREST's "message" and "details", SQLite's text);
    ``secrets`` are strings that must never appear (a password, a key).
    """
    # Values hidden before the message is cut to its first line: a value may
    # hold a line break, and its first half has no closing quote.
    lines = _values_hidden(message.strip()).splitlines()
    text = lines[0].strip() if lines else ""
    shown = safe_detail(detail)
    if shown:
        text = f"{text} ({shown})" if text else shown
    return scrub(text, secrets)


def safe_detail(detail: str | None) -> str:
    """The detail in a value-free form, or "" when it has none."""
    detail = (detail or "").strip()
    if not detail:
        return ""
    key = _KEY.match(detail)
    if key:
        columns = key.group("columns")
        for pattern, replacement in _KEY_TAILS:
            found = pattern.search(detail, key.end())
            if found:
                return f"Key ({columns})" + replacement.format(**found.groupdict())
        return f"Key ({columns})"
    if any(pattern.fullmatch(detail) for pattern in _DETAILS):
        return detail
    return ""


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret string replaced by ``***`` (longest first:
    one secret may hold another)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _values_hidden(message: str) -> str:
    """The message with every quoted value and ``=(...)`` value list hidden;
    quoted object names are kept."""
    cut = message.find(")=(")
    if cut >= 0:
        message = message[:cut + 1] + "=(" + HIDDEN + ")"
    out: list[str] = []
    rest = message
    while True:
        start = rest.find('"')
        if start < 0:
            out.append(rest)
            return "".join(out)
        end = rest.find('"', start + 1)
        before = rest[:start]
        if end > start and _OBJECT_BEFORE.search("".join(out) + before):
            out.append(rest[:end + 1])
            rest = rest[end + 1:]
            continue
        # A value: it may hold quotes itself, so it runs to the message's last
        # quote; what follows that (the database's wording) is kept if it has none.
        # An odd count of quotes: the last one opens a value never closed.
        last = rest.rfind('"')
        out.append(before + '"' + HIDDEN + '"')
        closed = last > start and rest.count('"', start, last + 1) % 2 == 0
        rest = rest[last + 1:] if closed else ""
