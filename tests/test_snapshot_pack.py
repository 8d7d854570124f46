"""`snapshot --commit` stores many new record files as one git pack (packs.py).

Objects are named by their content, so the pack must change no id: the
commit's tree equals the one made with a loose object per file, every blob
reads back, and git itself finds the repository sound.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pygit2
import pytest
from configsync import packs
from helpers import permissive_repo, run, sqlite_url

CONFIG = """\
tables:
  items:
    key: id
"""

ROWS = 250  # above packs.MIN_OBJECTS


def database(path: Path) -> str:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, doc JSON)")
    conn.executemany("INSERT INTO items VALUES (?, ?, ?)",
                     [(i, f"item {i} 🚀" * (i % 7), f'{{"n": {i % 3}, "same": true}}') for i in range(1, ROWS + 1)])
    conn.commit()
    conn.close()
    return sqlite_url(path)


def snapshot_commit(tmp_path: Path, name: str) -> tuple[pygit2.Repository, pygit2.Commit]:
    repo = permissive_repo(tmp_path / name, CONFIG, ["items"], "items")
    result = run(repo, "snapshot", "--commit", database=database(tmp_path / f"{name}.db"))
    assert result.code == 2, result.text
    git = pygit2.Repository(str(repo))
    return git, git.head.peel(pygit2.Commit)


def loose_objects(git: pygit2.Repository) -> int:
    objects = Path(git.path) / "objects"
    return sum(1 for d in objects.iterdir() if len(d.name) == 2 for _ in d.iterdir())


def test_packed_snapshot_has_the_loose_snapshots_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packed, packed_commit = snapshot_commit(tmp_path, "packed")
    monkeypatch.setattr(packs, "MIN_OBJECTS", 10**9)
    loose, loose_commit = snapshot_commit(tmp_path, "loose")

    assert packed_commit.tree.id == loose_commit.tree.id
    # The blobs went into one pack, not a file each (the trees and the commit stay loose).
    assert len(list((Path(packed.path) / "objects/pack").glob("pack-*.idx"))) == 1
    assert loose_objects(packed) < 20 < ROWS <= loose_objects(loose)
    # Every blob reads back, by a fresh repository object (not a cache), as the work tree has it.
    fresh = pygit2.Repository(packed.workdir)
    tree = fresh[packed_commit.tree.id].peel(pygit2.Tree) / "config-snapshots" / "items"
    files = sorted((Path(packed.workdir) / "config-snapshots/items").glob("*.yaml"))
    assert len(files) == ROWS
    for path in files:
        assert fresh[(tree / path.name).id].peel(pygit2.Blob).data == path.read_bytes()
    assert run(Path(packed.workdir), "status", database=sqlite_url(tmp_path / "packed.db")).code == 0
    git = shutil.which("git")
    if git is not None:  # git's own check of the pack, its index and every object
        check = subprocess.run([git, "fsck", "--strict", "--no-dangling"], cwd=packed.workdir,
                               capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        assert subprocess.run([git, "status", "--porcelain"], cwd=packed.workdir, capture_output=True,
                              text=True, check=True).stdout == ""


def _pack_blobs(git: pygit2.Repository, blobs: list[bytes]) -> list[pygit2.Oid]:
    """``blobs`` stored as one pack (packs.write_pack), their ids in order."""
    ids = [packs.object_id(packs.BLOB, data) for data in blobs]
    packs.write_pack(git, [(oid, packs.BLOB, data) for oid, data in zip(ids, blobs, strict=True)])
    return [pygit2.Oid(raw=oid) for oid in ids]


def test_pack_ids_are_the_content_ids(tmp_path: Path) -> None:
    git = pygit2.init_repository(str(tmp_path / "repo"))
    blobs = [b"", b"x" * 100_000, b"same", b"same", *(f"row {i}\n".encode() for i in range(200))]
    ids = _pack_blobs(git, blobs)
    assert ids == [pygit2.hash(data) for data in blobs]
    assert [git[oid].peel(pygit2.Blob).data for oid in ids] == blobs
    assert loose_objects(git) == 0


def test_pack_of_a_linked_work_tree_goes_to_the_shared_objects(tmp_path: Path) -> None:
    main = pygit2.init_repository(str(tmp_path / "main"))
    signature = pygit2.Signature("t", "t@localhost")
    main.create_commit("HEAD", signature, signature, "first", main.TreeBuilder().write(), [])
    main.add_worktree("linked", str(tmp_path / "linked"))
    blobs = [f"linked {i}\n".encode() for i in range(150)]
    ids = _pack_blobs(pygit2.Repository(str(tmp_path / "linked")), blobs)
    shared = pygit2.Repository(str(tmp_path / "main"))  # a fresh look at the main repository's objects
    assert [shared[oid].peel(pygit2.Blob).data for oid in ids] == blobs


# Names in git's tree order traps: "a" (a directory sorts as "a/"), "a.yaml", "a-b", "a0"; non-ASCII.
TRICKY = ["a.yaml", "a-b.yaml", "a0.yaml", "a/x.yaml", "a/b/c.yaml", "b.yaml", "é.yaml", "Z.yaml", "~.yaml",
          "twin~1a2b3c4d.yaml", "sp ace.yaml", "a%2E.yaml"]
# Names only libgit2's tree builder may judge: their directory is left to it.
ODD = [".hidden", "gIt~2.yaml", "c:d.yaml", "e\\f.yaml", "fine.yaml"]


def tree_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                   files: dict[str, bytes | None], base_files: dict[str, bytes]) -> tuple[str, str, dict[str, bytes]]:
    """The tree ``Repo.tree_with`` makes on top of a commit of ``base_files``:
    packed (new directories written by packs.tree_object), and loose (every
    tree by libgit2's tree builder, as before packs)."""
    from configsync.config import load_config
    from configsync.repo import Repo
    from helpers import commit_all, init_repo

    ids = []
    blob_ids: dict[str, bytes] = {}
    for way in ("packed", "loose"):
        path = tmp_path / f"{name}-{way}"
        init_repo(path, config="tables:\n  items: {}\n", schemas=False)
        for rel, data in base_files.items():
            (path / rel).parent.mkdir(parents=True, exist_ok=True)
            (path / rel).write_bytes(data)
        commit_all(path, "base")
        repo = Repo(load_config(path / "configsync.yaml"))
        with monkeypatch.context() as patch:
            if way == "loose":
                patch.setattr(packs, "MIN_OBJECTS", 10**9)
            found: dict[str, bytes] = {}
            ids.append(str(repo.tree_with(repo.head(), files, found)))
        if way == "packed":
            blob_ids = found
            assert list((Path(repo.git.path) / "objects/pack").glob("pack-*.idx"))
            git = shutil.which("git")
            if git is not None:
                commit = repo.make_commit(pygit2.Oid(hex=ids[-1]), "tree")
                repo.git.head.set_target(commit.id)
                check = subprocess.run([git, "fsck", "--full", "--strict", "--no-dangling"], cwd=path,
                                       capture_output=True, text=True, check=False)
                assert check.returncode == 0, check.stdout + check.stderr
        else:
            assert found == blob_ids
    return ids[0], ids[1], blob_ids


@pytest.mark.parametrize("prefix", ["config-snapshots/new/", "config-snapshots/old/", ""])
def test_new_directories_written_whole_have_the_tree_builders_ids(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    base = {"config-snapshots/old/kept.yaml": b"kept\n", "config-snapshots/old/gone.yaml": b"gone\n",
            "config-snapshots/old/a.yaml": b"file where a directory goes\n"}
    files: dict[str, bytes | None] = {f"{prefix}{name}": f"{name}\n".encode() for name in TRICKY}
    files.update({f"config-snapshots/odd/{name}": f"{name}\n".encode() for name in ODD})
    files.update({f"config-snapshots/new/many/{i}.yaml": f"id: {i}\n".encode() for i in range(150)})
    files["config-snapshots/old/gone.yaml"] = None
    files["config-snapshots/new/never/there.yaml"] = None  # removing what is not there: no directory
    written: list[list[str]] = []
    tree_object = packs.tree_object

    def spy(entries):  # type: ignore[no-untyped-def]
        listed = list(entries)
        written.append([name for name, _, _ in listed])
        return tree_object(listed)

    monkeypatch.setattr(packs, "tree_object", spy)
    packed, loose, blob_ids = tree_both_ways(tmp_path, monkeypatch, prefix.replace("/", "_") or "top", files, base)
    assert packed == loose
    # The new directories were written whole (not "odd", not those that were there before).
    assert ["c.yaml"] in written and not any("fine.yaml" in names for names in written)
    assert any("a.yaml" in names for names in written) == (prefix == "config-snapshots/new/")
    assert blob_ids == {p: pygit2.hash(d).raw for p, d in files.items() if d is not None}


def test_a_name_git_refuses_is_refused_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files: dict[str, bytes | None] = {f"config-snapshots/new/{i}.yaml": b"x" for i in range(150)}
    files["config-snapshots/new/git~1"] = b"NTFS's short name of .git\n"
    with pytest.raises(pygit2.GitError, match="invalid name"):
        tree_both_ways(tmp_path, monkeypatch, "packed-only", files, {})
    monkeypatch.setattr(packs, "MIN_OBJECTS", 10**9)
    with pytest.raises(pygit2.GitError, match="invalid name"):
        tree_both_ways(tmp_path, monkeypatch, "loose-only", files, {})


def test_tree_object_refuses_what_it_cannot_judge() -> None:
    oid = b"\x01" * 20
    for name in (".git", ".GIT", "git~1", "a/b", "", ".", "..", "c:d", "nul\0"):
        assert not packs.plain_name(name)
        with pytest.raises(ValueError):
            packs.tree_object([(name, False, oid)])
    assert packs.tree_object([("b", False, oid), ("a", True, oid), ("a.yaml", False, oid)]) == (
        b"100644 a.yaml\0" + oid + b"40000 a\0" + oid + b"100644 b\0" + oid)


def test_names_checked_together_as_one_by_one() -> None:
    names = ["a.yaml", ".git", ".GIT.", "git~1", "GIT~1.yaml", "xgit~1", "", ".", "..", "a/b", "a\\b", "c:d", "n\0ul",
             "é", "~", "a.", "%2E.yaml", "twin~1a2b3c4d.yaml", "sp ace", "\n", "git", ".hidden"]
    for name in names:
        assert packs.plain_names([name]) == packs.plain_name(name), name
        for other in ("ok.yaml", "", ".x", "a\0b"):
            expected = packs.plain_name(name) and packs.plain_name(other)
            assert packs.plain_names([name, other]) == packs.plain_names([other, name]) == expected, (name, other)
    assert packs.plain_names([]) and packs.plain_names([f"{i}.yaml" for i in range(1000)])


@pytest.mark.parametrize("child", ["writes", "fails", "no fork"])
def test_pack_written_beside_meanwhile_or_else_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     child: str) -> None:
    git = pygit2.init_repository(str(tmp_path / "repo"))
    blobs = [f"row {i}\n".encode() for i in range(300)]
    objects = [(packs.object_id(packs.BLOB, data), packs.BLOB, data) for data in blobs]
    parent = os.getpid()
    write = packs._write_pack
    writers: list[int] = []

    def failing_child(directory: Path, listed: list[tuple[bytes, int, bytes]]) -> None:
        if os.getpid() != parent:
            raise OSError("disk full")
        writers.append(os.getpid())
        write(directory, listed)

    def child_only(directory: Path, listed: list[tuple[bytes, int, bytes]]) -> None:
        if os.getpid() == parent:
            raise AssertionError("written here, not by the child")
        write(directory, listed)

    if child == "writes":
        monkeypatch.setattr(packs, "_write_pack", child_only)
    elif child == "fails":
        monkeypatch.setattr(packs, "_write_pack", failing_child)
    elif child == "no fork":
        monkeypatch.delattr(os, "fork")
        monkeypatch.setattr(packs, "_write_pack", failing_child)
    ran: list[bool] = []
    packs.write_pack(git, objects, lambda: ran.append(True))
    assert ran == [True]
    assert writers == ([] if child == "writes" else [parent])  # here only when no child wrote it
    fresh = pygit2.Repository(str(tmp_path / "repo"))
    assert [fresh[pygit2.Oid(raw=oid)].peel(pygit2.Blob).data for oid, _, _ in objects] == blobs
    assert len(list((tmp_path / "repo/.git/objects/pack").glob("pack-*.idx"))) == 1
    assert not list((tmp_path / "repo/.git/objects/pack").glob("tmp_*"))

    if child == "writes":
        with pytest.raises(KeyError):  # an error of meanwhile's is raised, once the child is done
            packs.write_pack(git, objects, lambda: {}["missing"])
