"""The migration that installs ``configsync_apply(plan jsonb)`` and
``configsync_describe(tables text[])`` in a Supabase project.

Rendered from the template ``supabase/configsync_apply.sql`` for the tables of
configsync.yaml; the REST backend's apply calls the first (see
``backends/supabase/rpc.py``), its describe the second (``describe.py``). Plain text work: nothing here talks to a
database, so `configsync supabase migration` needs no connection. Only the
roles' migration (``--roles``, roles.py) reads the catalog, for the columns.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING

from . import __version__
from .backends.pgcommon import LOCK_ID
from .backends.supabase.describe import FUNCTIONS_VERSION

if TYPE_CHECKING:
    from .sides import Sides

#: Migration files are named ``<UTC time>_configsync_apply.sql``.
MIGRATION_NAME = "configsync_apply"
#: ... and the least-privilege roles' (``--roles``), ``<UTC time>_configsync_roles.sql``.
ROLES_MIGRATION_NAME = "configsync_roles"


def migration_sql(tables: Sequence[str], history_table: str) -> str:
    """The migration that installs configsync_apply for these tables."""
    template = resources.files("configsync").joinpath("supabase", "configsync_apply.sql").read_text("utf-8")
    replacements = {
        "__CONFIGSYNC_VERSION__": __version__,
        "__FUNCTIONS_VERSION__": str(FUNCTIONS_VERSION),
        "__MANAGED_TABLES_COMMENT__": "\n".join(f"--   {t}" for t in tables),
        "__MANAGED_TABLES_PLAIN__": _sql_literal(", ".join(tables)),
        "__MANAGED_TABLES__": ", ".join(f"'{_sql_literal(t)}'" for t in tables),
        "__HISTORY_TABLE_IDENT_LITERAL__": _sql_literal(_sql_ident(history_table)),
        "__HISTORY_TABLE_IDENT__": _sql_ident(history_table),
        "__HISTORY_TABLE_NAME__": _sql_literal(history_table),
        # The same lock as a direct PostgreSQL apply: the two never interleave.
        "__LOCK_ID__": str(LOCK_ID),
    }
    for placeholder, value in replacements.items():
        template = template.replace(placeholder, value)
    left = re.findall(r"__[A-Z_]+__", template)
    if left:
        raise AssertionError(f"unrendered placeholders in the migration template: {left}")
    return template


def roles_migration_sql(sides: Sides, reader: str, writer: str) -> str:
    """The reader and writer roles (roles.py) as a Supabase migration: the
    database is read for the columns and row level security of each table."""
    from .roles import RoleNames, database_roles_sql

    return database_roles_sql(sides, RoleNames(reader, writer), supabase=True)


def _sql_literal(text: str) -> str:
    """The inside of a single-quoted SQL string."""
    return text.replace("'", "''")


def _sql_ident(table: str) -> str:
    """A configured table name as a quoted, schema-qualified identifier (unqualified: public)."""
    schema, _, name = table.rpartition(".")
    return ".".join('"' + part.replace('"', '""') + '"' for part in (schema or "public", name))
