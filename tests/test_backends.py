"""The backend interface itself: declared capabilities, the history row every
backend decodes alike, the PostgreSQL knowledge both PostgreSQL backends
share, and modules that import on their own."""
from __future__ import annotations

import datetime as dt
import pkgutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import configsync
import pytest
from configsync.backends import Capabilities, open_backend
from configsync.backends.base import HISTORY_COLUMNS, Column, HistoryEntry
from configsync.backends.pgcommon import _TYPES, kind_of_formatted, kind_of_typname, text_cast
from configsync.errors import BackendError, OutcomeUnknownError


def test_each_backend_declares_what_it_can_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "sb_secret_x")
    (tmp_path / "local.db").touch()
    found = {
        url.split(":")[0]: open_backend(url, tmp_path).capabilities
        for url in ("sqlite:///local.db", "postgresql://u@localhost/db", "https://abc.supabase.co")
    }
    assert found == {
        "sqlite": Capabilities(server_digests=False, atomic_apply=True, list_tables=True, embedded=True),
        "postgresql": Capabilities(server_digests=True, atomic_apply=True, list_tables=True, embedded=False),
        "https": Capabilities(server_digests=False, atomic_apply=False, list_tables=True, embedded=False),
    }


def test_an_unknown_outcome_is_a_backend_error() -> None:
    assert issubclass(OutcomeUnknownError, BackendError)


def test_history_rows_decode_alike_whoever_read_them() -> None:
    aware = dt.datetime(2025, 10, 3, 19, 2, 12, 345678, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    row = {"revision": "r" * 40, "ref": None, "actor": "ci", "creates": 1, "updates": Decimal(2), "deletes": None,
           "checksum": "c", "tool_version": "0.1.0"}
    expected = HistoryEntry("r" * 40, "", "ci", 1, 2, 0, "c", "2025-10-03T17:02:12+00:00", "0.1.0")
    # psycopg gives a datetime; PostgREST and SQLite give ISO text with an offset.
    for applied in (aware, aware.isoformat(), "2025-10-03T17:02:12+00:00"):
        assert HistoryEntry.from_row({**row, "applied_at": applied}) == expected
    assert HistoryEntry.from_row({**row, "applied_at": "yesterday"}).applied_at == "yesterday"
    assert list(expected.to_row()) == list(HISTORY_COLUMNS)


def test_both_postgresql_backends_know_the_same_types() -> None:
    for typname, formatted, kind in _TYPES:
        assert kind_of_typname(typname) == kind_of_formatted(formatted) == kind
    assert kind_of_typname("integer") == kind_of_formatted("int4") == "other"  # each by its own spelling
    assert text_cast(Column("c", "other", "mood")) == "text"
    assert text_cast(Column("c", "array", "uuid[]", element_kind="uuid")) == "text[]"
    assert text_cast(Column("c", "array", "integer[]", element_kind="integer")) is None


def _modules() -> list[str]:
    return sorted(
        info.name for info in pkgutil.walk_packages(configsync.__path__, "configsync.")
        # The CLI modules register each other while `configsync.cli` loads.
        if info.name not in ("configsync.cli_adoption", "configsync.cli_supabase")
    )


@pytest.mark.parametrize("module", [m for m in _modules() if ".backends" in m or "supabase" in m])
def test_a_module_imports_on_its_own(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
