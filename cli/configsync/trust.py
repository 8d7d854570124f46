"""Planning a pull request with settings it cannot change.

A pull request is untrusted data, its configsync.yaml included. Some settings
decide what a plan reads from the database and what it may show: which tables
(``tables``), which columns name a row (``key``, shown in every label, deleted
rows too), which columns never leave the database (``secret``, ``exclude`` with
its json paths), whether a table is read under row level security (``rls``),
and which table holds the deployment history (``history_table``). A pull
request that drops ``secret: [api_key]`` and adds ``api_key: x`` to a record
would otherwise put the production value in the public plan comment.

``plan --trusted-config FILE`` therefore takes every setting from FILE (the
base branch's configsync.yaml), never from the pull request, and compares the
pull request's copies with it (the work tree's, and the one in the revision
planned, read from git, where they differ):

* a hiding setting differs: the plan is withheld, with the settings named; the
  apply after merge, which runs with the merged settings, shows its plan before
  it writes;
* only other settings differ (``filename``, ``mode``, ``snapshots``,
  ``schemas``, ``notify``, ``database``, ``environments``): the plan is made
  with the trusted values, and a note names the settings it did not take.
  None of them can show a value the trusted settings hide: file names come from
  key values, which the plan shows anyway; the rest say where files are, how
  apply writes, or which database to use, and the plan takes those from FILE.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .config import CONFIG_FILE, Config, TableConfig, find_config, load_config, parse_config
from .errors import ConfigError
from .render import md_code
from .repo import Repo

#: Per-table settings that decide what is read from the database or shown.
HIDING_TABLE_SETTINGS = ("key", "secret", "exclude", "rls")
#: Top-level settings that decide it (besides the set of ``tables`` itself).
HIDING_SETTINGS = ("history_table",)
_TABLE_FIELDS = {"key": "key", "secret": "secret", "exclude": "exclude", "rls": "rls_all_rows_visible",
                 "filename": "filename", "mode": "mode"}
_FIELDS = {"history_table": "history_table", "database": "database", "environments": "environments",
           "snapshots": "snapshots", "schemas": "schemas", "notify": "notify_channel"}


@dataclass(frozen=True)
class SettingChange:
    """One setting the untrusted configsync.yaml changes."""

    setting: str  # e.g. "tables.proposer_configs.secret"
    detail: str = ""  # what changed, for people (column names; never a database value)


@dataclass(frozen=True)
class TrustedSettings:
    """The settings to plan with, and how the untrusted copy differs from them."""

    config: Config  # the trusted file's settings, rooted at the untrusted file's directory
    hiding: list[SettingChange]  # non-empty: the plan is withheld
    other: list[SettingChange]  # the plan is made with the trusted values of these

    @property
    def withheld(self) -> bool:
        return bool(self.hiding)


def trusted_settings(trusted: str | os.PathLike[str], untrusted: str | os.PathLike[str] | None = None,
                     ref: str = "HEAD") -> TrustedSettings:
    """Settings from ``trusted``, for the config repository of ``untrusted``
    (default ./configsync.yaml), and what the untrusted settings change: those
    of the work tree's file and, where it differs, those of the copy in the
    revision ``ref`` that is planned (the one a merge would bring)."""
    if not os.path.isfile(trusted):
        raise ConfigError(f"--trusted-config {trusted}: no such file. The plan takes its settings from there (in a "
                          f"pull request: the base branch's {CONFIG_FILE}); a pull request that adds {CONFIG_FILE} "
                          "is planned once it is merged")
    try:
        base = load_config(trusted)
    except ConfigError as exc:
        raise ConfigError(f"--trusted-config {trusted}: {exc}") from None
    given = Path(untrusted) if untrusted else Path.cwd() / CONFIG_FILE
    if given.is_symlink():
        # A pull request's symbolic link may point anywhere (a file of the runner, /proc/self/environ).
        raise ConfigError(f"{given}: a symbolic link; with --trusted-config it is not followed")
    here = find_config(untrusted)
    settings = dataclasses.replace(base, path=here)
    copies = [load_config(here)]
    repo = Repo(settings)
    revision = repo.resolve(ref)
    data = repo.file_at(revision, CONFIG_FILE)
    hiding: list[SettingChange] = []
    other: list[SettingChange] = []
    if data is None:
        hiding.append(SettingChange(CONFIG_FILE, f"none at {md_code(ref)}"))
    elif data != here.read_bytes():
        try:
            copies.append(parse_config(data, here))
        except ConfigError as exc:
            raise ConfigError(f"{CONFIG_FILE} at {ref}: {exc}") from None
    for copy in copies:
        found_hiding, found_other = compare(base, copy)
        hiding += [c for c in found_hiding if c not in hiding]
        other += [c for c in found_other if c not in other]
    return TrustedSettings(settings, hiding, other)


def compare(trusted: Config, untrusted: Config) -> tuple[list[SettingChange], list[SettingChange]]:
    """The settings ``untrusted`` changes: (those that decide hiding, the others)."""
    hiding: list[SettingChange] = []
    other: list[SettingChange] = []
    added = sorted(set(untrusted.tables) - set(trusted.tables))
    removed = sorted(set(trusted.tables) - set(untrusted.tables))
    if added or removed:
        hiding.append(SettingChange("tables", _join(("adds", added), ("removes", removed))))
    for name in sorted(set(trusted.tables) & set(untrusted.tables)):
        ours, theirs = trusted.tables[name], untrusted.tables[name]
        for setting, field in _TABLE_FIELDS.items():
            if getattr(ours, field) != getattr(theirs, field):
                change = SettingChange(f"tables.{name}.{setting}", _table_detail(setting, ours, theirs))
                (hiding if setting in HIDING_TABLE_SETTINGS else other).append(change)
    for setting, field in _FIELDS.items():
        if getattr(trusted, field) != getattr(untrusted, field):
            (hiding if setting in HIDING_SETTINGS else other).append(SettingChange(setting))
    return hiding, other


def _table_detail(setting: str, ours: TableConfig, theirs: TableConfig) -> str:
    if setting in ("secret", "exclude"):
        before, after = getattr(ours, setting), getattr(theirs, setting)
        return _join(("no longer hides", sorted(before - after)), ("also hides", sorted(after - before)))
    if setting == "key":
        return _join(("from", [", ".join(ours.key) if ours.key else "the primary key"]),
                     ("to", [", ".join(theirs.key) if theirs.key else "the primary key"]))
    return ""


def _join(*parts: tuple[str, Iterable[str]]) -> str:
    return "; ".join(f"{words} {', '.join(md_code(n) for n in names)}" for words, names in parts if names)


def withheld_message(settings: TrustedSettings, markdown: bool) -> str:
    """Why the plan is withheld, for standard output (a pull-request comment
    in CI): the settings, by name, and the column names the change concerns,
    which are in the pull request anyway. Nothing from the database."""
    lines = ["### configsync plan: withheld" if markdown else "Plan withheld.", ""]
    lines.append(f"This pull request changes settings in {CONFIG_FILE} that decide what a plan reads from the "
                 "database and what it may show:")
    lines.append("")
    for change in settings.hiding:
        lines.append(f"- {md_code(change.setting)}" + (f": {change.detail}" if change.detail else ""))
    lines += [
        "",
        "So no plan is made here: one made with the pull request's settings could show values that the base "
        "branch's settings keep hidden, and one made with the base branch's settings would not show what this "
        "pull request does. Review the change to the settings above; after merge, the apply runs with the "
        "merged settings and shows its plan before it writes.",
    ]
    return "\n".join(lines) + "\n"


def other_settings_note(settings: TrustedSettings) -> str:
    """A note under a plan made although the untrusted copy changes other settings."""
    names = ", ".join(md_code(c.setting) for c in settings.other)
    return (f"\nNote: this pull request also changes {names} in {CONFIG_FILE}; this plan was made with the base "
            "branch's values of those settings, and the apply after merge uses the merged ones.\n")


__all__ = ["HIDING_SETTINGS", "HIDING_TABLE_SETTINGS", "SettingChange", "TrustedSettings", "compare",
           "other_settings_note", "trusted_settings", "withheld_message"]
