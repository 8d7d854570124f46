"""The backup every apply leaves: the database's state before it, as a commit.

Stored under ``refs/configsync/backups/<time>`` (an environment's under
``refs/configsync/backups/<env>/<time>``) so that any apply can itself be
undone with ``rollback --to <ref>``, even when the database had drifted from
git. An environment's backup holds that environment's state as its overlay,
over the revision's base files, and says which environment it belongs to.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import yamlio
from .backends import TableInfo
from .changes import changes
from .overlay import header as overlay_header
from .overlay import ordered, overlay_rows
from .plan import Plan
from .records import Source, State
from .sides import Sides
from .validation import load_state

BACKUP_SUBJECT = "configsync backup before applying"
# The git trailer that says which environment a backup holds.
ENV_TRAILER = "Configsync-Environment"


def save_backup(sides: Sides, plan: Plan, infos: Mapping[str, TableInfo], actual: State) -> str:
    """A commit of the database's state: the revision's tree with every file
    whose row differs in the database rewritten, so only differences are
    rendered (the rest keep their blobs). Returns the ref."""
    repo = sides.repo
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
            if not actual[table]:  # an empty table (a restore): every file names a row it does not have
                files.update((record.file, None) for record in desired[table].values())
                continue
            kinds = {c.name: c.kind for c in info.columns}
            for change in changes(table, desired[table], actual[table], sides.key_columns(table, info),
                                  kinds, missing_fields_differ=True):
                if change.action == "create":
                    files[change.file] = None  # a file for a row the database does not have
                else:
                    files[change.file] = sides.render_record(table, info, change.before or {})
    else:
        # The environment's state as its overlay over the revision's base: the
        # base files stay the revision's, so the backup never changes another
        # environment's values.
        source = repo.source_at(base)
        files.update(overlay_tree(sides, source, plan.tables, infos, actual, sides.env))
    env = f" --env {sides.env}" if sides.env else ""
    message = (
        f"{BACKUP_SUBJECT} {plan.revision[:7]}\n\n"
        f"The state of {', '.join(plan.tables)} in {plan.database} before the apply.\n"
        f"Restore it with: configsync rollback --to <this ref>{env}\n"
    )
    if sides.env:
        message += f"\n{ENV_TRAILER}: {sides.env}\n"
    return repo.save_backup(base, files, message, namespace=sides.env)


def overlay_tree(sides: Sides, source: Source, tables: Sequence[str], infos: Mapping[str, TableInfo],
                 state: State, env: str) -> dict[str, bytes | None]:
    """The files that make ``env``'s overlay say ``state`` over ``source``'s
    base files: every old overlay file of those tables removed, the new ones written."""
    config = sides.config
    keys = {t: sides.key_columns(t, infos[t]) for t in tables}
    base_state = load_state(config, source, keys, list(tables)).state
    files: dict[str, bytes | None] = {}
    for table in tables:
        layout = sides.layout(table, infos[table])
        prefix = layout.directory_for(env) + "/"
        files.update({f.path: None for f in source.snapshots if f.path.startswith(prefix)})
        kinds = {c.name: c.kind for c in infos[table].columns}
        rows, _ = overlay_rows(layout, env, base_state[table], state[table], kinds)
        header = overlay_header(table, env, config)
        files.update({path: yamlio.dump(ordered(row, infos[table].column_names), header) for path, row in rows.items()})
    return files


def backup_environment(message: str) -> str | None:
    """The environment a backup commit belongs to; None for the base's (or any other commit)."""
    for line in reversed(message.splitlines()):
        if line.startswith(ENV_TRAILER + ": "):
            return line.split(": ", 1)[1].strip()
    return None


def is_backup(message: str) -> bool:
    return message.startswith(BACKUP_SUBJECT)


__all__ = ["BACKUP_SUBJECT", "ENV_TRAILER", "backup_environment", "is_backup", "overlay_tree", "save_backup"]
