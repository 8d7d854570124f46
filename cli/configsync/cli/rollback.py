"""Undoing a config change: rollback (a commit, a whole revision, some
tables) and restore (one record)."""
from __future__ import annotations

from collections.abc import Callable

import click

from ..plan import Plan
from ..workspace import RollbackResult, Workspace
from .base import EXIT_OK, Options, common_options, confirmer, echo_plan, report_apply, safety_options, table_option


@click.command()
@common_options
@click.argument("commit", required=False)
@click.option("--to", "to", metavar="REF", help="Restore the config as it was at REF (e.g. a backup ref).")
@table_option
@click.option("--dry-run", is_flag=True, help="Show the database changes the rollback would make; change nothing.")
@click.option("--no-apply", is_flag=True, help="Only make the git commit.")
@safety_options
@click.pass_obj
def rollback(
    opts: Options, commit: str | None, to: str | None, tables: tuple[str, ...], dry_run: bool, no_apply: bool,
    yes: bool, max_deletes: int | None, allow_mass_delete: bool,
) -> int:
    """Undo a config change: revert COMMIT (or restore --to REF) and apply.

    Shows the plan, then applies it; the revert commit lands on the branch
    only once the apply succeeded. After one that did not land, plan and
    status say so and give the command to retry. Reverting a merge commit
    undoes the merged pull request.

    \b
    Example:
      configsync rollback HEAD --yes
      configsync rollback --to refs/configsync/backups/20251003T170212.000000Z
      configsync rollback 3f2a1c7 --no-apply && git push
      configsync rollback --to HEAD~3 --table proposer_configs --yes   # one table only
    """
    if (commit is None) == (to is None):
        raise click.UsageError("give either COMMIT or --to REF")
    with opts.workspace() as ws:
        result = ws.rollback(
            commit, to=to, tables=tables, dry_run=dry_run, apply=not no_apply,
            confirm=confirmer(yes, ws.display_url), max_deletes=max_deletes,
            allow_mass_delete=allow_mass_delete, show=_shower(ws),
        )
        return _report(ws, result, dry_run)


@click.command()
@common_options
@click.argument("record", metavar="TABLE/NAME")
@click.option("--from", "source", metavar="REF", required=True, help="The revision or backup ref to take the record from.")
@click.option("--dry-run", is_flag=True, help="Show the database change the restore would make; change nothing.")
@click.option("--no-apply", is_flag=True, help="Only make the git commit.")
@click.option("--yes", "-y", is_flag=True, help="Apply without asking.")
@click.pass_obj
def restore(opts: Options, record: str, source: str, dry_run: bool, no_apply: bool, yes: bool) -> int:
    """Restore one record as it was at a revision or backup, and apply it.

    Makes a commit holding the record's file from REF, then applies its table
    (the plan shows what changes); the commit lands once the apply succeeded.
    NAME is the record's file name or its key as typed.

    \b
    Example:
      configsync restore proposer_configs/gpt-4o-mini --from HEAD~2 --yes
      configsync restore system_config/budget_limits --from refs/configsync/backups/20251003T170212.635000Z
    """
    with opts.workspace() as ws:
        result = ws.restore(record, source, dry_run=dry_run, apply=not no_apply, confirm=confirmer(yes, ws.display_url),
                            show=_shower(ws))
        return _report(ws, result, dry_run)


def _shower(ws: Workspace) -> Callable[[Plan], None]:
    """Shows the plan as soon as it is made, before it is applied (as apply
    does): a rollback that then fails has shown what it tried."""
    def show(plan: Plan) -> None:
        echo_plan(ws, plan, title="Rollback")  # the same words, dry run or not

    return show


def _report(ws: Workspace, result: RollbackResult, dry_run: bool) -> int:
    if dry_run:
        click.echo("Dry run: nothing was committed or applied.")
        return EXIT_OK
    if result.apply is not None:
        code = report_apply(ws, result.plan or result.apply.plan, result.apply.backup_ref, result.apply.applied)
        if code:
            return code
    made = result.commit_info
    click.echo(f"Committed {made.id[:7]}: {made.subject}")
    return EXIT_OK
