"""Publish the revert commit made by `configsync rollback COMMIT --no-apply`.

    rollback_publish.py --mode push --apply-workflow config-apply.yml [--base main]
    rollback_publish.py --mode pull-request --body-file DIFF.md [--base main] [--reverted COMMIT]

HEAD must be the revert commit on top of the remote BASE branch (the workflow
checks BASE out and runs the rollback there).

``push`` pushes it to BASE without force (if BASE moved since the run started,
the push is refused and nothing changes: run the workflow again), then starts
the apply workflow on BASE through the API: a push made with GITHUB_TOKEN
starts no workflow by itself, a workflow_dispatch does. ``pull-request`` pushes it to
``configsync/rollback-<sha>`` and opens (or updates) a pull request into BASE,
so the rollback is reviewed and applied on merge like any change.

Environment: GITHUB_TOKEN (contents: write; actions: write to start the apply,
pull-requests: write to open the pull request), GITHUB_REPOSITORY,
GITHUB_API_URL. Step outputs: ``commit`` (the revert commit), ``pushed`` (true when BASE
now holds it), ``pull-request-url``.
"""
from __future__ import annotations

from pathlib import Path

from ghapi import (
    GitHub,
    ScriptError,
    add_summary,
    force_push_head,
    git,
    main_guard,
    open_or_update_pull,
    remote_branch_sha,
    script_parser,
    set_output,
    with_marker,
)

MARKER = "<!-- configsync:rollback -->"


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--mode", required=True, choices=["push", "pull-request"])
    parser.add_argument("--base", default="main")
    parser.add_argument("--remote", default="origin")
    parser.add_argument("--body-file", type=Path, help="Markdown describing the rollback (pull-request mode)")
    parser.add_argument("--reverted", default="", help="the commit that was rolled back (names the branch)")
    parser.add_argument("--apply-workflow", default="", help="workflow file to start after a push (push mode)")
    args = parser.parse_args(argv)

    current = git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if current != args.base:
        raise ScriptError(
            f"the rollback must be made on {args.base}, but HEAD is {current or 'detached'}: "
            f"run the workflow on the {args.base} branch"
        )
    head = git("rev-parse", "HEAD")
    subject = git("log", "-1", "--format=%s", "HEAD")
    remote_base = remote_branch_sha(args.remote, args.base)
    if remote_base == head or remote_base is None or git("rev-parse", "HEAD^") != remote_base:
        raise ScriptError(
            f"HEAD is not one new commit on top of {args.remote}/{args.base}; nothing to publish "
            "(did `configsync rollback --no-apply` make a commit?)"
        )
    set_output("commit", head)

    if args.mode == "push":
        try:
            git("push", "--no-verify", args.remote, f"HEAD:refs/heads/{args.base}")
        except ScriptError as exc:
            raise ScriptError(
                f"{exc}. {args.base} may have moved since this run started, or is protected "
                "(nothing was changed): run the workflow again, or choose the pull-request mode."
            ) from None
        print(f"Pushed {head[:7]} ({subject}) to {args.base}.")
        set_output("pushed", "true")
        set_output("pull-request-url", "")
        if not args.apply_workflow:
            add_summary(f"### configsync rollback\n\nPushed {head[:7]} to `{args.base}`: {subject}.")
            return 0
        try:
            gh = GitHub.from_env()
            gh.request("POST", gh.repo(f"/actions/workflows/{args.apply_workflow}/dispatches"), body={"ref": args.base})
        except ScriptError as exc:
            raise ScriptError(
                f"the revert {head[:7]} is on {args.base} but was NOT applied: starting {args.apply_workflow} "
                f"failed ({exc}). Run it by hand: Actions → {args.apply_workflow} → Run workflow on {args.base}."
            ) from None
        print(f"Started {args.apply_workflow} on {args.base} to apply it.")
        add_summary(
            f"### configsync rollback\n\nPushed {head[:7]} to `{args.base}`: {subject}.\n\n"
            f"Started `{args.apply_workflow}` on `{args.base}` to apply it; it waits for the environment's reviewers."
        )
        return 0

    if args.body_file is None or not args.body_file.is_file():
        raise ScriptError("--body-file is required in pull-request mode")
    reverted = git("rev-parse", "--verify", "--quiet", f"{args.reverted}^{{commit}}", check=False) if args.reverted else ""
    branch = f"configsync/rollback-{(reverted or head)[:12]}"
    force_push_head(args.remote, branch, remote_branch_sha(args.remote, branch))
    body = with_marker(MARKER, (
        f"`configsync rollback --no-apply` made this revert commit on `{args.base}`. "
        "Merging it applies the reverted state to the database.\n\n" + args.body_file.read_text(encoding="utf-8")
    ))
    action, pull = open_or_update_pull(GitHub.from_env(), branch=branch, base=args.base, title=subject, body=body)
    url = str(pull.get("html_url", ""))
    print(f"Pull request #{pull.get('number')} {action}: {url}")
    add_summary(f"### configsync rollback\n\nPull request #{pull.get('number')} {action}: {url}")
    set_output("pushed", "false")
    set_output("pull-request-url", url)
    return 0


if __name__ == "__main__":
    main_guard(main)
