"""A snapshot writes its records through one safe writer (files.Writer), which
looks at each directory once. It must refuse what the old per-file check
refused, with the same message, and give the same file names and paths."""
from __future__ import annotations

import os
import random
import shutil
import sqlite3
import stat
import string
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
from configsync import files, naming
from configsync.errors import NamingError, UnsafePathError
from helpers import init_repo, permissive_repo, run, sqlite_moose

# ---- the writer: each directory looked at once, no link followed -----------------


def _old_check(root: Path, rel: str) -> Path:
    """files.check as it was before the writer: pathlib, every component looked at."""
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
        raise UnsafePathError(f"{rel}: not a path inside the config repository")
    current = root
    for index, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            break
        if stat.S_ISLNK(mode):
            shown = "/".join(parts[: index + 1])
            raise UnsafePathError(
                f"{shown} is a symbolic link; configsync never writes or deletes through one. "
                "Replace it with a real directory or file (git rm it, then run again)."
            )
    return root / rel


def _outcome(check: Callable[[], object]) -> str:
    try:
        return f"ok {check()}"
    except (UnsafePathError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"


def test_writer_refuses_every_path_the_old_check_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "t/real").mkdir(parents=True)
    (root / "t/real/a.yaml").write_text("a: 1\n")
    (root / "t/file").write_text("not a directory\n")
    (tmp_path / "outside").mkdir()
    (root / "t/linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "t/real/link.yaml").symlink_to(tmp_path / "outside/x.yaml")
    (root / "t/real/dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    paths = ["t/real/a.yaml", "t/real/new.yaml", "t/linked/a.yaml", "t/real/link.yaml", "t/real/dangling.yaml",
             "t/missing/deeper/a.yaml", "t/linked", "", ".", "/etc/passwd", "t/../../x.yaml",
             "t//real/./a.yaml", "./t/linked/b.yaml", "t/real/a.yaml/", "t/real/..", "t/real/.", "/x.yaml", "x.yaml",
             "t/real/", "t/missing/deeper/b.yaml", "t/missing/deeper/..", "t/missing/deeper/.", "t/missing/deeper/",
             "t/missing/deeper/../../../x.yaml", "/t/missing/deeper/c.yaml"]
    writer = files.Writer(root)
    for rel in paths * 2:  # twice: the second time from what the writer remembers
        old = _outcome(lambda: _old_check(root, rel))  # noqa: B023 - called at once
        assert _outcome(lambda: (writer.check(rel), root / rel)[1]) == old, rel  # noqa: B023
        assert _outcome(lambda: files.check(root, rel)) == old, rel  # noqa: B023
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == []
    # Where the old check let a write fail deep in the OS (NotADirectoryError, a crash
    # report), a file in place of a directory is now named.
    for check in (writer.check, lambda rel: files.check(root, rel), lambda rel: writer.write(rel, b"a: 1\n")):
        with pytest.raises(UnsafePathError, match=r"^t/file is a file where configsync needs a directory; "):
            check("t/file/a.yaml")
    assert (root / "t/file").read_text() == "not a directory\n"


def test_a_file_where_a_table_directory_goes_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    db = sqlite_moose(tmp_path / "db.sqlite")
    repo = tmp_path / "repo"
    init_repo(repo)
    (repo / "config-snapshots").mkdir()
    (repo / "config-snapshots" / "system_config").write_text("not a directory\n")
    for args in (("snapshot",), ("snapshot", "--commit")):
        result = run(repo, *args, database=db)
        assert result.code == 1, result.text
        assert result.err == ("error: config-snapshots/system_config is a file where configsync needs a directory; "
                              "move it away (git rm it), then run again.\n")
        assert sorted(p.name for p in (repo / "config-snapshots").iterdir()) == ["system_config"]


def test_writer_refuses_a_link_in_the_second_table_directory(tmp_path: Path) -> None:
    """Two tables: the writer has found the first's directory real (and remembers it);
    the second's is a link. It is refused, before anything is written."""
    root = tmp_path / "repo"
    (root / "snaps/first").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "snaps/second").symlink_to(tmp_path / "outside", target_is_directory=True)
    writer = files.Writer(root)
    writer.check("snaps/first/a.yaml")
    writer.check("snaps/first/b.yaml")
    with pytest.raises(UnsafePathError, match=r"^snaps/second is a symbolic link; configsync never writes"):
        writer.check("snaps/second/a.yaml")
    with pytest.raises(UnsafePathError, match=r"^snaps/second is a symbolic link; configsync never writes"):
        writer.write("snaps/second/a.yaml", b"a: 1\n")
    with pytest.raises(UnsafePathError, match=r"^snaps/second is a symbolic link; configsync never writes"):
        writer.delete("snaps/second/a.yaml")
    assert list((tmp_path / "outside").iterdir()) == []
    writer.write("snaps/first/a.yaml", b"a: 1\n")
    assert (root / "snaps/first/a.yaml").read_bytes() == b"a: 1\n"


def test_writer_refuses_a_link_put_where_it_found_nothing(tmp_path: Path) -> None:
    """A directory missing when checked and a link by the time of the write (or a
    record file that became a link) is refused with the same message, not followed."""
    root = tmp_path / "repo"
    (root / "snaps").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    writer = files.Writer(root)
    writer.check("snaps/table/a.yaml")
    writer.check("snaps/other/a.yaml")
    (root / "snaps/table").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(UnsafePathError, match=r"^snaps/table is a symbolic link; configsync never writes"):
        writer.write("snaps/table/a.yaml", b"a: 1\n")
    (root / "snaps/other").mkdir()
    (root / "snaps/other/a.yaml").symlink_to(tmp_path / "outside/a.yaml")
    with pytest.raises(UnsafePathError, match=r"^snaps/other/a.yaml is a symbolic link; configsync never writes"):
        writer.write("snaps/other/a.yaml", b"a: 1\n")
    assert list((tmp_path / "outside").iterdir()) == []
    writer.write("snaps/new/deeper/b.yaml", b"b: 2\n")
    assert (root / "snaps/new/deeper/b.yaml").read_bytes() == b"b: 2\n"


def test_snapshot_refuses_the_second_tables_linked_directory(tmp_path: Path) -> None:
    """After a snapshot made the table directories real, the last table's is
    replaced by a link: the next snapshot refuses it and writes nothing."""
    db = sqlite_moose(tmp_path / "db.sqlite")
    repo = tmp_path / "repo"
    init_repo(repo)
    assert run(repo, "snapshot", database=db).code == 2
    tables = sorted(p.name for p in (repo / "config-snapshots").iterdir() if p.is_dir())
    assert len(tables) >= 2
    last = repo / "config-snapshots" / tables[-1]
    shutil.rmtree(last)
    (tmp_path / "outside").mkdir()
    last.symlink_to(tmp_path / "outside", target_is_directory=True)
    first = repo / "config-snapshots" / tables[0]
    removed = sorted(first.iterdir())[0]
    removed.unlink()  # the first table has a file to write again: it must not be written either
    result = run(repo, "snapshot", database=db)
    assert result.code == 1, result.text
    assert f"config-snapshots/{tables[-1]} is a symbolic link; configsync never writes or deletes through one" \
        in result.err
    assert list((tmp_path / "outside").iterdir()) == []
    assert not removed.exists()


# ---- file names: the shortcut for keys of safe characters only ---------------------


def _old_encode(text: str) -> str:
    """naming.encode as it was: every character looked at."""
    encoded = "".join(c if c in naming._SAFE else naming._percent(c) for c in text)
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    if encoded.endswith("."):
        encoded = encoded[:-1] + "%2E"
    base = encoded.split(".", 1)[0]
    if base.upper() in naming._WINDOWS_RESERVED:
        encoded = base[:-1] + naming._percent(base[-1]) + encoded[len(base):]
    return encoded


def test_file_names_are_those_of_the_character_by_character_path() -> None:
    rng = random.Random(12)
    alphabet = string.ascii_letters + string.digits + "-_.+=@,~ /\\%:\n\t\x00é漢🚀٣ÅſK"
    texts = ["", ".", "..", "a.", ".a", "con", "CON.yaml", "com1", "lpt9.x", "nul.", "a\n", "ſ", "K", "٣"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    texts += ["".join(rng.choice("abcCON.-_0") for _ in range(rng.randint(1, 6))) for _ in range(3000)]
    for text in texts:
        assert naming.encode(text) == _old_encode(text), repr(text)
    for template in ("{k}", "{k}.v1", "x{k}", "{k}__{n}", "{k}{n}"):
        for text in texts[:500]:
            key = {"k": text, "n": 7}
            expected = template.format(k=_old_encode(text), n="7") + ".yaml"
            if not text:
                with pytest.raises(NamingError):
                    naming.file_name(template, key)
                continue
            try:
                got = naming.file_name(template, key)
            except NamingError:
                assert expected.startswith(".") or len(expected.encode()) > naming.MAX_NAME_BYTES, (template, text)
                continue
            assert got == expected, (template, text)


def test_two_keys_that_give_one_file_name_are_refused(tmp_path: Path) -> None:
    """The snapshot takes each record's path from the read of the database, not
    from naming it again: two keys that give one name are still refused."""
    db = tmp_path / "db.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript("CREATE TABLE pairs (a TEXT NOT NULL, b TEXT NOT NULL, note TEXT, PRIMARY KEY (a, b));"
                       "INSERT INTO pairs VALUES ('1', '23', 'x'), ('12', '3', 'y'), ('4', '5', 'z');")
    conn.commit()
    conn.close()
    repo = permissive_repo(tmp_path / "repo", 'tables:\n  pairs:\n    filename: "{a}{b}"\n', ["pairs"], "pairs")
    result = run(repo, "snapshot", database=f"sqlite:///{db}")
    assert result.code == 1, result.text
    assert "table pairs: two rows would share the file config-snapshots/pairs/123.yaml (a='1', b='23' and " \
           "a='12', b='3')" in result.err
    assert not (repo / "config-snapshots/pairs").exists()


def test_writer_makes_missing_directories_the_root_too(tmp_path: Path) -> None:
    root = tmp_path / "not yet"
    files.write(root, "configsync.yaml", b"tables: {}\n")
    writer = files.Writer(tmp_path / "nor this")
    writer.write("a.yaml", b"a: 1\n")
    writer.write("b.yaml", b"b: 2\n")
    writer.write("d/e/f.yaml", b"f: 3\n")
    writer.write("d/g.yaml", b"g: 4\n")
    assert (root / "configsync.yaml").read_bytes() == b"tables: {}\n"
    assert {p.relative_to(tmp_path / "nor this").as_posix(): p.read_bytes()
            for p in (tmp_path / "nor this").rglob("*.yaml")} == {
        "a.yaml": b"a: 1\n", "b.yaml": b"b: 2\n", "d/e/f.yaml": b"f: 3\n", "d/g.yaml": b"g: 4\n"}


# ---- the writer creates files relative to the directory it has open --------------


def _old_write(root: Path, rel: str, data: bytes) -> None:
    """Writer.write as it was before it kept a directory open: each file opened by its full path."""
    target = files.check(root, rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _tree(top: Path) -> dict[str, bytes]:
    return {p.relative_to(top).as_posix(): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


def test_writer_writes_what_writing_each_full_path_writes(tmp_path: Path) -> None:
    """Files in one directory, then another and back, at the root, under odd spellings
    of a path ("a//b/./c.yaml", a trailing "/"), over an existing file: the same tree,
    byte for byte, as opening each file by its full path."""
    rng = random.Random(7)
    paths = ["snaps/t/a.yaml", "snaps/t/b.yaml", "snaps/u/a.yaml", "snaps/t/c.yaml", "top.yaml", "snaps/t/a.yaml",
             "snaps//t/./d.yaml", "./snaps/u/b.yaml", "snaps/u/c.yaml/", "snaps/deep/er/x.yaml", "snaps/t/e.yaml"]
    paths += [f"snaps/{rng.choice('tuv')}/{rng.randrange(40)}.yaml" for _ in range(200)]
    for name in ("new", "old"):
        (tmp_path / name / "snaps/t").mkdir(parents=True)
        (tmp_path / name / "snaps/t/a.yaml").write_bytes(b"a longer file that a write truncates\n")
    with files.Writer(tmp_path / "new") as writer:
        for index, rel in enumerate(paths):
            writer.write(rel, f"{rel}: {index}\n".encode())
    for index, rel in enumerate(paths):
        _old_write(tmp_path / "old", rel, f"{rel}: {index}\n".encode())
    assert _tree(tmp_path / "new") == _tree(tmp_path / "old")
    assert len(_tree(tmp_path / "new")) > 40


def test_writer_refuses_a_link_in_the_directory_it_has_open(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "snaps/t").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "snaps/t/link.yaml").symlink_to(tmp_path / "outside/x.yaml")
    with files.Writer(root) as writer:
        writer.write("snaps/t/a.yaml", b"a: 1\n")  # the directory is now open
        with pytest.raises(UnsafePathError, match=r"^snaps/t/link.yaml is a symbolic link; configsync never writes"):
            writer.write("snaps/t/link.yaml", b"x: 1\n")
        writer.write("snaps/t/b.yaml", b"b: 2\n")
    assert list((tmp_path / "outside").iterdir()) == []
    assert _tree(root / "snaps/t") == {"a.yaml": b"a: 1\n", "b.yaml": b"b: 2\n"}


def test_writer_never_follows_a_link_put_in_place_of_its_open_directory(tmp_path: Path) -> None:
    """The table directory is swapped for a link to outside the repository while a
    snapshot writes into it: what follows still lands in the directory the writer
    looked at (the old code opened each full path, following the new link)."""
    root = tmp_path / "repo"
    (root / "snaps/t").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    with files.Writer(root) as writer:
        writer.write("snaps/t/a.yaml", b"a: 1\n")
        (root / "snaps/t").rename(root / "snaps/moved")
        (root / "snaps/t").symlink_to(tmp_path / "outside", target_is_directory=True)
        writer.write("snaps/t/b.yaml", b"b: 2\n")
    assert list((tmp_path / "outside").iterdir()) == []
    assert _tree(root / "snaps/moved") == {"a.yaml": b"a: 1\n", "b.yaml": b"b: 2\n"}
    with files.Writer(root) as writer, \
            pytest.raises(UnsafePathError, match=r"^snaps/t is a symbolic link; configsync never writes"):
        writer.write("snaps/t/c.yaml", b"c: 3\n")


@pytest.mark.parametrize("rel", ["snaps/t/" + "n" * 300 + ".yaml", "snaps/t/dir.yaml", "top/dir.yaml"])
def test_a_failed_write_names_the_full_path_as_before(tmp_path: Path, rel: str) -> None:
    """A name too long for the file system, a directory where the file goes: the same
    error (type, errno and message, with the full path) as opening the full path gave,
    also when the writer has the directory open already."""
    results = []
    for name in ("new", "old"):
        root = tmp_path / name / "repo"
        (root / "snaps/t/dir.yaml").mkdir(parents=True)
        (root / "top/dir.yaml").mkdir(parents=True)
        try:
            if name == "new":
                with files.Writer(root) as writer:
                    writer.write(rel.rsplit("/", 1)[0] + "/first.yaml", b"a: 1\n")  # the directory is open
                    writer.write(rel, b"a: 1\n")
            else:
                _old_write(root, rel, b"a: 1\n")
        except OSError as exc:
            results.append((type(exc), exc.errno, str(exc).replace(f"/{name}/", "/")))
    assert len(results) == 2 and results[0] == results[1]
    assert str(tmp_path / "repo" / rel) in results[0][2]
