"""After apply, the application hears of it: pg_notify inside the transaction."""
from __future__ import annotations

import json
from pathlib import Path

import psycopg
from helpers import commit_all, init_repo, postgres_moose, run, three_changes_last_one_invalid

BUDGET = "config-snapshots/system_config/budget_limits.yaml"


def _listen(url: str, channel: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute(f"LISTEN {channel}")
    return conn


def _heard(conn: psycopg.Connection) -> list[dict[str, object]]:
    return [json.loads(n.payload) for n in conn.notifies(timeout=0.5, stop_after=10)]


def test_apply_notifies_listeners_once_committed(tmp_path: Path, pg_url: str) -> None:
    postgres_moose(pg_url)
    repo = tmp_path / "repo"
    init_repo(repo)
    assert run(repo, "snapshot", "--commit", database=pg_url).code == 2
    budget = repo / BUDGET
    budget.write_text(budget.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 45"))
    revision = commit_all(repo, "lower the cap")
    listener = _listen(pg_url, "configsync")
    try:
        assert run(repo, "apply", "--yes", database=pg_url).code == 0
        assert _heard(listener) == [{"revision": revision, "tables": ["system_config"],
                                     "created": 0, "updated": 1, "deleted": 0}]
        # A failed apply rolls back its notification with everything else.
        three_changes_last_one_invalid(repo)
        assert run(repo, "apply", "--yes", database=pg_url).code == 1
        assert _heard(listener) == []
    finally:
        listener.close()


def test_the_channel_is_configurable_or_off(tmp_path: Path, pg_url: str) -> None:
    postgres_moose(pg_url)
    repo = tmp_path / "repo"
    config = (Path(__file__).resolve().parents[1] / "configsync.yaml").read_text()
    init_repo(repo, config=config + "notify: app_config\n")
    assert run(repo, "snapshot", "--commit", database=pg_url).code == 2
    listener, default = _listen(pg_url, "app_config"), _listen(pg_url, "configsync")
    try:
        budget = repo / BUDGET
        budget.write_text(budget.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 45"))
        commit_all(repo, "lower the cap")
        assert run(repo, "apply", "--yes", database=pg_url).code == 0
        assert [h["updated"] for h in _heard(listener)] == [1]
        assert _heard(default) == []
        (repo / "configsync.yaml").write_text(config + "notify: false\n")
        budget.write_text(budget.read_text().replace("daily_hard_cap: 45", "daily_hard_cap: 40"))
        commit_all(repo, "notify nobody")
        assert run(repo, "apply", "--yes", database=pg_url).code == 0
        assert _heard(listener) == [] and _heard(default) == []
    finally:
        listener.close()
        default.close()
