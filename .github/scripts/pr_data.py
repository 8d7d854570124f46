"""A pull request's config files as data: packed by config-pr, made a scratch commit on main by config-pr-plan.

    pr_data.py pack --repo PR_CHECKOUT --out DIR --number N --head-sha SHA
    pr_data.py import --data DIR [--repo DIR] [--event FILE]

``pack`` (config-pr, in a job that holds no credential) writes DIR/files.tar
with ``git archive`` of the checkout's HEAD, limited to config-snapshots/,
schemas/ and configsync.yaml (a symbolic link stays a link entry, never
followed), and DIR/pull-request.json. Nothing of the pull request runs.

The trusted ``config-pr-plan`` workflow (``workflow_run``) plans a pull request
of a project that has only the Supabase REST key. It runs main's configsync
with main's configsync.yaml; the pull request's files only ever become git
blobs, never files in the work tree, never code that runs. DIR holds what
config-pr uploaded:

  pull-request.json  {"number": N, "head_sha": "<40 hex>"}
  files.tar          ``git archive`` of the pull request's config-snapshots/,
                     schemas/ and configsync.yaml (none of them: an empty tar)

Refused, with exit code 1, before anything is written to git: a head SHA that is
not the triggering run's (``workflow_run.head_sha`` in $GITHUB_EVENT_PATH), a
pull request number that is not an integer or not one of that run's pull
requests with that head (``workflow_run.pull_requests``), a run of another
repository (a fork); in the tar, a symbolic or hard link, a device or any other
non-regular file, an absolute path, a ``..``, ``.`` or ``.git`` component, a
path outside config-snapshots/ and schemas/ (besides configsync.yaml), a
control character in a name or one that is not UTF-8, a file larger than MAX_FILE, more than
MAX_FILES files or more than MAX_TOTAL bytes.

Otherwise one commit is made with ``git fast-import``: main's HEAD with its
config-snapshots/, schemas/ and configsync.yaml replaced by the pull request's;
it is the ref refs/configsync/pull-request, and HEAD and the work tree stay as
they are. ``plan --trusted-config configsync.yaml --ref refs/configsync/pull-request``
then plans it with main's settings, and withholds the plan (exit 4) when the
pull request's configsync.yaml changes what is hidden.

Step outputs: ``found`` ("false" when DIR holds no upload: config-pr planned
with the read-only URL, or the pull request changed no config), ``ref``,
``commit``, ``number`` (the pull request) and ``head-sha``.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
import time
from pathlib import Path, PurePosixPath
from typing import Any

from ghapi import ScriptError, git, main_guard, script_parser, set_output

META = "pull-request.json"
FILES = "files.tar"
REF = "refs/configsync/pull-request"
ROOTS = ("config-snapshots", "schemas")
CONFIG = "configsync.yaml"
MAX_FILE = 10 * 1024 * 1024  # a record or schema file; configsync's own limits are far lower
MAX_TOTAL = 1024 * 1024 * 1024
MAX_FILES = 1_000_000
MAX_META = 4096
SHA = re.compile(r"[0-9a-f]{40}")
BOT = "configsync <configsync@users.noreply.github.com>"


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    pack_parser = commands.add_parser("pack", help="config-pr: the pull request's config files, for upload")
    pack_parser.add_argument("--repo", type=Path, default=Path("."), help="the pull request's checkout")
    pack_parser.add_argument("--out", required=True, type=Path, help="the directory to upload")
    pack_parser.add_argument("--number", required=True, type=int, help="the pull request's number")
    pack_parser.add_argument("--head-sha", required=True, help="the pull request's head commit")
    import_parser = commands.add_parser("import", help="config-pr-plan: the upload as a scratch commit on main")
    import_parser.add_argument("--data", required=True, type=Path, help="the downloaded artifact's directory")
    import_parser.add_argument("--repo", type=Path, default=Path("."), help="the checkout of main (default: .)")
    import_parser.add_argument("--event", type=Path, help="the workflow_run event (default: $GITHUB_EVENT_PATH)")
    args = parser.parse_args(argv)
    if args.command == "pack":
        return pack(args.repo, args.out, args.number, args.head_sha)
    meta_path, tar_path = args.data / META, args.data / FILES
    if not meta_path.exists() and not meta_path.is_symlink():
        print(f"No pull request data in {args.data}: config-pr planned itself, or had nothing to plan.")
        set_output("found", "false")
        return 0
    event = _read_event(args.event or os.environ.get("GITHUB_EVENT_PATH"))
    number, head_sha = check_pull_request(_read_meta(meta_path), event)
    files = read_files(tar_path)
    commit = write_commit(args.repo, files, f"Pull request #{number} at {head_sha}, as data for its plan")
    print(f"Pull request #{number} ({len(files)} files) is {REF} = {commit}, on top of main's HEAD.")
    for name, value in (("found", "true"), ("ref", REF), ("commit", commit), ("number", str(number)),
                        ("head-sha", head_sha)):
        set_output(name, value)
    return 0


def pack(repo: Path, out: Path, number: int, head_sha: str) -> int:
    """config-pr's side: what config-pr-plan may plan, read from git (never from the work tree)."""
    if not SHA.fullmatch(head_sha):
        raise ScriptError(f"--head-sha must be 40 lower-case hex digits, got {head_sha!r}")
    out.mkdir(parents=True, exist_ok=True)
    present = git("ls-tree", "-z", "--name-only", "HEAD", "--", *ROOTS, CONFIG, cwd=repo).split("\0")
    paths = [p for p in present if p]
    if paths:  # without paths git archive would take the whole tree
        git("archive", "--format=tar", "-o", str((out / FILES).resolve()), "HEAD", "--", *paths, cwd=repo)
    else:
        with tarfile.open(out / FILES, "w"):
            pass
    (out / META).write_text(json.dumps({"number": number, "head_sha": head_sha}) + "\n", encoding="utf-8")
    print(f"Packed {', '.join(paths) or 'nothing'} of pull request #{number} for config-pr-plan.")
    set_output("path", str(out))
    return 0


def check_pull_request(meta: Any, event: Any) -> tuple[int, str]:
    """The pull request number and head SHA of the upload, if the triggering run vouches for both."""
    if not isinstance(meta, dict):
        raise ScriptError(f"{META}: not a JSON object")
    number, head_sha = meta.get("number"), meta.get("head_sha")
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise ScriptError(f"{META}: the pull request number must be a positive integer, got {number!r}")
    if not isinstance(head_sha, str) or not SHA.fullmatch(head_sha):
        raise ScriptError(f"{META}: head_sha must be 40 lower-case hex digits, got {head_sha!r}")
    run = event.get("workflow_run") if isinstance(event, dict) else None
    if not isinstance(run, dict):
        raise ScriptError("the event is not a workflow_run: this script plans only for config-pr's runs")
    here = ((event.get("repository") or {}).get("full_name"))
    source = ((run.get("head_repository") or {}).get("full_name"))
    if not here or source != here:
        raise ScriptError(f"the run is of {source!r}, not of this repository {here!r}: pull requests from forks "
                          "are not planned with this repository's key")
    if head_sha != run.get("head_sha"):
        raise ScriptError(f"{META}: head_sha {head_sha} is not the triggering run's head {run.get('head_sha')!r}")
    pulls = run.get("pull_requests") or []
    if not any(isinstance(p, dict) and p.get("number") == number and (p.get("head") or {}).get("sha") == head_sha
               for p in pulls):
        raise ScriptError(f"{META}: pull request #{number} is not one of the triggering run's pull requests at "
                          f"{head_sha} (workflow_run.pull_requests: {[p.get('number') for p in pulls if isinstance(p, dict)]})")
    return number, head_sha


def read_files(tar_path: Path) -> dict[str, bytes]:
    """The regular files of the tar, by path, all checked before any is returned."""
    if tar_path.is_symlink() or not tar_path.is_file():
        raise ScriptError(f"{tar_path}: missing or not a regular file")
    if tar_path.stat().st_size > MAX_TOTAL + 64 * 1024 * 1024:
        raise ScriptError(f"{tar_path}: larger than {MAX_TOTAL} bytes")
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(tar_path, mode="r:") as tar:
            members = tar.getmembers()
            if len(members) > MAX_FILES:
                raise ScriptError(f"{FILES}: more than {MAX_FILES} entries")
            for member in members:
                if member.isdir():
                    check_path(member.name.rstrip("/") + "/x")  # its files are checked too; this names it early
                    continue
                path = check_path(member.name)
                if not member.isreg():
                    kind = "a symbolic link" if member.issym() else "a hard link" if member.islnk() else "not a regular file"
                    raise ScriptError(f"{FILES}: {member.name}: {kind}; only regular files are planned")
                if path in files:
                    raise ScriptError(f"{FILES}: {member.name}: more than once")
                if member.size > MAX_FILE:
                    raise ScriptError(f"{FILES}: {member.name}: {member.size} bytes, more than {MAX_FILE}")
                total += member.size
                if total > MAX_TOTAL:
                    raise ScriptError(f"{FILES}: more than {MAX_TOTAL} bytes")
                handle = tar.extractfile(member)
                if handle is None:
                    raise ScriptError(f"{FILES}: {member.name}: cannot be read")
                files[path] = handle.read()
    except (tarfile.TarError, OSError) as exc:
        raise ScriptError(f"{tar_path}: not a readable tar: {exc}") from None
    return files


def check_path(name: str) -> str:
    """``name`` as a clean relative path under config-snapshots/ or schemas/, or configsync.yaml."""
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ScriptError(f"{FILES}: {name!r}: a control character in the name")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ScriptError(f"{FILES}: {name!r}: not UTF-8") from None
    if name.startswith("/"):
        raise ScriptError(f"{FILES}: {name}: an absolute path")
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") or part.lower() == ".git" for part in parts):
        raise ScriptError(f"{FILES}: {name}: an empty, '.', '..' or '.git' component")
    path = PurePosixPath(*parts).as_posix()
    if path != CONFIG and (parts[0] not in ROOTS or len(parts) < 2):
        raise ScriptError(f"{FILES}: {name}: outside {', '.join(r + '/' for r in ROOTS)} and {CONFIG}")
    return path


def write_commit(repo: Path, files: dict[str, bytes], message: str) -> str:
    """One commit on top of HEAD with the config paths replaced by ``files``; its SHA (also at REF)."""
    head = git("rev-parse", "--verify", "HEAD^{commit}", cwd=repo)
    name, email = BOT.rsplit(" ", 1)
    body = message.encode()
    stream = [b"commit " + REF.encode() + b"\n",
              f"committer {name} {email} {int(time.time())} +0000\n".encode(),
              b"data %d\n" % len(body), body, b"\n",
              b"from " + head.encode() + b"\n"]
    stream += [b"D " + _quote(p) + b"\n" for p in (*ROOTS, CONFIG)]
    for path in sorted(files):
        data = files[path]
        stream += [b"M 100644 inline " + _quote(path) + b"\n", b"data %d\n" % len(data), data, b"\n"]
    stream.append(b"done\n")
    proc = subprocess.run(["git", "fast-import", "--quiet", "--done", "--force"], input=b"".join(stream),
                          cwd=repo, capture_output=True, check=False)
    if proc.returncode:
        raise ScriptError(f"git fast-import failed: {proc.stderr.decode(errors='replace').strip()}")
    return git("rev-parse", "--verify", f"{REF}^{{commit}}", cwd=repo)


def _quote(path: str) -> bytes:
    """A fast-import path in C-style quotes (names are free of control characters: check_path)."""
    return b'"' + path.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _read_meta(path: Path) -> Any:
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_META:
        raise ScriptError(f"{path}: not a regular file of at most {MAX_META} bytes")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScriptError(f"{path}: not JSON: {exc}") from None


def _read_event(path: str | Path | None) -> Any:
    if not path:
        raise ScriptError("no event: set $GITHUB_EVENT_PATH or --event")
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScriptError(f"cannot read the event {path}: {exc}") from None


if __name__ == "__main__":
    main_guard(main)
