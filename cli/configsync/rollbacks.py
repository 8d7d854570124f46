"""Undoing changes: revert a commit, restore a revision (or some tables, or
one record) or a backup, as a new commit that lands only once it is applied."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pygit2

from .applier import Applier, ApplyResult, Confirm
from .backup import backup_environment, is_backup, overlay_tree
from .errors import ConfigError, RepoError
from .history import Records
from .layout import overlay_dir, table_dir
from .plan import Plan
from .planner import Planner
from .repo import CommitInfo
from .sides import Sides
from .validation import load_state


@dataclass
class RollbackResult:
    commit: pygit2.Commit
    plan: Plan | None
    apply: ApplyResult | None
    committed: bool

    @property
    def commit_info(self) -> CommitInfo:
        return CommitInfo.of(self.commit)


class Rollbacks:
    def __init__(self, sides: Sides, planner: Planner, applier: Applier, records: Records) -> None:
        self.sides, self.planner, self.applier, self.records = sides, planner, applier, records

    def rollback(
        self,
        commit: str | None = None,
        *,
        to: str | None = None,
        tables: Sequence[str] | None = None,
        dry_run: bool = False,
        apply: bool = True,
        confirm: Confirm | None = None,
        max_deletes: int | None = None,
        allow_mass_delete: bool = False,
    ) -> RollbackResult:
        """Revert ``commit`` (or restore the config of ``to``, only ``tables``
        when given) as a new commit, then apply it. The commit lands on the
        branch only once the apply has succeeded, so a failure leaves git and
        the database as they were."""
        if (commit is None) == (to is None):
            raise ConfigError("give either a COMMIT to revert or --to REF, not both")
        if tables and commit is not None:
            raise ConfigError("--table restores tables from --to REF; a revert undoes its whole commit")
        names = self.sides.config.select(list(tables) if tables else None)
        self.applier.check_clean()
        if commit is not None:
            target = self.sides.repo.resolve(commit)
            tree = self.sides.repo.revert_tree(target)
            subject = target.message.splitlines()[0] if target.message else ""
            message = f'Revert "{subject}"\n\nThis reverts commit {target.id}.\n'
        else:
            assert to is not None
            target = self.sides.repo.resolve(to)
            tree = self._restore_tree(target, to, names if tables else None)
            only = f" --table {' --table '.join(names)}" if tables else ""
            what = f"{', '.join(names)} to" if tables else "config to"
            message = f"Restore {what} {str(target.id)[:7]} ({to})\n\nconfigsync rollback --to {to}{only}\n"
        label = f"rollback of {commit}" if commit else f"restore of {to}"
        return self._commit_and_apply(tree, message, label, names if tables else None, commit or to or "",
                                      dry_run=dry_run, apply=apply, confirm=confirm, max_deletes=max_deletes,
                                      allow_mass_delete=allow_mass_delete)

    def restore(
        self,
        record: str,
        source: str,
        *,
        dry_run: bool = False,
        apply: bool = True,
        confirm: Confirm | None = None,
    ) -> RollbackResult:
        """Make one record (TABLE/NAME) what it was at revision or backup
        ``source``: a commit holding that file, then an apply of its table."""
        table, path = self.records.record_path(record, self.sides.repo.resolve(source), f"at {source}")
        self.applier.check_clean()
        target = self.sides.repo.resolve(source)
        data = target.tree[self.sides.repo.prefix + path].peel(pygit2.Blob).data
        head = self.sides.repo.resolve("HEAD")
        tree = self.sides.repo.tree_with(head, {path: data})
        message = (f"Restore {path.removeprefix(self.sides.config.snapshots + '/')} from {str(target.id)[:7]} ({source})\n\n"
                   f"configsync restore {record} --from {source}\n")
        return self._commit_and_apply(tree, message, f"restore of {record} from {source}", [table], source,
                                      dry_run=dry_run, apply=apply, confirm=confirm)

    def _commit_and_apply(
        self, tree: pygit2.Oid, message: str, label: str, tables: Sequence[str] | None, what: str, *,
        dry_run: bool, apply: bool, confirm: Confirm | None, max_deletes: int | None = None,
        allow_mass_delete: bool = False,
    ) -> RollbackResult:
        head = self.sides.repo.resolve("HEAD")
        if tree == head.tree.id:
            raise RepoError(f"nothing to roll back: the config at HEAD already matches {what}")
        new = self.sides.repo.make_commit(tree, message)
        if not apply and not dry_run:
            self.sides.repo.advance(new)
            return RollbackResult(new, None, None, committed=True)
        plan = self.planner.plan(str(new.id), tables, commit=new, use_cache=True)
        plan.ref = label
        if dry_run:
            return RollbackResult(new, plan, None, committed=False)
        # A rollback restores a known revision: it overwrites drift (the plan shows it as such).
        result = self.applier.apply(plan, confirm=confirm, max_deletes=max_deletes,
                            allow_mass_delete=allow_mass_delete, check_clean=False, drift="overwrite")
        if result.applied:
            self.sides.repo.advance(new)
        return RollbackResult(new, plan, result, committed=result.applied)

    def _restore_tree(self, target: pygit2.Commit, to: str, tables: Sequence[str] | None = None) -> pygit2.Oid:
        """HEAD's tree with the config of ``target`` (only ``tables``' record
        directories, when given); for an environment's backup, only that
        environment's overlay, rewritten over HEAD's base so the environment
        gets exactly the backed-up state."""
        if not is_backup(target.message):
            return self.sides.repo.restore_tree(target, self._table_dirs(tables))
        owner = backup_environment(target.message)
        if owner != self.sides.env:
            if owner is None:
                raise ConfigError(f"{to} is a backup of a database applied without --env; restore it without --env "
                                  f"(restoring it into {self.sides.env} would write another database's values there)")
            raise ConfigError(f"{to} is a backup of environment {owner}" + (f", not {self.sides.env}" if self.sides.env else "")
                              + f": restore it with --env {owner}")
        if owner is None:
            return self.sides.repo.restore_tree(target, self._table_dirs(tables))
        names = list(tables or self.sides.config.tables)
        infos = self.sides.describe(names)
        keys = {t: self.sides.key_columns(t, infos[t]) for t in names}
        state = load_state(self.sides.config, self.sides.repo.source_at(target), keys, names, env=owner).state
        head = self.sides.repo.resolve("HEAD")
        return self.sides.repo.tree_with(head, overlay_tree(self.sides, self.sides.repo.source_at(head), names, infos, state, owner))

    def _table_dirs(self, tables: Sequence[str] | None) -> list[str] | None:
        """The directories a restore of ``tables`` takes: each table's record
        directory and its overlays; None: all of config-snapshots/ and schemas/."""
        if tables is None:
            return None
        dirs = [table_dir(self.sides.config, t) for t in tables]
        dirs += [overlay_dir(self.sides.config, env, t) for env in self.sides.config.environments for t in tables]
        return dirs


__all__ = ["RollbackResult", "Rollbacks"]
