"""Errors for bad input that a user can act on.

Every message names the file, the place in it (line or field path), what was
expected and what was found, so that a user never has to read a traceback.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

# OSError numbers that mean "the disk cannot take this write" (full, quota, read-only, no permission):
# stages stop with exit 1 and a clear message; atomic writers left earlier files intact.
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)


def _shorten(value: object, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Problem:
    """One thing wrong at one place: `where` is a line ('line 12') or a field path ('train.lr')."""

    where: str
    expected: str
    found: str | None = None

    def describe(self) -> str:
        text = f"{self.where}: expected {self.expected}"
        if self.found is not None:
            text += f", found {self.found}"
        return text


class AnceError(Exception):
    """Base class: errors the CLI reports as one clear message and a non-zero exit."""

    exit_code = 2


class InputError(AnceError):
    """A file (or a command-line value) that is not what it should be."""

    def __init__(self, file: str | Path | None, problems: list[Problem] | Problem):
        self.file = str(file) if file is not None else None
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__(self.render())

    @classmethod
    def single(cls, file, where: str, expected: str, found: object | None = None, *, raw: bool = False):
        found_text = None if found is None else (str(found) if raw else _shorten(found))
        return cls(file, Problem(where, expected, found_text))

    def render(self) -> str:
        head = f"{self.file}" if self.file else "input"
        if len(self.problems) == 1:
            return f"{head}: {self.problems[0].describe()}"
        lines = [f"{head}: {len(self.problems)} problems"]
        lines += [f"  - {p.describe()}" for p in self.problems]
        return "\n".join(lines)


class StageError(AnceError):
    """A stage that cannot go on (missing checkpoint, disk full, ...); the message says what to do."""

    exit_code = 1


class DeviceError(AnceError):
    """The job was given GPUs that this process cannot use: stop at once rather than train on the CPU."""

    exit_code = 2
