"""`validate` reads the work tree's record files where it checks them (in its
workers, on every core): listed first, read once, later, never through a link.

A file made a symbolic link after the listing is refused with the words of one
listed as a link; one gone is a problem, not a crash; the validation cache
names the bytes that were checked, never those of a second reading.
"""
from __future__ import annotations

import errno
from pathlib import Path

import pytest
from configsync import parallel, validation
from configsync.cache import ValidationCache
from configsync.config import Config, load_config
from configsync.records import Source, SourceFile, git_blob_id
from configsync.repo import Repo, read_regular_file
from helpers import commit_all, init_repo, run, sqlite_moose

COUNT = 80


def _repo(path: Path) -> Config:
    """COUNT valid system_config records, a production overlay over some of them."""
    init_repo(path)
    base = path / "config-snapshots" / "system_config"
    overlay = path / "config-snapshots" / "_environments" / "production" / "system_config"
    base.mkdir(parents=True)
    overlay.mkdir(parents=True)
    for i in range(COUNT):
        (base / f"key_{i:04d}.yaml").write_text(f"config_key: key_{i:04d}\nconfig_value:\n  limit: {i}\n"
                                                f"config_type: json\ndescription: Setting {i}\nupdated_by: null\n")
        if i % 9 == 0:
            (overlay / f"key_{i:04d}.yaml").write_text(f"config_value:\n  limit: {i + 1000}\n")
    commit_all(path, "records")
    return load_config(path / "configsync.yaml")


@pytest.fixture(params=["workers", "one process"])
def where(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(parallel, "MIN_FILES", 50 if request.param == "workers" else 10**9)
    monkeypatch.setattr(parallel, "_CHUNK", 16)
    return str(request.param)


def test_a_file_made_a_link_after_the_listing_is_refused_as_a_listed_link(tmp_path: Path, where: str) -> None:
    repo = tmp_path / "repo"
    config = _repo(repo)
    keys = {t: s.key for t, s in config.tables.items()}
    base = repo / "config-snapshots" / "system_config"
    outside = tmp_path / "outside.yaml"
    outside.write_bytes((base / "key_0003.yaml").read_bytes())  # valid: only the link can refuse it
    source = Repo(config).worktree_source(lazy=True)
    assert all(f.symlink or f._data is None for f in source.snapshots)  # listed, not read
    (base / "key_0003.yaml").unlink()
    (base / "key_0003.yaml").symlink_to(outside)
    (base / "key_0005.yaml").unlink()
    found = [str(p) for p in validation.problems_in(config, source, keys)]
    assert found == ["config-snapshots/system_config/key_0003.yaml: record files must not be symbolic links",
                     "config-snapshots/system_config/key_0005.yaml: cannot read it (No such file or directory)"]
    # The link listed as one: the same words.
    listed = [str(p) for p in validation.problems_in(config, Repo(config).worktree_source(lazy=True), keys)]
    assert listed == found[:1]
    result = run(repo, "validate")
    assert result.code == 1
    assert result.text.splitlines()[0] == found[0]


def _counting_read(log: str, path: str) -> bytes:
    """read_regular_file, noting each read in ``log`` (appended to from any process)."""
    with open(log, "a") as handle:
        handle.write(path + "\n")
    return read_regular_file(path)


def _counted_source(config: Config, log: Path) -> Source:
    source = Repo(config).worktree_source(lazy=True)
    snapshots = [SourceFile(f.path, load=lambda full=str(config.root / f.path): _counting_read(str(log), full))
                 for f in source.snapshots]
    return Source(source.description, snapshots, source.schemas)


@pytest.mark.parametrize("env", [None, "production"])
def test_each_record_file_is_read_once_and_the_cache_names_those_bytes(tmp_path: Path, where: str,
                                                                       env: str | None) -> None:
    repo = tmp_path / "repo"
    config = _repo(repo)
    keys = {t: s.key for t, s in config.tables.items()}
    log = tmp_path / "reads.log"
    cache = ValidationCache(None)
    validation.load_state(config, _counted_source(config, log), keys, ["system_config"], env, cache, rows=False)
    reads = log.read_text().splitlines()
    wanted = [p for p in map(str, sorted((repo / "config-snapshots").rglob("*.yaml")))
              if env is not None or "_environments" not in p]
    assert sorted(reads) == wanted  # each once (a second reading could find other bytes)
    # The cache remembers these bytes as valid: one entry per record, each of
    # a single file named by its git blob id.
    schema_id = cache.schema_id((repo / "schemas" / "system_config.schema.json").read_bytes())
    remembered = cache._known[schema_id]
    assert len(remembered) == COUNT
    alone = {"blob:" + git_blob_id(Path(p).read_bytes()) for p in wanted if "_environments" not in p
             and not (env is not None and (repo / "config-snapshots" / "_environments" / env / "system_config" /
                                           Path(p).name).exists())}
    assert alone <= remembered and len(remembered - alone) == (0 if env is None else len(range(0, COUNT, 9)))


def test_a_file_changed_after_it_was_read_is_not_remembered_as_valid(tmp_path: Path, where: str) -> None:
    """The bytes checked are the bytes named in the cache: the file's content at
    the second reading (valid or not) is never what the cache remembers."""
    repo = tmp_path / "repo"
    config = _repo(repo)
    keys = {t: s.key for t, s in config.tables.items()}
    base = repo / "config-snapshots" / "system_config"
    bad = b"config_key: key_0007\nconfig_value: 1\nconfig_type: 5\nunknown: x\n"

    def first_then_bad(full: str) -> bytes:
        data = read_regular_file(full)
        Path(full).write_bytes(bad)  # changed as soon as it was read
        return data

    source = Repo(config).worktree_source(lazy=True)
    target = next(f for f in source.snapshots if f.path.endswith("system_config/key_0007.yaml"))
    target._load = lambda: first_then_bad(str(repo / target.path))
    cache = ValidationCache(None)
    assert validation.problems_in(config, source, keys, ["system_config"], None, cache) == []
    assert (base / "key_0007.yaml").read_bytes() == bad
    schema_id = cache.schema_id((repo / "schemas" / "system_config.schema.json").read_bytes())
    assert "blob:" + git_blob_id(bad) not in cache._known[schema_id]
    assert len(cache._known[schema_id]) == COUNT


def test_read_regular_file_refuses_a_link_and_stops_past_the_limit(tmp_path: Path) -> None:
    from configsync.yamlio import MAX_BYTES
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a" * (MAX_BYTES + 10))
    assert len(read_regular_file(str(big))) == MAX_BYTES + 1
    small = tmp_path / "small.yaml"
    small.write_bytes(b"a: 1\n")
    assert read_regular_file(str(small)) == b"a: 1\n"
    link = tmp_path / "link.yaml"
    link.symlink_to(small)
    with pytest.raises(OSError) as info:
        read_regular_file(str(link))
    assert info.value.errno == errno.ELOOP


def test_a_fifo_among_the_records_is_a_problem_not_a_hang(tmp_path: Path, where: str) -> None:
    """A named pipe (git cannot hold one, but a job's step can leave one): opened
    for reading it would wait for a writer forever."""
    import os
    repo = tmp_path / "repo"
    config = _repo(repo)
    keys = {t: s.key for t, s in config.tables.items()}
    fifo = repo / "config-snapshots" / "system_config" / "key_0007.yaml"
    fifo.unlink()
    os.mkfifo(fifo)
    with pytest.raises(OSError) as info:
        read_regular_file(str(fifo))
    assert info.value.errno == errno.EINVAL
    found = [str(p) for p in validation.problems_in(config, Repo(config).worktree_source(lazy=True), keys)]
    assert found == ["config-snapshots/system_config/key_0007.yaml: cannot read it (not a regular file)"]


@pytest.mark.parametrize(("fifo_at", "args"), [
    ("schemas/system_config.schema.json", ("validate",)),
    ("config-snapshots/system_config/key_0007.yaml", ("snapshot",)),
])
def test_a_fifo_that_a_command_reads_whole_is_an_error_not_a_hang(tmp_path: Path, fifo_at: str,
                                                                     args: tuple[str, ...]) -> None:
    """The schemas, and a snapshot's record files, are read as they are listed
    (not lazily): a named pipe there would block the read (and a snapshot's
    write) forever. Run as a process, with a deadline, so a hang fails the test."""
    import os
    import subprocess
    import sys
    repo = tmp_path / "repo"
    _repo(repo)
    db = sqlite_moose(tmp_path / "db.sqlite")
    (repo / fifo_at).unlink()
    os.mkfifo(repo / fifo_at)
    done = subprocess.run([sys.executable, "-m", "configsync", "--database", db, *args], cwd=repo,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (f"error: {fifo_at}: not a regular file (a named pipe, socket or device); "
                           "configsync reads only regular files here: remove it\n")
    assert (repo / "config-snapshots" / "system_config" / "key_0001.yaml").read_text().startswith("config_key: key_0001")


def test_the_lazy_listing_lists_what_the_reading_one_lists(tmp_path: Path) -> None:
    """Files, links to files and to directories, broken links, nested and linked
    directories, .gitkeep: the same entries, the same symlink flags, the same bytes."""
    repo = tmp_path / "repo"
    config = _repo(repo)
    snapshots = repo / "config-snapshots"
    outside = tmp_path / "outside"
    (outside / "inner").mkdir(parents=True)
    (outside / "x.yaml").write_text("a: 1\n")
    (snapshots / "system_config" / "link.yaml").symlink_to(outside / "x.yaml")
    (snapshots / "system_config" / "broken.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (snapshots / "linked_table").symlink_to(outside)
    (snapshots / "system_config" / "deeper" / "deepest").mkdir(parents=True)
    (snapshots / "system_config" / "deeper" / "deepest" / "k.yaml").write_text("b: 2\n")
    (snapshots / "system_config" / "deeper" / "inner").symlink_to(outside / "inner")
    (snapshots / "system_config" / ".gitkeep").write_text("")
    (snapshots / "notes.txt").write_text("x\n")
    for tables in (None, ["system_config", "contracts", "linked_table"]):
        eager = Repo(config).worktree_source(tables)
        lazy = Repo(config).worktree_source(tables, lazy=True)
        assert sorted((f.path, f.symlink) for f in lazy.snapshots) == sorted((f.path, f.symlink) for f in eager.snapshots)
        assert {f.path: f.data for f in lazy.snapshots} == {f.path: f.data for f in eager.snapshots}
        assert lazy.schemas.keys() == eager.schemas.keys()
        assert ("config-snapshots/system_config/deeper/inner", True) in {(f.path, f.symlink) for f in lazy.snapshots}


def test_reading_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path, where: str) -> None:
    """load_state pauses the collector and parallel.mapped freezes what the workers
    share: both undone after, with problems found or not, and a paused collector stays paused."""
    import gc
    repo = tmp_path / "repo"
    config = _repo(repo)
    keys = {t: s.key for t, s in config.tables.items()}
    assert gc.isenabled()
    assert validation.problems_in(config, Repo(config).worktree_source(lazy=True), keys) == []
    assert gc.isenabled() and gc.get_freeze_count() == 0
    (repo / "config-snapshots" / "system_config" / "key_0002.yaml").write_text("config_key: [\n")
    assert validation.problems_in(config, Repo(config).worktree_source(lazy=True), keys)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        validation.problems_in(config, Repo(config).worktree_source(lazy=True), keys)
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()
