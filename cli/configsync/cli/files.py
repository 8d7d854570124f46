"""The files and their history, no database: validate, diff, history."""
from __future__ import annotations

import click

from .. import render
from ..errors import ConfigError, Problem
from .base import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, Options, common_options, format_option, use_color


@click.command()
@common_options
@click.argument("paths", nargs=-1, type=click.Path())
@format_option("problems", help="github prints workflow annotations.")
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
        if _known_valid(opts, paths):
            problems, prefix = [], ""
        else:
            ws = opts.workspace()
            problems = ws.validate(paths)
            prefix = ws.path_prefix
    except ConfigError as exc:
        if fmt != "github":
            raise
        # Annotated, a broken configsync.yaml shows on the pull request too.
        problems, prefix = [Problem("configsync.yaml", 0, str(exc))], ""
    click.echo(render.problem_renderer(fmt)(problems, prefix), nl=False)
    if problems:
        if fmt == "text":
            click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found.", err=True)
        return EXIT_ERROR
    if fmt == "text":
        click.echo("All record files are valid.")
    return EXIT_OK


def _known_valid(opts: Options, paths: tuple[str, ...]) -> bool:
    """Has this exact work tree (by its stamp) been found valid before? Asked
    without git or JSON Schema: the warm answer costs little more than Python."""
    from pathlib import Path

    from ..cache import ValidationCache
    from ..config import load_config
    from ..errors import ConfigsyncError
    from ..stamps import STAMP_SCHEMA, worktree_stamp

    if opts.env is not None:
        return False
    try:
        config = load_config(opts.config)
        cache = config.root / ".configsync" / "cache.sqlite"
        root = config.root.resolve()
        if not cache.is_file() or not all(Path(p).resolve().is_relative_to(root) for p in paths):
            return False  # the full run says what is wrong
        return ValidationCache(cache).knows_valid(STAMP_SCHEMA, worktree_stamp(config)[0])
    except (ConfigsyncError, OSError):
        return False


@click.command()
@common_options
@click.argument("rev1")
@click.argument("rev2", default="HEAD")
@format_option("plan")
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
    header = render.diff_header(ws.describe_revision(rev1, rev1), ws.describe_revision(rev2, rev2))
    click.echo(render.plan_renderer(fmt)(result, header, title="Diff", color=use_color()), nl=False)
    return EXIT_CHANGES if result.has_changes else EXIT_OK


@click.command()
@common_options
@click.argument("record", metavar="TABLE/NAME")
@format_option("report")
@click.pass_obj
def history(opts: Options, record: str, fmt: str) -> int:
    """The git history of one record, newest first, with field changes.

    \b
    Example:
      configsync history system_config/budget_limits
      configsync history "proposer_configs/gpt-4o-mini" --format json
    """
    ws = opts.workspace()
    versions = ws.history(record)
    if fmt == "json":
        click.echo(render.report_json([v.to_json() for v in versions]), nl=False)
        return EXIT_OK
    for version in versions:
        info = version.commit_info
        click.echo(f"{info.id[:7]}  {info.time:%Y-%m-%d %H:%M}  {info.author}  {info.subject}")
        if version.change is None:
            click.echo(f"    {version.action}")
            continue
        for path, old, new in render.field_diffs(version.change):
            click.echo(f"    {path}: {old} -> {new}")
    return EXIT_OK
