"""Every module of the package imports on its own.

An import cycle shows only when one of its modules is the first imported, so
each module gets a fresh interpreter. The list comes from the package itself:
a new module is covered without touching this file.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import configsync
import pytest

# `python -m configsync` runs the program on import; test_cli covers it.
NOT_IMPORTED = {"configsync.__main__"}
MODULES = sorted(
    info.name for info in pkgutil.walk_packages(configsync.__path__, "configsync.")
    if info.name not in NOT_IMPORTED
)


def test_the_package_is_listed() -> None:
    assert {"configsync.cli", "configsync.workspace", "configsync.backends.sqlite"} <= set(MODULES)


def _import(module: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)


@pytest.fixture(scope="module")
def imports() -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    # All started at once: one interpreter after another would take ~10 s.
    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        yield {module: pool.submit(_import, module) for module in MODULES}


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_on_its_own(module: str, imports: dict[str, Future[subprocess.CompletedProcess[str]]]) -> None:
    result = imports[module].result()
    assert result.returncode == 0, f"import {module} failed:\n{result.stderr}"


def _imported(path: Path, package: str) -> Iterator[str]:
    """The absolute names of the modules (or module attributes) ``path`` imports."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


CLI_MODULES = sorted(p for p in (Path(configsync.__file__).parent / "cli").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("path", CLI_MODULES, ids=lambda p: p.name)
def test_cli_modules_import_from_base_only(path: Path) -> None:
    """What keeps the command line free of cycles: a command module takes what
    commands share from base, never from another command module or the package,
    whose __init__ imports them all."""
    allowed = {"configsync.cli.base"} - {f"configsync.cli.{path.stem}"}
    wrong = sorted(name for name in set(_imported(path, "configsync.cli"))
                   if (name == "configsync.cli" or name.startswith("configsync.cli."))
                   and not any(name == a or name.startswith(a + ".") for a in allowed))
    assert not wrong, f"{path.name} imports {', '.join(wrong)}"
