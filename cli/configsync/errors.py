"""Every error configsync expects to meet, one class per area.

The CLI turns any ``ConfigsyncError`` into its message and exit code 1; anything
else is a bug and is reported as such (see ``cli/base.py``).
"""
from __future__ import annotations

from dataclasses import dataclass


class ConfigsyncError(Exception):
    """Base of all expected errors: the message is shown to the user as is."""


@dataclass(frozen=True, order=True)
class Problem:
    """One finding of validation, rendered as ``file:line: message``."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}: {self.message}"
        return f"{self.file}: {self.message}"


class ValidationError(ConfigsyncError):
    """Record files or schemas are not valid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(
            "\n".join(str(p) for p in self.problems) + f"\n{count} {noun} found."
        )


class ConfigError(ConfigsyncError):
    """configsync.yaml is missing or wrong, or a setting cannot be resolved."""


class BackendError(ConfigsyncError):
    """The database refused, failed or could not be reached."""


class OutcomeUnknownError(BackendError):
    """An apply failed after the write may have partly or wholly happened (a
    commit whose answer was lost, a --non-atomic apply stopped half-way): the
    caller keeps the backup of the previous state instead of discarding it."""


class NotConvergedError(BackendError):
    """The database stored something else than apply wrote (a trigger, a
    rounding, a coercion): the apply was rolled back, since the next plan would
    not be empty."""


class RepoError(ConfigsyncError):
    """A git operation failed: unknown revision, conflict, dirty work tree."""


class UnsafePlanError(ConfigsyncError):
    """The plan is refused by a safety limit (mass deletion) until overridden."""


class DriftRefusedError(ConfigsyncError):
    """Apply would undo an edit made in the database outside configsync (or
    resolve a conflict) and was not told to (--overwrite-drift, --keep-drift)."""


class StalePlanError(ConfigsyncError):
    """The database changed after the plan was made."""


class AbortedError(ConfigsyncError):
    """The user declined the confirmation."""


class NamingError(ConfigsyncError):
    """A record's key cannot become a file name, or two keys give one name."""


class YamlError(ConfigsyncError):
    """A file is not acceptable YAML; ``line`` is 1-based, 0 when unknown."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class PlanFileError(ConfigsyncError):
    """A saved plan cannot be read or was modified."""


class UnsafePathError(ConfigsyncError):
    """A write or delete would go through a symbolic link or leave the repository."""
