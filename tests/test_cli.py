"""The CLI surface: help and docs for every command, exit-code mapping."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from configsync import stamps
from configsync.cli import cli
from helpers import ROOT, run


def leaf_commands(group: click.Group = cli, prefix: str = "") -> list[str]:
    found = []
    context = click.Context(group)
    for name in sorted(group.list_commands(context)):
        command = group.get_command(context, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found += leaf_commands(command, f"{prefix}{name} ")
        else:
            found.append(prefix + name)
    return found


COMMANDS = leaf_commands()


def test_the_design_commands_exist() -> None:
    design = {"init", "snapshot", "validate", "plan", "apply", "rollback", "diff", "status", "history"}
    assert design <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(cli, [*command.split(), "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert f"configsync {command}" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_documented(command: str) -> None:
    """A row in the front page's command table, and a section of its own in the reference."""
    assert f"| `{command}" in (ROOT / "README.md").read_text()
    assert re.search(rf"^## {re.escape(command)}$", (ROOT / "docs" / "commands.md").read_text(), re.MULTILINE)


def test_readme_starts_with_the_two_setup_commands() -> None:
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("make ")]
    assert lines[0].startswith("make demo") and lines[1].startswith("make test")


def test_python_dash_m_entry_point() -> None:
    result = subprocess.run([sys.executable, "-m", "configsync", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("configsync, version")


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["no-such-command"]])
def test_the_fixed_cost_imports_no_heavy_library(argv: list[str]) -> None:
    """Every command pays for what `configsync` imports before it runs: git, JSON Schema,
    the database drivers and HTTP are loaded by the commands that use them."""
    probe = (
        "import sys\n"
        "from configsync.cli import cli\n"
        f"cli.main(args={argv!r}, prog_name='configsync', standalone_mode=False)\n"
        "heavy = ('pygit2', 'jsonschema', 'psycopg', 'httpx', 'supabase', 'yaml', 'sqlite3')\n"
        "print('loaded:', *sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.splitlines()[-1].startswith("loaded:"), result.stdout + result.stderr
    loaded = result.stdout.splitlines()[-1].removeprefix("loaded:").strip()
    if argv == ["--help"]:
        # --help lists every command, so it loads their modules; it still needs no database driver.
        assert not {m for m in loaded.split() if m.split(".")[0] in ("psycopg", "httpx", "supabase")}, loaded
    else:
        assert loaded == "", loaded


def test_a_warm_validate_imports_neither_git_nor_json_schema(repo_path: Path) -> None:
    """`validate` of a work tree found valid before answers from its stamp (stamps.py):
    no pygit2, no jsonschema, as cheap as `--version` plus reading the stats."""
    record = repo_path / "config-snapshots/system_config/budget_limits.yaml"
    record.parent.mkdir(parents=True)
    record.write_text("config_key: budget_limits\nconfig_value:\n  daily: 50\nconfig_type: json\n")
    time.sleep(stamps.SETTLE_SECONDS + 0.2)  # younger files are never taken on trust (stamps.py)
    assert run(repo_path, "validate").code == 0  # creates .configsync/: the settings are checked again next time
    assert run(repo_path, "validate").code == 0
    probe = (
        "import sys\n"
        "from configsync.cli import cli\n"
        "code = cli.main(args=['validate'], prog_name='configsync', standalone_mode=False)\n"
        "heavy = ('pygit2', 'jsonschema', 'psycopg', 'httpx', 'supabase', 'referencing')\n"
        "print('loaded:', code, *sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=repo_path)
    assert result.stdout.splitlines()[-2:] == ["All record files are valid.", "loaded: 0"], result.stdout + result.stderr
    # The same size and modification time, other bytes: the change time tells, and the file is read.
    before = record.stat()
    record.write_text(record.read_text().replace("config_type: json", "config_type: jsox"))
    os.utime(record, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert record.stat().st_size == before.st_size
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=repo_path)
    assert "budget_limits.yaml:4: config_type: 'jsox' is not one of" in result.stdout, result.stdout + result.stderr


def test_usage_errors_exit_1_not_2(repo_path: Path) -> None:
    """2 means "changes found" to CI scripts; a typo in the command line must not look like that."""
    result = run(repo_path, "plan", "--format", "yaml")
    assert result.code == 1
    assert "Invalid value for '--format'" in result.err
    assert run(repo_path, "rollback").code == 1
    assert run(repo_path, "no-such-command").code == 1


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    result = run(tmp_path, "plan")
    assert result.code == 1
    assert result.err.startswith("error: ")
    assert "configsync.yaml: no such file" in result.err
    assert "Traceback" not in result.text


def test_config_outside_git_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "configsync.yaml").write_text("tables:\n  t: {}\n")
    result = run(tmp_path, "validate")
    assert result.code == 1
    assert "is not inside a git work tree" in result.err


def test_bugs_exit_3_with_a_log(repo_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault injected into the library (the only fake here: there is no real
    bug to trigger) is reported as a bug with a log file, exit 3."""
    from configsync import workspace

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(workspace.Workspace, "validate", broken)
    result = run(repo_path, "validate")
    assert result.code == 3
    assert "this is a bug" in result.err
    log = Path(result.err.rsplit("Details: ", 1)[1].strip())
    assert "ZeroDivisionError: injected" in log.read_text()
    log.unlink()


def test_the_demo_shows_commands_as_a_person_would_type_them(tmp_path: Path) -> None:
    """`make demo`'s main job, run as a process: every step succeeds, every
    command it shows can be pasted into a shell as it stands, nothing warns."""
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    shown = [line[2:] for line in result.stdout.splitlines() if line.startswith("$ ")]
    assert "git commit --quiet -m 'Moose config tables, from the 2025-10-03 backup'" in shown
    assert "configsync rollback HEAD --yes" in shown
    assert not [line for line in shown if sys.executable in line or " -m configsync" in line]
    assert "warning" not in (result.stdout + result.stderr).lower()


def test_no_database_given_names_the_ways_to_give_one(tmp_path: Path) -> None:
    """After `init --database postgresql://...` (which writes no URL) the first
    plan fell back to the embedded SQLite file with a message about a missing file."""
    from helpers import init_repo

    repo = tmp_path / "repo"
    init_repo(repo, config=(ROOT / "configsync.yaml").read_text().replace("database: sqlite:///.configsync/local.db\n", ""))
    result = run(repo, "plan")
    assert result.code == 1
    assert ("sqlite:///.configsync/local.db: no such database file. It is the embedded default, used when no "
            "--database URL, --env NAME, $CONFIGSYNC_DATABASE_URL or `database:` in configsync.yaml names "
            "another database") in result.err
