"""Run one configsync command for the composite action .github/actions/configsync.

Everything comes from the environment (the action maps its inputs there):

  CONFIGSYNC_ARGS              the command line, e.g. ``plan --format markdown``; split
                               like a shell would (quotes), never run by a shell
  CONFIGSYNC_OK_EXIT_CODES     exit codes that are not failures (default "0"); plan and
                               snapshot use "0 2", 2 meaning changes / drift found
  CONFIGSYNC_WITHOUT_DATABASE  when $CONFIGSYNC_DATABASE_VARIABLE is empty: ``run`` (the
                               command needs no database), ``skip`` (say why, succeed) or
                               ``fail`` (never fall back to the config's default database)
  CONFIGSYNC_DATABASE_VARIABLE the variable holding the URL (default CONFIGSYNC_DATABASE_URL)
  CONFIGSYNC_SUMMARY           "true" (default): append the report to the job summary
  CONFIGSYNC_TITLE             the report's heading (default ``configsync <command>``)
  CONFIGSYNC_BIN               the configsync executable (default: ``configsync`` on PATH)
  CONFIGSYNC_WITHOUT_DATABASE_REASON  what a skip says instead of the default (not for forks)
  CONFIGSYNC_ENVIRONMENT_VARIABLES  lines VARIABLE=VALUE that configsync gets as environment
                               variables (a fleet's URLs from one secret: the variables its
                               environments: name), each value masked in the log

Step outputs: ``exit-code``, ``changes`` (true when it exited 2: changes or drift),
``skipped`` and ``skip-reason``, ``output`` (a file with stdout) and ``report`` (a file
with the Markdown report: the job summary and the PR comment body).

The output of every command but ``--format github`` is fenced with ::stop-commands::,
so a value in a record file can never act as a workflow command. The report (job
summary, pull-request comment) carries standard output only: standard error goes
to the log, and the report says so in one line.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from ghapi import ScriptError, add_summary, annotate, main_guard, set_output

NO_DATABASE_MODES = ("run", "skip", "fail")
VARIABLES = "CONFIGSYNC_ENVIRONMENT_VARIABLES"
# Variables that would change what runs, not which database it reads.
_RESERVED = re.compile(r"(PATH|HOME|SHELL|ENV|BASH_ENV|IFS|LD_\w*|PYTHON\w*|GIT_\w*|GITHUB_\w*|RUNNER_\w*"
                       r"|CONFIGSYNC_\w*|SSL_\w*|PG(HOST|PORT|SSL\w*|SERVICE\w*|PASSFILE|OPTIONS))")


def main() -> int:
    raw_args = os.environ.get("CONFIGSYNC_ARGS", "")
    try:
        args = shlex.split(raw_args)
    except ValueError as exc:
        raise ScriptError(f"cannot split the configsync arguments {raw_args!r}: {exc}") from None
    if not args:
        raise ScriptError("no configsync command given (input `args`)")
    ok_codes = _ok_codes(os.environ.get("CONFIGSYNC_OK_EXIT_CODES", "0"))
    mode = os.environ.get("CONFIGSYNC_WITHOUT_DATABASE", "run") or "run"
    if mode not in NO_DATABASE_MODES:
        raise ScriptError(f"without-database must be one of {', '.join(NO_DATABASE_MODES)}, got {mode!r}")
    variable = os.environ.get("CONFIGSYNC_DATABASE_VARIABLE") or "CONFIGSYNC_DATABASE_URL"
    title = os.environ.get("CONFIGSYNC_TITLE") or f"configsync {_command(args)}"
    summary = os.environ.get("CONFIGSYNC_SUMMARY", "true").lower() != "false"
    workdir = Path(os.environ.get("RUNNER_TEMP") or tempfile.gettempdir())
    output_file = _new_file(workdir, "configsync-output-", ".txt")
    report_file = _new_file(workdir, "configsync-report-", ".md")
    set_output("output", str(output_file))
    set_output("report", str(report_file))

    if mode != "run" and not _has_database(args, variable):
        if mode == "fail":
            raise ScriptError(
                f"${variable} is empty: set the secret that the workflow maps to it "
                f"(see docs/github-actions.md in the configsync repository). Refusing to run `{title}` against the config's "
                "default database instead."
            )
        reason = skip_reason(variable)
        annotate("notice", reason, title=f"{title} skipped")
        report = f"### {title}: skipped\n\n{reason}\n"
        report_file.write_text(report, encoding="utf-8")
        if summary:
            add_summary(report)
        for name, value in (("skipped", "true"), ("skip-reason", reason), ("exit-code", ""), ("changes", "false")):
            set_output(name, value)
        return 0

    executable = os.environ.get("CONFIGSYNC_BIN") or shutil.which("configsync") or "configsync"
    child_env = dict(os.environ)
    child_env.update(environment_variables(child_env.pop(VARIABLES, "")))
    try:
        proc = subprocess.run([executable, *args], capture_output=True, text=True, check=False, env=child_env)
    except OSError as exc:
        raise ScriptError(f"cannot run {executable}: {exc}") from None
    output_file.write_text(proc.stdout, encoding="utf-8")
    github_format = _format(args) == "github"
    _echo(proc.stdout, sys.stdout, fenced=not github_format)
    _echo(proc.stderr, sys.stderr, fenced=True)

    report = render_report(title, args, proc.returncode, proc.stdout, proc.stderr, ok_codes)
    report_file.write_text(report, encoding="utf-8")
    if summary:
        add_summary(report)
    set_output("skipped", "false")
    set_output("skip-reason", "")
    set_output("exit-code", str(proc.returncode))
    set_output("changes", "true" if proc.returncode == 2 else "false")
    if proc.returncode in ok_codes:
        return 0
    annotate("error", f"`{title}` failed with exit code {proc.returncode}; its output is above and in the job summary.")
    return proc.returncode or 1


def environment_variables(text: str) -> dict[str, str]:
    """``VARIABLE=VALUE`` lines (blank lines and # comments skipped), each value masked in the log.
    A line that is not one, or a variable that would change what runs, is an error naming its line
    number, never its value."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, eq, value = stripped.partition("=")
        name = name.strip()
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or not value.strip():
            raise ScriptError(f"${VARIABLES}, line {number}: expected VARIABLE=VALUE "
                              "(the variable that environments: in configsync.yaml names)")
        if _RESERVED.fullmatch(name.upper()):
            raise ScriptError(f"${VARIABLES}, line {number}: {name} is not a database variable; "
                              "name the variables environments: in configsync.yaml names")
        print(f"::add-mask::{value.strip()}", flush=True)
        found[name] = value.strip()
    return found


def skip_reason(variable: str) -> str:
    """Why there is no database to talk to, in the words a PR author needs."""
    event = _event()
    pull = event.get("pull_request") if isinstance(event, dict) else None
    if isinstance(pull, dict):
        head = ((pull.get("head") or {}).get("repo") or {}).get("full_name")
        base = ((pull.get("base") or {}).get("repo") or {}).get("full_name")
        if head and head != base:
            return (
                f"This pull request comes from the fork `{head}`. GitHub does not give secrets to workflows "
                f"that run for pull requests from forks, so ${variable} is empty and there is no database "
                "to plan against. Validation still ran. The plan is shown before anything is applied: "
                "in the apply job after merge, which waits for the environment's reviewers."
            )
    if os.environ.get("GITHUB_ACTOR") == "dependabot[bot]":
        return (
            f"Dependabot runs do not get the repository's Actions secrets, so ${variable} is empty and "
            "there is no database to plan against. Validation still ran."
        )
    custom = os.environ.get("CONFIGSYNC_WITHOUT_DATABASE_REASON", "").strip()
    if custom:
        return custom
    return (
        f"${variable} is empty: the repository has no database secret for this workflow yet. "
        "Add it under Settings → Secrets and variables → Actions (see docs/github-actions.md in the configsync repository). "
        "Validation still ran."
    )


def render_report(title: str, args: list[str], code: int, stdout: str, stderr: str, ok_codes: set[int]) -> str:
    """Markdown for the job summary and the PR comment: standard output only.

    Standard error (database messages, paths, tracebacks) stays in the job log,
    which only people with access to the repository's Actions can read; the
    report points there in one line."""
    status = "failed" if code not in ok_codes else ("changes found" if code == 2 else "ok")
    lines = []
    if _format(args) == "markdown" and code in ok_codes:
        lines.append(stdout.rstrip())  # already a report with its own heading
    else:
        lines += [f"### {title}: {status}", "", _fence(stdout) if stdout.strip() else "_no output_"]
    if code not in ok_codes:
        lines += ["", f"Exit code {code}."]
    if stderr.strip():
        count = len(stderr.strip().splitlines())
        lines += ["", f"`{title}` wrote {count} line(s) to standard error: see the job log."]
    return "\n".join(lines).rstrip() + "\n"


def _new_file(directory: Path, prefix: str, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    os.close(fd)
    return Path(name)


def _fence(text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}\n{text.rstrip()}\n{ticks}"


def _echo(text: str, stream: TextIO, *, fenced: bool) -> None:
    if not text:
        return
    if fenced:
        token = secrets.token_hex(16)
        stream.write(f"::stop-commands::{token}\n{text.rstrip()}\n::{token}::\n")
    else:
        stream.write(text if text.endswith("\n") else text + "\n")
    stream.flush()


def _ok_codes(text: str) -> set[int]:
    try:
        return {int(part) for part in text.replace(",", " ").split()} or {0}
    except ValueError:
        raise ScriptError(f"ok-exit-codes must be numbers separated by spaces, got {text!r}") from None


def _command(args: list[str]) -> str:
    """The subcommand: the first argument that is not a global option or its value."""
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in ("--config", "--env", "--database"):
            skip = True
            continue
        if not arg.startswith("-"):
            return arg
    return args[0]


def _format(args: list[str]) -> str:
    for i, arg in enumerate(args):
        if arg == "--format" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--format="):
            return arg.split("=", 1)[1]
    return "text"


def _has_database(args: list[str], variable: str) -> bool:
    if os.environ.get(variable, "").strip():
        return True
    if variable != "CONFIGSYNC_DATABASE_URL":  # named on purpose: only it counts (a fleet's --env needs it)
        return False
    return any(a in ("--database", "--env") or a.startswith(("--database=", "--env=")) for a in args)


def _event() -> object:
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


if __name__ == "__main__":
    main_guard(main)
