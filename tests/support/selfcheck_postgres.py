"""Manual smoke test of tests/support/postgres.py (not collected by pytest).

    python -m tests.support.selfcheck_postgres          # from the repo root

Starts a server (or uses $CONFIGSYNC_TEST_DATABASE_URL), creates a database,
exercises a few column types, drops it, stops; prints timings to stderr.
"""

from __future__ import annotations

import sys
import time

import psycopg

from tests.support.postgres import create_database, drop_database, start_server

DB = "configsync_selfcheck"


def main() -> int:
    t0 = time.perf_counter()
    with start_server() as base_url:
        t1 = time.perf_counter()
        print(f"server ready in {t1 - t0:.2f}s: {base_url}", file=sys.stderr)
        url = create_database(base_url, DB)
        t2 = time.perf_counter()
        print(f"create_database in {t2 - t1:.3f}s: {url}", file=sys.stderr)
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT version(), current_database()").fetchone()
            assert row is not None and row[1] == DB, row
            print(row[0], file=sys.stderr)
            conn.execute(
                """
                CREATE TABLE selfcheck (
                    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
                    doc jsonb NOT NULL,
                    tags text[] NOT NULL DEFAULT '{}',
                    amount numeric(12, 2),
                    at timestamptz NOT NULL DEFAULT now()
                )
                """
            )
            conn.execute(
                "INSERT INTO selfcheck (doc, tags, amount) VALUES (%s::jsonb, %s, %s)",
                ('{"a": [1, 2]}', ["x", "y"], "12.34"),
            )
            got = conn.execute("SELECT doc, tags, amount FROM selfcheck").fetchone()
            assert got is not None and got[0] == {"a": [1, 2]} and got[1] == ["x", "y"], got
            assert str(got[2]) == "12.34", got
        # a connection left open must not block the drop
        lingering = psycopg.connect(url)
        t3 = time.perf_counter()
        drop_database(base_url, DB)
        t4 = time.perf_counter()
        lingering.close()
        print(f"drop_database in {t4 - t3:.3f}s", file=sys.stderr)
        with psycopg.connect(base_url) as conn:
            left = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (DB,)).fetchone()
            assert left == (0,), left
    print(f"stopped; total {time.perf_counter() - t0:.2f}s", file=sys.stderr)
    print("selfcheck OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
