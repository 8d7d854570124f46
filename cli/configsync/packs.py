"""Many new blobs written to git as one pack, instead of one loose object each.

A snapshot that commits 300,000 record files wrote 300,000 loose objects
(one file, one directory lookup each): most of the cost of `snapshot
--commit`. Objects are named by their content, so storing them in a pack
changes no id: the trees and commits are the same either way. The pack and
its index (formats: git's Documentation/gitformat-pack.txt) are written here,
without the git command line, which configsync does not require; libgit2
finds a new pack the first time it looks for an object it does not know.
"""
from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import pygit2

#: Fewer new blobs than this are written loose, as git itself does.
MIN_OBJECTS = 100

_BLOB = 3  # the pack's object type number for a blob
_LARGE_OFFSET = 0x80000000


def _object_header(size: int) -> bytes:
    """A pack entry's type and size: 3 bits of type, the size in 4 + 7n bits, little end first."""
    out = bytearray()
    byte = (_BLOB << 4) | (size & 0x0F)
    size >>= 4
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


def write_blobs(repo: pygit2.Repository, blobs: Sequence[bytes]) -> list[pygit2.Oid]:
    """Store ``blobs`` in ``repo`` and return their ids, in order: as one pack
    when there are many, else loose (``Repository.create_blob``)."""
    if len(blobs) < MIN_OBJECTS:
        return [repo.create_blob(data) for data in blobs]
    ids = [hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).digest() for data in blobs]
    unique = dict(zip(ids, blobs, strict=True))
    seen: dict[bytes, tuple[int, int]] = {}  # id -> (offset in the pack, crc32 of its entry)
    pack = hashlib.sha1(usedforsecurity=False)
    directory = _objects(repo) / "pack"
    directory.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix="tmp_pack_", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            header = b"PACK" + struct.pack(">II", 2, len(unique))
            out.write(header)
            pack.update(header)
            offset = len(header)
            for oid, data in unique.items():
                entry = _object_header(len(data)) + zlib.compress(data)
                seen[oid] = (offset, zlib.crc32(entry))
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
    return [pygit2.Oid(raw=oid) for oid in ids]


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
