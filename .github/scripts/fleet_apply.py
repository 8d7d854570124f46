"""The steps of config-fleet-apply.yml: a fleet apply across runners.

    fleet_apply.py targets --env SELECTOR
    fleet_apply.py apply --env NAME --variable VAR --ref SHA --results DIR
    fleet_apply.py summary --results DIR --targets JSON

``targets`` (run with the Python configsync is installed in) lists what
``configsync envs`` selects and splits it into the first wave of ``rollout:``
(step output ``canary``) and every later wave (``rollout``), each a JSON list of
``{"env": NAME, "variable": VAR}`` for a matrix; ``all`` is the list of names.
VAR is the variable ``environments.NAME`` in configsync.yaml names (``${VAR}``,
the whole URL or its password), which ``apply`` sets from the job's secret.
It refuses a repository-level CONFIGSYNC_FLEET_DATABASE_URL ($REPOSITORY_SECRET):
the secret belongs to each GitHub environment, and a repository-level one would
reach a tenant whose environment lacks its own.

``apply`` runs ``configsync --env NAME apply --yes --jobs 1 --ref SHA --format json``
(a fleet of one: the fleet's JSON entry) with VAR set from
$CONFIGSYNC_FLEET_DATABASE_URL, writes that entry to DIR/NAME.json, the plan it
applied to the job summary, and fails the step when the apply failed.

``summary`` reads every DIR/*.json and writes one table to the job summary;
an environment of --targets without a result was not attempted (a failed
canary stops the later waves). Exit 1 when any failed or was not attempted.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from ghapi import ScriptError, add_summary, main_guard, script_parser, set_output

SECRET = "CONFIGSYNC_FLEET_DATABASE_URL"
# A GitHub matrix holds at most 256 jobs per workflow run.
MATRIX_LIMIT = 256
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    targets_cmd = commands.add_parser("targets")
    targets_cmd.add_argument("--env", default="*", help="the selector (configsync --env)")
    apply_cmd = commands.add_parser("apply")
    apply_cmd.add_argument("--env", required=True)
    apply_cmd.add_argument("--variable", default="")
    apply_cmd.add_argument("--ref", required=True)
    apply_cmd.add_argument("--results", required=True, type=Path)
    summary_cmd = commands.add_parser("summary")
    summary_cmd.add_argument("--results", required=True, type=Path)
    summary_cmd.add_argument("--targets", required=True, help="JSON list of every environment selected")
    args = parser.parse_args(argv)
    if args.command == "targets":
        return targets(args.env or "*")
    if args.command == "apply":
        return apply(args.env, args.variable, args.ref, args.results)
    return summary(args.results, args.targets)


def configsync_bin() -> str:
    return os.environ.get("CONFIGSYNC_BIN") or str(Path(sys.executable).parent / "configsync")


# ---- targets ---------------------------------------------------------------------------


def targets(selector: str) -> int:
    if os.environ.get("REPOSITORY_SECRET", "").strip():
        raise ScriptError(
            f"{SECRET} is set as a repository or organization secret. It belongs to each GitHub environment "
            "(one per configsync environment, holding that database's URL): a repository-level one would "
            "be given to every environment that lacks its own, applying several tenants' config to one "
            "database. Delete it under Settings → Secrets and variables → Actions."
        )
    proc = subprocess.run([configsync_bin(), f"--env={selector}", "envs", "--format", "json"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ScriptError(f"configsync envs {selector!r} failed: " + _last_line(proc.stderr, proc.returncode))
    names = json.loads(proc.stdout)
    from configsync import selection  # the action's venv: this script runs with its Python
    from configsync.config import load_config
    from configsync.errors import ConfigsyncError

    try:
        config = load_config(None)
        waves = selection.ordered(selector, list(config.environments), config.groups, config.rollout)
    except ConfigsyncError as exc:
        raise ScriptError(str(exc)) from None
    if [name for wave in waves for name in wave] != names:
        raise ScriptError("configsync envs and configsync.yaml's rollout disagree; is configsync up to date?")
    entries = {name: {"env": name, "variable": _variable(name, config.environments[name])} for name in names}
    folded: dict[str, str] = {}
    for name in names:  # GitHub environment (and artifact) names ignore case: one secret for both
        other = folded.setdefault(name.lower(), name)
        if other != name:
            raise ScriptError(f"environments {other} and {name} differ only in case: GitHub would run both in one "
                              "environment, with one secret. Rename one in configsync.yaml")
    first = [entries[name] for name in waves[0]]
    later = [entries[name] for wave in waves[1:] for name in wave]
    for label, part in (("the first wave", first), ("the later waves", later)):
        if len(part) > MATRIX_LIMIT:
            raise ScriptError(
                f"{label} holds {len(part)} environments, more than the {MATRIX_LIMIT} jobs a GitHub matrix "
                "runs: select fewer (input `environments`, e.g. @group), or apply shards with "
                "`configsync envs --shards N` and `apply --jobs` (docs/fleets.md)"
            )
    set_output("canary", json.dumps(first))
    set_output("rollout", json.dumps(later))
    set_output("all", json.dumps(names))
    lines = ["### configsync fleet: targets", "",
             f"`{_cell(selector)}` selects {len(names)} environment(s).", "",
             f"- first wave: {', '.join(n['env'] for n in first)}",
             f"- later waves: {', '.join(n['env'] for n in later) or '(none)'}"]
    add_summary("\n".join(lines))
    print(f"first wave: {[n['env'] for n in first]}; later waves: {[n['env'] for n in later]}")
    return 0


def _variable(name: str, value: str) -> str:
    """The variable environments.NAME names (none for a literal URL)."""
    if not _NAME.fullmatch(name):
        raise ScriptError(f"environments.{name}: not a name this workflow can use")
    found = _VARIABLE.findall(value)
    if len(found) > 1:
        raise ScriptError(f"environments.{name} names {len(found)} variables; the fleet workflow sets one "
                          f"(from the GitHub environment's secret {SECRET})")
    return found[0] if found else ""


# ---- apply -----------------------------------------------------------------------------


def apply(env: str, variable: str, ref: str, results: Path) -> int:
    if not _NAME.fullmatch(env):
        raise ScriptError(f"not an environment name: {env!r}")
    try:
        return _apply(env, variable, ref, results)
    except ScriptError as exc:  # the summary shows why, not "not attempted"
        _write(results, env, {"env": env, "exit_code": 1, "result": "failed", "error": str(exc)})
        raise


def _write(results: Path, env: str, entry: dict[str, Any]) -> None:
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{env}.json").write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")


def _apply(env: str, variable: str, ref: str, results: Path) -> int:
    environ = {k: v for k, v in os.environ.items() if k not in (SECRET, "CONFIGSYNC_DATABASE_URL")}
    if variable:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
            raise ScriptError(f"not a variable name: {variable!r}")
        value = os.environ.get(SECRET, "")
        if not value.strip():
            raise ScriptError(
                f"the GitHub environment {env!r} has no secret {SECRET} (the value of ${{{variable}}}, "
                f"which environments.{env} in configsync.yaml names). Add it under Settings → Environments → {env}."
            )
        environ[variable] = value
    proc = subprocess.run(
        [configsync_bin(), f"--env={env}", "apply", "--yes", "--jobs", "1", "--ref", ref, "--format", "json"],
        capture_output=True, text=True, check=False, env=environ,
    )
    _echo(proc.stdout, sys.stdout)
    _echo(proc.stderr, sys.stderr)
    entry = _entry(env, proc)
    _write(results, env, entry)
    counts = entry.get("summary") or {}
    head = f"### configsync apply {env}: {entry.get('result', 'failed')}"
    body = [head, ""]
    if counts:
        body.append(f"{counts.get('create', 0)} created, {counts.get('update', 0)} updated, "
                    f"{counts.get('delete', 0)} deleted.")
    if entry.get("output"):
        body += ["", _fence(str(entry["output"]))]
    if entry.get("error"):
        body += ["", f"Error: {_cell(str(entry['error']))}"]
    if proc.stderr.strip():
        body += ["", "configsync wrote to standard error: see the job log."]
    add_summary("\n".join(body))
    set_output("result", str(entry.get("result", "failed")))
    return 1 if entry.get("exit_code") == 1 else 0


def _entry(env: str, proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """This environment's entry of the fleet JSON, or one made from the exit code."""
    try:
        document = json.loads(proc.stdout)
        (entry,) = [e for e in document["environments"] if e.get("env") == env]
    except (ValueError, KeyError, TypeError):
        return {"env": env, "exit_code": 1, "result": "failed", "error": _last_line(proc.stderr, proc.returncode)}
    if proc.returncode == 1 and entry.get("exit_code") != 1:
        entry.update(exit_code=1, result="failed")
    return dict(entry)


# ---- summary ---------------------------------------------------------------------------


def summary(results: Path, targets_json: str) -> int:
    try:
        names = json.loads(targets_json)
        assert isinstance(names, list) and all(isinstance(n, str) for n in names)
    except (ValueError, AssertionError):
        raise ScriptError(f"--targets: expected a JSON list of names, got {targets_json[:200]!r}") from None
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(results.glob("*.json")) if results.is_dir() else []:
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("env") in names:
            found[str(entry["env"])] = entry
    rows = ["| environment | result | create | update | delete | seconds | error |",
            "|---|---|---:|---:|---:|---:|---|"]
    failed, missing = [], []
    for name in names:
        entry = found.get(name)
        if entry is None:
            missing.append(name)
            rows.append(f"| {_cell(name)} | not attempted | | | | | |")
            continue
        if entry.get("exit_code") == 1:
            failed.append(name)
        counts = entry.get("summary") or {}
        cells = [str(counts.get(k, "")) for k in ("create", "update", "delete")]
        rows.append(f"| {_cell(name)} | {_cell(str(entry.get('result', '')))} | {' | '.join(cells)} | "
                    f"{entry.get('seconds', '')} | {_cell(str(entry.get('error') or ''))} |")
    applied = len(names) - len(failed) - len(missing)
    line = f"{len(names)} environments: {applied} ok, {len(failed)} failed, {len(missing)} not attempted."
    text = ["### configsync fleet apply", "", *rows, "", line]
    if failed:
        text.append(f"Failed: {', '.join(failed)}.")
    if missing:
        text.append(f"Not attempted (a wave before them failed, or their job was cancelled): {', '.join(missing)}.")
    add_summary("\n".join(text))
    print(line)
    set_output("failed", json.dumps(failed))
    set_output("not-attempted", json.dumps(missing))
    return 1 if failed or missing else 0


# ---- text --------------------------------------------------------------------------------


def _last_line(stderr: str, code: int) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("error: "):
            return line[len("error: "):]
    return lines[-1] if lines else f"exit code {code}"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, no pipes, no HTML."""
    return (" ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|")
            .replace("<", "&lt;").replace(">", "&gt;").replace("`", "'"))


def _fence(text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}\n{text.rstrip()}\n{ticks}"


def _echo(text: str, stream: Any) -> None:
    """Output in the log, fenced so that no value in it acts as a workflow command."""
    if text:
        token = secrets.token_hex(16)
        stream.write(f"::stop-commands::{token}\n{text.rstrip()}\n::{token}::\n")
        stream.flush()


if __name__ == "__main__":
    main_guard(main)
