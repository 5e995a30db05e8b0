"""The jobs screen's model: our submissions under the runs roots, and the state of each of their jobs.

States come from `launcher.status.collect` (squeue, sacct, then the jobs' own
records). A submission whose jobs have all finished cannot change any more, so
its statuses are kept and not asked for again: with many old submissions a
refresh still costs one squeue call per live submission only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ance_core.errors import AnceError
from launcher.records import Submission, find_submissions, load_submission
from launcher.status import JobStatus, collect

# Submissions listed, newest first: older ones stay reachable with `ance-launch status --all`.
MAX_SUBMISSIONS = 20


@dataclass(frozen=True)
class JobRow:
    submission: Submission
    status: JobStatus

    @property
    def key(self) -> str:
        """Unique over every listed submission; the table's row key."""
        task = "" if self.status.task is None else f"[{self.status.task}]"
        return f"{self.submission.folder}/{self.status.key}{task}"

    @property
    def label(self) -> str:
        return self.status.key if self.status.task is None else f"{self.status.key}[{self.status.task}]"

    def log_path(self) -> Path | None:
        entry = self.submission.entry(self.status.key)
        if entry is None:
            return None
        return self.submission.log_path(entry, self.status.job_id and self.status.job_id.split("_")[0], self.status.task)


@dataclass(frozen=True)
class Snapshot:
    rows: list[JobRow]
    problems: list[str]  # submissions that could not be read, and why


def settled(status: JobStatus) -> bool:
    """Can no longer change. A job not submitted yet (a local chain between two jobs) is not settled."""
    return status.finished and status.state not in ("NOT_SUBMITTED", "WAITING")


class Tracker:
    def __init__(self, roots: Iterable[Path]):
        self.roots = list(roots)
        self._finished: dict[Path, list[JobStatus]] = {}

    def folders(self) -> list[Path]:
        """Submission folders under every root, newest first (ids start with the time)."""
        found = {folder.resolve() for root in self.roots for folder in find_submissions(root)}
        return sorted(found, key=lambda folder: folder.name, reverse=True)[:MAX_SUBMISSIONS]

    def snapshot(self) -> Snapshot:
        rows: list[JobRow] = []
        problems: list[str] = []
        for folder in self.folders():
            try:
                submission = load_submission(folder)
                statuses = self._finished.get(folder) or collect(submission)
            except AnceError as exc:
                problems.append(str(exc))
                continue
            if statuses and all(settled(status) for status in statuses):
                self._finished[folder] = statuses
            rows += [JobRow(submission, status) for status in statuses]
        return Snapshot(rows, problems)
