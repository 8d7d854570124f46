"""The command line: parse options, make one library call, render, exit code.

``base`` holds the group, the shared options and the one error handler; each
other module holds the commands of one theme and imports from ``base`` only
(never from another command module, nor from here), so that every module
imports on its own. They are all put together here.
"""
from __future__ import annotations

from . import adoption, files, roles, rollback, supabase, sync
from .base import cli, main

for _command in (
    sync.snapshot, sync.plan, sync.apply, sync.status,
    files.validate, files.diff, files.history,
    rollback.rollback, rollback.restore,
    adoption.init, adoption.schema, adoption.import_backup,
    supabase.supabase, roles.roles,
):
    cli.add_command(_command)

__all__ = ["cli", "main"]
