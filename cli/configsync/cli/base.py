"""The group, its options, the one place that maps outcomes to exit codes,
and what several commands show (a plan, the confirmation, an apply's result).

Exit codes: 0 success / no changes, 2 changes or drift found, 1 an error the
user can fix (message, no traceback), 3 a bug (traceback in a log file),
130 interrupted.
"""
from __future__ import annotations

import importlib
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

from .. import __version__, progress, urls
from ..errors import ConfigsyncError

if TYPE_CHECKING:
    from ..plan import Plan
    from ..workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class _Group(click.Group):
    """Maps every outcome to the exit codes above, in one place; loads each
    command's module only when that command is asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # name -> (module in configsync.cli, attribute); filled in by configsync.cli
        self.lazy_commands: dict[str, tuple[str, str]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy_commands, *(name for name in super().list_commands(ctx) if name not in self.lazy_commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            module, attribute = self.lazy_commands[cmd_name]
            command = getattr(importlib.import_module(f"{__package__}.{module}"), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        progress.show_on(sys.stderr if progress.wanted(sys.stderr) else None)
        try:
            result = None
            if _wants_fleet(argv):
                # Several environments: each runs as its own configsync process. Loaded
                # by name, like every command module (which import from here, not back).
                result = importlib.import_module(f"{__package__}.fleet").run_fleet(argv)
            if result is None:
                result = super().main(argv, prog_name, complete_var, False, **extra)
            code = result if isinstance(result, int) else EXIT_OK
        except click.ClickException as exc:
            exc.show()
            code = EXIT_ERROR  # 2 means "changes found"; never reuse it for usage errors
        except ConfigsyncError as exc:
            # Messages name URLs redacted already; scrub() is the last line of
            # defence for one that slipped through (a driver's own message).
            click.echo(f"error: {urls.scrub(str(exc))}", err=True)
            code = EXIT_ERROR
        except (KeyboardInterrupt, click.Abort):
            click.echo("interrupted", err=True)
            code = EXIT_INTERRUPTED
        except Exception as exc:  # noqa: BLE001 - the one place that reports bugs
            code = _report_bug(exc)
        if standalone_mode:
            sys.exit(code)
        return code


# Options only a run over several environments takes (cli/fleet.py reads them).
FLEET_OPTIONS = ("--jobs", "--max-failures", "--max-envs-with-deletes")


def _wants_fleet(argv: Sequence[str]) -> bool:
    """True when ``--env`` names possibly several environments (a glob, a list,
    @group) or a fleet option is given. A cheap look at the words, so that a
    single-environment run pays nothing for fleets; help goes to click as ever."""
    for index, arg in enumerate(argv):
        if arg == "--" or arg in ("--help", "-h", "--version"):
            return False
        if arg.split("=", 1)[0] in FLEET_OPTIONS:
            return True
        value = argv[index + 1] if arg == "--env" and index + 1 < len(argv) else arg[6:] if arg.startswith("--env=") else None
        if value is not None and any(char in value for char in "*?[,@"):
            return True
    return False


def _report_bug(exc: Exception) -> int:
    fd, path = tempfile.mkstemp(prefix="configsync-crash-", suffix=".log")
    with os.fdopen(fd, "w") as handle:
        handle.write(f"configsync {__version__}\n")
        # A crash log is attached to bug reports and CI artefacts: any URL in
        # it (an exception message may quote one) is redacted.
        handle.write(urls.scrub("".join(traceback.format_exception(exc))))
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
        from ..workspace import Workspace

        return Workspace.open(self.config, database=self.database, env=self.env)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config", metavar="FILE", help="Config file. Default: ./configsync.yaml.")
@click.option("--env", metavar="NAME", help="Use the database of environments.NAME in configsync.yaml. "
              "A glob, a comma list or @group runs plan, apply, snapshot, status, schema check and "
              "validate once per environment (see `configsync envs --help`).")
@click.option(
    "--database", metavar="URL",
    help="Database URL (sqlite:///file.db, postgresql://..., https://<project-ref>.supabase.co). "
    "Default: $CONFIGSYNC_DATABASE_URL, "
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


def format_option(kind: Literal["plan", "problems", "report"], help: str | None = None) -> Callable[[F], F]:
    """--format, offering the formats of render.FORMATS that can show ``kind``."""
    from .. import render

    return click.option("--format", "fmt", type=click.Choice(render.formats(kind)), default="text",
                        show_default=True, help=help)


def use_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


# ---- what several commands show ----------------------------------------------

def echo_plan(ws: Workspace, plan: Plan, fmt: str = "text", title: str = "Plan") -> None:
    from .. import render

    public = render.FORMATS[fmt].public
    if os.environ.get("CONFIGSYNC_FLEET_REPORT"):  # run by a fleet: hand it the counts
        from ..fleet import write_report

        write_report(summary=dict(plan.summary))
    header = render.header(plan, ws.describe_revision(plan.revision, plan.ref), env=ws.env, public=public)
    click.echo(render.plan_renderer(fmt)(plan, header, title=title, color=use_color()), nl=False)


def confirmer(yes: bool, database: str) -> Callable[[Plan], bool]:
    def confirm(plan: Plan) -> bool:
        if yes or not plan.has_changes:
            return True
        if not sys.stdin.isatty():
            raise ConfigsyncError("refusing to apply without confirmation: no terminal to ask on; pass --yes")
        return click.confirm(f"Apply these changes to {database}?", default=False)

    return confirm


def report_apply(ws: Workspace, plan: Plan, backup: str | None, applied: bool) -> int:
    if os.environ.get("CONFIGSYNC_FLEET_REPORT"):  # run by a fleet: hand it the outcome
        from ..fleet import write_report

        write_report(applied=applied, backup=backup)
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
        env = f" --env {ws.env}" if ws.env else ""
        click.echo(f"Backup of the previous state: {backup}")
        click.echo(f"  undo with: configsync rollback --to {backup}{env}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="configsync")
