"""Post a Markdown file as THE configsync comment of a pull request.

    pr_comment.py --body-file REPORT.md [--body-file MORE.md ...] [--marker '<!-- configsync:plan -->'] [--pr N]

The comment is found by a hidden marker (an HTML comment on its first line) and
updated in place on every push, so a pull request carries one plan comment, not
one per push. The pull request number defaults to the one in $GITHUB_EVENT_PATH.

Environment: GITHUB_TOKEN (pull-requests: write), GITHUB_REPOSITORY,
GITHUB_API_URL. Step outputs: ``comment-id``, ``comment-url``, ``action``
(created, updated or unchanged).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ghapi import (
    GitHub,
    ScriptError,
    main_guard,
    run_link,
    script_parser,
    set_output,
    upsert_comment,
    with_marker,
)

DEFAULT_MARKER = "<!-- configsync:plan -->"


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--body-file", required=True, type=Path, action="append",
                        help="Markdown to post (repeatable: the files are joined in order)")
    parser.add_argument("--marker", default=DEFAULT_MARKER, help="hidden marker identifying the comment")
    parser.add_argument("--pr", type=int, help="pull request number (default: from the event)")
    args = parser.parse_args(argv)
    marker = args.marker.strip()
    if not (marker.startswith("<!--") and marker.endswith("-->")):
        raise ScriptError(f"the marker must be an HTML comment such as {DEFAULT_MARKER}, got {marker!r}")
    number = args.pr or pull_request_number()
    parts = []
    for path in args.body_file:
        try:
            parts.append(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ScriptError(f"cannot read {path}: {exc}") from None
    report = "\n\n".join(part for part in parts if part) + "\n"
    sha = os.environ.get("CONFIGSYNC_HEAD_SHA") or os.environ.get("GITHUB_SHA", "")
    link = run_link()
    footer = " · ".join(
        part for part in (f"commit {sha[:7]}" if sha else "", f"[workflow run]({link})" if link else "") if part
    )
    body = with_marker(marker, report, f"<sub>{footer}</sub>" if footer else "")
    action, comment = upsert_comment(GitHub.from_env(), number, marker, body)
    print(f"{action.capitalize()} the comment on pull request #{number}: {comment.get('html_url', comment.get('id'))}")
    set_output("action", action)
    set_output("comment-id", str(comment.get("id", "")))
    set_output("comment-url", str(comment.get("html_url", "")))
    return 0


def pull_request_number() -> int:
    path = os.environ.get("GITHUB_EVENT_PATH")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError) as exc:
        raise ScriptError(f"cannot read the event payload {path}: {exc}") from None
    number = (event.get("pull_request") or {}).get("number") if isinstance(event, dict) else None
    if not isinstance(number, int):
        raise ScriptError("not a pull_request event: pass --pr NUMBER")
    return number


if __name__ == "__main__":
    main_guard(main)
