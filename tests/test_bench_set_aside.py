"""The bench never deletes files just before it times a command that creates as many:
on ext4 without a journal the kernel then walks every inode freed in the last
minutes for each file it creates (see ``set_aside``). What it is done with is
moved aside, whole, and goes with the bench's temporary directory."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
from bench import set_aside  # noqa: E402


def test_a_tree_set_aside_is_moved_whole_not_deleted(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    tree = work / "repo" / "config-snapshots"
    (tree / "items").mkdir(parents=True)
    for i in range(3):
        (tree / "items" / f"{i}.yaml").write_text(f"id: {i}\n")
    set_aside(tree, work)
    assert not tree.exists()
    kept = list((work / "set-aside").iterdir())
    assert len(kept) == 1
    assert sorted(p.name for p in (kept[0] / "items").iterdir()) == ["0.yaml", "1.yaml", "2.yaml"]
    # a second tree of the same name goes beside the first; a missing one is no error
    tree.mkdir()
    set_aside(tree, work)
    set_aside(work / "never-made", work)
    assert len(list((work / "set-aside").iterdir())) == 2
