"""Fleets without PostgreSQL: selection, groups and rollout settings, shards,
`configsync envs`, and the fleet's refusals (SQLite environments)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from configsync import selection
from configsync.config import load_config
from configsync.errors import ConfigError
from helpers import ENV_CONFIG, commit_all, dump, execute, init_repo, run, sqlite_moose
from hypothesis import given
from hypothesis import strategies as st

NAMES = ["tenant-01", "tenant-02", "tenant-03", "staging", "production"]
GROUPS = {"canary": ("tenant-01",), "prod": ("production", "tenant-*")}


def test_a_name_a_glob_a_list_and_a_group() -> None:
    assert selection.match("staging", NAMES, GROUPS) == ["staging"]
    assert selection.match("tenant-*", NAMES, GROUPS) == ["tenant-01", "tenant-02", "tenant-03"]
    assert selection.match("production,tenant-02", NAMES, GROUPS) == ["tenant-02", "production"]
    assert selection.match("@canary", NAMES, GROUPS) == ["tenant-01"]
    assert selection.match("@prod, staging", NAMES, GROUPS) == [*NAMES[:3], "staging", "production"]
    assert selection.match("tenant-0[12]", NAMES, GROUPS) == ["tenant-01", "tenant-02"]


@pytest.mark.parametrize(("selector", "message"), [
    ("nope-*", "'nope-*' matches no environment"),
    ("staging,nope", "'nope' matches no environment"),
    ("@missing", "no such group '@missing' (@canary, @prod)"),
    ("staging,", "empty environment name"),
    ("Tenant-*", "'Tenant-*' matches no environment"),  # case matters, on every platform
])
def test_a_selector_that_names_nothing_is_an_error(selector: str, message: str) -> None:
    with pytest.raises(selection.SelectionError, match="^--env") as caught:
        selection.match(selector, NAMES, GROUPS)
    assert message in str(caught.value)


def test_plain_names_are_not_patterns() -> None:
    assert not selection.is_pattern("tenant-01")
    assert all(selection.is_pattern(s) for s in ("tenant-*", "a,b", "@canary", "t?", "t[12]"))


def test_waves_follow_rollout_and_keep_what_no_wave_names() -> None:
    rollout = ["@canary", "tenant-*"]
    assert selection.waves(NAMES, rollout, NAMES, GROUPS) == [
        ["tenant-01"], ["tenant-02", "tenant-03"], ["staging", "production"]]
    # a selection inside one wave; empty waves are dropped
    assert selection.waves(["tenant-03"], rollout, NAMES, GROUPS) == [["tenant-03"]]
    assert selection.ordered(None, NAMES, GROUPS, ()) == [NAMES]


@given(st.integers(min_value=0, max_value=300), st.integers(min_value=1, max_value=300))
def test_shards_are_balanced_ordered_and_complete(total: int, count: int) -> None:
    names = [f"t{n:03d}" for n in range(total)]
    parts = selection.shards(names, count)
    assert [name for part in parts for name in part] == names
    assert len(parts) == min(count, total)
    assert all(parts)
    if parts:
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


# ---- configsync.yaml ----------------------------------------------------------

def _config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "configsync.yaml"
    path.write_text("tables:\n  t: {}\nenvironments:\n  tenant-01: sqlite:///a.db\n  tenant-02: sqlite:///b.db\n"
                    "  staging: sqlite:///s.db\n" + extra)
    return path


def test_groups_and_rollout_are_read(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, "groups:\n  canary: [tenant-01]\nrollout: ['@canary', 'tenant-*']\n"))
    assert config.groups == {"canary": ("tenant-01",)}
    assert config.rollout == ("@canary", "tenant-*")
    assert load_config(_config(tmp_path, "")).rollout == ()


@pytest.mark.parametrize(("extra", "message"), [
    ("groups:\n  canary: [tenant-9*]\n", "configsync.yaml: groups.canary: tenant-9* matches no environment"),
    ("groups:\n  canary: ['@other']\n", "groups.canary: '@other': a group lists environment names or globs"),
    ("groups:\n  canary: []\n", "groups.canary: [] should be non-empty"),
    ("rollout: ['@nope']\n", "rollout[0] '@nope': no such group '@nope'"),
    ("groups:\n  canary: [tenant-01]\nrollout: ['@canary', 'prod-*']\n",
     "rollout[1] 'prod-*': 'prod-*' matches no environment"),
    ("rollout: []\n", "rollout: [] should be non-empty"),
])
def test_bad_groups_and_rollout_name_the_setting(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, extra))
    assert message in str(caught.value)


# ---- the CLI ------------------------------------------------------------------

FLEET_YAML = ENV_CONFIG.replace(
    "environments:\n  staging: ${STAGING_DB}\n  production: ${PRODUCTION_DB}\n",
    "environments:\n  tenant-01: ${T1}\n  tenant-02: ${T2}\n  tenant-03: ${T3}\n"
    "groups:\n  canary: [tenant-02]\nrollout: ['@canary', 'tenant-*']\n",
)


@pytest.fixture
def sqlite_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    urls = {}
    for n in (1, 2, 3):
        urls[f"tenant-0{n}"] = sqlite_moose(tmp_path / f"t{n}.db")
        monkeypatch.setenv(f"T{n}", urls[f"tenant-0{n}"])
    repo = tmp_path / "repo"
    init_repo(repo, config=FLEET_YAML)
    return repo, urls


def test_envs_lists_in_rollout_order_and_shards(sqlite_fleet: tuple[Path, dict[str, str]]) -> None:
    repo, _ = sqlite_fleet
    listed = run(repo, "envs")
    assert (listed.code, listed.out) == (0, "tenant-02\ntenant-01\ntenant-03\n")
    assert json.loads(run(repo, "envs", "tenant-0[13]", "--format", "json").out) == ["tenant-01", "tenant-03"]
    sharded = run(repo, "envs", "--shards", "2", "--format", "json")
    assert json.loads(sharded.out) == [["tenant-02", "tenant-01"], ["tenant-03"]]
    assert json.loads(run(repo, "envs", "--shards", "9", "--format", "json").out) == [
        ["tenant-02"], ["tenant-01"], ["tenant-03"]]
    assert run(repo, "envs", "--env", "@canary").out == "tenant-02\n"


def test_an_empty_selection_exits_1(sqlite_fleet: tuple[Path, dict[str, str]]) -> None:
    repo, urls = sqlite_fleet
    before = {t: dump(u) for t, u in urls.items()}
    for args in (("envs", "prod-*"), ("plan", "--env", "prod-*"), ("apply", "--env", "prod-*", "--yes"),
                 ("--env", "@nope", "status")):
        result = run(repo, *args)
        assert result.code == 1, args
        assert result.err.startswith("error: --env "), result.err
        assert "Traceback" not in result.text
    assert {t: dump(u) for t, u in urls.items()} == before


@pytest.mark.parametrize(("args", "message"), [
    (("apply", "--env", "tenant-*"), "apply over several environments needs --yes"),
    (("diff", "HEAD", "--env", "tenant-*"), "diff runs on one environment"),
    (("plan", "--env", "tenant-*", "--database", "sqlite:///x.db"), "--database names one database"),
    (("plan", "--env", "tenant-*", "--jobs", "0"), "--jobs: expected a whole number of at least 1"),
    (("plan", "--env", "tenant-*", "--max-failures", "1"), "are options of apply"),
    (("plan", "--jobs", "2"), "need --env"),
    (("plan", "--env", "tenant-*", "--out", "plan.json"), "plan --out saves one environment's plan"),
])
def test_fleet_usage_errors(sqlite_fleet: tuple[Path, dict[str, str]], args: tuple[str, ...], message: str) -> None:
    repo, _ = sqlite_fleet
    result = run(repo, *args)
    assert result.code == 1
    assert message in result.err


def test_plan_and_validate_over_a_sqlite_fleet(sqlite_fleet: tuple[Path, dict[str, str]]) -> None:
    repo, urls = sqlite_fleet
    assert run(repo, "snapshot", "--commit", database=urls["tenant-01"]).code == 2
    budget = repo / "config-snapshots/system_config/budget_limits.yaml"
    budget.write_text(budget.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 45"))
    commit_all(repo, "lower the cap")

    planned = run(repo, "plan", "--env", "tenant-01,tenant-03", "--format", "json", "--jobs", "2")
    assert planned.code == 2, planned.text
    document = json.loads(planned.out)
    assert [e["env"] for e in document["environments"]] == ["tenant-01", "tenant-03"]
    assert all(e["summary"]["update"] == 1 and e["exit_code"] == 2 for e in document["environments"])
    assert document["summary"] == {"command": "plan", "environments": 2, "ok": 0, "changed": 2, "failed": [],
                                   "not_attempted": [], "exit_code": 2}

    validated = run(repo, "validate", "--env", "tenant-*")
    assert validated.code == 0, validated.text
    assert validated.out.count("All record files are valid.") == 3

    checked = run(repo, "schema", "check", "--env", "@canary,tenant-01", "--format", "json")
    assert checked.code == 0, checked.text
    entries = json.loads(checked.out)["environments"]
    assert [e["env"] for e in entries] == ["tenant-02", "tenant-01"]
    assert all(e["output"] == "The schemas match the database.\n" for e in entries)
    assert all(dump(u) for u in urls.values())


def test_environments_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "tenants.yaml").write_text("tenant-03: sqlite:///c.db\ntenant-04: ${URL_04}\n")
    config = load_config(_config(tmp_path, "environments_file: tenants.yaml\nrollout: ['tenant-0[34]']\n"))
    assert list(config.environments) == ["tenant-01", "tenant-02", "staging", "tenant-03", "tenant-04"]
    assert config.environments["tenant-04"] == "${URL_04}"


@pytest.mark.parametrize(("listed", "message"), [
    (None, "environments_file: tenants.yaml: cannot read it"),
    ("", "environments_file: tenants.yaml: expected a mapping of environment names to database URLs"),
    ("tenant-05: sqlite:///e.db\ntenant-06: 3\n", "environments_file: tenants.yaml:2: tenant-06: 3 is not of type 'string'"),
    ("tenant-05: a\n'bad name*': b\n", "environments_file: tenants.yaml:2: 'bad name*' is not a valid environment name"),
    ("tenant-01: sqlite:///again.db\n", "environment 'tenant-01' is also under environments:"),
    ("a: [\n", "environments_file: tenants.yaml:2: invalid YAML"),
])
def test_a_bad_environments_file_names_the_file(tmp_path: Path, listed: str | None, message: str) -> None:
    if listed is not None:
        (tmp_path / "tenants.yaml").write_text(listed)
    with pytest.raises(ConfigError) as caught:
        load_config(_config(tmp_path, "environments_file: tenants.yaml\n"))
    assert message in str(caught.value)


def test_an_environments_file_stays_inside_the_repository(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environments_file: '../tenants.yaml' must be"):
        load_config(_config(tmp_path, "environments_file: ../tenants.yaml\n"))


def test_max_failures_lets_the_rollout_go_past_a_failed_canary(sqlite_fleet: tuple[Path, dict[str, str]]) -> None:
    repo, urls = sqlite_fleet
    assert run(repo, "snapshot", "--commit", database=urls["tenant-01"]).code == 2
    budget = repo / "config-snapshots/system_config/budget_limits.yaml"
    budget.write_text(budget.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 45"))
    commit_all(repo, "lower the cap")
    execute(urls["tenant-02"], "DROP TABLE contracts")  # the canary (group canary) cannot be planned
    before = {t: dump(u, ("system_config",)) for t, u in urls.items()}

    stopped = run(repo, "apply", "--env", "tenant-*", "--yes")
    assert stopped.code == 1, stopped.text
    assert "not attempted: tenant-01, tenant-03" in stopped.err
    assert {t: dump(u, ("system_config",)) for t, u in urls.items()} == before
    assert "tenant-02    failed" in stopped.out

    went_on = run(repo, "apply", "--env", "tenant-*", "--yes", "--max-failures", "1")
    assert went_on.code == 1, went_on.text
    assert "not attempted" not in went_on.err
    assert dump(urls["tenant-02"], ("system_config",)) == before["tenant-02"]
    for tenant in ("tenant-01", "tenant-03"):
        assert dump(urls[tenant], ("system_config",)) != before[tenant]
        assert run(repo, "plan", "--env", tenant).code == 0
