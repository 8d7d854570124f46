"""`configsync supabase ...`: what the Supabase REST backend needs in the project."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ..config import CONFIG_FILE, load_config
from .base import EXIT_OK, Options, common_options


@click.group()
def supabase() -> None:
    """Supabase: the SQL that lets apply run as one transaction over the REST API.

    \b
    Example:
      configsync supabase migration --write supabase/migrations
    """


@supabase.command()
@common_options
@click.option("--write", "directory", metavar="DIR", type=click.Path(file_okay=False),
              help="Write it as a new migration file in DIR (e.g. supabase/migrations) instead of printing it.")
@click.option("--roles", "with_roles", is_flag=True,
              help="The migration of the least-privilege reader and writer roles instead "
              "(see `configsync roles`; reads the database's catalog).")
@click.option("--reader", metavar="ROLE", default="configsync_reader", show_default=True,
              help="With --roles: name of the reader role.")
@click.option("--writer", metavar="ROLE", default="configsync_writer", show_default=True,
              help="With --roles: name of the writer role.")
@click.pass_obj
def migration(opts: Options, directory: str | None, with_roles: bool, reader: str, writer: str) -> int:
    """The migration that installs configsync_apply(plan jsonb).

    Over the REST API (https://<ref>.supabase.co with the service-role key),
    apply calls this function once: it locks, checks the plan is not stale,
    writes every change and records the apply, all in one transaction. It
    accepts only the tables in configsync.yaml: after adding a table, write
    and deploy a new migration. Without it, apply refuses unless --non-atomic.
    Beside it, the read-only configsync_describe() gives the REST backend
    what PostgREST's description lacks (unique constraints, composite foreign
    keys, generated and identity columns, CHECK lists), so init and schema
    infer choose the keys and schemas a direct connection would. Without
    configsync.yaml (before `configsync init`), it manages no table yet.

    With --roles, the migration of a reader role for pull-request plans
    (no secret column; a separate login role, never service_role, which
    bypasses row level security) and a writer role for apply over a direct
    or pooler connection: the SQL of `configsync roles`, which needs the
    database (--database) to list the columns.

    With --write, a file DIR/<UTC time>_configsync_apply.sql (with --roles:
    _configsync_roles.sql) is written, unless the newest such file there
    already has the same content.

    \b
    Example:
      configsync supabase migration --write supabase/migrations && supabase db push
      configsync supabase migration > configsync_apply.sql   # run it in the SQL editor
      configsync supabase migration --roles --write supabase/migrations
    """
    from ..supabase_migration import MIGRATION_NAME, ROLES_MIGRATION_NAME, migration_sql, roles_migration_sql

    if with_roles:
        name = ROLES_MIGRATION_NAME
        with opts.workspace() as ws:
            sql = roles_migration_sql(ws.sides, reader, writer)
    elif opts.config is None and not (Path.cwd() / CONFIG_FILE).is_file():
        # Before `configsync init` over REST: configsync_describe lets init
        # choose the keys a direct connection would; apply accepts no table yet.
        name = MIGRATION_NAME
        sql = migration_sql([], "configsync_history")
        click.echo(f"note: no {CONFIG_FILE} here, so this migration's configsync_apply manages no table yet; "
                   f"after `configsync init`, run `configsync supabase migration` again and deploy that too.",
                   err=True)
    else:
        config = load_config(opts.config)
        name = MIGRATION_NAME
        sql = migration_sql(list(config.tables), config.history_table)
    if directory is None:
        click.echo(sql, nl=False)
        return EXIT_OK
    folder = Path(directory)
    existing = sorted(folder.glob(f"*_{name}.sql")) if folder.is_dir() else []
    if existing and existing[-1].read_text(encoding="utf-8") == sql:
        click.echo(f"{existing[-1]} is up to date.")
        return EXIT_OK
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    path = folder / f"{stamp}_{name}.sql"
    path.write_text(sql, encoding="utf-8")
    click.echo(f"Wrote {path}. Deploy it with `supabase db push` (or run it in the SQL editor).")
    return EXIT_OK
