"""`configsync supabase ...`: what the Supabase REST backend needs in the project."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ..config import CONFIG_FILE, load_config
from .base import EXIT_OK, Options, common_options


@click.group()
def supabase() -> None:
    """Supabase: the SQL that lets apply run as one transaction over the REST
    API, and a read-only key for pull-request plans.

    \b
    Example:
      configsync supabase migration --write supabase/migrations
      configsync supabase reader --url < jwt-secret | gh secret set CONFIGSYNC_READONLY_DATABASE_URL
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
    return _print_or_write(sql, directory, name)


def _print_or_write(sql: str, directory: str | None, name: str) -> int:
    """``sql`` on stdout, or as a new migration file DIR/<UTC time>_<name>.sql
    unless the newest such file there already holds it."""
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


#: The reader's migration file: ``<UTC time>_configsync_reader.sql``.
READER_MIGRATION_NAME = "configsync_reader"


@supabase.command()
@common_options
@click.option("--token", "output", flag_value="token",
              help="Print the role's API key instead of the SQL, minted from the JWT secret on stdin.")
@click.option("--url", "output", flag_value="url",
              help="Print the database URL with that key in it (https://<role>:<key>@<project>), "
              "for CONFIGSYNC_READONLY_DATABASE_URL.")
@click.option("--reader", metavar="ROLE", default="configsync_reader", show_default=True,
              help="Name of the reader role.")
@click.option("--expires-in", metavar="DURATION", default="365d", show_default=True,
              help="With --token/--url: how long the key is valid (s, m, h, d, w or y; at most 10y).")
@click.option("--project-ref", metavar="REF",
              help="With --token/--url: the project's ref for the key's `ref` claim. Default: from the "
              "https://<ref>.supabase.co database URL or $SUPABASE_URL.")
@click.option("--authenticator", metavar="ROLE", default="authenticator", show_default=True,
              help="The role PostgREST logs in as (Supabase: authenticator).")
@click.option("--write", "directory", metavar="DIR", type=click.Path(file_okay=False),
              help="Write the SQL as a new migration file in DIR instead of printing it.")
@click.pass_obj
def reader(opts: Options, output: str | None, reader: str, expires_in: str, project_ref: str | None,
           authenticator: str, directory: str | None) -> int:
    """A read-only API key for pull-request plans over the REST API.

    For a project with no database password: the PR job's plan needs a key
    that cannot write and cannot read a secret column, which the service-role
    key is not. Without --token, prints the SQL (never runs it) for the role
    configsync_reader: SELECT on the columns plan reads of the tables in
    configsync.yaml (no secret, excluded or generated column), a SELECT
    policy where row level security may be on, SELECT on the history table,
    EXECUTE on configsync_describe; the role is granted to authenticator so
    PostgREST can switch to it. It reads the catalog (--database: the
    connection string, or the REST URL with the service-role key).

    With --token, mints the role's key (an HS256 JWT like the project's own
    keys) from the project's JWT secret read from standard input (no echo on
    a terminal). The secret is never stored nor printed. --url prints the
    database URL holding the key instead: pipe it into the secret.

    \b
    Example:
      configsync supabase reader --database "$SUPABASE_DB_URL" > reader.sql   # run it in the SQL editor
      configsync supabase reader --url < jwt-secret | gh secret set CONFIGSYNC_READONLY_DATABASE_URL
    """
    from ..roles import check_rest_reader_name

    check_rest_reader_name(reader, authenticator)  # before reading the database or the secret
    if output is None:
        from ..roles import database_tables, rest_reader_sql

        with opts.workspace() as ws:
            sql = rest_reader_sql(database_tables(ws.sides), ws.config.history_table, reader, authenticator)
        return _print_or_write(sql, directory, READER_MIGRATION_NAME)
    if directory is not None:
        raise click.UsageError("--write writes the SQL; the key goes to standard output only")
    return _mint(opts, output, reader, expires_in, project_ref)


def _mint(opts: Options, output: str, role: str, expires_in: str, project_ref: str | None) -> int:
    import sys
    import time

    from .. import jwt_mint
    from ..reader_key import project_of

    lifetime = jwt_mint.parse_duration(expires_in)
    project = project_of(opts.config, opts.database, opts.env, project_ref, need_url=output == "url")
    secret = jwt_mint.read_secret(sys.stdin, interactive=sys.stdin.isatty())
    now = int(time.time())
    key = jwt_mint.sign(jwt_mint.role_claims(role, now, lifetime, project.ref), secret)
    del secret
    click.echo(project.url_with(role, key) if output == "url" else key)
    expires = dt.datetime.fromtimestamp(now + lifetime, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    of = f" of project {project.ref}" if project.ref else " (no project ref: --project-ref adds one)"
    click.echo(f"Minted a key for role {role}{of}, valid until {expires}.", err=True)
    if sys.stdout.isatty():
        click.echo("note: it reads your configuration tables; put it straight into a secret, e.g. "
                   "`... | gh secret set CONFIGSYNC_READONLY_DATABASE_URL`, not in a file or a shell history",
                   err=True)
    return EXIT_OK
