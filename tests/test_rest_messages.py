"""Messages that say what was checked (issue 17, points 5 and 6), over a real PostgREST.

A lost answer says whether the history table was read; a failing rollback
shows the plan it tried; after it, `plan` and `status` say that HEAD is not
what the rollback wanted and how to retry; a bare PostgREST (no /rest/v1
gateway in front) is reached with the postgrest+http(s):// form.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg
import pygit2
import pytest
import test_rest
from helpers import commit_all, head, init_repo, run, sqlite_moose
from test_rest import Project, commit_edit

supabase_cluster = test_rest.supabase_cluster
start_project = test_rest.start_project

PENDING_PREFIX = "refs/configsync/pending-rollback/"  # where a rollback that did not land waits
RECORD = "system_config/orchestrator_max_concurrent.yaml"


def max_concurrent(db: str) -> object:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT config_value FROM system_config "
                           "WHERE config_key = 'orchestrator_max_concurrent'").fetchone()
    return row[0] if row else None


def six(project: Project, repo: Path) -> None:
    """A committed edit of one record (3 -> 6), not yet applied."""
    commit_edit(repo, RECORD, "config_value: 3", "config_value: 6", "six")


# ---- point 5: a lost answer says whether the history was read ---------------------------


@pytest.mark.parametrize("status", [502, 0], ids=["http-502", "dropped"])
def test_a_lost_answer_says_the_history_could_not_be_read(
        tmp_path: Path, start_project: Callable[..., Project], status: int) -> None:
    project = start_project()
    repo = project.snapshotted_repo(tmp_path / "repo")
    six(project, repo)
    # The function runs and commits; its answer is lost; every read of the history fails too.
    project.gateway.fail("POST", "rpc/configsync_apply", status=status, forwarded=True)
    project.gateway.fail("GET", "/rest/v1/configsync_history", times=20, status=502)
    result = project.run(repo, "apply", "--yes")
    assert result.code == 1, result.text
    assert max_concurrent(project.db) == 6  # it did commit
    assert "does not show this apply" not in result.err
    assert "the history table configsync_history could not be read either (reading configsync_history " \
           "failed: injected HTTP 502" in result.err, result.err
    assert "run `configsync status`" in result.err
    assert "Traceback" not in result.text
    # Once the API answers again, the history tells: nothing left to do.
    assert project.run(repo, "plan").code == 0


def test_a_lost_answer_says_the_history_was_read(tmp_path: Path, start_project: Callable[..., Project]) -> None:
    project = start_project()
    repo = project.snapshotted_repo(tmp_path / "repo")
    six(project, repo)
    project.gateway.fail("POST", "rpc/configsync_apply", status=502)  # never reaches PostgREST
    result = project.run(repo, "apply", "--yes")
    assert result.code == 1, result.text
    assert max_concurrent(project.db) == 3
    assert ("The history table configsync_history, read after the failure, does not show this apply"
            in result.err), result.err
    assert "could not be read" not in result.err


# ---- point 5: a failed rollback -------------------------------------------------------------


def pending_refs(repo: Path) -> list[str]:
    return [r for r in pygit2.Repository(str(repo)).references if r.startswith(PENDING_PREFIX)]


def test_a_failed_rollback_shows_its_plan_and_plan_and_status_say_head_is_not_it(
        tmp_path: Path, start_project: Callable[..., Project]) -> None:
    project = start_project()
    repo = project.snapshotted_repo(tmp_path / "repo")
    six(project, repo)
    assert project.run(repo, "apply", "--yes").code == 0
    six_commit = head(repo)

    project.gateway.fail("POST", "rpc/configsync_apply", status=503)  # never reaches PostgREST
    result = project.run(repo, "rollback", "HEAD", "--yes")
    assert result.code == 1, result.text
    # the plan it tried, as apply shows it, before the error
    assert "orchestrator_max_concurrent" in result.out and "6 -> 3" in result.out, result.out
    assert "Rollback: 0 to create, 1 to update, 0 to delete." in result.out
    assert head(repo) == six_commit and max_concurrent(project.db) == 6

    note = "HEAD is not what the rollback wanted"
    retry = f"Retry: configsync rollback {six_commit[:12]}"
    for command in (["plan"], ["status"], ["plan", "--format", "json"], ["status", "--format", "json"]):
        result = project.run(repo, *command)
        assert result.code == 0, (command, result.text)
        assert note in result.err and retry in result.err, (command, result.err)
    assert "No changes." in project.run(repo, "plan").out  # true of HEAD, and now said to be HEAD's

    # the retry the note gives lands the rollback; the note is gone
    result = project.run(repo, "rollback", six_commit[:12], "--yes")
    assert result.code == 0, result.text
    assert max_concurrent(project.db) == 3
    assert pending_refs(repo) == []
    for command in (["plan"], ["status"]):
        assert note not in project.run(repo, *command).err


def sqlite_repo(tmp_path: Path) -> tuple[Path, str, Path]:
    db = tmp_path / "db.sqlite"
    url = sqlite_moose(db)
    repo = tmp_path / "repo"
    init_repo(repo)
    assert run(repo, "snapshot", "--commit", database=url).code == 2
    return repo, url, db


def test_a_failed_restore_on_sqlite_is_noted_until_head_moves(tmp_path: Path) -> None:
    """Every backend: the note comes from git (a ref), not from the database."""
    repo, url, db = sqlite_repo(tmp_path)
    path = repo / "config-snapshots" / RECORD
    path.write_text(path.read_text().replace("config_value: 3", "config_value: 6"))
    commit_all(repo, "six")
    assert run(repo, "apply", "--yes", database=url).code == 0
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TRIGGER no_updates BEFORE UPDATE ON system_config "
                     "BEGIN SELECT RAISE(ABORT, 'updates are switched off'); END")
    result = run(repo, "restore", "system_config/orchestrator_max_concurrent", "--from", "HEAD~1", "--yes",
                 database=url)
    assert result.code == 1, result.text
    assert "6 -> 3" in result.out and "Rollback: 0 to create, 1 to update, 0 to delete." in result.out, result.out
    result = run(repo, "plan", database=url)
    assert result.code == 0, result.text
    assert "HEAD is not what the rollback wanted" in result.err
    assert ("Retry: configsync restore system_config/orchestrator_max_concurrent --from HEAD~1"
            in result.err), result.err
    # HEAD moves (another commit): the note would be about another revision, and is dropped
    (repo / "notes.txt").write_text("x\n")
    commit_all(repo, "unrelated")
    assert "rollback" not in run(repo, "plan", database=url).err


# ---- point 6: URLs --------------------------------------------------------------------------


def test_a_bare_postgrest_is_reached_with_the_postgrest_form(
        tmp_path: Path, start_project: Callable[..., Project]) -> None:
    """PostgREST itself, no gateway adding /rest/v1: the same files as through
    the Supabase-style gateway; the https(s) form says where the form is."""
    project = start_project()
    bare = f"http://127.0.0.1:{project.gateway.upstream_port}"
    via_gateway = project.snapshotted_repo(tmp_path / "gateway")
    project.gateway.requests.clear()
    repo = tmp_path / "bare"
    init_repo(repo)
    result = project.run(repo, "snapshot", "--commit", database=f"postgrest+{bare}")
    assert result.code == 2, result.text
    files = sorted(p.relative_to(repo) for p in (repo / "config-snapshots").rglob("*.yaml"))
    assert files and files == sorted(p.relative_to(via_gateway) for p in (via_gateway / "config-snapshots").rglob("*.yaml"))
    for name in files:
        assert (repo / name).read_bytes() == (via_gateway / name).read_bytes()
    six(project, repo)
    result = project.run(repo, "apply", "--yes", database=f"postgrest+{bare}/")
    assert result.code == 0, result.text
    assert f"database postgrest+{bare}/ · revision" in result.out
    assert max_concurrent(project.db) == 6
    # no request went through the gateway
    assert not project.gateway.requests

    # the plain form adds /rest/v1, which a bare PostgREST does not serve: the message names the other form
    result = project.run(repo, "plan", database=bare)
    assert result.code == 1, result.text
    assert f"has no REST API at {bare}/rest/v1 (HTTP 404)" in result.err
    assert "postgrest+https://<host>" in result.err


def test_a_key_in_the_query_or_with_a_stray_character_is_never_shown(
        tmp_path: Path, start_project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch) -> None:
    project = start_project()
    repo = tmp_path / "repo"
    init_repo(repo)
    key = project.server.service_key
    for url in (f"{project.url}?apikey={key}", f"{project.url}/rest/v1/?apikey={key}",
                f"postgrest+http://127.0.0.1:{project.gateway.upstream_port}?apikey={key}"):
        result = project.run(repo, "plan", database=url)  # (project.run: the key is in no output)
        assert result.code == 1, result.text
        assert "?***" in result.err and "never in ?apikey=" in result.err, result.err
    # a key pasted with a line break: refused in words, not quoted by the HTTP library
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", key[:20] + "\n" + key[20:])
    result = project.run(repo, "plan")
    assert result.code == 1, result.text
    assert "$SUPABASE_SERVICE_ROLE_KEY contains a space, a control or a non-ASCII character" in result.err
    assert key[:20] not in result.text and key[20:] not in result.text
