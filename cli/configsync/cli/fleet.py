"""Fleets: `envs`, and running a command over the environments `--env` selects.

``run_fleet`` is reached from the group (base.py) before click parses a
command, when ``--env`` is a glob, a comma list or @group, or a fleet option
is given. It takes the fleet's own options and ``--env`` out of the words, and
runs the rest once per environment as its own process (configsync.fleet).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .. import fleet, fleet_markdown, selection
from ..config import load_config
from .base import EXIT_ERROR, FLEET_OPTIONS, Options, common_options

# Commands that run once per environment over a fleet (`schema` means `schema check`).
FLEET_COMMANDS = ("plan", "apply", "snapshot", "status", "schema check", "validate")
DEFAULT_JOBS = 4
# What exit code 2 means, per command, in the summary.
_CHANGED = {"plan": "changes", "apply": "changes", "snapshot": "drift", "status": "drift",
            "schema check": "drift", "validate": "changes"}
_GLOBAL_VALUE_OPTIONS = ("--config", "--env", "--database")

# --database with a selector of several environments
ONE_DATABASE = ("--database names one database; a fleet takes each environment's database "
                "from environments: in configsync.yaml")


@click.command()
@common_options
@click.argument("pattern", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: a list of names (with --shards, a list of lists), for a workflow's matrix.")
@click.option("--shards", type=click.IntRange(min=1), metavar="N",
              help="Group the environments into at most N balanced lists, in rollout order.")
@click.pass_obj
def envs(opts: Options, pattern: str | None, fmt: str, shards: int | None) -> int:
    """List the environments PATTERN selects (default: every one), in rollout order.

    PATTERN is what --env takes: a name, a glob (tenant-*), @group, or a comma
    list of those. A pattern that selects nothing is an error (exit 1). With
    --shards N, at most N lists whose sizes differ by at most one: a GitHub
    matrix holds 256 jobs, so 1,000 tenants are 100 shards of 10, each applied
    with `configsync apply --env "$SHARD" --jobs 10 --yes`.

    \b
    Example:
      configsync envs 'tenant-*' --format json
      configsync envs @canary
      configsync envs --shards 100 --format json   # [["tenant-001", ...], ...]
    """
    config = load_config(opts.config)
    names = [name for wave in _waves(config, pattern or opts.env) for name in wave]
    if shards is None:
        click.echo(json.dumps(names) if fmt == "json" else "\n".join(names))
        return 0
    parts = selection.shards(names, shards)
    click.echo(json.dumps(parts) if fmt == "json" else "\n".join(",".join(part) for part in parts))
    return 0


def _waves(config: Any, selector: str | None) -> list[list[str]]:
    return selection.ordered(selector, list(config.environments), config.groups, config.rollout)


# ---- running a command over a fleet ------------------------------------------------

@dataclass
class FleetArgs:
    """The words of a fleet run, taken apart."""

    command: str                       # "plan", ..., "schema check"
    selector: str
    before: list[str]                  # global options, minus --env
    words: list[str]                   # the command's own words (options and arguments), minus fleet options
    config: str | None = None
    jobs: int = DEFAULT_JOBS
    max_failures: int = 0
    max_envs_with_deletes: int | None = None
    fmt: str = "text"
    flags: set[str] = field(default_factory=set)


def _int_option(name: str, value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise click.UsageError(f"{name}: expected a whole number of at least {minimum}, got {value!r}")
    return number


def parse_fleet_args(argv: Sequence[str]) -> FleetArgs | None:
    """Take the words of a fleet run apart without knowing every command's options:
    the global options, the command, ``--env``, the fleet's options; the rest is
    passed to each environment's run unchanged. None for `envs`, which reads a
    selector itself."""
    words = list(argv)
    before: list[str] = []
    selector: str | None = None
    config: str | None = None
    index = 0
    while index < len(words) and words[index].startswith("-"):
        word = words[index]
        name, eq, value = word.partition("=")
        if name not in _GLOBAL_VALUE_OPTIONS:
            raise click.UsageError(f"{word}: not an option of configsync itself; put it after the command")
        if not eq:
            if index + 1 >= len(words):
                raise click.UsageError(f"{name} needs a value")
            value = words[index + 1]
            index += 1
        index += 1
        if name == "--env":
            selector = value
        elif name == "--database":
            raise click.UsageError(ONE_DATABASE)
        else:
            config = value
            before += [name, value]
    if index >= len(words):
        raise click.UsageError("missing command (fleets run: " + ", ".join(FLEET_COMMANDS) + ")")
    command = words[index]
    index += 1
    if command == "envs":
        return None
    if command == "schema" and index < len(words) and words[index] == "check":
        command, index = "schema check", index + 1
    rest: list[str] = []
    parsed = FleetArgs(command=command, selector="", before=before, words=rest, config=config)
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            rest += words[index - 1:]
            break
        name, eq, value = word.partition("=")
        takes_value = name in (*FLEET_OPTIONS, "--env", "--database", "--config", "--format")
        if takes_value and not eq:
            if index >= len(words):
                raise click.UsageError(f"{name} needs a value")
            value = words[index]
            index += 1
        if name == "--env":
            selector = value
        elif name == "--database":
            raise click.UsageError(ONE_DATABASE)
        elif name == "--jobs":
            parsed.jobs = _int_option("--jobs", value, 1)
        elif name == "--max-failures":
            parsed.max_failures = _int_option("--max-failures", value, 0)
        elif name == "--max-envs-with-deletes":
            parsed.max_envs_with_deletes = _int_option("--max-envs-with-deletes", value, 0)
        elif name == "--config":
            parsed.config = value
            rest += ["--config", value]
        elif name == "--format":
            parsed.fmt = value
            # apply and schema check print text only: the fleet itself renders their JSON
            if command not in ("apply", "schema check"):
                rest += ["--format", value]
        elif name == "--out" and command == "plan":
            # every environment would write the same file, the last one winning
            raise click.UsageError("plan --out saves one environment's plan; over several, run "
                                   "`configsync plan --env NAME --out FILE` per environment")
        else:
            rest.append(word)
            parsed.flags.add(name)
    if command not in FLEET_COMMANDS:
        raise click.UsageError(
            f"{command} runs on one environment; over several (--env with a glob, a list or @group) "
            f"configsync runs {', '.join(FLEET_COMMANDS)}"
        )
    if selector is None:
        raise click.UsageError("--jobs, --max-failures and --max-envs-with-deletes need --env "
                               "(a name, a glob, a comma list or @group)")
    if command != "apply" and (parsed.max_failures or parsed.max_envs_with_deletes is not None):
        raise click.UsageError("--max-failures and --max-envs-with-deletes are options of apply")
    if parsed.fmt not in ("text", "json", "markdown", "github"):
        raise click.UsageError(f"--format {parsed.fmt}: expected text, json, markdown or github")
    parsed.selector = selector
    return parsed


def run_fleet(argv: Sequence[str]) -> int | None:
    """Run one command over every environment ``--env`` selects; returns the exit
    code, or None when the words are not a fleet run after all (`envs`)."""
    args = parse_fleet_args(argv)
    if args is None:
        return None
    config = load_config(args.config)
    waves = _waves(config, args.selector)
    command_words = args.command.split()

    def child(env: str) -> list[str]:
        return [*args.before, *command_words, *args.words]

    jobs = args.jobs
    if args.command == "snapshot" and "--commit" in args.flags:
        jobs = 1  # each commit moves HEAD and the index: one at a time
    runner = _Renderer(args)
    with fleet.report_directory() as workdir:
        if args.command != "apply":
            runs = fleet.run_wave([env for wave in waves for env in wave], child, jobs=jobs,
                                     workdir=workdir, on_result=runner.show)
            return runner.finish(runs, [])
        if "--yes" not in args.flags and "-y" not in args.flags and "--dry-run" not in args.flags:
            raise click.UsageError(
                "apply over several environments needs --yes: there is no terminal to confirm on across "
                "processes. Review first with `configsync plan --env " + args.selector + "`."
            )
        if args.max_envs_with_deletes is not None:
            refusal = _check_deletes(args, [env for wave in waves for env in wave], workdir, runner)
            if refusal is not None:
                return refusal
        return _roll_out(args, waves, child, workdir, runner)


def _roll_out(args: FleetArgs, waves: list[list[str]], child: Any, workdir: Path, runner: _Renderer) -> int:
    """Wave after wave, every environment of a wave attempted (in parallel, so
    none waits on another's failure); no further wave starts once more than
    --max-failures environments have failed."""
    runs: list[fleet.EnvRun] = []
    not_attempted: list[str] = []
    for wave in waves:
        if not_attempted or sum(run.failed for run in runs) > args.max_failures:
            not_attempted += wave
            continue
        runs += fleet.run_wave(wave, child, jobs=args.jobs, workdir=workdir, on_result=runner.show)
    return runner.finish(runs, not_attempted)


def _check_deletes(args: FleetArgs, envs: list[str], workdir: Path, runner: _Renderer) -> int | None:
    """Plan every environment first; refuse the whole apply (None: go on) when
    planning fails anywhere or more than --max-envs-with-deletes would delete rows."""
    plan_words = ["plan", "--format", "json", *_plan_options(args.words)]
    runs = fleet.run_wave(envs, lambda env: [*args.before, *plan_words], jobs=args.jobs, workdir=workdir)
    failed = [run.env for run in runs if run.failed]
    deleting = {run.env: (run.report.get("summary") or {}).get("delete", 0) for run in runs}
    deleting = {env: n for env, n in deleting.items() if n}
    if failed:
        message = f"planning failed in {', '.join(failed)}: " + "; ".join(
            f"{run.env}: {run.error()}" for run in runs if run.failed)
    elif args.max_envs_with_deletes is not None and len(deleting) > args.max_envs_with_deletes:
        shown = ", ".join(f"{env} ({n})" for env, n in deleting.items())
        message = (f"{len(deleting)} environments would delete rows, more than --max-envs-with-deletes "
                   f"{args.max_envs_with_deletes}: {shown}. Is a record directory missing after a merge? "
                   "Raise the limit if the deletions are meant")
    else:
        return None
    runner.refuse(runs, f"refusing the fleet apply, nothing was written: {message}")
    return EXIT_ERROR


def _plan_options(words: Sequence[str]) -> list[str]:
    """The words of an apply that also shape its plan: --ref, --table, --no-prune, --config."""
    kept: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        name, eq, _ = word.partition("=")
        if name in ("--ref", "--table", "-t", "--config"):
            kept += [word] if eq else words[index:index + 2]
            index += 1 if eq else 2
            continue
        if word == "--no-prune":
            kept.append(word)
        index += 1
    return kept


class _Renderer:
    """Each environment's output under its name, in order, then a summary."""

    def __init__(self, args: FleetArgs) -> None:
        self.args = args
        self.json = args.fmt == "json"
        # one document at the end (a pull-request comment): each environment's output goes into it
        self.markdown = args.fmt == "markdown"

    def show(self, run: fleet.EnvRun) -> None:
        if self.json or self.markdown:
            for line in run.stderr.splitlines():
                click.echo(f"[{run.env}] {line}", err=True)
            return
        click.echo(f"== {run.env} ({self.result(run)}, {run.seconds:.1f} s) ==")
        if run.stdout:
            click.echo(run.stdout, nl=not run.stdout.endswith("\n"))
        if run.stderr:
            click.echo(run.stderr, nl=not run.stderr.endswith("\n"), err=True)

    def result(self, run: fleet.EnvRun) -> str:
        if run.failed:
            return "failed"
        if run.exit_code == fleet.EXIT_CHANGES:
            return _CHANGED[self.args.command]
        counts = self.counts(run)
        if self.args.command == "apply" and run.report.get("applied") and counts and any(counts.values()):
            return "applied"
        return "ok"

    def counts(self, run: fleet.EnvRun) -> dict[str, int] | None:
        summary = run.report.get("summary")
        output = run.json_output()
        if summary is None and isinstance(output, dict):
            summary = output.get("summary") or (output.get("plan") or {}).get("summary")
        if not isinstance(summary, dict):
            return None
        return {key: int(summary.get(key, 0)) for key in ("create", "update", "delete")}

    def entry(self, run: fleet.EnvRun) -> dict[str, Any]:
        entry: dict[str, Any] = {"env": run.env, "exit_code": min(run.exit_code, 2) if run.exit_code in (0, 1, 2) else 1}
        output = run.json_output()
        if isinstance(output, dict):
            entry.update({k: v for k, v in output.items() if k not in ("env", "exit_code", "error")})
        elif isinstance(output, list):
            entry["problems"] = output
        if self.args.command == "apply":
            counts = self.counts(run)
            if counts is not None:
                entry["summary"] = counts
            entry["applied"] = bool(run.report.get("applied"))
            entry["backup"] = run.report.get("backup")
        if self.args.command in ("apply", "schema check"):
            entry["output"] = run.stdout  # these print text only: what a person would have read
        entry["result"] = self.result(run)
        entry["seconds"] = round(run.seconds, 3)
        entry["error"] = run.error()
        return entry

    def summary(self, runs: Sequence[fleet.EnvRun], not_attempted: Sequence[str]) -> dict[str, Any]:
        return {
            "command": self.args.command,
            "environments": len(runs) + len(not_attempted),
            "ok": sum(run.exit_code == 0 for run in runs),
            "changed": sum(run.exit_code == fleet.EXIT_CHANGES for run in runs),
            "failed": [run.env for run in runs if run.failed],
            "not_attempted": list(not_attempted),
            "exit_code": fleet.exit_code(runs, not_attempted),
        }

    def finish(self, runs: Sequence[fleet.EnvRun], not_attempted: Sequence[str]) -> int:
        summary = self.summary(runs, not_attempted)
        if self.json:
            click.echo(json.dumps({"environments": [self.entry(run) for run in runs], "summary": summary},
                                  indent=2))
        elif self.markdown:
            click.echo(fleet_markdown.report(self.args.command, runs, not_attempted, self.result, self.counts),
                       nl=False)
        else:
            click.echo(self.table(runs))
            failed = summary["failed"]
            click.echo(f"{summary['environments']} environments: {summary['ok']} ok, "
                       f"{summary['changed']} with {_CHANGED[self.args.command]}, {len(failed)} failed"
                       + (f" ({', '.join(failed)})" if failed else "") + ".")
        if not_attempted:
            click.echo(f"error: stopped after a failed wave; not attempted: {', '.join(not_attempted)}", err=True)
        return int(summary["exit_code"])

    def table(self, runs: Sequence[fleet.EnvRun]) -> str:
        rows: list[tuple[str, ...]] = [("environment", "result", "create", "update", "delete", "seconds")]
        for run in runs:
            counts = self.counts(run)
            shown = [str(counts[k]) for k in ("create", "update", "delete")] if counts else ["-", "-", "-"]
            rows.append((run.env, self.result(run), *shown, f"{run.seconds:.1f}"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                         for row in rows)

    def refuse(self, runs: Sequence[fleet.EnvRun], message: str) -> None:
        if self.json:
            click.echo(json.dumps({
                "environments": [self.entry(run) for run in runs],
                "summary": {**self.summary(runs, []), "exit_code": EXIT_ERROR, "refused": message},
            }, indent=2))
        click.echo(f"error: {message}", err=True)
