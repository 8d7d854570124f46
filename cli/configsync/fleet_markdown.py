"""A fleet run as one Markdown report: what a pull request's plan comment shows.

A summary table, then a collapsed ``<details>`` section per environment with
changes, drift or a failure, holding that environment's own Markdown output.
The whole report stays within ``limit`` characters (GitHub refuses a comment
over 65,536): each section gets a fair share of what the table leaves, and a
section cut to fit keeps its code fences closed and says how to see the rest.
Environments without changes are named in the table only.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from . import fleet

# Room left under GitHub's 65,536 for the comment's marker, footer and a git diff note.
LIMIT = 60_000
# Above this many environments, the table lists only those with something to show.
FULL_TABLE = 50


def report(
    command: str,
    runs: Sequence[fleet.EnvRun],
    not_attempted: Sequence[str],
    result: Callable[[fleet.EnvRun], str],
    counts: Callable[[fleet.EnvRun], dict[str, int] | None],
    *,
    limit: int = LIMIT,
) -> str:
    failed = [run for run in runs if run.failed]
    changed = [run for run in runs if run.exit_code == fleet.EXIT_CHANGES]
    total = len(runs) + len(not_attempted)
    head = [f"### configsync {command} over {total} environments: {len(changed)} with {_noun(command)}, "
            f"{len(failed)} failed" + (f", {len(not_attempted)} not attempted" if not_attempted else ""), ""]
    table = _table(runs, not_attempted, result, counts, limit // 3)
    sections = [run for run in runs if run.failed or run.exit_code == fleet.EXIT_CHANGES]
    # apply and schema check print text only: fenced, so nothing in it reads as Markdown
    bodies = [_body(run, fenced=command in ("apply", "schema check")) for run in sections]
    titles = [_title(run, result, counts) for run in sections]
    fixed = len("\n".join(head + table)) + sum(len(t) + 60 for t in titles)
    shares = _shares([len(b) for b in bodies], max(0, limit - fixed))
    parts = ["\n".join(head + table)]
    for run, title, body, share in zip(sections, titles, bodies, shares, strict=True):
        text = body if len(body) <= share else _cut(body, share, run.env, command)
        parts.append(f"<details><summary>{title}</summary>\n\n{text.strip()}\n\n</details>")
    return "\n\n".join(parts).rstrip() + "\n"


def _noun(command: str) -> str:
    return "drift" if command in ("snapshot", "status", "schema check") else "changes"


def _table(runs: Sequence[fleet.EnvRun], not_attempted: Sequence[str],
           result: Callable[[fleet.EnvRun], str], counts: Callable[[fleet.EnvRun], dict[str, int] | None],
           room: int) -> list[str]:
    rows = ["| environment | result | create | update | delete |", "|---|---|---:|---:|---:|"]
    total = len(runs) + len(not_attempted)
    quiet = [run.env for run in runs if run.exit_code == fleet.EXIT_OK]
    shown = [run for run in runs if total <= FULL_TABLE or run.exit_code != fleet.EXIT_OK]
    lines: list[str] = []
    for run in shown:
        found = counts(run)
        cells = [str(found[k]) for k in ("create", "update", "delete")] if found else ["", "", ""]
        lines.append(f"| `{run.env}` | {result(run)} | {' | '.join(cells)} |")
    lines += [f"| `{env}` | not attempted | | | |" for env in not_attempted]
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) > room:
            break
        kept.append(line)
        used += len(line) + 1
    rows += kept
    notes = []
    if len(kept) < len(lines):
        notes.append(f"_… and {len(lines) - len(kept)} more rows, cut to fit GitHub's comment size limit._")
    if total > FULL_TABLE and quiet:
        notes.append(f"{len(quiet)} environments without changes are not listed.")
    return rows + ([""] + notes if notes else [])


def _title(run: fleet.EnvRun, result: Callable[[fleet.EnvRun], str],
           counts: Callable[[fleet.EnvRun], dict[str, int] | None]) -> str:
    found = counts(run)
    if run.failed or not found:
        return f"<code>{run.env}</code>: {result(run)}"
    return (f"<code>{run.env}</code>: {found['create']} to create, {found['update']} to update, "
            f"{found['delete']} to delete")


def _body(run: fleet.EnvRun, *, fenced: bool) -> str:
    """The environment's own Markdown (standard output only: its standard error,
    which may hold database messages, stays in the job log)."""
    text = run.stdout.strip()
    if fenced and text:
        ticks = "```"
        while ticks in text:
            ticks += "`"
        text = f"{ticks}\n{text}\n{ticks}"
    if run.failed:
        note = f"configsync failed here (exit code {run.exit_code}); its error is in the job log."
        return f"{note}\n\n{text}" if text else note
    return text or "_no output_"


def _shares(sizes: Sequence[int], room: int) -> list[int]:
    """Split ``room`` fairly: small sections keep all they need, the rest share what is left."""
    shares = [0] * len(sizes)
    left, pending = room, len(sizes)
    for index in sorted(range(len(sizes)), key=lambda i: sizes[i]):
        share = min(sizes[index], left // pending) if pending else 0
        shares[index] = share
        left -= share
        pending -= 1
    return shares


def _cut(text: str, room: int, env: str, command: str) -> str:
    """``text`` cut at a line within ``room``, any open code fence closed, with a note."""
    note = (f"_… {env}'s output is cut to fit GitHub's comment size limit: "
            f"`configsync {command} --env {env}` shows all of it._")
    kept: list[str] = []
    used = len(note) + 20
    fence = ""
    for line in text.splitlines():
        if used + len(line) + 1 + len(fence) > room:
            break
        kept.append(line)
        used += len(line) + 1
        stripped = line.strip()
        if not fence and stripped.startswith("```"):
            fence = stripped[: len(stripped) - len(stripped.lstrip("`"))]
        elif fence and stripped.startswith(fence) and not stripped.strip("`"):
            fence = ""
    if fence:
        kept.append(fence)
    return "\n".join(kept + ["", note])
