"""The hostile-input corpus: tests/bad_inputs/<case>/, one directory per case.

A case is a few files laid over a config repository snapshotted from the
seeded Moose database (SQLite), committed, and then the command CI would run
(`apply --yes` unless the case says otherwise), as a real process. Every case
must end the same way: exit 1, each line of the case's `expected.txt` in the
output (the file and line, or the setting, and what is wrong), no traceback,
the database and git exactly as they were, and bounded time and memory (the
process's own peak RSS, from wait4 in a small launcher).

A case directory holds:

    expected.txt   lines that must appear in the output, verbatim
    repo/          files copied over the repository, then committed
    repo.2/ ...    more files, committed after (for histories, e.g. a revert)
    case.yaml      optional:
                     command:  [rollback, HEAD~1, --yes]   (default [apply, --yes])
                     remove:   [paths] or {step: [paths]}  deleted before that step's commit
                     symlinks: {path: target}              made before the commit
                     generate: {path: {head: text, repeat: text, times: n, tail: text}}
                               (large files are made here, not stored; {n} in
                               repeat becomes the repetition's number)
                     canary:   path                        must not exist afterwards
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
import pytest
import yaml
from helpers import Result, commit_all, dump, head, init_repo, run, sqlite_moose

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
LAUNCHER = Path(__file__).resolve().parent / "support" / "rusage_launch.py"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
# CPU seconds, not wall time: a hostile input must not make configsync compute
# for long, and CPU time does not grow when the machine is busy (wall time did:
# a case that needs two seconds took twelve under CI load).
MAX_SECONDS = 10.0
MAX_RSS_MIB = 200  # the process's peak; configsync itself needs about 60 MiB


@dataclass
class Outcome(Result):
    seconds: float
    cpu_seconds: float
    rss_mib: float


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config repository and the SQLite database it was snapshotted from."""
    root = tmp_path_factory.mktemp("corpus-base")
    url = sqlite_moose(root / "moose.sqlite")
    init_repo(root / "repo")
    result = run(root / "repo", "snapshot", "--commit", database=url)
    assert result.code == 2, result.text
    return root


def measured(argv: list[str], cwd: Path, env: dict[str, str]) -> Outcome:
    """Run a process; its exit code, output, wall time, CPU time and own peak
    RSS (from wait4, in a small launcher: see tests/support/rusage_launch.py)."""
    out, err, usage = cwd.parent / "stdout", cwd.parent / "stderr", cwd.parent / "usage.json"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        # The launcher kills a runaway, even on a loaded machine; the timeout here only guards the launcher.
        subprocess.run([sys.executable, str(LAUNCHER), str(usage), str(6 * MAX_SECONDS), *argv], cwd=cwd,
                       stdout=stdout, stderr=stderr, env=env, timeout=12 * MAX_SECONDS, check=True)
    figures = json.loads(usage.read_text())
    return Outcome(
        figures["exit_code"],
        out.read_text(errors="replace"),
        err.read_text(errors="replace"),
        figures["seconds"],
        figures["cpu_seconds"],
        figures["rss_kib"] / 1024,  # KiB on Linux
    )


def lay_out(case: Path, repo: Path, spec: dict[str, Any]) -> None:
    """The case's files over the base repository, committed step by step."""
    dirs = {int(p.name.partition(".")[2] or 1): p for p in case.iterdir()
            if p.is_dir() and p.name.partition(".")[0] == "repo"}
    remove = spec.get("remove", [])
    removals: dict[int, list[str]] = remove if isinstance(remove, dict) else {1: remove}
    for step in range(1, max([1, *dirs, *removals]) + 1):
        if step in dirs:
            shutil.copytree(dirs[step], repo, dirs_exist_ok=True, symlinks=True)
        for rel in removals.get(step, []):
            (repo / rel).unlink()
        if step == 1:
            for rel, target in spec.get("symlinks", {}).items():
                link = repo / rel
                link.parent.mkdir(parents=True, exist_ok=True)
                if link.is_symlink() or link.is_file():
                    link.unlink()
                elif link.is_dir():
                    shutil.rmtree(link)
                link.symlink_to(target)
            for rel, gen in spec.get("generate", {}).items():
                path = repo / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                body = "".join(gen["repeat"].replace("{n}", str(n)) for n in range(gen["times"]))
                path.write_bytes((gen.get("head", "") + body + gen.get("tail", "")).encode())
        commit_all(repo, f"{case.name}: step {step}")


@pytest.mark.parametrize("name", CASES)
def test_hostile_input(name: str, base: Path, tmp_path: Path) -> None:
    case = CORPUS / name
    spec = yaml.safe_load((case / "case.yaml").read_text()) if (case / "case.yaml").exists() else {}
    expected = [line for line in (case / "expected.txt").read_text().splitlines() if line.strip()]
    assert expected, f"{name}: expected.txt is empty"

    root = tmp_path / "case"
    root.mkdir()
    repo = root / "repo"
    shutil.copytree(base / "repo", repo, symlinks=True)
    db = root / "moose.sqlite"
    shutil.copyfile(base / "moose.sqlite", db)
    url = f"sqlite:///{db}"
    lay_out(case, repo, spec)
    before, commit = dump(url), head(repo)

    command = [str(part) for part in spec.get("command", ["apply", "--yes"])]
    env = {**os.environ, "TMPDIR": str(root)}  # a crash log would land here
    result = measured([sys.executable, "-m", "configsync", "--database", url, *command], repo, env)

    text = result.text
    assert result.code == 1, f"exit {result.code}, expected 1:\n{text}"
    assert "Traceback" not in text and "failed unexpectedly" not in text, text
    assert not list(root.glob("configsync-crash-*")), text
    for line in expected:
        assert line in text, f"{line!r} is not in the output:\n{text}"
    assert dump(url) == before
    assert head(repo) == commit
    assert not [r for r in pygit2.Repository(str(repo)).references if r.startswith("refs/configsync/")]
    if "canary" in spec:
        assert not (repo / spec["canary"]).exists() and not Path(spec["canary"]).exists()
    assert result.cpu_seconds < MAX_SECONDS, f"{result.cpu_seconds:.1f} CPU seconds ({result.seconds:.1f}s wall)"
    assert result.rss_mib < MAX_RSS_MIB, f"{result.rss_mib:.0f} MiB"
    print(f"{name}: {result.seconds:.2f}s ({result.cpu_seconds:.2f} CPU), {result.rss_mib:.0f} MiB peak")


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40


def test_schema_references_are_never_fetched(base: Path, tmp_path: Path) -> None:
    """A $ref to a URL or a file that exists and would resolve is still
    refused: nothing is fetched (a pull request could otherwise make CI
    request any URL, or read any file on the runner)."""
    import http.server
    import json
    import threading

    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = b'{"type": "string"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/schema+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    local = tmp_path / "name.schema.json"
    local.write_text('{"type": "string"}')
    try:
        for ref in (f"http://127.0.0.1:{server.server_address[1]}/name.json", local.as_uri()):
            repo = tmp_path / f"repo-{len(requests)}-{ref[:4]}"
            shutil.copytree(base / "repo", repo, symlinks=True)
            schema = json.loads((repo / "schemas/contracts.schema.json").read_text())
            schema["properties"]["name"] = {"$ref": ref}
            (repo / "schemas/contracts.schema.json").write_text(json.dumps(schema))
            (repo / "config-snapshots/contracts").mkdir(parents=True, exist_ok=True)
            (repo / "config-snapshots/contracts/billing-api@v1.yaml").write_text(
                "name: billing-api\nversion: v1\nspecification: {}\n")
            commit_all(repo, "a schema with an outside reference")
            result = run(repo, "validate")
            assert result.code == 1, result.text
            assert f"schemas/contracts.schema.json: $ref '{ref}' cannot be resolved" in result.text
    finally:
        server.shutdown()
        server.server_close()
    assert requests == []
