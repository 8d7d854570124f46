"""`configsync roles`: the SQL for a least-privilege reader and writer role."""
from __future__ import annotations

import click

from .base import EXIT_OK, Options, common_options


@click.command()
@common_options
@click.option("--reader", metavar="ROLE", default="configsync_reader", show_default=True,
              help="Name of the reader role (plan, status, snapshot).")
@click.option("--writer", metavar="ROLE", default="configsync_writer", show_default=True,
              help="Name of the writer role (apply, rollback).")
@click.pass_obj
def roles(opts: Options, reader: str, writer: str) -> int:
    """Print the SQL for a reader role and a writer role with least privilege.

    The reader may SELECT only the columns configsync reads (never a
    `secret` or `exclude`d one) of the tables in configsync.yaml, and the
    history table: give it to the login that plans pull requests
    (CONFIGSYNC_READONLY_DATABASE_URL). The writer has only what apply
    needs. Tables with row level security get a policy that shows each role
    every row. configsync reads the database's catalog to list the columns
    and never runs the SQL: review it, then run it as the tables' owner.
    See docs/security-roles.md.

    \b
    Example:
      configsync roles > roles.sql && psql "$OWNER_DATABASE_URL" -f roles.sql
    """
    from ..roles import RoleNames, database_roles_sql

    names = RoleNames(reader, writer)
    names.check()  # before connecting
    with opts.workspace() as ws:
        click.echo(database_roles_sql(ws.sides, names), nl=False)
    return EXIT_OK
