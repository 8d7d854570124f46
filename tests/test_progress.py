"""Progress on long work: shown on a terminal, never in CI or when piped.

The terminal is a real pseudo-terminal (pty) given to a configsync process as
its standard error. CONFIGSYNC_PROGRESS_DELAY=0 shows a task at once, so no
test waits a second to see one (the delay itself is configsync's, not the test's)."""
from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from configsync import progress
from helpers import commit_all, init_repo, sqlite_moose

ERASE = "\r\x1b[K"


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
    env.update({"CONFIGSYNC_PROGRESS_DELAY": "0", "TERM": "xterm", **extra})
    return env


def run_on_terminal(repo: Path, args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Runs configsync with a pty as standard error; returns (exit code, stdout, what the terminal got)."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "configsync", *args], cwd=repo, env=env,
                                stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        out = proc.stdout.read() if proc.stdout else b""
        code = proc.wait(timeout=120)
    finally:
        os.close(leader)
    return code, out.decode(), seen.decode(errors="replace")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    url = sqlite_moose(tmp_path / "moose.db")
    path = tmp_path / "repo"
    init_repo(path)
    return path, url


def test_a_terminal_sees_progress_and_the_output_stays_clean(repo: tuple[Path, str]) -> None:
    path, url = repo
    code, out, terminal = run_on_terminal(path, ["snapshot", "--database", url], environment())
    assert code == 2, terminal
    assert "writing record files [" in terminal and ERASE in terminal
    assert "\r" not in out and "\x1b" not in out  # the bar is on stderr only; stdout is the report
    commit_all(path, "snapshot")
    code, out, terminal = run_on_terminal(path, ["plan", "--database", url], environment())
    assert code == 0, terminal
    assert "reading the database" in terminal or "reading record files" in terminal
    shutil.rmtree(path / ".configsync")  # a cold runner: every record file is read
    code, out, terminal = run_on_terminal(path, ["validate"], environment())
    assert code == 0, terminal
    assert "reading record files [" in terminal
    assert terminal.endswith(ERASE)  # the line is erased when the task ends


@pytest.mark.parametrize("variable", ["CI", "TERM"])
def test_no_progress_in_ci_or_on_a_dumb_terminal(repo: tuple[Path, str], variable: str) -> None:
    path, url = repo
    env = environment(CI="true") if variable == "CI" else environment(TERM="dumb")
    code, _, terminal = run_on_terminal(path, ["snapshot", "--database", url], env)
    assert code == 2, terminal
    assert ERASE not in terminal and "record files [" not in terminal


def test_no_progress_when_piped(repo: tuple[Path, str]) -> None:
    path, url = repo
    result = subprocess.run([sys.executable, "-m", "configsync", "snapshot", "--database", url], cwd=path,
                            env=environment(), capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "\r" not in result.stderr and "\x1b" not in result.stderr and "\r" not in result.stdout


def test_a_task_shows_nothing_before_its_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quick command prints exactly what it always did: nothing is drawn in the first second."""
    class Terminal:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

        def flush(self) -> None:
            pass

    terminal = Terminal()
    monkeypatch.delenv("CONFIGSYNC_PROGRESS_DELAY", raising=False)
    progress.show_on(terminal)  # type: ignore[arg-type]
    try:
        with progress.task("quick", 3) as bar:
            for _ in range(3):
                bar.advance()
        assert terminal.text == ""
        monkeypatch.setenv("CONFIGSYNC_PROGRESS_DELAY", "0")
        with progress.task("slow", 4) as bar:
            bar.advance(2)
        assert "slow [" in terminal.text and "2/4" in terminal.text and terminal.text.endswith(ERASE)
    finally:
        progress.show_on(None)
