"""Progress of long work, for a person at a terminal.

The library marks its long loops with ``task(label, total)``; nothing is shown
unless the command line installed a reporter (``show_on``), which it does only
when standard error is a terminal and not in CI. A task shows nothing for its
first second, so quick commands print exactly what they always did; after
that one line on standard error is redrawn at most ten times a second and
erased when the task ends, so it never mixes with the command's output.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

# Seconds a task runs before it is shown; CONFIGSYNC_PROGRESS_DELAY overrides
# (the tests set 0 to see a bar without waiting).
DELAY = 1.0
REDRAW = 0.1
WIDTH = 24


class Task:
    """One loop's progress: ``advance`` as items are done."""

    def __init__(self, label: str, total: int | None, stream: TextIO | None, delay: float) -> None:
        self.label, self.total, self.done = label, total, 0
        self._stream, self._delay = stream, delay
        self._started = time.monotonic()
        self._drawn_at: float | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._stream is None:
            return
        now = time.monotonic()
        if now - self._started < self._delay:
            return
        if self._drawn_at is not None and now - self._drawn_at < REDRAW:
            return
        with self._lock:
            if self._closed.is_set():
                return
            self._drawn_at = now
            self._stream.write("\r\x1b[K" + self.line(now - self._started))
            self._stream.flush()

    def keep_drawing(self) -> None:
        """Redraw (the elapsed time) while one long call runs, from a thread of its own."""
        if self._stream is None:
            return

        def redraw() -> None:
            while not self._closed.wait(REDRAW):
                self.advance(0)

        threading.Thread(target=redraw, name="configsync-progress", daemon=True).start()

    def line(self, elapsed: float) -> str:
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * WIDTH)
            return f"{self.label} [{bar:<{WIDTH}}] {self.done:,}/{self.total:,} {elapsed:.0f}s"
        return f"{self.label} … {elapsed:.0f}s"  # one long call: how long it has taken so far

    def close(self) -> None:
        with self._lock:
            self._closed.set()
            if self._stream is not None and self._drawn_at is not None:
                self._stream.write("\r\x1b[K")
                self._stream.flush()


_stream: TextIO | None = None


def show_on(stream: TextIO | None) -> None:
    """Report tasks on ``stream`` (None: report nothing)."""
    global _stream
    _stream = stream


def wanted(stream: TextIO) -> bool:
    """A person is watching: a terminal, not CI (GitHub Actions sets CI=true), not TERM=dumb."""
    return stream.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"


@contextmanager
def task(label: str, total: int | None = None, *, one_call: bool = False) -> Iterator[Task]:
    """A task; ``one_call``: the work is one long call (a database read), so the
    elapsed time is redrawn from a thread instead of by ``advance``."""
    try:
        delay = float(os.environ.get("CONFIGSYNC_PROGRESS_DELAY", DELAY))
    except ValueError:
        delay = DELAY
    current = Task(label, total, _stream, delay)
    if one_call:
        current.keep_drawing()
    try:
        yield current
    finally:
        current.close()
