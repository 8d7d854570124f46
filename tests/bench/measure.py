"""Timing one command as a subprocess: wall seconds and peak memory.

Peak memory is the larger of the child's own peak RSS (``wait4``, which also
folds in descendants it waited for, one at a time) and the largest sum of the
RSS of the child and all its descendants seen while it ran (``/proc``, sampled
every 0.1 s): a fleet run or a validate that uses both cores has several
processes alive at once, and their sum is what the machine must hold.

Every command is started by a small launcher process (this module run as a
script, standard library only): the kernel's peak RSS of a child starts at that
of the process it was forked from, so commands started by the benchmark itself
would weigh at least its 50 MB.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
SAMPLE_SECONDS = 0.1


@dataclass
class Figure:
    """One measured command: what it is, at which size, how long, how much memory."""

    command: str
    shape: str
    n: int
    seconds: float
    mb: float
    exit_code: int


def _process_tree_mb(root: int) -> float:
    """The summed RSS (MB) of ``root`` and every descendant alive now."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            pages = int(Path(f"/proc/{entry}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # it ended while we looked
        # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, ()))
    return total * PAGE_MB


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_mb = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(SAMPLE_SECONDS):
            self.peak_mb = max(self.peak_mb, _process_tree_mb(self.pid))


def _run(argv: list[str], cwd: str, env: dict[str, str], stdout: str | None) -> dict[str, object]:
    """Run one command here, in the launcher: seconds, peak MB, exit code, stderr."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    try:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        sampler = _TreeSampler(process.pid)
        sampler.start()
        # Read stderr while it runs (a full pipe would block the child), then reap it with wait4.
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        sampler.done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdout:
            out.close()  # type: ignore[union-attr]
    return {"seconds": seconds, "mb": max(usage.ru_maxrss / 1024, sampler.peak_mb),
            "exit_code": process.returncode, "stderr": stderr[-3000:]}


def _serve() -> None:
    """The launcher's loop: one JSON request a line on stdin, one JSON answer a line on stdout."""
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.write(json.dumps(_run(request["argv"], request["cwd"], request["env"], request["stdout"])) + "\n")
        sys.stdout.flush()


class _Launcher:
    """A small process (this module, standard library only) that starts every measured command.

    A child's peak RSS as the kernel reports it (``ru_maxrss``) starts at the RSS of the
    process it was forked from, and survives exec: started from the benchmark itself
    (psycopg, pygit2, ~50 MB) every command would weigh at least that much."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], stdout: Path | None) -> dict[str, object]:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            text=True, env={**os.environ, "PYTHONPATH": ""})
        assert self.process.stdin is not None and self.process.stdout is not None
        request = {"argv": argv, "cwd": str(cwd), "env": env, "stdout": str(stdout) if stdout else None}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise SystemExit("the benchmark's launcher process ended")
        result: dict[str, object] = json.loads(answer)
        return result


_LAUNCHER = _Launcher()


def measure(label: str, shape: str, n: int, argv: list[str], cwd: Path, env: dict[str, str],
            ok: tuple[int, ...] = (0, 2), stdout: Path | None = None, quiet: bool = False) -> Figure:
    """Run ``argv`` once (its stdout to the file ``stdout`` or nowhere); exit with its stderr
    when its exit code is not in ``ok``."""
    # What the last command left for the disk is written out first, untimed: a full
    # snapshot timed while the kernel still wrote back the floor's 100,000 files
    # took 11-14 s, against 9-10 s after a sync.
    os.sync()
    result = _LAUNCHER.run(argv, cwd, env, stdout)
    code = int(result["exit_code"])  # type: ignore[call-overload]
    if code not in ok:
        raise SystemExit(f"{label} ({shape}, N={n}) failed with exit {code}:\n{result['stderr']}")
    figure = Figure(label, shape, n, float(result["seconds"]), float(result["mb"]), code)  # type: ignore[arg-type]
    if not quiet:
        print(f"  {label:<34} {figure.seconds:8.2f} s {figure.mb:8.1f} MB", file=sys.stderr, flush=True)
    return figure


def measure_median(label: str, shape: str, n: int, argv: list[str], cwd: Path, env: dict[str, str],
                   repeat: int, ok: tuple[int, ...] = (0,)) -> Figure:
    """The median of ``repeat`` runs (for sub-second commands, where one run is mostly noise)."""
    runs = [measure(label, shape, n, argv, cwd, env, ok=ok, quiet=True) for _ in range(repeat)]
    seconds = statistics.median(f.seconds for f in runs)
    figure = Figure(label, shape, n, seconds, max(f.mb for f in runs), runs[0].exit_code)
    print(f"  {label:<34} {seconds:8.3f} s {figure.mb:8.1f} MB (median of {repeat})", file=sys.stderr, flush=True)
    return figure


def median_rounds(rounds: list[list[Figure]]) -> list[Figure]:
    """One figure per command of several rounds of the same commands: the
    median seconds (a round the disk or a neighbour slowed is one vote, for
    the floors as for configsync) and the largest peak memory."""
    if len(rounds) == 1:
        return rounds[0]
    combined = []
    for same in zip(*rounds, strict=True):
        first = same[0]
        if any((f.command, f.shape, f.n) != (first.command, first.shape, first.n) for f in same):
            raise ValueError(f"rounds measured different commands: {[f.command for f in same]}")
        combined.append(Figure(first.command, first.shape, first.n, statistics.median(f.seconds for f in same),
                               max(f.mb for f in same), first.exit_code))
    return combined


if __name__ == "__main__":
    _serve()
