"""Writing and deleting files inside the config repository, safely.

A pull request can add a symbolic link anywhere in the tree. Every write and
delete configsync makes goes through here, and none goes through a link: not
a linked table directory, not a linked record file, not a path that leaves
the repository.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import UnsafePathError

_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW


def _parts(rel: str) -> list[str]:
    """``rel``'s components, as PurePosixPath gives them (empty and "." parts
    dropped); UnsafePathError for a path that is absolute, empty or climbs."""
    parts = [p for p in rel.split("/") if p and p != "."]
    if not parts or rel.startswith("/") or ".." in parts:
        raise UnsafePathError(f"{rel}: not a path inside the config repository")
    return parts


def _refuse(parts: list[str], upto: int) -> UnsafePathError:
    shown = "/".join(parts[:upto])
    return UnsafePathError(
        f"{shown} is a symbolic link; configsync never writes or deletes through one. "
        "Replace it with a real directory or file (git rm it, then run again)."
    )


def _lstat_mode(path: str) -> int | None:
    try:
        return os.lstat(path).st_mode
    except FileNotFoundError:
        return None


def check(root: Path, rel: str) -> Path:
    """The absolute path of ``rel`` under ``root``; UnsafePathError if any
    component of it (the file itself included) is a symbolic link, one of its
    directories is not a directory, or it would leave ``root``."""
    Writer(root).check(rel)
    return root / rel


class Writer:
    """Many writes and deletes under one root, each checked as ``check`` does,
    but each directory looked at once per writer, not once per file.

    A directory found real (or made here) stays trusted for the writer's life:
    use one writer per command, as the files are written, not across a wait.
    ``check`` and ``delete`` look at the file itself every time; ``write`` opens
    it with O_NOFOLLOW, and a link there is refused with the same message."""

    def __init__(self, root: Path) -> None:
        self.root = os.fspath(root)
        # Relative directories found real or made by this writer (the root, "", once a
        # write has made sure it exists: it is never looked at, as check never did).
        self._real: set[str] = set()
        self._missing: set[str] = set()  # relative directories found missing (nothing under them to look at)
        # The directory the last write went into, open: the next file in it is
        # created relative to it (dir_fd), not by its full path walked again.
        # One at a time: a snapshot writes table by table. None: not open.
        self._open: str | None = None
        self._open_fd = -1

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Close the directory kept open for writes (the writer stays usable)."""
        if getattr(self, "_open", None) is not None:
            self._open = None
            os.close(self._open_fd)

    def _check(self, rel: str, file: bool = True) -> tuple[str, str]:
        """(the directory, the absolute path) of ``rel``, checked; the file itself
        only with ``file``."""
        directory, _, name = rel.rpartition("/")
        if directory in self._real and name not in ("", ".", "..") and not rel.startswith("/"):
            # The usual case, a file in a directory already found real (its name a
            # plain one: the directories remembered hold no "", "." or ".." part).
            parts = None
            path = os.path.join(self.root, rel)
        else:
            parts = _parts(rel)
            directory = "/".join(parts[:-1])
            if directory not in self._real and directory not in self._missing:
                self._check_directory(parts[:-1])
            path = os.path.join(self.root, *parts)
        if file and directory not in self._missing:
            mode = _lstat_mode(path)
            if mode is not None and stat.S_ISLNK(mode):
                parts = parts or _parts(rel)
                raise _refuse(parts, len(parts))
        return directory, path

    def _check_directory(self, parts: list[str]) -> None:
        current = self.root
        for index, part in enumerate(parts):
            rel = "/".join(parts[: index + 1])
            current = os.path.join(current, part)
            if rel in self._real:
                continue
            if rel in self._missing:
                break
            mode = _lstat_mode(current)
            if mode is None:
                # Nothing further down exists yet; the writer makes real directories.
                for end in range(index + 1, len(parts) + 1):
                    self._missing.add("/".join(parts[:end]))
                return
            if stat.S_ISLNK(mode):
                raise _refuse(parts, index + 1)
            if not stat.S_ISDIR(mode):
                # A file where a table's directory goes: named, before anything is written,
                # not an OSError from deep inside a write.
                raise UnsafePathError(f"{rel} is a file where configsync needs a directory; "
                                      "move it away (git rm it), then run again.")
            self._real.add(rel)

    def check(self, rel: str) -> None:
        """UnsafePathError as ``check`` gives it."""
        directory, _, name = rel.rpartition("/")
        if directory in self._missing and name not in ("", ".", "..") and not rel.startswith("/"):
            return  # a plain name under a directory found missing: nothing there to look at (as _check finds)
        self._check(rel)

    def write(self, rel: str, data: bytes) -> None:
        """Write ``data`` to ``rel``, making missing directories."""
        # The file itself is not looked at: O_NOFOLLOW refuses a link there.
        directory, _, name = rel.rpartition("/")
        if directory != self._open or name in ("", ".", "..") or rel.startswith("/"):
            # Not a plain name in the directory already open (whose name is a
            # checked, normalised one): check the path, open its directory.
            directory, name = self._enter(rel)
        try:
            if self._open is not None:
                fd = os.open(name, _WRITE_FLAGS, 0o644, dir_fd=self._open_fd)
            else:
                fd = os.open(os.path.join(self.root, directory, name), _WRITE_FLAGS, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # the directories are real: the file is a link
                parts = _parts(rel)
                raise _refuse(parts, len(parts)) from None
            if exc.filename == name and self._open is not None:
                # The error the full path's open gives, naming the full path, not the file's name alone.
                raise OSError(exc.errno, exc.strerror, os.path.join(self.root, directory, name)) from None
            raise
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)

    def _enter(self, rel: str) -> tuple[str, str]:
        """(directory, file name) of ``rel``, checked, its directories made; the
        directory left open for the writes that follow when it can be."""
        directory, path = self._check(rel, file=False)
        if directory not in self._real:
            # Made here (exist_ok: another process may make it at the same time);
            # a link put there since the check is refused below by the next look.
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self._missing = {d for d in self._missing if not (d == directory or directory.startswith(d + "/"))}
            self._check_directory(directory.split("/") if directory else [])
            if not directory:
                self._real.add("")
        self.close()
        if directory in self._real:
            # O_NOFOLLOW: a link put in place of the directory since it was looked
            # at is refused, as the full path's open refuses it; the open directory
            # then holds every file written into it, whatever its name comes to
            # point at. The root itself is followed, as it always was.
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | (os.O_NOFOLLOW if directory else 0)
            try:
                self._open_fd = os.open(os.path.join(self.root, directory), flags)
                self._open = directory
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _refuse(directory.split("/"), directory.count("/") + 1) from None
                # Anything else: the full path's open below says what it says.
        return directory, os.path.basename(path)

    def delete(self, rel: str) -> None:
        os.unlink(self._check(rel)[1])


def write(root: Path, rel: str, data: bytes) -> None:
    """Write ``data`` to ``rel``, making missing directories."""
    with Writer(root) as writer:
        writer.write(rel, data)


def delete(root: Path, rel: str) -> None:
    Writer(root).delete(rel)


def read(root: Path, rel: str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    target = check(root, rel)
    try:
        return target.read_bytes()
    except FileNotFoundError:
        return None


__all__ = ["Writer", "check", "delete", "read", "write"]
