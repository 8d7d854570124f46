"""Undoing changes: revert a commit, restore a revision (or some tables, or
one record) or a backup, as a new commit that lands only once it is applied.

A rollback may land without review (the rollback workflow pushes it to main),
so what it may change is limited: a revert takes only a commit of the current
branch's history, and no rollback or restore changes anything but config paths
(``is_config_path``), nor writes a symbolic link or a submodule there.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pygit2
from pygit2.enums import FileMode

from .applier import Applier, ApplyResult, Confirm
from .backup import backup_environment, is_backup, overlay_tree
from .config import CONFIG_FILE, Config
from .errors import ConfigError, RepoError
from .history import Records
from .layout import ENVIRONMENTS, overlay_dir, table_dir
from .plan import Plan
from .planner import Planner
from .repo import PENDING_PREFIX, CommitInfo, Repo
from .sides import Sides
from .validation import load_state

Show = Callable[[Plan], None]


def pending_ref(env: str | None) -> str:
    """The ref of ``env``'s rollback that did not land."""
    return PENDING_PREFIX + (f"env/{env}" if env else "default")


@dataclass
class RollbackResult:
    commit: pygit2.Commit
    plan: Plan | None
    apply: ApplyResult | None
    committed: bool

    @property
    def commit_info(self) -> CommitInfo:
        return CommitInfo.of(self.commit)


@dataclass
class PendingRollback:
    """A rollback whose commit did not land: its apply failed, or was cut short."""

    commit: pygit2.Commit
    retry: str

    @property
    def note(self) -> str:
        """What plan and status say about it."""
        subject = self.commit.message.splitlines()[0] if self.commit.message else str(self.commit.id)[:7]
        return (f"note: a rollback did not complete ({subject}): its commit {str(self.commit.id)[:7]} was not "
                "applied, so HEAD is not what the rollback wanted and this compares the database with HEAD, "
                f"not with the rollback. Retry: {self.retry}")


_REVERTS = re.compile(r"^This reverts commit ([0-9a-f]{40,64})\.$", re.MULTILINE)
_COMMAND = re.compile(r"^(configsync (?:rollback|restore) [^\n]+)$", re.MULTILINE)


def retry_command(message: str, env: str | None) -> str:
    """The command that makes the rollback of ``message`` again (its commit
    message names what it undoes)."""
    suffix = f" --env {env}" if env else ""
    reverts = _REVERTS.search(message)
    if reverts:
        return f"configsync rollback {reverts.group(1)[:12]}{suffix}"
    command = _COMMAND.search(message)
    if command:
        return command.group(1) + suffix
    return "the same configsync rollback command"


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
        show: Show | None = None,
    ) -> RollbackResult:
        """Revert ``commit`` (or restore the config of ``to``, only ``tables``
        when given) as a new commit, then apply it. The commit lands on the
        branch only once the apply has succeeded, so a failure leaves git and
        the database as they were (and the commit under :func:`pending_ref`).
        ``show`` gets the plan before it is applied."""
        if (commit is None) == (to is None):
            raise ConfigError("give either a COMMIT to revert or --to REF, not both")
        if tables and commit is not None:
            raise ConfigError("--table restores tables from --to REF; a revert undoes its whole commit")
        names = self.sides.config.select(list(tables) if tables else None)
        self.applier.check_clean()
        if commit is not None:
            target = self.sides.repo.resolve(commit)
            tree = self._revert_tree(target)
            subject = target.message.splitlines()[0] if target.message else ""
            message = f'Revert "{subject}"\n\nThis reverts commit {target.id}.\n'
        else:
            assert to is not None
            target = self.sides.repo.resolve(to)
            tree = self._restore_tree(target, to, names if tables else None)
            refuse_outside_config(self.sides.config, self.sides.repo, tree, f"restore {to}", "the restore")
            only = f" --table {' --table '.join(names)}" if tables else ""
            what = f"{', '.join(names)} to" if tables else "config to"
            message = f"Restore {what} {str(target.id)[:7]} ({to})\n\nconfigsync rollback --to {to}{only}\n"
        label = f"rollback of {commit}" if commit else f"restore of {to}"
        return self._commit_and_apply(tree, message, label, names if tables else None, commit or to or "",
                                      dry_run=dry_run, apply=apply, confirm=confirm, max_deletes=max_deletes,
                                      allow_mass_delete=allow_mass_delete, show=show)

    def restore(
        self,
        record: str,
        source: str,
        *,
        dry_run: bool = False,
        apply: bool = True,
        confirm: Confirm | None = None,
        show: Show | None = None,
    ) -> RollbackResult:
        """Make one record (TABLE/NAME) what it was at revision or backup
        ``source``: a commit holding that file, then an apply of its table."""
        table, path = self.records.record_path(record, self.sides.repo.resolve(source), f"at {source}")
        self.applier.check_clean()
        target = self.sides.repo.resolve(source)
        # Any revision will do, also a backup (never on a branch): only this one
        # record file is taken, as data, and the plan shows it before it is applied.
        entry = target.tree[self.sides.repo.prefix + path]
        if entry.filemode not in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE):
            raise RepoError(f"{path} at {source} is not a regular file ({_mode_name(entry.filemode)}). "
                            "Nothing was changed.")
        data = entry.peel(pygit2.Blob).data
        head = self.sides.repo.resolve("HEAD")
        tree = self.sides.repo.tree_with(head, {path: data})
        refuse_outside_config(self.sides.config, self.sides.repo, tree, f"restore {record} from {source}", "the restore")
        message = (f"Restore {path.removeprefix(self.sides.config.snapshots + '/')} from {str(target.id)[:7]} ({source})\n\n"
                   f"configsync restore {record} --from {source}\n")
        return self._commit_and_apply(tree, message, f"restore of {record} from {source}", [table], source,
                                      dry_run=dry_run, apply=apply, confirm=confirm, show=show)

    def _commit_and_apply(
        self, tree: pygit2.Oid, message: str, label: str, tables: Sequence[str] | None, what: str, *,
        dry_run: bool, apply: bool, confirm: Confirm | None, max_deletes: int | None = None,
        allow_mass_delete: bool = False, show: Show | None = None,
    ) -> RollbackResult:
        repo = self.sides.repo
        head = repo.resolve("HEAD")
        if tree == head.tree.id:
            raise RepoError(f"nothing to roll back: the config at HEAD already matches {what}")
        new = repo.make_commit(tree, message)
        if not apply and not dry_run:
            repo.advance(new)
            return RollbackResult(new, None, None, committed=True)
        pending = pending_ref(self.sides.env)
        if not dry_run:
            # Kept if anything below fails (or this process dies): until HEAD
            # moves, plan and status say that HEAD is not what was wanted.
            repo.git.references.create(pending, new.id, force=True)
        plan = self.planner.plan(str(new.id), tables, commit=new, use_cache=True)
        plan.ref = label
        if show is not None:
            show(plan)
        if dry_run:
            return RollbackResult(new, plan, None, committed=False)
        # A rollback restores a known revision: it overwrites drift (the plan shows it as such).
        result = self.applier.apply(plan, confirm=confirm, max_deletes=max_deletes,
                            allow_mass_delete=allow_mass_delete, check_clean=False, drift="overwrite")
        if result.applied:
            repo.advance(new)
        repo.delete_ref(pending)  # landed, or declined at the prompt: nothing is pending
        return RollbackResult(new, plan, result, committed=result.applied)

    def pending(self) -> PendingRollback | None:
        """This environment's rollback that did not land, while HEAD is still
        the commit it was made on (once HEAD moves, the plan is of another
        revision anyway and the note would mislead)."""
        repo = self.sides.repo
        name = pending_ref(self.sides.env)
        if name not in repo.git.references:
            return None
        try:
            commit = repo.git.references[name].peel(pygit2.Commit)
            head = repo.resolve("HEAD")
        except (pygit2.GitError, KeyError, ValueError, RepoError):
            return None
        if not commit.parents or commit.parents[0].id != head.id:
            return None
        return PendingRollback(commit, retry_command(commit.message, self.sides.env))

    def _revert_tree(self, target: pygit2.Commit) -> pygit2.Oid:
        """HEAD's tree with ``target`` reverted (a merge against its first
        parent: the merged pull request), refused unless ``target`` is in
        HEAD's history and its revert changes config paths only. A commit from
        another branch was never reviewed for this one, and reverting it can
        add any file at all (its "undo" of a file it deleted)."""
        repo = self.sides.repo
        if not repo.in_history(target):
            raise RepoError(
                f"refusing to roll back {_commit_label(target)}: it is not in the history of "
                f"{repo.describe(repo.resolve('HEAD'), 'HEAD')}; rollback reverts only commits of the current "
                "branch (to restore a backup or another revision's config: --to REF). Nothing was changed."
            )
        tree = repo.revert_tree(target)
        refuse_outside_config(self.sides.config, repo, tree, f"roll back {_commit_label(target)}", "its revert")
        return tree

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


def is_config_path(config: Config, path: str) -> bool:
    """May a rollback change ``path`` (relative to the config root)? Record
    files of the managed tables (their directories, and every environment's
    overlay of them) and the managed tables' schema files, nothing else.

    Not configsync.yaml: it decides what is hidden (``tables``, ``key``,
    ``secret``, ``exclude``), so a change to it goes through a reviewed pull
    request, never through a rollback that may land without review."""
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts) or path == CONFIG_FILE:
        return False
    overlays = f"{config.snapshots}/{ENVIRONMENTS}/"
    for table in config.tables:
        if path == config.schema_path(table) or path.startswith(table_dir(config, table) + "/"):
            return True
        if path.startswith(overlays):
            env, _, rest = path[len(overlays):].partition("/")
            if env and rest.startswith(table + "/"):
                return True
    return False


def refuse_outside_config(config: Config, repo: Repo, tree: pygit2.Oid, action: str, what: str) -> None:
    """RepoError unless committing ``tree`` on top of HEAD changes only config
    paths, and writes no symbolic link or submodule there."""
    changes = repo.changed_entries(tree)
    outside = [c.path for c in changes if not (c.path.startswith(repo.prefix)
                                               and is_config_path(config, c.path[len(repo.prefix):]))]
    special = [c for c in changes if not c.is_plain_file and c.path not in outside]

    def shown(path: str) -> str:
        return path[len(repo.prefix):] if path.startswith(repo.prefix) else path

    if outside:
        why = (f" {CONFIG_FILE} decides which columns are secret or excluded."
               if any(shown(p) == CONFIG_FILE for p in outside) else "")
        raise RepoError(
            f"refusing to {action}: {what} would change {', '.join(map(shown, outside))}, which "
            f"{'is' if len(outside) == 1 else 'are'} not config; a rollback changes only the record files "
            f"({config.snapshots}/<table>/, {config.snapshots}/{ENVIRONMENTS}/<env>/<table>/) and schema files "
            f"({config.schemas}/<table>.schema.json) of the tables in {CONFIG_FILE}.{why} Change those through "
            "a reviewed pull request (for a commit: git revert). Nothing was changed."
        )
    if special:
        listed = ", ".join(f"{shown(c.path)} ({_mode_name(c.mode or 0)})" for c in special)
        raise RepoError(f"refusing to {action}: {what} would write {listed}; record and schema files are "
                        "regular files. Nothing was changed.")


def _commit_label(commit: pygit2.Commit) -> str:
    subject = commit.message.splitlines()[0] if commit.message else ""
    return f'{str(commit.id)[:7]} ("{subject}")' if subject else str(commit.id)[:7]


_MODE_NAMES = {FileMode.LINK: "a symbolic link", FileMode.COMMIT: "a submodule", FileMode.TREE: "a directory"}


def _mode_name(mode: int) -> str:
    return _MODE_NAMES.get(FileMode(mode), f"mode {mode:o}")


__all__ = ["PENDING_PREFIX", "PendingRollback", "RollbackResult", "Rollbacks", "pending_ref", "retry_command", "is_config_path", "refuse_outside_config"]
