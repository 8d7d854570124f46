"""Tables described by ``configsync_describe()``, the migration's read-only function.

PostgREST's OpenAPI description shows no unique constraints, no composite
foreign keys, no generated or identity columns, no CHECK lists and not
whether row level security is on: over it, `init` would name files by a
surrogate id. The function answers from PostgreSQL's catalog what the direct
backend reads itself, and both turn it into a ``TableInfo`` through the same
``pgcommon.catalog_column``, so keys and schemas come out the same either way.
It also says which tables ``configsync_apply`` manages and the version of the
functions, so that `plan` refuses what apply would refuse.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import BackendError
from ..base import ForeignKey, RowSecurity, TableInfo
from ..pgcommon import catalog_column, choices_from_checks
from .client import RestClient, json_object

FUNCTION = "configsync_describe"
ANSWER_FORMAT = "configsync-describe/1"
#: The version of the functions the migration installs (configsync_apply and
#: configsync_describe), rendered into it. 2: the first with configsync_describe.
FUNCTIONS_VERSION = 2
#: The oldest installed version this configsync plans and applies with.
REQUIRED_VERSION = 2

#: How to install or update the functions.
MIGRATE = ("generate and deploy a new migration: `configsync supabase migration --write supabase/migrations`, "
           "then `supabase db push` (or run it in the SQL editor)")

#: Said once when the project has configsync_apply from before configsync_describe, or neither.
OPENAPI_NOTE = (
    "note: the REST API has no configsync_describe function, so tables were described from PostgREST's "
    "OpenAPI description, which shows no unique constraints, composite foreign keys, generated or identity "
    "columns, nor CHECK lists: keys fall back to the primary key (often a surrogate id) and schemas may differ "
    "from a direct connection's. For the same keys and schemas, " + MIGRATE
)


@dataclass(frozen=True)
class Installed:
    """What the migration installed, as configsync_describe reports it."""

    version: int
    configsync: str  # the configsync version that generated the migration
    managed: tuple[str, ...]  # the tables configsync_apply accepts
    history_table: str


def describe_tables(client: RestClient, tables: Sequence[str]) -> tuple[Installed, dict[str, TableInfo]] | None:
    """The tables the function knows and this key may read (a table missing
    from the answer: no such table, or not readable), and what is installed;
    None when the function is not there (an older migration, none, a schema
    cache that predates it) or this key may not call it."""
    # GET: a read (PostgREST runs it in a read-only transaction), retried like any.
    response = client.request("GET", f"rpc/{FUNCTION}", params=[("tables", _text_array(tables))], retry=True)
    body = json_object(response)
    if not response.is_success:
        # PGRST202: no such function (in PostgREST's schema cache); 42501: not
        # granted to this key's role. Either way the OpenAPI description
        # remains, and so it does for a 404 that is not PostgREST's (no code):
        # reading that description explains the URL.
        if str(body.get("code") or "") in ("PGRST202", "42501", "42883") or (
                response.status_code == 404 and not body.get("code")):
            return None
        client.fail(response, f"reading the structure of {client.display_url} through {FUNCTION}")
    if body.get("format") != ANSWER_FORMAT or not isinstance(body.get("tables"), dict):
        raise BackendError(
            f"{FUNCTION} in {client.display_url} answered in a format this configsync does not read "
            f"({str(body.get('format'))[:40]!r}, expected {ANSWER_FORMAT!r}): use the configsync version that "
            f"generated the migration, or {MIGRATE}"
        )
    try:
        installed = Installed(
            version=int(body["version"]), configsync=str(body.get("configsync") or ""),
            managed=tuple(str(t) for t in body["managed"]), history_table=str(body["history_table"]),
        )
        infos = {name: table_info(name, entry) for name, entry in body["tables"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise BackendError(f"{FUNCTION} in {client.display_url} gave an answer configsync cannot read; {MIGRATE}") \
            from None
    return installed, infos


def _text_array(items: Sequence[str]) -> str:
    """A PostgreSQL text[] literal: every element quoted, quotes and backslashes escaped."""
    return "{" + ",".join('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items) + "}"


def table_info(name: str, entry: dict[str, Any]) -> TableInfo:
    """One table of the function's answer, as the PostgreSQL backend describes it."""
    checks = choices_from_checks(str(c) for c in entry["checks"])
    columns = tuple(
        catalog_column(
            c["name"], c["type"], c["typname"], c["element"], bool(c["not_null"]), bool(c["has_default"]),
            int(c["typmod"]), c["labels"], c["comment"], c["dimensions"], checks,
            c["generated"], c["identity"], c["sequence"],
        )
        for c in entry["columns"]
    )
    security = entry["row_security"]
    return TableInfo(
        name=name,
        columns=columns,
        primary_key=tuple(entry["primary_key"]),
        foreign_keys=tuple(ForeignKey(tuple(f["columns"]), str(f["ref"]), tuple(f["ref_columns"]))
                           for f in entry["foreign_keys"]),
        unique=tuple(tuple(u) for u in entry["unique"]),
        row_security=RowSecurity(str(security["role"]), bool(security["enabled"]), bool(security["active"]),
                                 bool(security["all_rows"])),
    )


def apply_refusal(installed: Installed, display_url: str, tables: Sequence[str], history_table: str) -> str | None:
    """Why configsync_apply as installed would refuse to apply to these
    tables, with the fix; None when it would not."""
    problems = []
    if installed.version < REQUIRED_VERSION:
        problems.append(f"the configsync functions installed are version {installed.version} (configsync "
                        f"{installed.configsync or 'unknown'}); this configsync needs version {REQUIRED_VERSION}")
    if installed.history_table != history_table:
        problems.append(f"configsync.yaml records history in {history_table}, the installed configsync_apply "
                        f"in {installed.history_table}")
    unmanaged = [t for t in tables if t not in installed.managed]
    if unmanaged:
        managed = ", ".join(installed.managed) or "none"
        problems.append(f"configsync.yaml manages {', '.join(unmanaged)}, which the installed configsync_apply "
                        f"does not accept (it manages: {managed}), so apply would refuse "
                        f"{'them' if len(unmanaged) > 1 else 'it'}")
    if not problems:
        return None
    return (f"{display_url}: " + "; ".join(problems) + f".\nNothing was planned. To fix it, {MIGRATE}; "
            "the new migration lists every table in configsync.yaml.")
