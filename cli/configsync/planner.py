"""Making a plan: read both sides, diff them, keep what was observed.

The plan returned carries what it was computed from (``Plan.observed``), so
apply needs neither a second read nor a memory of earlier calls.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pygit2

from . import progress, yamlio
from .backends import HistoryEntry, TableInfo
from .baseline import Baseline, classify_table
from .changes import Change, changes, for_mode
from .errors import BackendError, ConfigsyncError
from .plan import Observed, Plan, fingerprint, order_tables
from .records import State
from .shortcuts import Shortcuts
from .sides import Sides

# How often a plan is made again when an apply lands while it is being made.
PLAN_TRIES = 3


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
        # The rows and the deployed revision must belong together: an apply
        # that commits between the two reads would make its own changes look
        # like drift. An apply writes its history row in its transaction, so
        # the same latest entry before and after the rows were read proves it.
        # Applies racing each other may keep moving it; rows and a baseline that
        # do not belong together would call those applies' changes drift, so the
        # plan is then made without a baseline (every change from git, as it
        # says), and apply checks its rows under the lock as always.
        for _ in range(PLAN_TRIES):
            deployed = self._deployed()
            plan = self._plan(ref, tables, prune, commit, use_cache, deployed)
            if self._deployed() == deployed:
                return plan
        return self._plan(ref, tables, prune, commit, use_cache,
                          f"no baseline: {PLAN_TRIES} applies landed while this plan was being made; "
                          "every difference is shown as a change from git")

    def _deployed(self) -> HistoryEntry | str | None:
        """The last apply recorded in the database; None: none; text: why it cannot be read."""
        sides = self.sides
        try:
            entries = sides.backend.history(sides.config.history_table, limit=1)
        except BackendError as exc:
            # A read-only role for pull-request plans may SELECT the managed tables alone.
            return (f"no baseline: {exc} (grant this role SELECT on {sides.config.history_table}); "
                    "every difference is shown as a change from git")
        return entries[0] if entries else None

    def _plan(self, ref: str, tables: Sequence[str] | None, prune: bool, commit: pygit2.Commit | None,
              use_cache: bool, deployed: HistoryEntry | str | None) -> Plan:
        sides = self.sides
        config = sides.config
        names = config.select(list(tables) if tables else None)
        commit = commit or sides.repo.resolve(ref)
        infos = sides.describe(names)
        specs = sides.read_specs(names, infos)
        cached = use_cache and sides.backend.capabilities.server_digests
        known = self.shortcuts.for_plan(commit, specs, sides.display_url, sides.env, cached)
        with progress.task("reading the database", one_call=True):
            rows, digests = sides.backend.read_unless(specs, known.skip)
        actual = sides.state_of(specs, rows)
        live = [t for t in names if t in actual]
        source = sides.repo.source_at(commit, ref, live if known.trees is not None else None)
        desired = sides.desired_state(source, live, infos, known=sides.renderings(live, infos, actual))
        ordered = order_tables(names, {t: [fk.ref_table for fk in infos[t].foreign_keys] for t in names})
        found: dict[str, list[Change]] = {}
        for table in (t for t in ordered if t in actual):
            kinds = {c.name: c.kind for c in infos[table].columns}
            items = changes(table, desired[table], actual[table], sides.key_columns(table, infos[table]), kinds)
            # Every table passed validation here, or desired_state raised.
            self.shortcuts.planned(known, table, not items, digests)
            found[table] = for_mode(items, config.table(table).mode, prune)
        sides.cache.save()
        changed = [t for t in found if found[t]]
        baseline, base = self._baseline(deployed, commit, changed, infos, actual, desired)
        for table in changed:
            if table in base:
                found[table] = classify_table(found[table], base[table], sides.key_columns(table, infos[table]),
                                              {c.name: c.kind for c in infos[table].columns})
        return Plan(
            changes=[c for t in found for c in found[t]],
            revision=str(commit.id),
            ref=ref,
            database=sides.display_url,
            tables=ordered,
            keys={t: list(sides.key_columns(t, infos[t])) for t in ordered},
            fingerprints={t: fingerprint(actual[t]) for t in ordered if t in actual},
            digests={t: digests[t] for t in ordered if t in digests},
            observed=Observed(infos, actual, desired),
            baseline=baseline,
        )

    def _baseline(self, deployed: HistoryEntry | str | None, commit: pygit2.Commit, tables: Sequence[str],
                  infos: Mapping[str, TableInfo], actual: State, desired: State) -> tuple[Baseline, State]:
        """The revision last applied to this database, and the records of
        ``tables`` at it (a table absent: no baseline for it, all git)."""
        sides = self.sides
        if isinstance(deployed, str):
            return Baseline(None, deployed), {}
        if deployed is None:
            return Baseline(None, "no baseline: configsync has not applied to this database yet, so every "
                                  "difference is shown as a change from git"), {}
        revision = deployed.revision
        if revision == str(commit.id):  # applied already: any difference is the database's own
            return Baseline(revision), {t: desired[t] for t in tables}
        try:
            at = sides.repo.resolve(revision)
        except ConfigsyncError:
            # A CI checkout with fetch-depth 1 has only the commit it builds.
            return Baseline(None, f"no baseline: the deployed revision {revision[:7]} is not in this repository "
                                  "(a shallow clone? fetch the whole history, e.g. actions/checkout with "
                                  "fetch-depth: 0), so drift cannot be told from changes in git: every "
                                  "difference is shown as a change from git"), {}
        known = _configured_tables(sides.repo.prefix, sides.config.path.name, at)
        # A table configsync did not manage at the deployed revision has no baseline.
        managed = [t for t in tables if known is None or t in known]
        if not managed:
            return Baseline(revision), {}
        try:
            source = sides.repo.source_at(at, revision)
            base = sides.desired_state(source, managed, infos, known=sides.renderings(managed, infos, actual))
        except ConfigsyncError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return Baseline(None, f"no baseline: the files of the deployed revision {revision[:7]} cannot be read "
                                  f"against today's tables ({first}); every difference is shown as a change "
                                  "from git"), {}
        return Baseline(revision), base


def _configured_tables(prefix: str, name: str, commit: pygit2.Commit) -> set[str] | None:
    """The tables configsync.yaml lists at ``commit``; None when it cannot be read."""
    try:
        blob = commit.tree[prefix + name].peel(pygit2.Blob)
        data = yamlio.load(blob.data)
    except (KeyError, ValueError, pygit2.GitError, ConfigsyncError):
        return None
    tables = data.get("tables") if isinstance(data, dict) else None
    return {str(t) for t in tables} if isinstance(tables, dict) else None


__all__ = ["Planner"]
