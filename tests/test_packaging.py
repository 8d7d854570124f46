"""The lock files agree with pyproject.toml, and the package installs as a user installs it.

`make` installs exact versions from requirements/*.txt (written by `make lock` from
pyproject's ranges); a range changed without `make lock` would leave the lock behind
silently, so every range is checked against the pinned version here.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def pinned(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def requirements(*, test: bool) -> list[Requirement]:
    names = list(PROJECT["project"]["dependencies"]) + list(PROJECT["build-system"]["requires"])
    if test:
        names += PROJECT["project"]["optional-dependencies"]["test"]
    return [Requirement(name) for name in names]


@pytest.mark.parametrize(("lock", "test"), [("run.txt", False), ("test.txt", True)])
def test_every_dependency_is_locked_within_its_range(lock: str, test: bool) -> None:
    locked = pinned(lock)
    for requirement in requirements(test=test):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is in pyproject.toml but not in requirements/{lock}: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements/{lock} pins {name}=={locked[name]}, outside pyproject's {requirement}: run `make lock`")


def test_every_pin_has_a_hash() -> None:
    for lock in ("run.txt", "test.txt"):
        entries = re.split(r"\n(?=\S)", (ROOT / "requirements" / lock).read_text())
        for entry in entries:
            if PIN.match(entry):
                assert "--hash=sha256:" in entry, f"requirements/{lock}: {entry.splitlines()[0]} has no hash"


def test_the_two_locks_agree() -> None:
    run, test = pinned("run.txt"), pinned("test.txt")
    disagree = {name: (run[name], test[name]) for name in run if name in test and run[name] != test[name]}
    assert not disagree, disagree
    assert set(run) <= set(test)


def test_runtime_dependencies_are_ranges_not_pins() -> None:
    """A user's environment has its own versions: an exact pin in a library breaks it."""
    for requirement in requirements(test=False):
        assert not any(spec.operator in ("==", "===") for spec in requirement.specifier), requirement
