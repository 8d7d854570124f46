"""The command line: parse options, make one library call, render, exit code.

``base`` holds the group, the shared options and the one error handler; each
other module holds the commands of one theme and imports from ``base`` only
(never from another command module, nor from here), so that every module
imports on its own. They are put together here by name: a command's module
(and what it needs: pygit2, jsonschema, psycopg, httpx) is imported only when
that command runs, so `configsync --version` or a typo costs click alone.
"""
from __future__ import annotations

from .base import cli, main

# command name -> (module of configsync.cli, attribute), in the order `--help` lists them.
COMMANDS = {
    "snapshot": ("sync", "snapshot"),
    "plan": ("sync", "plan"),
    "apply": ("sync", "apply"),
    "status": ("sync", "status"),
    "validate": ("files", "validate"),
    "diff": ("files", "diff"),
    "history": ("files", "history"),
    "rollback": ("rollback", "rollback"),
    "restore": ("rollback", "restore"),
    "init": ("adoption", "init"),
    "schema": ("adoption", "schema"),
    "import-backup": ("adoption", "import_backup"),
    "supabase": ("supabase", "supabase"),
    "roles": ("roles", "roles"),
    "envs": ("fleet", "envs"),
}
cli.lazy_commands.update(COMMANDS)

__all__ = ["COMMANDS", "cli", "main"]
