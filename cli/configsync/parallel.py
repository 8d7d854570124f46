"""Work on many files on every core: forked workers, results in order.

A cold `validate` of a large repository (a fresh CI runner) spends its time
parsing YAML and checking records against their schema, one file at a time.
Where there are many files, forked worker processes do that work for slices
of them: what a worker needs (the files, the schemas, the caller's function)
is in memory before the fork and shared without copying; a worker is sent
only the bounds of its slice and sends back the function's results, which
the caller keeps as small as it can (the parent's unpickling is serial).
Everything that decides a problem's wording or order stays with the caller,
which uses the same function when it reads the files one by one (tests hold
the two to the same output).
"""
from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

# Below this many files a pool costs more than it saves.
MIN_FILES = 2000
_CHUNK = 500

# The work of a pool: set in the parent just before the fork, inherited by the workers.
_work: Callable[[int], Any] | None = None


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _run_slice(bounds: tuple[int, int]) -> list[Any]:
    assert _work is not None
    work = _work
    return [work(index) for index in range(bounds[0], bounds[1])]


def forks(count: int) -> bool:
    """Would `mapped` work on ``count`` files in forked workers?"""
    return count >= MIN_FILES and _workers() >= 2 and sys.platform == "linux"


@contextlib.contextmanager
def mapped(count: int, work: Callable[[int], T]) -> Iterator[Iterator[T] | None]:
    """``work(0)``, ``work(1)``, ... ``work(count - 1)``, in order, from a pool of
    forked processes (the caller uses them as they come, while the workers go
    on); None where a pool would not pay (few files, one core, no fork): the
    caller then calls ``work`` itself."""
    global _work
    if not forks(count):
        yield None
        return
    workers = _workers()
    _work = work
    context = multiprocessing.get_context("fork")
    slices = [(start, min(start + _CHUNK, count)) for start in range(0, count, _CHUNK)]
    # What is in memory now is shared with the workers and kept: out of the
    # garbage collector's sight, a collection neither walks it (in the parent,
    # seconds over 100,000 records) nor writes to its pages (in a worker, a
    # copy of each).
    gc.freeze()
    try:
        pool = context.Pool(workers)
    except OSError:  # no processes to be had: work in this one
        gc.unfreeze()
        _work = None
        yield None
        return
    try:
        yield (result for part in pool.imap(_run_slice, slices) for result in part)
    finally:
        pool.terminate()
        pool.join()
        gc.unfreeze()
        _work = None
