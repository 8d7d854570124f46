"""The command line: parse options, make one library call, render, exit code.

Exit codes: 0 success / no changes, 2 changes or drift found, 1 an error the
user can fix (message, no traceback), 3 a bug (traceback in a log file),
130 interrupted.
"""
from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import click

from . import __version__, render
from . import plan as plan_module
from .errors import ConfigError, ConfigsyncError, Problem
from .plan import Plan
from .workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
# File lists longer than this are cut short: a first snapshot may write thousands.
MAX_LISTED = 100


class _Group(click.Group):
    """Maps every outcome to the exit codes above, in one place."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
            code = result if isinstance(result, int) else EXIT_OK
        except click.ClickException as exc:
            exc.show()
            code = EXIT_ERROR  # 2 means "changes found"; never reuse it for usage errors
        except ConfigsyncError as exc:
            click.echo(f"error: {exc}", err=True)
            code = EXIT_ERROR
        except (KeyboardInterrupt, click.Abort):
            click.echo("interrupted", err=True)
            code = EXIT_INTERRUPTED
        except Exception as exc:  # noqa: BLE001 - the one place that reports bugs
            code = _report_bug(exc)
        if standalone_mode:
            sys.exit(code)
        return code


def _report_bug(exc: Exception) -> int:
    fd, path = tempfile.mkstemp(prefix="configsync-crash-", suffix=".log")
    with os.fdopen(fd, "w") as handle:
        handle.write(f"configsync {__version__}\n")
        traceback.print_exception(exc, file=handle)
    click.echo(
        f"configsync failed unexpectedly ({type(exc).__name__}); this is a bug. "
        f"Details: {path}",
        err=True,
    )
    return EXIT_BUG


@dataclass
class Options:
    config: str | None
    env: str | None
    database: str | None

    def workspace(self) -> Workspace:
        return Workspace.open(self.config, database=self.database, env=self.env)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config", metavar="FILE", help="Config file. Default: ./configsync.yaml.")
@click.option("--env", metavar="NAME", help="Use the database of environments.NAME in configsync.yaml.")
@click.option(
    "--database", metavar="URL",
    help="Database URL (sqlite:///file.db, postgresql://...). Default: $CONFIGSYNC_DATABASE_URL, "
    "then the config's `database`, then sqlite:///.configsync/local.db.",
)
@click.version_option(__version__, prog_name="configsync")
@click.pass_context
def cli(ctx: click.Context, config: str | None, env: str | None, database: str | None) -> None:
    """Keep database configuration tables in git: one YAML file per row,
    validated by JSON Schema, planned, applied atomically, rolled back with git.

    \b
    Exit codes: 0 ok / no changes, 2 changes or drift found, 1 error, 3 bug.
    """
    ctx.obj = Options(config, env, database)


def _override(field: str) -> Callable[[click.Context, click.Parameter, str | None], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            setattr(ctx.ensure_object(Options), field, value)

    return callback


def common_options(f: F) -> F:
    """--config/--env/--database after the command too: `configsync plan --env staging`."""
    for field, metavar, text in (
        ("database", "URL", "Database URL (same as the global option)."),
        ("env", "NAME", "Environment: its database and its overlay (same as the global option)."),
        ("config", "FILE", "Config file (same as the global option)."),
    ):
        f = click.option(f"--{field}", metavar=metavar, help=text, expose_value=False,
                         callback=_override(field), is_eager=True)(f)
    return f


def table_option(f: F) -> F:
    return click.option(
        "--table", "-t", "tables", multiple=True, metavar="TABLE",
        help="Only this table (repeatable). Default: every table in configsync.yaml.",
    )(f)


def safety_options(f: F) -> F:
    f = click.option("--allow-mass-delete", is_flag=True,
                     help="Allow emptying a table or deleting more than 30% of its rows.")(f)
    f = click.option("--max-deletes", type=click.IntRange(min=0), metavar="N",
                     help="Refuse more than N deletions in total (replaces the 30% rule).")(f)
    f = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")(f)
    return f


def _echo_plan(ws: Workspace, plan: Plan, fmt: str = "text", verb: str = "Plan") -> None:
    header = ws.header(plan, public=fmt == "markdown")
    if fmt == "json":
        click.echo(render.json_text(plan), nl=False)
    elif fmt == "markdown":
        click.echo(render.markdown(plan, header), nl=False)
    else:
        click.echo(render.text(plan, header, color=_color(), verb=verb), nl=False)


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _confirmer(yes: bool, database: str) -> Callable[[Plan], bool]:
    def confirm(plan: Plan) -> bool:
        if yes or not plan.has_changes:
            return True
        if not sys.stdin.isatty():
            raise ConfigsyncError("refusing to apply without confirmation: no terminal to ask on; pass --yes")
        return click.confirm(f"Apply these changes to {database}?", default=False)

    return confirm


def _report_apply(ws: Workspace, plan: Plan, backup: str | None, applied: bool) -> int:
    if not applied:
        click.echo("Not applied.")
        return EXIT_ERROR
    s = plan.summary
    if plan.has_changes:
        click.echo(
            f"Applied: {s['create']} created, {s['update']} updated, {s['delete']} deleted "
            f"in {ws.display_url}."
        )
    else:
        click.echo(f"Nothing to change; recorded revision {plan.revision[:7]} as deployed.")
    if backup:
        click.echo(f"Backup of the previous state: {backup}")
        click.echo(f"  undo with: configsync rollback --to {backup}")
    return EXIT_OK


@cli.command()
@common_options
@table_option
@click.option("--commit", is_flag=True, help="Commit the changed files (only the snapshot directory).")
@click.option("--message", "-m", metavar="M", help="Commit message. Default: a summary of the drift.")
@click.pass_obj
def snapshot(opts: Options, tables: tuple[str, ...], commit: bool, message: str | None) -> int:
    """Write the database's rows into record files.

    A file is rewritten only when its data differs, so comments survive.
    Exits 2 when files changed (drift), 0 when the files already matched.

    \b
    Example:
      configsync snapshot --commit --message "snapshot: nightly"
    """
    with opts.workspace() as ws:
        result = ws.snapshot(tables, commit=commit, message=message)
    lines = [f"  {'A' if p in result.added else 'M'} {p}" for p in sorted(result.written)]
    lines += [f"  D {p}" for p in result.deleted]
    for line in lines[:MAX_LISTED]:
        click.echo(line)
    if len(lines) > MAX_LISTED:
        click.echo(f"  ... and {len(lines) - MAX_LISTED} more files")
    if not result.drift:
        click.echo("No drift: the files match the database.")
        return EXIT_OK
    click.echo(result.message().replace("snapshot: ", "Drift: ", 1))
    if result.commit:
        click.echo(f"Committed {result.commit[:7]}.")
    return EXIT_CHANGES


@cli.command()
@common_options
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="github prints workflow annotations.")
@click.pass_obj
def validate(opts: Options, paths: tuple[str, ...], fmt: str) -> int:
    """Check record files and schemas without touching any database.

    Every problem is printed as FILE:LINE: MESSAGE. With PATHs, only problems
    in those files or directories are shown.

    \b
    Example:
      configsync validate
      configsync validate config-snapshots/system_config --format github
    """
    try:
        ws = opts.workspace()
        problems = ws.validate(paths)
        prefix = ws.repo.prefix
    except ConfigError as exc:
        if fmt != "github":
            raise
        problems, prefix = [Problem("configsync.yaml", 0, str(exc))], ""
    click.echo(render.problems_text(problems, fmt, prefix), nl=False)
    if problems:
        if fmt == "text":
            click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found.", err=True)
        return EXIT_ERROR
    if fmt == "text":
        click.echo("All record files are valid.")
    return EXIT_OK


@cli.command()
@common_options
@click.option("--ref", default="HEAD", show_default=True, help="Git revision holding the desired state.")
@table_option
@click.option("--out", type=click.Path(dir_okay=False, writable=True),
              help="Save the plan to FILE; `apply FILE` then applies exactly it.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--no-prune", is_flag=True, help="Never delete rows that have no file.")
@click.pass_obj
def plan(opts: Options, ref: str, tables: tuple[str, ...], out: str | None, fmt: str, no_prune: bool) -> int:
    """Show what apply would change in the database.

    Exits 2 when there are changes, 0 when the database matches.

    \b
    Example:
      configsync plan
      configsync plan --ref origin/main --format markdown
      configsync plan --out plan.json && configsync apply plan.json
    """
    with opts.workspace() as ws:
        result = ws.plan(ref, tables, prune=not no_prune, use_cache=True)
        # A hint for people at a terminal; a CI checkout is clean, and finding
        # out costs a stat of every record file (a second at 300,000 files).
        if ref == "HEAD" and sys.stderr.isatty() and ws.repo.dirty_paths():
            click.echo("note: uncommitted changes in the work tree are not part of this plan", err=True)
        _echo_plan(ws, result, fmt)
        for reason in result.unsafe_reasons():
            click.echo(f"warning: {reason}; apply refuses this without --allow-mass-delete", err=True)
        if out:
            result.save(Path(out))
            click.echo(f"Plan saved to {out} (checksum {result.checksum()[:12]}).", err=True)
    return EXIT_CHANGES if result.has_changes else EXIT_OK


@cli.command()
@common_options
@click.argument("planfile", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--ref", default=None, help="Git revision to apply. Default: HEAD.")
@table_option
@click.option("--dry-run", is_flag=True, help="Only show the plan.")
@click.option("--no-prune", is_flag=True, help="Never delete rows that have no file.")
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=60.0, show_default=True,
              metavar="SECONDS", help="How long to wait for another apply to finish.")
@click.option("--non-atomic", is_flag=True,
              help="Supabase REST without the configsync_apply function: send the changes one by one "
              "(not atomic), then verify by reading back.")
@safety_options
@click.pass_obj
def apply(
    opts: Options, planfile: str | None, ref: str | None, tables: tuple[str, ...], dry_run: bool,
    no_prune: bool, lock_timeout: float, non_atomic: bool, yes: bool, max_deletes: int | None,
    allow_mass_delete: bool,
) -> int:
    """Make the database match a revision, in one transaction.

    Shows the plan, asks before writing (unless --yes), refuses uncommitted
    config changes, stale plans and mass deletions, and saves the previous
    state under refs/configsync/backups/. Another apply waits for the lock.

    \b
    Example:
      configsync apply                  # plan HEAD, confirm, apply
      configsync apply --yes --ref $GITHUB_SHA
      configsync apply plan.json --yes  # exactly the reviewed plan
    """
    if planfile and (ref or tables or no_prune):
        raise click.UsageError("a saved plan already fixes the revision and tables; drop --ref/--table/--no-prune")
    with opts.workspace() as ws:
        the_plan = plan_module.load(Path(planfile)) if planfile else ws.plan(ref or "HEAD", tables, prune=not no_prune, use_cache=True)
        _echo_plan(ws, the_plan)
        if dry_run:
            return EXIT_OK
        result = ws.apply(
            the_plan, confirm=_confirmer(yes, ws.display_url), max_deletes=max_deletes,
            allow_mass_delete=allow_mass_delete, lock_timeout=lock_timeout, non_atomic=non_atomic,
        )
        code = _report_apply(ws, the_plan, result.backup_ref, result.applied)
        for note in result.notes:
            click.echo(f"note: {note}")
        return code


@cli.command()
@common_options
@click.argument("commit", required=False)
@click.option("--to", "to", metavar="REF", help="Restore the config as it was at REF (e.g. a backup ref).")
@click.option("--dry-run", is_flag=True, help="Show the database changes the rollback would make; change nothing.")
@click.option("--no-apply", is_flag=True, help="Only make the git commit.")
@safety_options
@click.pass_obj
def rollback(
    opts: Options, commit: str | None, to: str | None, dry_run: bool, no_apply: bool,
    yes: bool, max_deletes: int | None, allow_mass_delete: bool,
) -> int:
    """Undo a config change: revert COMMIT (or restore --to REF) and apply.

    The revert commit lands on the branch only once the apply succeeded.
    Reverting a merge commit undoes the merged pull request.

    \b
    Example:
      configsync rollback HEAD --yes
      configsync rollback --to refs/configsync/backups/20251003T170212.000000Z
      configsync rollback 3f2a1c7 --no-apply && git push
    """
    if (commit is None) == (to is None):
        raise click.UsageError("give either COMMIT or --to REF")
    with opts.workspace() as ws:
        result = ws.rollback(
            commit, to=to, dry_run=dry_run, apply=not no_apply,
            confirm=_confirmer(yes, ws.display_url), max_deletes=max_deletes,
            allow_mass_delete=allow_mass_delete,
        )
        if result.plan is not None:
            _echo_plan(ws, result.plan, verb="Rollback" if not dry_run else "Plan")
        if dry_run:
            click.echo("Dry run: nothing was committed or applied.")
            return EXIT_OK
        if result.apply is not None:
            code = _report_apply(ws, result.plan or result.apply.plan, result.apply.backup_ref, result.apply.applied)
            if code:
                return code
        click.echo(f"Committed {str(result.commit.id)[:7]}: {result.commit.message.splitlines()[0]}")
    return EXIT_OK


@cli.command()
@common_options
@click.argument("rev1")
@click.argument("rev2", default="HEAD")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.pass_obj
def diff(opts: Options, rev1: str, rev2: str, fmt: str) -> int:
    """Record- and field-level changes from REV1 to REV2 (default HEAD); no database.

    Exits 2 when the revisions differ.

    \b
    Example:
      configsync diff HEAD~1
      configsync diff v1.2 main --format markdown
    """
    ws = opts.workspace()
    result = ws.diff(rev1, rev2)
    old = ws.repo.describe(ws.repo.resolve(rev1), rev1)
    new = ws.repo.describe(ws.repo.resolve(rev2), rev2)
    header = f"diff {old} -> {new}"
    if fmt == "json":
        click.echo(render.json_text(result), nl=False)
    elif fmt == "markdown":
        click.echo(render.markdown(result, header, title="diff"), nl=False)
    else:
        click.echo(render.text(result, header, color=_color(), verb="Diff"), nl=False)
    return EXIT_CHANGES if result.has_changes else EXIT_OK


@cli.command()
@common_options
@click.pass_obj
def status(opts: Options) -> int:
    """Deployed revision, HEAD, and whether the database has drifted.

    Exits 0 when the database matches HEAD, 2 when it does not.

    \b
    Example:
      configsync status --env production
    """
    with opts.workspace() as ws:
        result = ws.status()
        click.echo(f"database  {ws.display_url}")
        head_commit = ws.repo.resolve(result.head)
        click.echo(f"HEAD      {ws.repo.describe(head_commit, 'HEAD')}")
        if result.deployed:
            d = result.deployed
            click.echo(f"deployed  {d.revision[:7]} at {d.applied_at} by {d.actor}")
        else:
            click.echo("deployed  never (no apply recorded in this database)")
        if result.in_sync:
            click.echo("in sync: the database matches HEAD")
            return EXIT_OK
        click.echo(f"out of sync: applying HEAD would make {render.summary_line(result.plan)}")
        for change in result.plan.changes:
            click.echo(f"  {render.SYMBOL[change.action]} {change.table} {render.label(change)}")
    return EXIT_CHANGES


@cli.command()
@common_options
@click.argument("record", metavar="TABLE/NAME")
@click.pass_obj
def history(opts: Options, record: str) -> int:
    """The git history of one record, newest first, with field changes.

    \b
    Example:
      configsync history system_config/budget_limits
    """
    ws = opts.workspace()
    for version in ws.history(record):
        commit = version.commit
        when = dt.datetime.fromtimestamp(
            commit.commit_time, dt.timezone(dt.timedelta(minutes=commit.commit_time_offset))
        ).strftime("%Y-%m-%d %H:%M")
        subject = commit.message.splitlines()[0] if commit.message else ""
        click.echo(f"{str(commit.id)[:7]}  {when}  {commit.author.name}  {subject}")
        if version.change is None:
            click.echo(f"    {version.action}")
            continue
        for path, old, new in render.field_diffs(version.change):
            click.echo(f"    {path}: {old} -> {new}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="configsync")


def _register_adoption_commands() -> None:
    # Defined in their own module; imported here, after everything they use.
    from .cli_adoption import import_backup, init, schema

    for command in (init, schema, import_backup):
        cli.add_command(command)


_register_adoption_commands()
cli.add_command(__import__("configsync.cli_supabase", fromlist=["supabase"]).supabase)  # `configsync supabase ...`
