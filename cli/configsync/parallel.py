"""Reading record files on every core: parse, and the schema's fast yes.

A cold `validate` of a large repository (a fresh CI runner) spends its time
parsing YAML and checking records against their schema, one file at a time.
Where there are many files, forked worker processes do that part for slices
of the files already read into memory (a fork shares them without copying)
and send back each file's value, whether the schema's fast yes passed it, and
the record's plain file name.
Everything that decides a problem's wording or order stays in the parent, so
the result is the same as reading the files one by one (tests hold the two
to the same output).
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence

from . import yamlio
from .errors import NamingError
from .layout import TableLayout
from .records import SourceFile
from .values import Value

# Below this many files a pool costs more than it saves.
MIN_FILES = 2000
_CHUNK = 500

# What a worker reads: set in the parent just before the fork, inherited by the workers.
_files: Sequence[tuple[SourceFile, str]] = ()
_checks: dict[str, Callable[[Value], bool] | None] = {}
_layouts: Mapping[str, TableLayout] = {}


class Failed:
    """A file the reader refused: its error, to report as if read in the parent."""

    __slots__ = ("line", "message")

    def __init__(self, line: int, message: str) -> None:
        self.line, self.message = line, message


# The file's value (or its error), the fast yes, and the record's plain file name
# (None: its key cannot be one; "": not asked, the table's key is unknown).
Result = tuple[Value | Failed, bool, str | None]


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _read(file: SourceFile, table: str) -> Result:
    try:
        value = yamlio.load(file.data)
    except yamlio.YamlError as exc:
        return Failed(exc.line, exc.message), False, ""
    if not isinstance(value, dict):
        return value, False, ""
    check = _checks.get(table)
    layout = _layouts.get(table)
    plain: str | None = ""
    if layout is not None:
        try:
            plain = layout.plain_name(value)
        except NamingError:
            plain = None
    return value, bool(check is not None and check(value)), plain


def _read_slice(bounds: tuple[int, int]) -> list[Result]:
    return [_read(file, table) for file, table in _files[bounds[0]:bounds[1]]]


@contextlib.contextmanager
def reading(files: Sequence[tuple[SourceFile, str]], checks: dict[str, Callable[[Value], bool] | None],
            layouts: Mapping[str, TableLayout]) -> Iterator[Iterator[Result] | None]:
    """Each file's value and fast yes, in order, from a pool of forked processes
    (the caller uses them as they come, while the workers read on); None where
    a pool would not pay (few files, one core, no fork)."""
    global _files, _checks, _layouts
    workers = _workers()
    if len(files) < MIN_FILES or workers < 2 or sys.platform != "linux":
        yield None
        return
    _files, _checks, _layouts = files, checks, layouts
    context = multiprocessing.get_context("fork")
    slices = [(start, min(start + _CHUNK, len(files))) for start in range(0, len(files), _CHUNK)]
    try:
        pool = context.Pool(workers)
    except OSError:  # no processes to be had: read in this one
        _files, _checks, _layouts = (), {}, {}
        yield None
        return
    try:
        yield (result for part in pool.imap(_read_slice, slices) for result in part)
    finally:
        pool.terminate()
        pool.join()
        _files, _checks, _layouts = (), {}, {}
