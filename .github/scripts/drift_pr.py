"""Publish the drift found by `configsync snapshot --commit` as a pull request.

    drift_pr.py --drift true  --body-file DIFF.md [--branch configsync/drift] [--base main]
    drift_pr.py --drift false [--branch configsync/drift] [--base main]
    drift_pr.py --fleet RESULT.json [--branch configsync/drift] [--base main] [--configsync BIN]

With drift, HEAD is the snapshot commit on top of BASE: it is pushed to BRANCH
(replacing an earlier drift commit, so the branch always holds BASE plus the
whole current drift) and the one open pull request from BRANCH is opened or
updated; when the remote branch already holds the same drift on the same base,
nothing is pushed. Without drift, nothing is pushed; an open drift pull request
left from an earlier run is closed (its content is no longer true) and the
branch deleted: the branch exists only while there is drift.

With --fleet, RESULT.json is what `configsync snapshot --commit --env '*' --format json`
printed: one snapshot commit per drifted environment on HEAD, each writing only
that environment's overlay (config-snapshots/_environments/NAME/). Each environment
gets its own branch, BRANCH-NAME (that commit alone, on top of BASE), and its own
pull request, opened, updated or closed as above: merging one accepts one
environment's drift and touches no other. An environment whose snapshot failed
keeps its pull request as it was. The drift is described by `BIN diff`.

Environment: GITHUB_TOKEN (contents: write, pull-requests: write),
GITHUB_REPOSITORY, GITHUB_API_URL. Step outputs: ``action`` (created, updated,
unchanged, closed or none), ``pushed``, ``pull-request-number``,
``pull-request-url``.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from ghapi import (
    GitHub,
    ScriptError,
    add_summary,
    close_pull,
    find_open_pull,
    force_push_head,
    git,
    main_guard,
    open_or_update_pull,
    remote_branch_sha,
    run_link,
    script_parser,
    set_output,
    with_marker,
)

MARKER = "<!-- configsync:drift -->"


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--drift", choices=["true", "false"], help="the snapshot step's `changes` output")
    parser.add_argument("--fleet", type=Path, help="a fleet snapshot's JSON: a pull request per drifted environment")
    parser.add_argument("--configsync", default="configsync", help="the configsync executable (--fleet: its diff)")
    parser.add_argument("--body-file", type=Path, help="Markdown describing the drift (configsync diff --format markdown)")
    parser.add_argument("--branch", default="configsync/drift")
    parser.add_argument("--base", default="main")
    parser.add_argument("--remote", default="origin")
    args = parser.parse_args(argv)
    gh = GitHub.from_env()
    if args.fleet is not None:
        return fleet(gh, args.fleet, args.branch, args.base, args.remote, args.configsync)
    if args.drift is None:
        raise ScriptError("--drift true|false (or --fleet RESULT.json) is required")
    if args.drift == "false":
        return no_drift(gh, args.branch, args.base, args.remote)
    if args.body_file is None or not args.body_file.is_file():
        raise ScriptError("--body-file (the drift as Markdown) is required when there is drift")
    return publish(gh, args.branch, args.base, args.remote, args.body_file.read_text(encoding="utf-8"))


def fleet(gh: GitHub, result: Path, prefix: str, base: str, remote: str, configsync: str) -> int:
    """A pull request per drifted environment, each on its own branch; stale ones closed."""
    try:
        document = json.loads(result.read_text(encoding="utf-8"))
        entries = [e for e in document["environments"] if isinstance(e, dict)]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScriptError(f"{result}: not the JSON of a fleet snapshot ({exc})") from None
    base_sha = git("rev-parse", f"refs/heads/{base}")
    failed = []
    for entry in entries:
        env = str(entry.get("env", ""))
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", env) or env.strip(".") == "":
            raise ScriptError(f"{result}: not an environment name: {env!r}")
        branch = f"{prefix}-{env}"
        if entry.get("exit_code") == 2 and entry.get("commit"):
            git("checkout", "--quiet", "--force", "-B", branch, base_sha)
            git("cherry-pick", "--allow-empty", str(entry["commit"]))
            diff = _diff(configsync, env)
            publish(gh, branch, base, remote, diff, env=env)
        elif entry.get("exit_code") == 0:
            no_drift(gh, branch, base, remote, env=env)
        else:
            failed.append(env)
    if failed:
        add_summary(f"### configsync drift\n\nThe snapshot failed in {', '.join(failed)} (see the job log): "
                    "their drift pull requests are left as they were.")
    return 0


def _diff(configsync: str, env: str) -> str:
    """The drift as the environment sees it: its overlay merged over the base."""
    proc = subprocess.run([configsync, f"--env={env}", "diff", "HEAD^", "HEAD", "--format", "markdown"],
                          capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 2):
        raise ScriptError(f"configsync diff failed (exit code {proc.returncode}); see the job log")
    return proc.stdout


def publish(gh: GitHub, branch: str, base: str, remote: str, diff: str, env: str = "") -> int:
    head = git("rev-parse", "HEAD")
    if not git("diff", "--name-only", "HEAD^", "HEAD"):
        raise ScriptError("HEAD is not a snapshot commit with changes; run `configsync snapshot --commit` first")
    subject = git("log", "-1", "--format=%s", "HEAD")
    remote_sha = remote_branch_sha(remote, branch)
    pushed = False
    if remote_sha is not None and _same_drift(remote, branch):
        print(f"{branch} already holds this drift on the same base: nothing to push.")
        head = remote_sha
    else:
        force_push_head(remote, branch, remote_sha)
        pushed = True
        print(f"Pushed {head[:7]} to {branch}.")
    where = f"drift in {env}" if env else "database drift"
    title = f"configsync: {where}: " + subject.removeprefix("snapshot: ")
    body = with_marker(MARKER, _body(diff, base, env), _footer(head))
    existing = None if pushed else find_open_pull(gh, branch, base)
    if existing is not None:  # same drift, same pull request: leave it as the reviewers saw it
        action, pull = "unchanged", existing
    else:
        action, pull = open_or_update_pull(gh, branch=branch, base=base, title=title, body=body)
    url = str(pull.get("html_url", ""))
    print(f"Pull request #{pull.get('number')} {action}: {url}")
    add_summary(f"### configsync drift{' in ' + env if env else ''}\n\nDrift found: {subject.removeprefix('snapshot: ')}. "
                f"Pull request #{pull.get('number')} {action}: {url}")
    _outputs(action, pushed, pull)
    return 0


def no_drift(gh: GitHub, branch: str, base: str, remote: str, env: str = "") -> int:
    pull = find_open_pull(gh, branch, base)
    action = "none"
    if pull is not None:
        link = run_link()
        close_pull(gh, pull, (
            f"The database matches `{base}` again"
            + (f" ([snapshot run]({link}))" if link else "")
            + ": this drift is gone, so configsync closes this pull request."
        ))
        action = "closed"
        print(f"No drift: closed the stale pull request #{pull.get('number')}.")
    if remote_branch_sha(remote, branch) is not None:
        git("push", "--no-verify", remote, "--delete", f"refs/heads/{branch}")
        print(f"Deleted the branch {branch}.")
    add_summary(f"### configsync drift{' in ' + env if env else ''}\n\nNo drift: the database matches the files." + (
        f" Closed the stale drift pull request #{pull.get('number')}." if pull is not None else ""
    ))
    _outputs(action, False, pull)
    return 0


def _same_drift(remote: str, branch: str) -> bool:
    """Whether the remote branch is already BASE + this very snapshot (same tree, same parent)."""
    git("fetch", "--quiet", "--no-tags", "--depth=2", remote, f"refs/heads/{branch}")
    theirs = git("rev-parse", "FETCH_HEAD^{tree}", "FETCH_HEAD^", check=False).split()
    ours = git("rev-parse", "HEAD^{tree}", "HEAD^").split()
    return theirs == ours


def _body(diff: str, base: str, env: str = "") -> str:
    if env:
        return (
            f"The scheduled `configsync snapshot` found rows in the database of the environment `{env}` "
            f"that differ from `{base}`: someone changed them outside git (dashboard, SQL editor, a script). "
            f"This pull request writes them into `{env}`'s overlay only; no other environment changes.\n\n"
            f"- **Merge** it to accept the database's values as `{env}`'s own.\n"
            f"- **Close** it to keep `{base}` as the truth; then run the *config-fleet-apply* workflow "
            f"with `environments: {env}` to put that database back to the files.\n\n"
            "This branch is rewritten by every snapshot run while the drift lasts.\n\n"
            + diff.strip()
        )
    return (
        "The scheduled `configsync snapshot` found rows in the database that differ from "
        f"`{base}`: someone changed them outside git (dashboard, SQL editor, a script).\n\n"
        f"- **Merge** this pull request to accept the database's values into `{base}`. "
        "The apply on merge then changes nothing.\n"
        f"- **Close** it to keep `{base}` as the truth; then run the *config-apply* workflow "
        "(Run workflow) to put the database back to the files.\n\n"
        "This branch is rewritten by every snapshot run while the drift lasts.\n\n"
        + diff.strip()
    )


def _footer(head: str) -> str:
    return f"<sub>snapshot commit {head[:7]}</sub>"


def _outputs(action: str, pushed: bool, pull: object) -> None:
    data = pull if isinstance(pull, dict) else {}
    set_output("action", action)
    set_output("pushed", "true" if pushed else "false")
    set_output("pull-request-number", str(data.get("number", "")))
    set_output("pull-request-url", str(data.get("html_url", "")))


if __name__ == "__main__":
    main_guard(main)
