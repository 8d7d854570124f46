"""One computation per item of a list, on every core, in forked processes.

The items are already in this process's memory: the workers are forked after
the work is set, so they inherit it without a copy, and send back only what
each item gives. Results come back in the items' order, the same as computing
them one by one here; a slice that raises in a worker is computed again here,
so the error is the one this process would have raised, word for word.
Below ``MIN_ITEMS`` items (or with one core, or no fork) nothing is forked;
by default ``MIN_ITEMS`` is None and nothing is ever forked (see there why).
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

# Below this many items a pool costs more than it saves. None: never (the default).
# Measured on a snapshot of 100,000 rows (2 cores): rendering takes 4-5 s of CPU, so
# two workers save about 2 s, but a worker copies every page of the rows it touches
# (reference counts; gc.freeze does not help): the processes held 240 MB more (PSS),
# and their summed RSS, which the benchmark reports, went from 360 MB to 1 GB.
# Tests set it to 1.
MIN_ITEMS: int | None = None
_CHUNK = 500

# What a worker computes: set in the parent just before the fork, inherited by the workers.
_work: Callable[[int], Any] | None = None


def workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _slice(bounds: tuple[int, int]) -> list[Any] | None:
    """The results of one slice; None when the work raised (the parent does it again)."""
    assert _work is not None
    try:
        return [_work(index) for index in range(*bounds)]
    except Exception:  # noqa: BLE001 - raised again, in the parent, by computing the slice there
        return None


def mapped(work: Callable[[int], T], count: int) -> Iterator[T]:
    """``work(0), ..., work(count - 1)``, on every core when ``count`` is large
    (then all computed before the first is given; one by one, each as asked)."""
    cores = workers()
    if MIN_ITEMS is None or count < MIN_ITEMS or cores < 2 or sys.platform != "linux":
        return (work(index) for index in range(count))
    return iter(_pooled(work, count, cores))


def _pooled(work: Callable[[int], T], count: int, cores: int) -> list[T]:
    global _work
    slices = [(start, min(start + _CHUNK, count)) for start in range(0, count, _CHUNK)]
    results: list[T] = []
    _work = work
    # A forked worker flushes what it inherited unwritten: write it once, here, first.
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        try:
            pool = ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("fork"))
        except OSError:  # no processes to be had: compute here
            return [work(index) for index in range(count)]
        try:
            for bounds, part in zip(slices, pool.map(_slice, slices), strict=True):
                results.extend(part if part is not None else [work(index) for index in range(*bounds)])
        except BrokenProcessPool:  # a worker died (killed, out of memory): the rest here
            for start, end in slices[len(results) // _CHUNK:]:
                results.extend(work(index) for index in range(start, end))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        _work = None
    return results


__all__ = ["MIN_ITEMS", "mapped", "workers"]
