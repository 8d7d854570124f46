"""A large snapshot renders its records in forked workers (fork_pool) and writes
them through one safe writer (files.Writer). Both must give what the one-by-one
path gives: the same bytes in the same files, the same output, the same error,
and the same refusal of a symbolic link."""
from __future__ import annotations

import os
import random
import shutil
import sqlite3
import stat
import string
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import pytest
from configsync import files, fork_pool, naming, snapshotter
from configsync.errors import ConfigError, NamingError, UnsafePathError
from helpers import Result, execute, init_repo, permissive_repo, record_files, run, sqlite_moose, two_environments
from test_types import create_postgres, create_sqlite, make_repo

T = TypeVar("T")


def _serial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fork_pool, "MIN_ITEMS", None)


def _parallel(monkeypatch: pytest.MonkeyPatch, seen: Path) -> None:
    """Every rendering through a pool of two forked workers, however few rows (and cores);
    each process the work runs in leaves a file named by its id in ``seen``."""
    monkeypatch.setattr(fork_pool, "MIN_ITEMS", 1)
    monkeypatch.setattr(fork_pool, "workers", lambda: 2)
    monkeypatch.setattr(fork_pool, "_CHUNK", 2)  # many slices, so the order of slices counts
    seen.mkdir(exist_ok=True)
    real = fork_pool.mapped

    def spy(work: Callable[[int], T], count: int) -> Iterator[T]:
        def tagged(index: int) -> T:
            (seen / str(os.getpid())).touch()
            return work(index)
        return real(tagged, count)

    monkeypatch.setattr(fork_pool, "mapped", spy)


def _snapshot_both_ways(repo: Path, monkeypatch: pytest.MonkeyPatch, *args: str,
                        database: str | None = None, failing: bool = False) -> tuple[Result, dict[str, bytes], Result, dict[str, bytes]]:
    """(result, files) of a snapshot one by one, then of the same snapshot in workers, into the same tree.
    ``failing``: the work raises, and the slice that raised is done again in this process."""
    root = repo / "config-snapshots"
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} if root.exists() else {}

    def reset() -> None:
        shutil.rmtree(root, ignore_errors=True)
        for path, data in before.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        shutil.rmtree(repo / ".configsync", ignore_errors=True)

    with monkeypatch.context() as patch:
        _serial(patch)
        reset()
        serial = run(repo, "snapshot", *args, database=database)
        serial_files = record_files(repo)
    seen = repo.parent / "pids"
    with monkeypatch.context() as patch:
        _parallel(patch, seen)
        reset()
        parallel = run(repo, "snapshot", *args, database=database)
        parallel_files = record_files(repo)
    pids = {int(p.name) for p in seen.iterdir()}
    assert pids - {os.getpid()}, "the rendering did not run in forked workers"
    assert failing or os.getpid() not in pids
    return serial, serial_files, parallel, parallel_files


def test_rendering_in_workers_writes_the_same_files(repo_path: Path, moose_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    serial, serial_files, parallel, parallel_files = _snapshot_both_ways(repo_path, monkeypatch, database=moose_url)
    assert serial.code == parallel.code == 2, serial.text + parallel.text
    assert len(serial_files) == 8
    assert parallel_files == serial_files
    assert parallel.out == serial.out


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_every_type_rendered_in_workers_is_the_same(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    url = (create_sqlite(tmp_path / "db.sqlite") if backend == "sqlite"
           else create_postgres(request.getfixturevalue("pg_url")))
    repo = make_repo(tmp_path / "repo")
    serial, serial_files, parallel, parallel_files = _snapshot_both_ways(repo, monkeypatch, database=url)
    assert serial.code == parallel.code == 2, serial.text + parallel.text
    assert len(serial_files) == 6
    assert parallel_files == serial_files
    assert parallel.out == serial.out


def test_overlays_rendered_in_workers_are_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, staging, production = two_environments(tmp_path, monkeypatch)
    assert run(repo, "snapshot", "--commit", "--database", production).code == 2
    execute(staging, "UPDATE system_config SET description = 'staging: ' || config_key")
    serial, serial_files, parallel, parallel_files = _snapshot_both_ways(repo, monkeypatch, "--env", "staging")
    assert serial.code == parallel.code == 2, serial.text + parallel.text
    overlays = [p for p in serial_files if p.startswith("_environments/staging/")]
    assert len(overlays) > 3
    assert parallel_files == serial_files
    assert parallel.out == serial.out


def test_an_error_in_a_worker_is_the_error_of_the_one_by_one_path(repo_path: Path, moose_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = snapshotter.render

    def render(config: Any, table: str, row: Any, columns: Any) -> bytes:
        if row.get("config_key") == "budget_limits":
            raise ConfigError(f"table {table}: budget_limits cannot be written")
        return real(config, table, row, columns)

    monkeypatch.setattr(snapshotter, "render", render)
    serial, serial_files, parallel, parallel_files = _snapshot_both_ways(repo_path, monkeypatch, database=moose_url,
                                                                         failing=True)
    assert serial.code == parallel.code == 1
    assert "table system_config: budget_limits cannot be written" in serial.err
    assert (parallel.out, parallel.err) == (serial.out, serial.err)
    assert serial_files == parallel_files == {}  # nothing written either way


def test_mapped_forks_nothing_by_default() -> None:
    assert list(fork_pool.mapped(lambda i: os.getpid(), 5000)) == [os.getpid()] * 5000


def test_mapped_is_in_order_from_other_processes_and_raises_the_same_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fork_pool, "MIN_ITEMS", 1)
    monkeypatch.setattr(fork_pool, "workers", lambda: 2)
    monkeypatch.setattr(fork_pool, "_CHUNK", 7)
    items = [f"item {i}" for i in range(100)]
    results = list(fork_pool.mapped(lambda i: (os.getpid(), items[i].encode()), len(items)))
    assert [data for _, data in results] == [item.encode() for item in items]
    assert os.getpid() not in {pid for pid, _ in results}

    def fails(i: int) -> str:
        if i >= 50:
            raise ConfigError(f"row {i} cannot be written")
        return items[i]

    with pytest.raises(ConfigError, match=r"^row 50 cannot be written$"):
        list(fork_pool.mapped(fails, len(items)))


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
             "t/missing/deeper/a.yaml", "t/linked", "t/file/a.yaml", "", ".", "/etc/passwd", "t/../../x.yaml",
             "t//real/./a.yaml", "./t/linked/b.yaml", "t/real/a.yaml/", "t/real/..", "t/real/.", "/x.yaml", "x.yaml",
             "t/real/"]
    writer = files.Writer(root)
    for rel in paths * 2:  # twice: the second time from what the writer remembers
        old = _outcome(lambda: _old_check(root, rel))  # noqa: B023 - called at once
        assert _outcome(lambda: (writer.check(rel), root / rel)[1]) == old, rel  # noqa: B023
        assert _outcome(lambda: files.check(root, rel)) == old, rel  # noqa: B023
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == []


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
