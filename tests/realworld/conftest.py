"""Fixtures of the real-world corpus (tests/realworld/)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from support import postgres


@pytest.fixture
def pg_copy_url(pg_server: str) -> Iterator[str]:
    """A second fresh, empty PostgreSQL database (the 'empty copy' of pg_url)."""
    name = f"cs_copy_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(pg_server, name)
    try:
        yield url
    finally:
        postgres.drop_database(pg_server, name)
