"""A stamp of everything `validate` reads, for its warm answer without git.

`validate` reads configsync.yaml, the schema files and every file under the
snapshots directory. Their names and file-system stats (size, modification
and change times, inode), with the settings and configsync's version, make a
stamp; a stamp found valid before is valid now, and the command answers from
the local cache without importing git (pygit2) or JSON Schema: a tenth of a
second where a full run takes three.

Stats stand for contents as in git's index: a write changes the change time
(which no program can set back). As git does for "racily clean" entries, a
stamp is never remembered while a file is younger than the clock's
granularity allows to tell apart (``SETTLE_SECONDS``): an edit in the same
tick could leave the same stats behind.
"""
from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

from . import __version__
from .config import Config

SETTLE_SECONDS = 2.0  # FAT and HFS+ keep times to 2 s and 1 s
STAMP_SCHEMA = "validate"  # the cache's name for "work trees found valid"


def worktree_stamp(config: Config) -> tuple[str, bool]:
    """The stamp of what `validate` reads, and whether it may be remembered
    (no file changed within ``SETTLE_SECONDS``)."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(repr((__version__, str(config.root), sorted(config.environments), _git_dir(config.root))).encode())
    digest.update(config.path.read_bytes())
    newest = 0
    for directory in (config.schemas, config.snapshots):
        for path, info in _walk(config.root / directory):
            digest.update(f"{path}\0{info.st_mode}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ctime_ns}\0"
                          f"{info.st_ino}\n".encode("utf-8", "surrogateescape"))
            newest = max(newest, info.st_mtime_ns, info.st_ctime_ns)
    settled = newest < (time.time() - SETTLE_SECONDS) * 1e9
    return "worktree:" + digest.hexdigest(), settled


def _walk(top: Path) -> list[tuple[str, os.stat_result]]:
    """Every entry under ``top`` (symbolic links not followed), sorted."""
    found: list[tuple[str, os.stat_result]] = []
    pending = [str(top)]
    while pending:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            info = entry.stat(follow_symlinks=False)
            found.append((entry.path, info))
            if stat.S_ISDIR(info.st_mode):
                pending.append(entry.path)
    found.sort(key=lambda item: item[0])
    return found


def _git_dir(root: Path) -> str:
    """Where git's repository is (validate needs one): the nearest .git upwards."""
    for directory in (root, *root.parents):
        if (directory / ".git").exists():
            return str(directory / ".git")
    return ""
