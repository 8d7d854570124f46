"""The sanitizer of database messages (backends/messages.py): no value ever passes.

Pure: the messages are the ones PostgreSQL, PostgREST and SQLite write, with a
secret where they put a value. The end-to-end tests are in test_faults.py
(PostgreSQL) and test_rest.py (the REST backend and the SQL function).
"""
from __future__ import annotations

import pytest
from configsync.backends.messages import safe_detail, safe_error
from hypothesis import given, settings
from hypothesis import strategies as st

SECRET = "sk-live-4f9a2c"

# (message, detail, what must remain) as PostgreSQL words each 23xxx error.
CASES = [
    ('duplicate key value violates unique constraint "keys_tenant_api_key"',
     f"Key (tenant, api_key)=(t1, {SECRET}) already exists.",
     'duplicate key value violates unique constraint "keys_tenant_api_key" (Key (tenant, api_key) already exists)'),
    ('conflicting key value violates exclusion constraint "keys_active_api_key"',
     f"Key (api_key)=({SECRET}) conflicts with existing key (api_key)=({SECRET}).",
     'conflicting key value violates exclusion constraint "keys_active_api_key" '
     "(Key (api_key) conflicts with an existing key)"),
    ('insert or update on table "uses" violates foreign key constraint "uses_key"',
     f'Key (tenant, api_key)=(t9, {SECRET}) is not present in table "keys".',
     'insert or update on table "uses" violates foreign key constraint "uses_key" '
     '(Key (tenant, api_key) is not present in table "keys")'),
    ('update or delete on table "keys" violates foreign key constraint "uses_key" on table "uses"',
     f'Key (api_key)=({SECRET}) is still referenced from table "uses".',
     'update or delete on table "keys" violates foreign key constraint "uses_key" on table "uses" '
     '(Key (api_key) is still referenced from table "uses")'),
    ('new row for relation "keys" violates check constraint "keys_quota_check"',
     f"Failing row contains (1, t1, {SECRET}, -5).",
     'new row for relation "keys" violates check constraint "keys_quota_check"'),
    ('null value in column "tier" of relation "keys" violates not-null constraint',
     f"Failing row contains (1, t1, {SECRET}, null).",
     'null value in column "tier" of relation "keys" violates not-null constraint'),
    (f'invalid input syntax for type uuid: "{SECRET}"', None, 'invalid input syntax for type uuid: "…"'),
    (f'value "{SECRET}" is out of range for type integer', None, 'value "…" is out of range for type integer'),
    (f'invalid input value for enum tier: "{SECRET}"', None, 'invalid input value for enum tier: "…"'),
    ("UNIQUE constraint failed: keys.tenant, keys.api_key", None,
     "UNIQUE constraint failed: keys.tenant, keys.api_key"),
    # configsync_apply re-raises the Key form without its values: it stays
    ('duplicate key value violates unique constraint "k"', "Key (tenant, api_key) already exists",
     'duplicate key value violates unique constraint "k" (Key (tenant, api_key) already exists)'),
    ('insert or update on table "uses" violates foreign key constraint "uses_key"',
     'Key (tenant, api_key) is not present in table "keys"',
     'insert or update on table "uses" violates foreign key constraint "uses_key" '
     '(Key (tenant, api_key) is not present in table "keys")'),
    # a value inside a multi-line message is hidden before the message is cut to one line
    (f'invalid input syntax for type integer: "12\n{SECRET}"', None, 'invalid input syntax for type integer: "…"'),
    # object names stay, also in a connection failure
    ('connection to server at "127.0.0.1", port 1 failed: FATAL:  database "acme" does not exist', None,
     'connection to server at "127.0.0.1", port 1 failed: FATAL:  database "acme" does not exist'),
]


@pytest.mark.parametrize(("message", "detail", "shown"), CASES)
def test_each_error_keeps_its_names_and_loses_its_values(message: str, detail: str | None, shown: str) -> None:
    assert safe_error(message, detail) == shown


def test_a_password_or_key_never_passes() -> None:
    text = safe_error("connection failed: FATAL:  password pw-123 for user \"bob\" refused", secrets=["pw-123", None])
    assert text == 'connection failed: FATAL:  password *** for user "bob" refused'
    assert safe_error(f"bad key {SECRET}x", secrets=[SECRET, SECRET + "x"]) == "bad key ***"


def test_only_the_first_line_and_no_hint() -> None:
    assert safe_error(f"duplicate key\nDETAIL: Key (a)=({SECRET}) already exists.") == "duplicate key"


# Text around a secret: anything PostgreSQL, PostgREST or a trigger might write.
# (A text that itself begins like PostgreSQL's "Key (columns)=(" form would put
# the secret where the column names go: the sanitizer keeps column names.)
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).filter(lambda s: "Key (" not in s)
_secret = st.text(st.characters(blacklist_categories=("Cs",)), min_size=8, max_size=30).filter(
    lambda s: s.strip() == s and '"' not in s and ")" not in s and "(" not in s)


@settings(max_examples=400, deadline=None)
@given(columns=st.lists(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), min_size=1, max_size=3),
       before=_text, after=_text, secret=_secret,
       form=st.sampled_from([
           "Key ({cols})=({before}{secret}{after}) already exists.",
           "Key ({cols})=({before}{secret}{after}) conflicts with existing key ({cols})=({secret}).",
           'Key ({cols})=({before}{secret}{after}) is not present in table "t".',
           'Key ({cols})=({before}{secret}{after}) is still referenced from table "t".',
           "Failing row contains ({before}{secret}{after}).",
           "{before}{secret}{after}",
           'Token "{before}{secret}{after}" is invalid.',
           "Key ({cols})=({before}{secret}{after})",
       ]))
def test_no_detail_ever_returns_the_secret(columns: list[str], before: str, after: str, secret: str,
                                           form: str) -> None:
    detail = form.format(cols=", ".join(columns), before=before, after=after, secret=secret)
    assert secret not in safe_detail(detail)
    assert secret not in safe_error("duplicate key value violates unique constraint \"k\"", detail)


@settings(max_examples=400, deadline=None)
@given(before=_text, after=_text, secret=_secret, form=st.sampled_from([
    'invalid input syntax for type uuid: "{before}{secret}{after}"',
    'value "{before}{secret}{after}" is out of range for type integer',
    'invalid input value for enum "tier": "{before}{secret}{after}"',
    'malformed array literal: "{before}{secret}{after}"',
    'duplicate key (a)=({before}{secret}{after}) in "x"',
]))
def test_no_message_ever_returns_a_quoted_value(before: str, after: str, secret: str, form: str) -> None:
    message = form.format(before=before, after=after, secret=secret)
    assert secret not in safe_error(message)
