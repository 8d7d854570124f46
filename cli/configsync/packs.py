"""Many new git objects written as one pack, instead of one loose object each.

A snapshot that commits 300,000 record files wrote 300,000 loose objects
(one file, one directory lookup each): most of the cost of `snapshot
--commit`. Objects are named by their content, so storing them in a pack
changes no id: the trees and commits are the same either way. The pack and
its index (formats: git's Documentation/gitformat-pack.txt) are written here,
without the git command line, which configsync does not require; libgit2
finds a new pack the first time it looks for an object it does not know.

The trees of new directories go into the same pack, written here too
(``tree_object``): a directory of 100,000 files was 100,000 calls into
libgit2's tree builder, then a loose object of its own.
"""
from __future__ import annotations

import hashlib
import os
import re
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pygit2

#: Fewer new blobs than this are written loose, as git itself does.
MIN_OBJECTS = 100

BLOB = 3  # the pack's object type numbers
TREE = 2
_TYPE_NAMES = {BLOB: b"blob", TREE: b"tree"}
_LARGE_OFFSET = 0x80000000
# Levels 1 to 9 cost the same on files of a few hundred bytes (zlib's set-up
# for each object is most of it); git reads any level.
_LEVEL = zlib.Z_DEFAULT_COMPRESSION

# A tree entry's mode and the space after it, as git writes them (no leading zero for a directory).
_BLOB_MODE = b"100644 "
_TREE_MODE = b"40000 "
# Names a tree written here may hold: no path separator of any system, no NUL,
# not "." or ".." or any name git (or libgit2's tree builder, which checks
# names) treats as .git on some file system (".git", ".GIT.", "git~1"...).
# Any other name is left to libgit2's tree builder, which refuses what it must.
_PLAIN_NAME = re.compile(r"(?!git~)[^./\\:\0][^/\\:\0]*", re.IGNORECASE)
# The same, for names joined by NUL (which no name may hold: counted apart): a
# name that starts badly or is empty, or a character no name may hold.
_NOT_PLAIN = re.compile(r"(?:\A|\0)(?:[.]|git~|\0|\Z)|[/\\:]", re.IGNORECASE)


def object_id(kind: int, data: bytes) -> bytes:
    """The id git gives an object of this type and content (raw, 20 bytes)."""
    return hashlib.sha1(b"%s %d\0" % (_TYPE_NAMES[kind], len(data)) + data, usedforsecurity=False).digest()


def plain_name(name: str) -> bool:
    """Can ``tree_object`` write an entry of this name, as libgit2 would?"""
    return _PLAIN_NAME.fullmatch(name) is not None


def plain_names(names: Sequence[str]) -> bool:
    """``plain_name`` of every name, in one pass over them all."""
    if not names:
        return True
    joined = "\0".join(names)
    return joined.count("\0") == len(names) - 1 and _NOT_PLAIN.search(joined) is None


def tree_object(entries: Iterable[tuple[str, bool, bytes]]) -> bytes:
    """The content of a git tree of (name, is a directory, raw id) entries,
    regular files and directories only, in git's order (a directory sorts as
    if its name ended with "/"; UTF-8 sorts as the text does). ValueError for
    a name ``plain_name`` refuses."""
    listed = sorted((name + "/" if directory else name, name, directory, oid) for name, directory, oid in entries)
    if not plain_names([name for _, name, _, _ in listed]):
        raise ValueError("not a plain file name: " + next(repr(n) for _, n, _, _ in listed if not plain_name(n)))
    parts: list[bytes] = []
    for _, name, directory, oid in listed:
        parts += (_TREE_MODE if directory else _BLOB_MODE, name.encode("utf-8"), b"\0", oid)
    return b"".join(parts)


def _object_header(kind: int, size: int) -> bytes:
    """A pack entry's type and size: 3 bits of type, the size in 4 + 7n bits, little end first."""
    if 16 <= size < 2048:  # two bytes: most record files (this runs once per object of a pack)
        return bytes(((kind << 4) | 0x80 | (size & 0x0F), size >> 4))
    out = bytearray()
    byte = (kind << 4) | (size & 0x0F)
    size >>= 4
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


def write_pack(repo: pygit2.Repository, objects: Sequence[tuple[bytes, int, bytes]],
               meanwhile: Callable[[], None] | None = None) -> None:
    """Store (raw id, type, content) objects in ``repo`` as one pack. Each id
    must be ``object_id`` of its type and content: git names an object by it.

    ``meanwhile`` runs while the pack is written: compressing 100,000 files
    takes a second, by a forked child process where there is fork, beside
    whatever ``meanwhile`` does here. A child that fails leaves no pack; the
    pack is then written here (and its error, if any, raised here)."""
    directory = _objects(repo) / "pack"
    directory.mkdir(parents=True, exist_ok=True)
    child = _fork_writer(directory, objects) if meanwhile is not None else None
    try:
        if meanwhile is not None:
            meanwhile()
    finally:
        written = child is not None and _exited_well(child)
    if not written:
        _write_pack(directory, objects)


def _fork_writer(directory: Path, objects: Sequence[tuple[bytes, int, bytes]]) -> int | None:
    """The pid of a child process writing the pack, None where there is none."""
    if not hasattr(os, "fork"):
        return None
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: the pack, then leave without running any cleanup
        code = 1
        try:
            _write_pack(directory, objects)
            code = 0
        finally:
            os._exit(code)
    return pid


def _exited_well(pid: int) -> bool:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _write_pack(directory: Path, objects: Sequence[tuple[bytes, int, bytes]]) -> None:
    unique = {oid: (kind, data) for oid, kind, data in objects}
    seen: dict[bytes, tuple[int, int]] = {}  # id -> (offset in the pack, crc32 of its entry)
    pack = hashlib.sha1(usedforsecurity=False)
    fd, temporary = tempfile.mkstemp(prefix="tmp_pack_", dir=directory)
    compress, crc32 = zlib.compress, zlib.crc32
    try:
        with os.fdopen(fd, "wb") as out:
            header = b"PACK" + struct.pack(">II", 2, len(unique))
            out.write(header)
            pack.update(header)
            offset = len(header)
            for oid, (kind, data) in unique.items():
                entry = _object_header(kind, len(data)) + compress(data, _LEVEL)
                seen[oid] = (offset, crc32(entry))
                out.write(entry)
                pack.update(entry)
                offset += len(entry)
            checksum = pack.digest()
            out.write(checksum)
        name = directory / f"pack-{checksum.hex()}"
        index = _index(seen, checksum)
        os.chmod(temporary, 0o444)
        os.replace(temporary, name.with_suffix(".pack"))
        # The index last: a reader that finds it finds its pack.
        _write_file(directory, name.with_suffix(".idx"), index)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _objects(repo: pygit2.Repository) -> Path:
    """The object directory: a linked work tree (`git worktree add`) shares its main repository's."""
    git_dir = Path(repo.path)
    common = git_dir / "commondir"
    if common.is_file():
        git_dir = git_dir / common.read_text().strip()
    return git_dir / "objects"


def _index(entries: dict[bytes, tuple[int, int]], checksum: bytes) -> bytes:
    """A version 2 pack index: fan-out table, sorted ids, crc32s, offsets, checksums."""
    ids = sorted(entries)
    fanout = [0] * 256
    for oid in ids:
        fanout[oid[0]] += 1
    total = 0
    for i in range(256):
        total += fanout[i]
        fanout[i] = total
    small: list[int] = []
    large: list[int] = []
    for oid in ids:
        offset = entries[oid][0]
        if offset < _LARGE_OFFSET:
            small.append(offset)
        else:
            small.append(_LARGE_OFFSET | len(large))
            large.append(offset)
    body = b"".join([
        b"\377tOc", struct.pack(">I", 2), struct.pack(">256I", *fanout), *ids,
        struct.pack(f">{len(ids)}I", *(entries[oid][1] for oid in ids)),
        struct.pack(f">{len(small)}I", *small), struct.pack(f">{len(large)}Q", *large), checksum,
    ])
    return body + hashlib.sha1(body, usedforsecurity=False).digest()


def _write_file(directory: Path, path: Path, data: bytes) -> None:
    fd, temporary = tempfile.mkstemp(prefix="tmp_idx_", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o444)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
