"""Writing and deleting files inside the config repository, safely.

A pull request can add a symbolic link anywhere in the tree. Every write and
delete configsync makes goes through here, and none goes through a link: not
a linked table directory, not a linked record file, not a path that leaves
the repository.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from .errors import UnsafePathError


def check(root: Path, rel: str) -> Path:
    """The absolute path of ``rel`` under ``root``; UnsafePathError if any
    component of it (the file itself included) is a symbolic link, or it
    would leave ``root``."""
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
        raise UnsafePathError(f"{rel}: not a path inside the config repository")
    current = root
    for index, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            break  # nothing further down exists yet; mkdir makes real directories
        if stat.S_ISLNK(mode):
            shown = "/".join(parts[: index + 1])
            raise UnsafePathError(
                f"{shown} is a symbolic link; configsync never writes or deletes through one. "
                "Replace it with a real directory or file (git rm it, then run again)."
            )
    return root / rel


def write(root: Path, rel: str, data: bytes) -> None:
    """Write ``data`` to ``rel``, making missing directories."""
    target = check(root, rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: a link swapped in after the check is refused, not followed.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def delete(root: Path, rel: str) -> None:
    check(root, rel).unlink()


def read(root: Path, rel: str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    target = check(root, rel)
    try:
        return target.read_bytes()
    except FileNotFoundError:
        return None


__all__ = ["check", "delete", "read", "write"]
