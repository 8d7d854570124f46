"""Running one configsync command over many environments.

Each environment runs as its own process of this very configsync
(``python -m configsync --env NAME <command> ...``): its own connection, lock,
plan, backup and history row, exactly as a single run, and a crash or a hung
connection in one cannot touch another. ``--jobs`` of them run at a time. A
child hands its figures (the plan's counts, whether it applied, the backup
ref) to this process through a JSON file named by ``CONFIGSYNC_FLEET_REPORT``,
so the summary never parses text meant for people.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The variable naming the file a child writes its figures to (see ``write_report``).
REPORT_VAR = "CONFIGSYNC_FLEET_REPORT"
EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


@dataclass
class EnvRun:
    """One environment's run: what it printed, how it ended, what it reported."""

    env: str
    exit_code: int
    seconds: float
    stdout: str
    stderr: str
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.exit_code not in (EXIT_OK, EXIT_CHANGES)

    def error(self) -> str | None:
        """The one line that says why it failed (the child's last ``error:`` line), or None."""
        if not self.failed:
            return None
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        for line in reversed(lines):
            if line.startswith("error: "):
                return line[len("error: "):]
        if self.exit_code == 130:
            return "interrupted"
        return lines[-1] if lines else f"exit code {self.exit_code}"

    def json_output(self) -> Any:
        """The child's stdout read as JSON, or None when it printed none."""
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None


def write_report(**fields: Any) -> None:
    """In a child of a fleet run, add ``fields`` to the figures the parent reads;
    outside a fleet run, nothing."""
    path = os.environ.get(REPORT_VAR)
    if not path:
        return
    report = Path(path)
    try:
        data = json.loads(report.read_text("utf-8"))
    except (OSError, ValueError):
        data = {}
    data.update(fields)
    report.write_text(json.dumps(data), "utf-8")


def child_environment(report: Path) -> dict[str, str]:
    """The environment of a child: the caller's (it holds the databases' URL
    variables), this configsync first on the import path, and the report file."""
    environ = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parent.parent)
    paths = [package_parent, *(p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    environ[REPORT_VAR] = str(report)
    return environ


def run_one(env: str, argv: Sequence[str], workdir: Path) -> EnvRun:
    """Run ``configsync --env ENV ARGV...`` and collect its outcome."""
    handle, name = tempfile.mkstemp(dir=workdir, suffix=".json")
    os.close(handle)
    report = Path(name)
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "configsync", "--env", env, *argv],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=child_environment(report),
        check=False,
    )
    seconds = time.monotonic() - started
    try:
        figures = json.loads(report.read_text("utf-8"))
    except (OSError, ValueError):
        figures = {}
    report.unlink(missing_ok=True)
    return EnvRun(env, completed.returncode, seconds, completed.stdout, completed.stderr, figures)


@contextmanager
def report_directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="configsync-fleet-") as directory:
        yield Path(directory)


def run_wave(
    envs: Sequence[str],
    argv: Callable[[str], Sequence[str]],
    *,
    jobs: int,
    workdir: Path,
    on_result: Callable[[EnvRun], None] = lambda run: None,
) -> list[EnvRun]:
    """Run every environment of ``envs``, ``jobs`` at a time, starting them in order;
    returns the runs in ``envs`` order. ``on_result`` sees each run in that order,
    as soon as it and every one before it have finished."""
    done: dict[str, EnvRun] = {}
    pending: dict[Future[EnvRun], str] = {}
    shown = 0
    started = 0
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        while started < len(envs) or pending:
            while started < len(envs) and len(pending) < jobs:
                env = envs[started]
                pending[pool.submit(run_one, env, argv(env), workdir)] = env
                started += 1
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                done[pending.pop(future)] = future.result()
            while shown < len(envs) and envs[shown] in done:
                on_result(done[envs[shown]])
                shown += 1
    return [done[env] for env in envs]


def exit_code(runs: Sequence[EnvRun], not_attempted: Sequence[str] = ()) -> int:
    """1 if any environment failed (or was never attempted), else 2 if any has
    changes or drift, else 0."""
    if not_attempted or any(run.failed for run in runs):
        return EXIT_ERROR
    if any(run.exit_code == EXIT_CHANGES for run in runs):
        return EXIT_CHANGES
    return EXIT_OK
