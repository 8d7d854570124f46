"""The database side: snapshot, plan, apply, status."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import plan as plan_module
from .. import render, trust
from ..baseline import Policy, describe
from ..cache import make_private_dir
from ..changes import Change
from ..errors import PlanFileError
from ..workspace import Workspace
from .base import (
    EXIT_CHANGES,
    EXIT_OK,
    Options,
    common_options,
    confirmer,
    echo_plan,
    format_option,
    report_apply,
    safety_options,
    table_option,
)

# File lists longer than this are cut short: a first snapshot may write thousands.
MAX_LISTED = 100
# plan --trusted-config: the plan is withheld (a pull request changes what is hidden).
EXIT_WITHHELD = 4
# Where `plan --out` and `apply --plan` keep a plan when given no file: inside
# .configsync/, which ignores itself, so `git add -A` never commits a plan.
SAVED_PLAN = ".configsync/plan.json"


def _plan_path(ws: Workspace, given: str) -> Path:
    """The plan file: as given, or the default one under the config repository's .configsync/."""
    if given != SAVED_PLAN:
        return Path(given)
    make_private_dir(ws.config.root / ".configsync")
    return ws.config.root / SAVED_PLAN


@click.command()
@common_options
@table_option
@click.option("--commit", is_flag=True, help="Commit the changed files (only the snapshot directory).")
@click.option("--message", "-m", metavar="M", help="Commit message. Default: a summary of the drift.")
@click.option("--with-assigned", is_flag=True,
              help="Also write values the database assigned (serial ids, defaults) into files that leave them out.")
@click.option("--allow-mass-delete", is_flag=True,
              help="Allow removing every file of a table, or more than 30% of them.")
@format_option("report")
@click.pass_obj
def snapshot(opts: Options, tables: tuple[str, ...], commit: bool, message: str | None, with_assigned: bool,
             allow_mass_delete: bool, fmt: str) -> int:
    """Write the database's rows into record files.

    A file is rewritten only when its data differs, so comments survive.
    Exits 2 when files changed (drift), 0 when the files already matched.
    Like apply, refuses to remove every file of a table (or more than 30%
    of ten or more) without --allow-mass-delete.

    \b
    Example:
      configsync snapshot --commit --message "snapshot: nightly"
    """
    with opts.workspace() as ws:
        result = ws.snapshot(tables, commit=commit, message=message, with_assigned=with_assigned,
                             allow_mass_delete=allow_mass_delete)
    if fmt == "json":
        click.echo(render.report_json(result.to_json()), nl=False)
        return EXIT_CHANGES if result.drift else EXIT_OK
    lines = [f"  {status} {path}" + (" (written earlier, not committed)" if earlier else "")
             for status, path, earlier in result.files()]
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


@click.command()
@common_options
@click.option("--ref", default="HEAD", show_default=True, help="Git revision holding the desired state.")
@table_option
@click.option("--out", type=click.Path(dir_okay=False, writable=True), is_flag=False, flag_value=SAVED_PLAN,
              metavar="[FILE]", help=f"Save the plan (to FILE, default {SAVED_PLAN}); `apply --plan [FILE]` "
              "then applies exactly it.")
@format_option("plan")
@click.option("--no-prune", is_flag=True, help="Never delete rows that have no file.")
@click.option("--trusted-config", metavar="FILE", type=click.Path(dir_okay=False),
              help="Take every setting from FILE (a pull request's base branch's configsync.yaml), and withhold "
              "the plan (exit 4) when configsync.yaml (the work tree's, or the one at --ref) changes what is "
              "hidden: tables, key, secret, exclude, rls, history_table.")
@click.pass_obj
def plan(opts: Options, ref: str, tables: tuple[str, ...], out: str | None, fmt: str, no_prune: bool,
         trusted_config: str | None) -> int:
    """Show what apply would change in the database.

    Exits 2 when there are changes, 0 when the database matches, and with
    --trusted-config 4 when the plan is withheld: configsync.yaml (the work
    tree's, or the one at --ref) changes a setting that decides what is hidden. The
    reason goes to standard output (Markdown-ready), and the database is
    never opened.

    \b
    Example:
      configsync plan
      configsync plan --ref origin/main --format markdown
      configsync plan --out && configsync apply --plan   # .configsync/plan.json
      configsync plan --trusted-config ../base/configsync.yaml --format markdown   # a pull request, in CI
    """
    trusted = trust.trusted_settings(trusted_config, opts.config, ref) if trusted_config else None
    if trusted is not None and trusted.withheld:
        if fmt == "json":
            click.echo(render.report_json({"withheld": True, "settings": [c.setting for c in trusted.hiding],
                                           "reason": trust.withheld_message(trusted, markdown=False)}), nl=False)
        else:
            click.echo(trust.withheld_message(trusted, markdown=fmt == "markdown"), nl=False)
        if out:
            click.echo(f"No plan saved to {out}: the plan is withheld.", err=True)
        return EXIT_WITHHELD
    workspace = (Workspace.open(opts.config, database=opts.database, env=opts.env, settings=trusted.config)
                 if trusted is not None else opts.workspace())
    with workspace as ws:
        result = ws.plan(ref, tables, prune=not no_prune, use_cache=True)
        # A hint for people at a terminal; a CI checkout is clean, and finding
        # out costs a stat of every record file (a second at 300,000 files).
        if ref == "HEAD" and sys.stderr.isatty() and ws.has_uncommitted_changes():
            click.echo("note: uncommitted changes in the work tree are not part of this plan", err=True)
        echo_plan(ws, result, fmt)
        if ref == "HEAD":
            _note_pending_rollback(ws)
        for reason in result.unsafe_reasons():
            click.echo(f"warning: {reason}; apply refuses this without --allow-mass-delete", err=True)
        if out:
            result.save(_plan_path(ws, out))
            click.echo(f"Plan saved to {out} (checksum {result.checksum()[:12]}).", err=True)
        if trusted is not None and trusted.other:
            click.echo(trust.other_settings_note(trusted), nl=False, err=fmt == "json")
    return EXIT_CHANGES if result.has_changes else EXIT_OK


@click.command()
@common_options
@click.argument("planfile", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--plan", "saved", type=click.Path(dir_okay=False), is_flag=False, flag_value=SAVED_PLAN,
              metavar="[FILE]", help=f"Apply the plan `plan --out` saved (default {SAVED_PLAN}).")
@click.option("--ref", default=None, help="Git revision to apply. Default: HEAD.")
@table_option
@click.option("--dry-run", is_flag=True, help="Only show the plan.")
@click.option("--no-prune", is_flag=True, help="Never delete rows that have no file.")
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=60.0, show_default=True,
              metavar="SECONDS", help="How long to wait for another apply to finish.")
@click.option("--non-atomic", is_flag=True,
              help="Supabase REST without the configsync_apply function: send the changes one by one "
              "(not atomic), then verify by reading back.")
@click.option("--overwrite-drift", is_flag=True,
              help="Undo edits made in the database outside configsync (drift) and conflicts.")
@click.option("--keep-drift", is_flag=True,
              help="Apply only the changes from git; leave drift and conflicts as the database has them.")
@safety_options
@click.pass_obj
def apply(
    opts: Options, planfile: str | None, saved: str | None, ref: str | None, tables: tuple[str, ...], dry_run: bool,
    no_prune: bool, lock_timeout: float, non_atomic: bool, overwrite_drift: bool, keep_drift: bool, yes: bool,
    max_deletes: int | None, allow_mass_delete: bool,
) -> int:
    """Make the database match a revision, in one transaction.

    Shows the plan, asks before writing (unless --yes), refuses uncommitted
    config changes, stale plans and mass deletions, and saves the previous
    state under refs/configsync/backups/. Another apply waits for the lock.
    Refuses to undo edits made in the database since the deployed revision
    (drift, conflicts) unless told: --keep-drift or --overwrite-drift.

    \b
    Example:
      configsync apply                  # plan HEAD, confirm, apply
      configsync apply --yes --ref $GITHUB_SHA
      configsync apply --plan --yes     # exactly the plan `plan --out` saved
    """
    if planfile and saved:
        raise click.UsageError("give the plan file once: PLANFILE or --plan FILE")
    if (planfile or saved) and (ref or tables or no_prune):
        raise click.UsageError("a saved plan already fixes the revision and tables; drop --ref/--table/--no-prune")
    if overwrite_drift and keep_drift:
        raise click.UsageError("--overwrite-drift and --keep-drift exclude each other: choose one")
    drift: Policy | None = "overwrite" if overwrite_drift else "keep" if keep_drift else None
    with opts.workspace() as ws:
        if saved:
            planfile = str(_plan_path(ws, saved))
            if not Path(planfile).is_file():
                out = "" if saved == SAVED_PLAN else f" {saved}"
                raise PlanFileError(f"{saved}: no saved plan; make one with `configsync plan --out{out}`")
        if not dry_run:
            ws.check_clean()  # before the plan is shown: a refusal should not look like a plan to confirm
        the_plan = plan_module.load(Path(planfile)) if planfile else ws.plan(ref or "HEAD", tables, prune=not no_prune, use_cache=True)
        echo_plan(ws, the_plan)
        if dry_run:
            return EXIT_OK
        if drift == "keep" and the_plan.has_drift:
            click.echo("--keep-drift: the drift and conflicts marked above are left as the database has them.")
        result = ws.apply(
            the_plan, confirm=confirmer(yes, ws.display_url), max_deletes=max_deletes,
            allow_mass_delete=allow_mass_delete, lock_timeout=lock_timeout, non_atomic=non_atomic,
            check_clean=False,  # checked above, before the plan
            drift=drift,
        )
        code = report_apply(ws, result.plan, result.backup_ref, result.applied)
        if result.applied:
            report_drift(result.overwritten, result.kept)
        for note in result.notes:
            click.echo(f"note: {note}")
        return code


def _note_pending_rollback(ws: Workspace) -> None:
    """After a rollback that did not land, "No changes." or "in sync" would
    read as "rolled back": say what HEAD is, and how to retry (on stderr, so
    --format json stays one document)."""
    pending = ws.pending_rollback()
    if pending is not None:
        click.echo(pending.note, err=True)


def report_drift(overwritten: list[Change], kept: list[Change]) -> None:
    """What apply did with drift and conflicts, record by record."""
    for what, items in (("Undone", overwritten), ("Left as the database has them", kept)):
        lines = [line for change in items for line in describe(change, consequence=False)]
        if lines:
            click.echo(f"{what}: {len(lines)} drift or conflict{'s' if len(lines) != 1 else ''}:")
            for line in lines[:MAX_LISTED]:
                click.echo(f"  {line}")
            if len(lines) > MAX_LISTED:
                click.echo(f"  ... and {len(lines) - MAX_LISTED} more")


@click.command()
@common_options
@format_option("report")
@click.pass_obj
def status(opts: Options, fmt: str) -> int:
    """Deployed revision, HEAD, and whether the database has drifted.

    Exits 0 when the database matches HEAD, 2 when it does not.

    \b
    Example:
      configsync status --env production
      configsync status --format json | jq .in_sync
    """
    with opts.workspace() as ws:
        result = ws.status()
        _note_pending_rollback(ws)
        if fmt == "json":
            click.echo(render.report_json(result.to_json()), nl=False)
            return EXIT_OK if result.in_sync else EXIT_CHANGES
        click.echo(f"database  {ws.display_url}")
        click.echo(f"HEAD      {ws.describe_revision(result.head, 'HEAD')}")
        if result.deployed:
            d = result.deployed
            click.echo(f"deployed  {d.revision[:7]} at {d.applied_at} by {d.actor}")
        else:
            click.echo("deployed  never (no apply recorded in this database)")
        if result.in_sync:
            click.echo("in sync: the database matches HEAD")
            return EXIT_OK
        click.echo(f"out of sync: applying HEAD would make {render.summary_line(result.plan)}")
        changes = result.plan.changes
        for change in changes[:MAX_LISTED]:
            kind = f"  [{change.kind}]" if change.kind != "git" else ""
            click.echo(f"  {render.SYMBOL[change.action]} {change.table} {render.label(change)}{kind}")
        if len(changes) > MAX_LISTED:
            click.echo(f"  ... and {len(changes) - MAX_LISTED} more (--format json lists every one)")
    return EXIT_CHANGES
