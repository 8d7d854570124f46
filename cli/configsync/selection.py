"""Which environments a selector names, in which waves, in which shards. Pure: no I/O.

A selector is what ``--env`` takes: a name, a glob (``tenant-*``), ``@group``,
or a comma list of those. ``groups:`` in configsync.yaml names lists of names
or globs; ``rollout:`` lists waves, each a selector. An environment's place in
every list this module returns is its wave first, then its place in
``environments:``, so output, waves and shards read in one order.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase

from .errors import ConfigError

# A selector holding any of these characters may name several environments.
_FLEET_CHARS = frozenset("*?[,@")


class SelectionError(ConfigError):
    """A selector that names no environment, or a group that does not exist."""


def is_pattern(selector: str) -> bool:
    """True when ``selector`` may name several environments (a glob, a list or a group),
    false for a plain environment name."""
    return any(char in _FLEET_CHARS for char in selector)


def _is_glob(term: str) -> bool:
    return any(char in "*?[" for char in term)


def _match_term(term: str, names: Sequence[str]) -> list[str]:
    if _is_glob(term):
        return [name for name in names if fnmatchcase(name, term)]
    return [term] if term in names else []


def members(group: str, groups: Mapping[str, Sequence[str]], names: Sequence[str]) -> list[str]:
    """The environments of ``group`` (names or globs), in ``names`` order."""
    found: set[str] = set()
    for term in groups[group]:
        found.update(_match_term(term, names))
    return [name for name in names if name in found]


def match(
    selector: str,
    names: Sequence[str],
    groups: Mapping[str, Sequence[str]],
    *,
    setting: str = "--env",
) -> list[str]:
    """The environments ``selector`` names, in ``names`` order. Every term must
    name at least one: a misspelt term in a list is an error, not a silent
    smaller fleet. ``setting`` names where the selector came from, for errors."""
    terms = [term.strip() for term in selector.split(",")]
    if not selector.strip() or any(not term for term in terms):
        raise SelectionError(f"{setting} {selector!r}: empty environment name (expected NAME, GLOB, @GROUP or a comma list)")
    found: set[str] = set()
    for term in terms:
        if term.startswith("@"):
            group = term[1:]
            if group not in groups:
                known = ", ".join("@" + g for g in groups) or "none are defined under groups:"
                raise SelectionError(f"{setting} {selector!r}: no such group {term!r} ({known})")
            matched = members(group, groups, names)
        else:
            matched = _match_term(term, names)
        if not matched:
            known = ", ".join(names) if len(names) <= 10 else ", ".join(names[:10]) + f", ... ({len(names)} in all)"
            raise SelectionError(
                f"{setting} {selector!r}: {term!r} matches no environment in configsync.yaml "
                f"({known or 'none are defined'})"
            )
        found.update(matched)
    return [name for name in names if name in found]


def waves(
    selected: Sequence[str],
    rollout: Sequence[str],
    names: Sequence[str],
    groups: Mapping[str, Sequence[str]],
) -> list[list[str]]:
    """``selected`` split into the waves of ``rollout``, in order. An environment
    goes to the first wave that names it; one that no wave names goes to a last
    wave of its own, so a rollout never silently leaves an environment out.
    Waves with no selected environment are dropped."""
    chosen = set(selected)
    placed: set[str] = set()
    result: list[list[str]] = []
    for index, wave in enumerate(rollout):
        in_wave = [n for n in match(wave, names, groups, setting=f"rollout[{index}]") if n in chosen and n not in placed]
        placed.update(in_wave)
        if in_wave:
            result.append(in_wave)
    rest = [name for name in selected if name not in placed]
    if rest:
        result.append(rest)
    return result


def ordered(
    selector: str | None,
    names: Sequence[str],
    groups: Mapping[str, Sequence[str]],
    rollout: Sequence[str],
) -> list[list[str]]:
    """The waves of the environments ``selector`` names (None: every environment).
    An empty result is an error: a failed lookup must never read as "nothing to do"."""
    if not names:
        raise SelectionError(f"--env {selector or '*'!r}: configsync.yaml defines no environments")
    selected = list(names) if selector is None else match(selector, names, groups)
    return waves(selected, rollout, names, groups)


def shards(names: Sequence[str], count: int) -> list[list[str]]:
    """At most ``count`` contiguous lists, in order, whose sizes differ by at most one."""
    if count < 1:
        raise ValueError("count must be at least 1")
    total = len(names)
    parts = min(count, total)
    result: list[list[str]] = []
    start = 0
    for index in range(parts):
        size = total // parts + (1 if index < total % parts else 0)
        result.append(list(names[start:start + size]))
        start += size
    return result


def check_settings(
    names: Sequence[str],
    groups: Mapping[str, Sequence[str]],
    rollout: Sequence[str],
) -> None:
    """configsync.yaml's groups and rollout, checked against its environments:
    each group and each wave must name at least one environment."""
    for group, terms in groups.items():
        for term in terms:
            if term.startswith("@") or "," in term:
                raise ConfigError(f"groups.{group}: {term!r}: a group lists environment names or globs, "
                                  "one per item (no @group, no commas)")
        if not members(group, groups, names):
            raise ConfigError(f"groups.{group}: {', '.join(terms)} matches no environment under environments:")
    for index, wave in enumerate(rollout):
        match(wave, names, groups, setting=f"rollout[{index}]")
