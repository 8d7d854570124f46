"""A record's history in git, and finding a record by the name a person types."""
from __future__ import annotations

from dataclasses import dataclass

import pygit2

from . import naming, yamlio
from .changes import Change, changes
from .config import Config
from .errors import ConfigError, RepoError
from .layout import table_dir, twin_name
from .records import Record
from .repo import CommitInfo, PathVersion, Repo
from .values import Row


@dataclass
class RecordVersion:
    """One commit in a record's history and what it did to the record."""

    commit: pygit2.Commit
    action: str  # "created", "deleted", "changed"
    change: Change | None = None  # field-level, for "changed"

    @property
    def commit_info(self) -> CommitInfo:
        return CommitInfo.of(self.commit)

    def to_json(self) -> dict[str, object]:
        info = self.commit_info
        return {"commit": info.id, "time": info.time.isoformat(), "author": info.author, "subject": info.subject,
                "action": self.action, "change": self.change.to_json() if self.change else None}


def _record_version(table: str, version: PathVersion) -> RecordVersion:
    old, new = _parse_row(version.before), _parse_row(version.after)
    if old is None:
        return RecordVersion(version.commit, "created")
    if new is None:
        return RecordVersion(version.commit, "deleted")
    found = changes(table, {(): Record(table, (), new, "")}, {(): Record(table, (), old, "")}, (),
                    missing_fields_differ=True)
    return RecordVersion(version.commit, "changed", found[0] if found else None)


def _parse_row(data: bytes | None) -> Row | None:
    """A record file's row; an unreadable version counts as an empty row."""
    if data is None:
        return None
    try:
        value = yamlio.load(data)
    except yamlio.YamlError:
        return {}
    return value if isinstance(value, dict) else {}


class Records:
    """Records of the config repository, by TABLE/NAME."""

    def __init__(self, config: Config, repo: Repo) -> None:
        self.config, self.repo = config, repo

    def versions(self, record: str) -> list[RecordVersion]:
        table, candidates = self._record_candidates(record)
        for candidate in candidates:
            versions = self.repo.log_path(candidate)
            if versions:
                return [_record_version(table, v) for v in versions]
        raise RepoError(f"{candidates[0].removeprefix(self.config.snapshots + '/')}: no such record in the history of HEAD")

    def _record_candidates(self, record: str) -> tuple[str, list[str]]:
        """The table of TABLE/NAME and the paths NAME may mean: the file's name,
        or the key as typed (percent-encoded, maybe a twin's name)."""
        table, _, name = record.strip("/").partition("/")
        self.config.table(table)
        if not name:
            raise ConfigError(f"{record}: expected TABLE/NAME, e.g. {table}/my-record")
        stem = name.removesuffix(naming.EXTENSION)
        encoded = naming.encode(stem) + naming.EXTENSION
        names = dict.fromkeys([stem + naming.EXTENSION, encoded, twin_name(encoded)])
        return table, [f"{table_dir(self.config, table)}/{n}" for n in names]

    def record_path(self, record: str, commit: pygit2.Commit, where: str) -> tuple[str, str]:
        """The table and path of TABLE/NAME in ``commit``; RepoError if it has none."""
        table, candidates = self._record_candidates(record)
        for candidate in candidates:
            if self.repo.prefix + candidate in commit.tree:
                return table, candidate
        raise RepoError(f"{candidates[0].removeprefix(self.config.snapshots + '/')}: no such record {where}")


__all__ = ["RecordVersion", "Records"]
