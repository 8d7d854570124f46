"""Static checks of configsync's workflows for `make check`, and the action's pinned requirements.

    check_workflows.py --zizmor PATH      zizmor (offline) over .github/ and over the workflows
                                          `configsync init --action OWNER/REPO@SHA` writes
    check_workflows.py --write-requirements
                                          regenerate .github/actions/configsync/requirements.txt
                                          (uv pip compile --generate-hashes; uv from the venv)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "cli" / "configsync" / "templates" / "github" / "workflows"
PLACEHOLDER = "OWNER/REPO/.github/actions/configsync@REF"
EXAMPLE_ACTION = "acme/configsync/.github/actions/configsync@0123456789abcdef0123456789abcdef01234567"
REQUIREMENTS = ROOT / ".github" / "actions" / "configsync" / "requirements.txt"
HEADER = """\
# configsync's dependencies, pinned with their hashes, for the composite action's
# `pip install --require-hashes` (a job holding a database secret installs nothing unpinned).
# setuptools builds configsync itself from the checked-out source (--no-build-isolation).
# Regenerate after changing pyproject.toml's dependencies: make action-requirements
"""


def zizmor(executable: str) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_CONFIG")}
    code = subprocess.run([executable, "--offline", "--no-progress", str(ROOT / ".github")], env=env).returncode
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / ".github" / "workflows"
        target.mkdir(parents=True)
        for template in sorted(TEMPLATES.glob("*.yml")):
            (target / template.name).write_text(template.read_text().replace(PLACEHOLDER, EXAMPLE_ACTION))
        print(f"zizmor: the workflows `configsync init --action` writes (uses: {EXAMPLE_ACTION})", flush=True)
        code = code or subprocess.run([executable, "--offline", "--no-progress", str(target)], env=env).returncode
    return code


def write_requirements() -> int:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "requirements.in"
        source.write_text("setuptools>=68\n" + "\n".join(deps) + "\n")
        out = Path(tmp) / "requirements.txt"
        # relative names, run in the temp directory: the file's `# via` comments stay the same on every run
        proc = subprocess.run([str(Path(sys.executable).parent / "uv"), "pip", "compile", source.name, "--generate-hashes",
                               "--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28", "--no-header",
                               "--quiet", "-o", out.name], cwd=tmp)
        if proc.returncode:
            return proc.returncode
        REQUIREMENTS.write_text(HEADER + out.read_text())
    print(f"wrote {REQUIREMENTS.relative_to(ROOT)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zizmor", metavar="PATH", help="the zizmor executable")
    parser.add_argument("--write-requirements", action="store_true")
    args = parser.parse_args()
    if args.write_requirements:
        return write_requirements()
    if args.zizmor:
        return zizmor(args.zizmor)
    parser.error("nothing to do")
    return 2


if __name__ == "__main__":
    sys.exit(main())
