"""`configsync supabase ...`: what the Supabase REST backend needs in the project."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ..config import load_config
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
@click.pass_obj
def migration(opts: Options, directory: str | None) -> int:
    """The migration that installs configsync_apply(plan jsonb).

    Over the REST API (https://<ref>.supabase.co with the service-role key),
    apply calls this function once: it locks, checks the plan is not stale,
    writes every change and records the apply, all in one transaction. It
    accepts only the tables in configsync.yaml: after adding a table, write
    and deploy a new migration. Without it, apply refuses unless --non-atomic.

    With --write, a file DIR/<UTC time>_configsync_apply.sql is written,
    unless the newest such file there already has the same content.

    \b
    Example:
      configsync supabase migration --write supabase/migrations && supabase db push
      configsync supabase migration > configsync_apply.sql   # run it in the SQL editor
    """
    from ..supabase_migration import MIGRATION_NAME, migration_sql

    config = load_config(opts.config)
    sql = migration_sql(list(config.tables), config.history_table)
    if directory is None:
        click.echo(sql, nl=False)
        return EXIT_OK
    folder = Path(directory)
    existing = sorted(folder.glob(f"*_{MIGRATION_NAME}.sql")) if folder.is_dir() else []
    if existing and existing[-1].read_text(encoding="utf-8") == sql:
        click.echo(f"{existing[-1]} is up to date.")
        return EXIT_OK
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    path = folder / f"{stamp}_{MIGRATION_NAME}.sql"
    path.write_text(sql, encoding="utf-8")
    click.echo(f"Wrote {path}. Deploy it with `supabase db push` (or run it in the SQL editor).")
    return EXIT_OK
