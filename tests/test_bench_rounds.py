"""The bench's rounds (`--rounds R`): each figure is the median of its R
measurements, floors and configsync alike, and the largest memory."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
from measure import Figure, median_rounds  # noqa: E402


def _round(seconds: tuple[float, float], mb: tuple[float, float]) -> list[Figure]:
    return [Figure("write as many files (floor)", "independent", 100, seconds[0], mb[0], 0),
            Figure("snapshot (full)", "independent", 100, seconds[1], mb[1], 0)]


def test_a_slow_round_is_one_vote_and_memory_is_the_largest() -> None:
    rounds = [_round((3.0, 7.0), (15, 330)), _round((18.0, 14.0), (15, 331)), _round((4.0, 8.0), (14, 329))]
    floor, snapshot = median_rounds(rounds)
    assert (floor.command, floor.seconds, floor.mb) == ("write as many files (floor)", 4.0, 15)
    assert (snapshot.command, snapshot.seconds, snapshot.mb) == ("snapshot (full)", 8.0, 331)


def test_one_round_is_itself_and_rounds_of_other_commands_are_refused() -> None:
    only = _round((1.0, 2.0), (1, 2))
    assert median_rounds([only]) is only
    other = [Figure("plan (no change)", "independent", 100, 1.0, 1, 0), only[1]]
    with pytest.raises(ValueError, match="different commands"):
        median_rounds([only, other])
