"""Small helpers shared by the configsync workflow scripts: the GitHub REST API
(standard library ``urllib`` only), git, and the workflow-command files.

The API base URL is ``$GITHUB_API_URL`` (``https://api.github.com`` on
github.com, ``https://HOST/api/v3`` on GitHub Enterprise Server), so the tests
point it at a local HTTP server. The token comes from ``$GITHUB_TOKEN``.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
# GitHub refuses comment and pull-request bodies longer than this (characters).
MAX_BODY = 65536

Json = Any


class ScriptError(Exception):
    """An error to report as a workflow annotation, without a traceback."""


@dataclass
class Response:
    status: int
    headers: Message
    data: Json


class GitHub:
    """The few REST calls the workflows need, for one repository."""

    def __init__(self, token: str, repository: str, api_url: str = DEFAULT_API_URL, timeout: float = 30) -> None:
        if not token:
            raise ScriptError("GITHUB_TOKEN is empty: pass `GITHUB_TOKEN: ${{ github.token }}` in the step's env")
        if repository.count("/") != 1:
            raise ScriptError(f"repository must be OWNER/NAME, got {repository!r}")
        self.token = token
        self.repository = repository
        self.owner = repository.split("/")[0]
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    @classmethod
    def from_env(cls) -> GitHub:
        return cls(
            os.environ.get("GITHUB_TOKEN", ""),
            os.environ.get("GITHUB_REPOSITORY", ""),
            os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL,
        )

    def repo(self, suffix: str) -> str:
        return f"/repos/{self.repository}{suffix}"

    def request(self, method: str, path: str, *, params: dict[str, str] | None = None, body: Json = None) -> Response:
        url = path if path.startswith(("http://", "https://")) else self.api_url + path
        if not _same_origin(url, self.api_url):
            raise ScriptError(f"refusing to send the token to {url}: not under {self.api_url}")
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/vnd.github+json")
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("X-GitHub-Api-Version", API_VERSION)
        req.add_header("User-Agent", "configsync-workflows")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
                return Response(resp.status, resp.headers, json.loads(raw) if raw.strip() else None)
        except urllib.error.HTTPError as exc:
            raise ScriptError(_http_error(method, path, exc)) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ScriptError(f"{method} {path}: cannot reach {self.api_url}: {reason}") from None

    def paginate(self, path: str, params: dict[str, str] | None = None) -> Iterator[Json]:
        """Every item of a list endpoint, following the Link: rel="next" headers."""
        next_url: str | None = path
        query: dict[str, str] | None = {"per_page": "100", **(params or {})}
        while next_url:
            resp = self.request("GET", next_url, params=query)
            if not isinstance(resp.data, list):
                raise ScriptError(f"GET {path}: expected a list, got {type(resp.data).__name__}")
            yield from resp.data
            next_url = _next_link(resp.headers.get("Link", ""))
            query = None  # the next link carries the query already


def _same_origin(url: str, base: str) -> bool:
    a, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _next_link(header: str) -> str | None:
    for part in header.split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        target = section[0].strip()
        if any(p.strip().replace('"', "") == "rel=next" for p in section[1:]) and target.startswith("<"):
            return target[1:-1]
    return None


def _http_error(method: str, path: str, exc: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(exc.read() or b"{}")
        message = str(payload.get("message", "")) if isinstance(payload, dict) else ""
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if errors:
            message += f" {json.dumps(errors)}"
    except ValueError:
        message = ""
    text = f"{method} {path}: HTTP {exc.code} {exc.reason}" + (f": {message}" if message else "")
    if exc.code in (401, 403, 404):
        text += (
            ". Check the job's `permissions:` (contents: write to push, pull-requests: write to comment "
            "or open a pull request) and, for pull requests opened by GITHUB_TOKEN, the repository setting "
            "'Allow GitHub Actions to create and approve pull requests'."
        )
    return text


# ---- comments and pull requests -------------------------------------------------


def with_marker(marker: str, body: str, footer: str = "") -> str:
    """The marker on the first line, then the body, cut to GitHub's size limit."""
    text = f"{marker}\n{body.rstrip()}\n"
    tail = f"\n{footer.strip()}\n" if footer.strip() else ""
    if len(text) + len(tail) > MAX_BODY:
        cut = "\n\n_… cut to fit GitHub's size limit; the full text is in the job summary._\n"
        text = text[: MAX_BODY - len(tail) - len(cut)] + cut
    return text + tail


def find_marked_comment(gh: GitHub, number: int, marker: str) -> Json | None:
    for comment in gh.paginate(gh.repo(f"/issues/{number}/comments")):
        if marker in str(comment.get("body") or ""):
            return comment
    return None


def upsert_comment(gh: GitHub, number: int, marker: str, body: str) -> tuple[str, Json]:
    """Update the comment carrying ``marker`` in place, or create it: never a second one.

    Returns ("created" | "updated" | "unchanged", comment)."""
    if marker not in body:
        raise ScriptError("the comment body must contain its marker")
    existing = find_marked_comment(gh, number, marker)
    if existing is None:
        return "created", gh.request("POST", gh.repo(f"/issues/{number}/comments"), body={"body": body}).data
    if existing.get("body") == body:
        return "unchanged", existing
    updated = gh.request("PATCH", gh.repo(f"/issues/comments/{existing['id']}"), body={"body": body}).data
    return "updated", updated


def find_open_pull(gh: GitHub, branch: str, base: str) -> Json | None:
    params = {"state": "open", "head": f"{gh.owner}:{branch}", "base": base}
    for pull in gh.paginate(gh.repo("/pulls"), params):
        if pull.get("head", {}).get("ref") == branch:
            return pull
    return None


def open_or_update_pull(gh: GitHub, *, branch: str, base: str, title: str, body: str) -> tuple[str, Json]:
    """The open pull request from ``branch`` into ``base``, created or brought up to date.

    Returns ("created" | "updated" | "unchanged", pull request)."""
    pull = find_open_pull(gh, branch, base)
    if pull is None:
        payload = {"title": title, "head": branch, "base": base, "body": body, "maintainer_can_modify": True}
        return "created", gh.request("POST", gh.repo("/pulls"), body=payload).data
    if pull.get("title") == title and pull.get("body") == body:
        return "unchanged", pull
    patch = {"title": title, "body": body}
    return "updated", gh.request("PATCH", gh.repo(f"/pulls/{pull['number']}"), body=patch).data


def close_pull(gh: GitHub, pull: Json, comment: str) -> None:
    gh.request("POST", gh.repo(f"/issues/{pull['number']}/comments"), body={"body": comment})
    gh.request("PATCH", gh.repo(f"/pulls/{pull['number']}"), body={"state": "closed"})


# ---- git ---------------------------------------------------------------------------


def git(*args: str, cwd: str | Path | None = None, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, env=git_auth_env())
    if check and proc.returncode != 0:
        raise ScriptError(f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def git_auth_env() -> dict[str, str]:
    """The environment for git, with $GITHUB_TOKEN as the HTTP credential for $GITHUB_SERVER_URL.

    The workflows check out with ``persist-credentials: false``: no token is
    stored in .git/config, so only the step that is given the token can push.
    git reads the header from GIT_CONFIG_* variables of this process alone."""
    env = dict(os.environ)
    token, server = env.get("GITHUB_TOKEN", ""), env.get("GITHUB_SERVER_URL", "https://github.com")
    if token and server.startswith(("https://", "http://")):
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        env.update({"GIT_CONFIG_COUNT": str(count + 1), f"GIT_CONFIG_KEY_{count}": f"http.{server.rstrip('/')}/.extraheader",
                    f"GIT_CONFIG_VALUE_{count}": f"AUTHORIZATION: basic {basic}"})
    return env


def remote_branch_sha(remote: str, branch: str, cwd: str | Path | None = None) -> str | None:
    out = git("ls-remote", "--heads", remote, f"refs/heads/{branch}", cwd=cwd)
    return out.split()[0] if out else None


def force_push_head(remote: str, branch: str, seen: str | None) -> None:
    """Push HEAD to ``branch``, replacing it only while it still is ``seen``.

    The lease keeps a concurrent push to the branch from being overwritten; an
    empty one (``seen`` None) means the branch must not exist yet."""
    git("push", "--no-verify", f"--force-with-lease=refs/heads/{branch}:{seen or ''}", remote, f"HEAD:refs/heads/{branch}")


# ---- workflow commands and files ---------------------------------------------------


def set_output(name: str, value: str) -> None:
    """Write a step output ($GITHUB_OUTPUT), multi-line safe; printed when run by hand."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        print(f"output {name}={value}", file=sys.stderr)
        return
    delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def add_summary(markdown: str) -> None:
    """Append to the job summary ($GITHUB_STEP_SUMMARY)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip() + "\n\n")


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def annotate(level: str, message: str, title: str = "") -> None:
    """A ::notice / ::warning / ::error annotation on the run."""
    props = f" title={escape_data(title).replace(':', '%3A').replace(',', '%2C')}" if title else ""
    print(f"::{level}{props}::{escape_data(message)}", flush=True)


def run_link() -> str:
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    repository, run_id = os.environ.get("GITHUB_REPOSITORY"), os.environ.get("GITHUB_RUN_ID")
    if not (repository and run_id):
        return ""
    return f"{server}/{repository}/actions/runs/{run_id}"


def script_parser(doc: str) -> argparse.ArgumentParser:
    """The argument parser of a workflow script; its --help opens with the docstring's first paragraph."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0])


def main_guard(func: Callable[[], int | None]) -> None:
    """Run ``func()``; a ScriptError becomes an ::error annotation and exit code 1."""
    try:
        code = func()
    except ScriptError as exc:
        annotate("error", str(exc))
        code = 1
    sys.exit(code or 0)
