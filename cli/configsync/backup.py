"""The backup every apply leaves: the database's state before it, as a commit.

Stored under ``refs/configsync/backups/<time>`` so that any apply can itself
be undone with ``rollback --to <ref>``, even when the database had drifted
from git.
"""
from __future__ import annotations

from typing import Mapping

from .backends import TableInfo
from .changes import changes
from .layout import table_dir
from .plan import Plan
from .records import State
from .sides import Sides


def save_backup(sides: Sides, plan: Plan, infos: Mapping[str, TableInfo], actual: State) -> str:
    """A commit of the database's state: the revision's tree with every file
    whose row differs in the database rewritten, so only differences are
    rendered (the rest keep their blobs). Returns the ref."""
    config, repo = sides.config, sides.repo
    base = repo.resolve(plan.revision)
    files: dict[str, bytes | None] = {}
    read = plan.read_tables  # the others are the revision's files
    if sides.env is None:
        if plan.observed is not None:
            desired = plan.observed.desired
        else:
            desired = sides.desired_state(repo.source_at(base), read, infos)
        for table in read:
            info = infos[table]
            kinds = {c.name: c.kind for c in info.columns}
            for change in changes(table, desired[table], actual[table], sides.key_columns(table, info),
                                  kinds, missing_fields_differ=True):
                if change.action == "create":
                    files[change.file] = None  # a file for a row the database does not have
                else:
                    files[change.file] = sides.render_record(table, info, change.before or {})
    else:
        # With an overlay the files do not map 1:1 to rows: store the whole state.
        source = repo.source_at(base)
        for table in plan.tables:
            prefix = table_dir(config, table) + "/"
            files.update({f.path: None for f in source.snapshots if f.path.startswith(prefix)})
            files.update(sides.render_files(table, infos[table], actual[table]))
    message = (
        f"configsync backup before applying {plan.revision[:7]}\n\n"
        f"The state of {', '.join(plan.tables)} in {plan.database} before the apply.\n"
        f"Restore it with: configsync rollback --to <this ref>\n"
    )
    return repo.save_backup(base, files, message)


__all__ = ["save_backup"]
