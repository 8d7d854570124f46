"""Commands for adopting configsync: init, schema infer/check, import-backup."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from .. import adoption
from ..config import CONFIG_FILE, load_config
from ..errors import ConfigError
from .base import EXIT_CHANGES, EXIT_OK, Options, common_options, table_option


def _root(opts: Options) -> Path:
    return Path(opts.config).resolve().parent if opts.config else Path.cwd()


def _choose(available: list[str]) -> list[str]:
    if not sys.stdin.isatty():
        raise ConfigError("name the tables with --tables a,b,c, or take all with --all")
    if not available:
        raise ConfigError("the database has no tables")
    for number, name in enumerate(available, 1):
        click.echo(f"  {number:>3}. {name}")
    answer = click.prompt("Tables to manage (names or numbers, comma-separated)", default="all")
    if answer.strip().lower() == "all":
        return available
    chosen = []
    for item in (part.strip() for part in answer.split(",")):
        if item.isdigit() and 1 <= int(item) <= len(available):
            chosen.append(available[int(item) - 1])
        elif item in available:
            chosen.append(item)
        elif item:
            raise ConfigError(f"{item!r} is not one of the listed tables")
    return chosen


@click.command()
@common_options
@click.option("--tables", metavar="A,B,C", help="Tables to manage, comma-separated.")
@click.option("--all", "all_tables", is_flag=True, help="Manage every table of the database.")
@click.option("--from-backup", "backup", type=click.Path(dir_okay=False, path_type=Path),
              help="Adopt a JSON backup (table -> list of rows) instead of a database.")
@click.option("--force", is_flag=True, help="Overwrite files that differ from what init would write, even if edited "
                   "(never configsync.yaml, nor the tables already in it).")
@click.option("--action", metavar="OWNER/REPO@REF",
              help="The configsync repository and the full commit SHA the GitHub workflows use "
                   "(e.g. acme/configsync@<40-hex SHA>); a tag or branch works, with a warning.")
@click.option("--secret", "secret", multiple=True, metavar="[TABLE.]COLUMN",
              help="Mark this column secret (repeatable): never read, never in files.")
@click.option("--no-secret-guess", is_flag=True,
              help="Do not mark columns secret because their name or comment says key, secret, token, password "
                   "or credential.")
@click.pass_obj
def init(opts: Options, tables: str | None, all_tables: bool, backup: Path | None, force: bool,
         action: str | None, secret: tuple[str, ...], no_secret_guess: bool) -> int:
    """Set up a config repository in the current git work tree.

    Writes configsync.yaml, one JSON Schema per table (inferred from column
    types, constraints and rows), the first snapshot, GitHub workflows and a
    pre-commit hook. Running it again on a configured repository adds the
    tables configsync.yaml lacks (an entry appended in its own style, a schema,
    a snapshot) and leaves the tables already there alone; it overwrites no
    file a person edited.

    \b
    Example:
      configsync init --database postgresql://postgres@db.example.com/postgres --tables system_config,proposer_configs
      configsync init --from-backup backups/config-backup-2025-10-03.json
      configsync init --database "$DATABASE_URL" --tables system_config,feature_flags   # add a table later
    """
    root = _root(opts)
    if backup is not None:
        result = adoption.init_from_backup(root, backup, force=force, action=action,
                                           guess_secrets=not no_secret_guess, secret=secret)
    else:
        url = opts.database or os.environ.get("CONFIGSYNC_DATABASE_URL")
        if not url:
            raise ConfigError("init needs a database: --database URL (or --from-backup FILE)")
        names = [t.strip() for t in tables.split(",") if t.strip()] if tables else None
        result = adoption.init_from_database(
            root, url, tables=names, choose=(lambda available: available) if all_tables else _choose, force=force,
            action=action, guess_secrets=not no_secret_guess, secret=secret,
        )
    for path, status in result.files:
        if status != adoption.UNCHANGED:
            click.echo(f"  {status:<10} {path}")
    unchanged = result.count(adoption.UNCHANGED)
    left = result.count(adoption.LEFT_ALONE)
    written = len(result.files) - unchanged - left
    if result.kept:
        added = f"Added {len(result.added)} table(s): {', '.join(result.added)}. " if result.added else "No table added. "
        summary = f"{added}Already in {CONFIG_FILE}, left as they are: {', '.join(result.kept)}."
    else:
        summary = f"Managing {len(result.tables)} table(s): {', '.join(result.tables)}."
    click.echo(f"{summary} {written} file(s) written, {unchanged} unchanged, {left} left alone.")
    if result.secrets:
        marked = "; ".join(f"{table}: {', '.join(columns)}" for table, columns in result.secrets.items())
        click.echo(f"Secret (never read, never in files): {marked}. Check them in {CONFIG_FILE}; "
                   "--no-secret-guess turns the guess off, --secret TABLE.COLUMN adds one.")
    if left:
        click.echo("Files left alone differ from what init would write; --force overwrites them.")
    if not action and any(path.startswith(".github/workflows/") for path, _ in result.files):
        click.echo(f"The workflows use {adoption.ACTION_PLACEHOLDER}: run init again with "
                   "--action OWNER/REPO@REF --force, or edit .github/workflows/.")
    for note in result.notes:
        click.echo(note, err=True)
    warning = adoption.action_ref_warning(action)
    if warning and any(path.startswith(".github/workflows/") for path, _ in result.files):
        click.echo(warning, err=True)
    click.echo("Next: review the files, `configsync validate`, then commit.")
    return EXIT_OK


@click.group()
def schema() -> None:
    """Infer JSON Schemas from the database, or check them against it."""


@schema.command("infer")
@common_options
@click.argument("tables", nargs=-1, metavar="[TABLE]...")
@click.option("--write", is_flag=True, help="Write schemas/<table>.schema.json instead of printing.")
@click.option("--force", is_flag=True, help="With --write: overwrite existing schema files.")
@click.pass_obj
def schema_infer(opts: Options, tables: tuple[str, ...], write: bool, force: bool) -> int:
    """Infer a strict JSON Schema per table from the database's column types
    (lengths, integer ranges, numeric precision, enums, CHECK ... IN, NOT NULL)
    and the shapes of its JSON values.

    \b
    Example:
      configsync schema infer system_config
      configsync schema infer --write
    """
    with opts.workspace() as ws:
        schemas = ws.infer_schemas(tables)
        if not write:
            shown = next(iter(schemas.values())) if len(schemas) == 1 else schemas
            click.echo(json.dumps(shown, indent=2, ensure_ascii=False))
            return EXIT_OK
        result = adoption.InitResult()
        writer = adoption.Writer(ws.config.root, force, result)
        for table, inferred in schemas.items():
            writer.write(ws.config.schema_path(table), adoption.schema_bytes(inferred))
    for path, status in result.files:
        click.echo(f"  {status:<10} {path}")
    return EXIT_OK


@schema.command("check")
@common_options
@table_option
@click.pass_obj
def schema_check(opts: Options, tables: tuple[str, ...]) -> int:
    """Report where the schema files and the database disagree: a column added
    by a migration, a column dropped, a type changed. Exits 2 when they do.

    \b
    Example:
      configsync schema check --env production
    """
    with opts.workspace() as ws:
        found = ws.check_schemas(tables)
    for line in found:
        click.echo(line)
    if found:
        click.echo(f"Schema drift: {len(found)} difference(s). `configsync schema infer TABLE` shows the database's view.")
        return EXIT_CHANGES
    click.echo("The schemas match the database.")
    return EXIT_OK


@click.command("import-backup")
@common_options
@click.argument("backup", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def import_backup(opts: Options, backup: Path) -> int:
    """Turn a JSON backup (table -> list of rows, like the Moose export scripts
    write) into record files for the tables in configsync.yaml. No database needed.

    \b
    Example:
      configsync import-backup backups/config-backup-2025-10-03.json && git diff --stat
    """
    config = load_config(opts.config or Path.cwd() / CONFIG_FILE)
    written, deleted = adoption.import_backup(config, backup)
    for path in sorted(written):
        click.echo(f"  W {path}")
    for path in deleted:
        click.echo(f"  D {path}")
    click.echo(f"Imported {backup.name}: {len(written)} file(s) written, {len(deleted)} removed.")
    return EXIT_OK
