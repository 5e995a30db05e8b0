"""Read what a submission left on disk: submission.json, the jobs' records, their logs.

The records are written by the batch scripts themselves (start, end, exit code,
host; see launcher/templates/_partials/lib.sh.j2), so a job's outcome is known
after `slurmctld` has forgotten it and on clusters without accounting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ance_core.errors import InputError, Problem
from ance_core.io.atomic import write_json
from launcher.plan import JOBS_FOLDER, SUBMISSION_FILE

RECORD_STATES = ("running", "completed", "failed", "cancelled", "requeued")


@dataclass(frozen=True)
class JobEntry:
    """One job of a submission, as submission.json lists it."""

    key: str
    template: str
    name: str
    depends_on: tuple[str, ...]
    script: str
    log_name: str
    job_id: str | None
    array_size: int | None
    seed: int | None = None
    experiment: str | None = None
    cpus: int = 1  # resources.cpus: what the local executor reserves for it


@dataclass(frozen=True)
class Submission:
    folder: Path
    id: str
    executor: str
    created: str
    jobs: tuple[JobEntry, ...]

    def entry(self, key: str) -> JobEntry | None:
        return next((job for job in self.jobs if job.key == key), None)

    def record(self, key: str, task: int | None = None) -> dict[str, Any] | None:
        return read_record(self.folder, key, task)

    def log_path(self, job: JobEntry, job_id: str | None = None, task: int | None = None) -> Path | None:
        """The log file of a job (an array task: its own), filled in as SLURM does with %j / %A_%a."""
        job_id = job_id or job.job_id
        if not job_id:
            return None
        name = job.log_name.replace("%A", job_id).replace("%a", str(task if task is not None else 0))
        return self.folder / "logs" / name.replace("%j", job_id)


def _require(data: dict, field: str, kind: type, path: Path) -> Any:
    value = data.get(field)
    if not isinstance(value, kind):
        raise InputError(path, Problem(field, f"a {kind.__name__}", repr(value)))
    return value


def load_submission(folder: str | Path) -> Submission:
    folder = Path(folder)
    path = folder / SUBMISSION_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, Problem("file", "a submission written by ance-launch", "no such file")) from None
    except ValueError as exc:
        raise InputError(path, Problem("document", "JSON", str(exc))) from None
    jobs = []
    for i, raw in enumerate(_require(data, "jobs", list, path)):
        if not isinstance(raw, dict):
            raise InputError(path, Problem(f"jobs[{i}]", "an object", repr(raw)))
        jobs.append(
            JobEntry(
                key=_require(raw, "key", str, path),
                template=_require(raw, "template", str, path),
                name=_require(raw, "name", str, path),
                depends_on=tuple(raw.get("depends_on") or ()),
                script=_require(raw, "script", str, path),
                log_name=_require(raw, "log_name", str, path),
                job_id=raw.get("job_id"),
                array_size=raw.get("array_size"),
                seed=raw.get("seed"),
                experiment=raw.get("experiment"),
                cpus=raw.get("cpus") if isinstance(raw.get("cpus"), int) and raw.get("cpus") > 0 else 1,
            )
        )
    return Submission(folder, _require(data, "submission", str, path), _require(data, "executor", str, path),
                      str(data.get("created", "")), tuple(jobs))


def set_job_ids(folder: str | Path, job_ids: dict[str, str]) -> None:
    """Write the job ids into submission.json (atomically) as jobs get submitted or started."""
    path = Path(folder) / SUBMISSION_FILE
    data = json.loads(path.read_text())
    for job in data["jobs"]:
        if job["key"] in job_ids:
            job["job_id"] = job_ids[job["key"]]
    write_json(path, data)


def read_record(folder: str | Path, key: str, task: int | None = None) -> dict[str, Any] | None:
    """The job's own record, or None while it has not started (or never will)."""
    path = Path(folder) / "records" / (f"{key}_{task}.json" if task is not None else f"{key}.json")
    try:
        record = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        # Written by rename, so never half a file; unreadable means someone else wrote it: treat as absent.
        return None
    return record if isinstance(record, dict) and record.get("state") in RECORD_STATES else None


def find_submissions(runs_root: str | Path) -> list[Path]:
    """Submission folders under a runs root, oldest first (ids start with the time).

    Also one level down: `make reproduce-all` gives each profile its own root
    (`runs/embedded/_jobs/...`), and `--runs runs` should still find them.
    """
    root = Path(runs_root)
    found = [*root.glob(f"{JOBS_FOLDER}/*/{SUBMISSION_FILE}"), *root.glob(f"*/{JOBS_FOLDER}/*/{SUBMISSION_FILE}")]
    return sorted((path.parent for path in found), key=lambda folder: folder.name)


def tail(path: Path | None, lines: int = 20) -> list[str]:
    """The last lines of a log (empty when it does not exist yet)."""
    if path is None or not path.is_file():
        return []
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 64 * 1024))
        text = handle.read().decode("utf-8", errors="replace")
    return text.splitlines()[-lines:]
