#!/usr/bin/env python3
"""Mutation check of the Guarantees: does the suite catch the bugs that break them?

Each entry of mutants.toml (next to this file) is one single-line bug that
breaks a promise of docs/safety.md's "Guarantees": a file, an exact snippet that
must occur exactly once in it, its replacement, a description and the tests
that must catch it. For each entry this script

1. copies the repository (tracked and untracked files, not .git/.venv) to a
   temporary directory, once; the working tree is never modified;
2. writes the mutated file into the copy, checks that Python imports the copy
   (PYTHONPATH=<copy>/cli comes before the editable install of the original
   tree; every configsync subprocess the tests start inherits it);
3. runs only the entry's tests: `python -m pytest -x -q -p no:cacheprovider
   <tests>` in the copy, with CONFIGSYNC_REQUIRE_POSTGRES=1;
4. restores the file and reports the mutant caught (a test failed), missed
   (all passed) or an error (pytest could not run the tests).

Before the mutants, each distinct test selection runs once on the unmutated
copy (skip with --no-baseline): a selection that fails already would make
every mutant look caught.

Exit 0 when every mutant is caught; 1 when one is missed or errored; 2 when an
entry's snippet is not found exactly once (the code moved: update the entry).

    python tests/mutants/mutants.py                 # all (make mutants)
    python tests/mutants/mutants.py -k lock         # entries whose name contains "lock"
    python tests/mutants/mutants.py --check         # only check that every snippet is found
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIST = Path(__file__).with_name("mutants.toml")
PYTEST = ["-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
# Not copied: git's own data, the virtualenv, caches. .tools (PostgREST,
# actionlint) is linked, not copied.
SKIP_DIRS = {".git", ".venv", ".tools", ".configsync", "__pycache__", ".pytest_cache", ".mypy_cache", "node_modules"}


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str
    find: str
    replace: str
    description: str
    tests: tuple[str, ...]

    def module(self) -> str:
        """The module name of ``file`` (cli/configsync/backends/sql.py -> configsync.backends.sql)."""
        parts = Path(self.file).with_suffix("").parts
        assert parts[0] == "cli", self.file
        return ".".join(parts[1:-1] if parts[-1] == "__init__" else parts[1:])


def load(path: Path) -> list[Mutant]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    mutants = []
    for i, entry in enumerate(data.get("mutant", [])):
        missing = {"name", "file", "find", "replace", "description", "tests"} - set(entry)
        if missing:
            raise SystemExit(f"{path.name}: entry {i + 1} ({entry.get('name', '?')}) lacks {', '.join(sorted(missing))}")
        mutants.append(Mutant(entry["name"], entry["file"], entry["find"], entry["replace"],
                              entry["description"], tuple(entry["tests"])))
    names = [m.name for m in mutants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SystemExit(f"{path.name}: duplicate names: {', '.join(duplicates)}")
    return mutants


def check_snippets(mutants: list[Mutant], root: Path) -> list[str]:
    """Every problem with an entry's snippet, as a line naming the entry."""
    problems = []
    for m in mutants:
        path = root / m.file
        if not path.is_file():
            problems.append(f"{m.name}: {m.file} does not exist (did the code move? update the entry)")
            continue
        count = path.read_text(encoding="utf-8").count(m.find)
        if count != 1:
            problems.append(f"{m.name}: the snippet occurs {count} times in {m.file}, not once "
                            f"(update the entry):\n    {m.find!r}")
        elif m.find == m.replace:
            problems.append(f"{m.name}: the replacement equals the snippet")
    return problems


def copy_repo(root: Path, target: Path) -> None:
    """The working tree as it is (tracked and untracked, not ignored), without .git."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if set(Path(rel).parts) & SKIP_DIRS:
            continue
        source = root / rel
        if not source.is_file():
            continue  # deleted in the working tree
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest, follow_symlinks=False)
    if (root / ".tools").is_dir():
        (target / ".tools").symlink_to(root / ".tools")


def environment(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy / "cli"), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["CONFIGSYNC_REQUIRE_POSTGRES"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no stale bytecode between a mutant and the restored file
    return env


def imported_file(python: str, module: str, env: dict[str, str], cwd: Path) -> Path:
    """Where ``module`` is imported from, as a test (or a configsync subprocess) would import it."""
    found = subprocess.run(
        [python, "-c", "import importlib, sys; print(importlib.import_module(sys.argv[1]).__file__)", module],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )
    if found.returncode != 0:
        raise RuntimeError(f"cannot import {module}: {found.stderr.strip()[-500:]}")
    return Path(found.stdout.strip()).resolve()


def run_tests(python: str, tests: tuple[str, ...], env: dict[str, str], cwd: Path) -> tuple[int, str, float]:
    began = time.monotonic()
    proc = subprocess.run([python, *PYTEST, *tests], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - began


def failed_tests(output: str) -> list[str]:
    return [line.split(" ", 1)[1].split(" - ")[0] for line in output.splitlines()
            if line.startswith(("FAILED ", "ERROR "))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="only", default="", help="run only entries whose name contains this")
    parser.add_argument("--list", type=Path, default=LIST, help="the curated list (default: mutants.toml)")
    parser.add_argument("--check", action="store_true", help="only check that every snippet occurs once")
    parser.add_argument("--no-baseline", action="store_true", help="do not run the selections unmutated first")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy (its path is printed)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter with the test dependencies")
    args = parser.parse_args(argv)

    mutants = [m for m in load(args.list) if args.only in m.name]
    problems = check_snippets(mutants, ROOT)
    if problems:
        print(f"{len(problems)} entries of {args.list.name} do not match the code:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    if args.check or not mutants:
        print(f"{len(mutants)} entries, every snippet found once")
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="configsync-mutants-"))
    copy = tmp / "repo"
    began = time.monotonic()
    try:
        copy_repo(ROOT, copy)
        env = environment(copy)
        # Sanity: the copy is what gets imported, in the copy and from any other
        # directory (the tests start configsync processes in their own repositories).
        for cwd in (copy, tmp):
            where = imported_file(args.python, "configsync", env, cwd)
            if not where.is_relative_to(copy.resolve()):
                raise RuntimeError(f"configsync is imported from {where}, not from the copy {copy}")
        print(f"copy of {ROOT} in {copy}; configsync imported from the copy")

        if not args.no_baseline:
            # One run per selection: pytest keeps only the last -k of a command line.
            selections = list(dict.fromkeys(m.tests for m in mutants))
            total = 0.0
            for selection in selections:
                code, out, seconds = run_tests(args.python, selection, env, copy)
                total += seconds
                if code != 0:
                    print(out[-4000:])
                    print(f"baseline: {' '.join(selection)} fails WITHOUT any mutation (exit {code}); "
                          "fix that first", file=sys.stderr)
                    return 1
            print(f"baseline: the {len(selections)} selections pass unmutated ({total:.0f}s)", flush=True)

        results = []
        for i, m in enumerate(mutants, 1):
            target = copy / m.file
            original = target.read_text(encoding="utf-8")
            target.write_text(original.replace(m.find, m.replace, 1), encoding="utf-8")
            try:
                where = imported_file(args.python, m.module(), env, tmp)
                if where != target.resolve():
                    raise RuntimeError(f"{m.module()} is imported from {where}, not from {target}")
                code, out, seconds = run_tests(args.python, m.tests, env, copy)
            finally:
                target.write_text(original, encoding="utf-8")
            if code == 1:
                status, detail = "caught", ", ".join(failed_tests(out)) or "a test failed"
            elif code == 0:
                status, detail = "MISSED", "every selected test passed: " + m.description
            else:
                status, detail = "ERROR", f"pytest exit {code}: " + " | ".join(out.strip().splitlines()[-3:])
            results.append((m, status))
            print(f"[{i:2}/{len(mutants)}] {status:6} {m.name} ({seconds:.0f}s): {detail}", flush=True)

        bad = [(m, s) for m, s in results if s != "caught"]
        print(f"\n{len(results) - len(bad)} of {len(results)} mutants caught in {time.monotonic() - began:.0f}s")
        for m, status in bad:
            print(f"  {status}: {m.name} ({m.file}): {m.description}; tests: {' '.join(m.tests)}")
        return 1 if bad else 0
    finally:
        if args.keep:
            print(f"kept {copy}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
