"""Making a plan: read both sides, diff them, keep what was observed.

The plan returned carries what it was computed from (``Plan.observed``), so
apply needs neither a second read nor a memory of earlier calls.
"""
from __future__ import annotations

from collections.abc import Sequence

import pygit2

from .changes import Change, changes, for_mode
from .plan import Observed, Plan, fingerprint, order_tables
from .shortcuts import Shortcuts
from .sides import Sides


class Planner:
    def __init__(self, sides: Sides, shortcuts: Shortcuts) -> None:
        self.sides = sides
        self.shortcuts = shortcuts

    def plan(self, ref: str = "HEAD", tables: Sequence[str] | None = None, *, prune: bool = True,
             commit: pygit2.Commit | None = None, use_cache: bool = False) -> Plan:
        """What apply would change to make the database match ``ref``.

        ``use_cache``: a table whose files and rows (by PostgreSQL's digest)
        are ones found in sync before is neither read nor parsed; apply then
        checks that digest under its lock instead of each row's fingerprint."""
        sides = self.sides
        config = sides.config
        names = config.select(list(tables) if tables else None)
        commit = commit or sides.repo.resolve(ref)
        infos = sides.describe(names)
        specs = sides.read_specs(names, infos)
        cached = use_cache and sides.backend.capabilities.server_digests
        known = self.shortcuts.for_plan(commit, specs, sides.display_url, sides.env, cached)
        rows, digests = sides.backend.read_unless(specs, known.skip)
        actual = sides.state_of(specs, rows)
        live = [t for t in names if t in actual]
        source = sides.repo.source_at(commit, ref, live if known.trees is not None else None)
        desired = sides.desired_state(source, live, infos, known=sides.renderings(live, infos, actual))
        ordered = order_tables(names, {t: [fk.ref_table for fk in infos[t].foreign_keys] for t in names})
        found: list[Change] = []
        for table in (t for t in ordered if t in actual):
            kinds = {c.name: c.kind for c in infos[table].columns}
            items = changes(table, desired[table], actual[table], sides.key_columns(table, infos[table]), kinds)
            # Every table passed validation here, or desired_state raised.
            self.shortcuts.planned(known, table, not items, digests)
            found += for_mode(items, config.table(table).mode, prune)
        sides.cache.save()
        return Plan(
            changes=found,
            revision=str(commit.id),
            ref=ref,
            database=sides.display_url,
            tables=ordered,
            keys={t: list(sides.key_columns(t, infos[t])) for t in ordered},
            fingerprints={t: fingerprint(actual[t]) for t in ordered if t in actual},
            digests={t: digests[t] for t in ordered if t in digests},
            observed=Observed(infos, actual, desired),
        )


__all__ = ["Planner"]
