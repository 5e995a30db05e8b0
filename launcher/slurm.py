"""Talk to SLURM through its commands: sbatch, squeue, sacct, scancel.

Every call is an argument list (never a shell line) with a timeout. Failures
become a `SlurmError` that says what to do: no SLURM commands here, the
controller does not answer, or sbatch rejected the script (with its message).
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ance_core.errors import AnceError

log = logging.getLogger(__name__)

JOB_ID = re.compile(r"^\d+(_\d+)?$")
# sbatch/squeue/scancel say one of these when slurmctld is down or unreachable.
_CONTROLLER_DOWN = re.compile(
    r"Unable to contact slurm controller|Connection refused|Socket timed out|Zero Bytes were transmitted"
    r"|Communication connection failure|Unable to establish controller"
)
_ACCOUNTING_OFF = re.compile(r"accounting storage is disabled|slurmdbd|Connection refused", re.IGNORECASE)
_SEP = "|"


class SlurmError(AnceError):
    """SLURM cannot do what was asked; the message says why and what to try."""

    exit_code = 1


@dataclass(frozen=True)
class QueueInfo:
    """A job as squeue shows it (slurmctld keeps finished jobs for MinJobAge, 300 s by default)."""

    job_id: str  # "123", or "123_4" for an array task
    name: str
    state: str  # PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, ...
    reason: str
    elapsed: str
    nodes: str


@dataclass(frozen=True)
class AcctInfo:
    """A job as sacct shows it, on clusters that keep accounting."""

    job_id: str
    name: str
    state: str
    exit_code: int | None
    elapsed: str
    nodes: str


class Slurm:
    """The SLURM commands, run as subprocesses. `env` overrides the environment (e.g. SLURM_CONF)."""

    def __init__(self, env: Mapping[str, str] | None = None, timeout: float = 60.0):
        self.env = None if env is None else dict(env)  # None: the environment at each call (sbatch exports it)
        self.timeout = timeout

    # ------------------------------------------------------------ plumbing

    def _run(self, argv: list[str], what: str) -> subprocess.CompletedProcess[str]:
        log.debug("running %s", argv)
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, env=self.env, check=False)
        except FileNotFoundError:
            raise SlurmError(
                f"{argv[0]} is not installed here (not on PATH), so {what} is impossible. On a cluster, run "
                "ance-launch on a login node; on this machine `make slurm-up` starts a single-node SLURM; "
                "or use --executor local"
            ) from None
        except subprocess.TimeoutExpired:
            raise SlurmError(f"{argv[0]} did not answer within {self.timeout:.0f}s ({what}); is the SLURM controller up?") from None
        if result.returncode != 0 and _CONTROLLER_DOWN.search(result.stderr):
            raise SlurmError(
                f"the SLURM controller does not answer ({_first_error(result.stderr)}), so {what} is impossible; "
                "is the cluster up? (here: `make slurm-up`)"
            )
        return result

    # ------------------------------------------------------------ commands

    def sbatch(self, script: str | Path, dependencies: Iterable[str] = (), extra: Iterable[str] = ()) -> str:
        """Submit `script`; returns its job id. Dependants of a job that fails are cancelled by SLURM."""
        argv = ["sbatch", "--parsable"]
        deps = [str(dep) for dep in dependencies]
        if deps:
            _check_ids(deps)
            argv += [f"--dependency=afterok:{':'.join(deps)}", "--kill-on-invalid-dep=yes"]
        argv += [*extra, str(script)]
        result = self._run(argv, f"submitting {script}")
        if result.returncode != 0:
            raise SlurmError(f"sbatch rejected {script}: {_first_error(result.stderr) or f'exit code {result.returncode}'}")
        # --parsable prints "<id>" or "<id>;<cluster>"
        job_id = result.stdout.strip().split(";")[0]
        if not JOB_ID.match(job_id):
            raise SlurmError(f"sbatch accepted {script} but printed no job id: {result.stdout.strip()!r}")
        return job_id

    def queue(self, job_ids: Iterable[str]) -> dict[str, QueueInfo]:
        """What squeue knows about these jobs (array tasks one by one); jobs it forgot are absent."""
        wanted = {str(job_id).split("_")[0] for job_id in job_ids}
        if not wanted:
            return {}
        # One query for all of this user's jobs: `squeue --jobs` fails outright when one id is forgotten.
        fmt = _SEP.join(["%i", "%j", "%T", "%r", "%M", "%N", "%F"])
        argv = ["squeue", "--noheader", "--array", "--states=all", f"--format={fmt}", f"--user={_user()}"]
        result = self._run(argv, "asking squeue for job states")
        if result.returncode != 0:
            raise SlurmError(f"squeue failed: {_first_error(result.stderr) or f'exit code {result.returncode}'}")
        found = {}
        for line in result.stdout.splitlines():
            parts = line.split(_SEP)
            if len(parts) != 7 or parts[6] not in wanted:
                continue
            job_id, name, state, reason, elapsed, nodes, _ = parts
            found[job_id] = QueueInfo(job_id, name, state, reason, elapsed, nodes)
        return found

    def accounting(self, job_ids: Iterable[str]) -> dict[str, AcctInfo] | None:
        """What sacct knows, or None where the cluster keeps no accounting (no slurmdbd)."""
        ids = sorted({str(job_id).split("_")[0] for job_id in job_ids})
        if not ids:
            return {}
        _check_ids(ids)
        fmt = "JobID,JobName,State,ExitCode,Elapsed,NodeList"
        argv = ["sacct", "--noheader", "--parsable2", "--allocations", f"--format={fmt}", f"--jobs={','.join(ids)}"]
        try:
            result = self._run(argv, "asking sacct for job states")
        except SlurmError:
            return None  # no sacct, or no controller: the records still tell
        if result.returncode != 0:
            if not _ACCOUNTING_OFF.search(result.stderr):
                log.warning("sacct failed: %s", _first_error(result.stderr))
            return None
        found = {}
        for line in result.stdout.splitlines():
            parts = line.split("|")
            if len(parts) != 6:
                continue
            job_id, name, state, exit_code, elapsed, nodes = parts
            code = exit_code.split(":")[0]
            found[job_id] = AcctInfo(job_id, name, state.split()[0], int(code) if code.isdigit() else None, elapsed, nodes)
        return found

    def cancel(self, job_ids: Iterable[str], signal: str | None = None, batch_only: bool = False) -> None:
        ids = [str(job_id) for job_id in job_ids]
        if not ids:
            return
        _check_ids(ids)
        argv = ["scancel"]
        if signal:
            if not re.fullmatch(r"[A-Z0-9]+", signal):
                raise SlurmError(f"scancel: a signal name like USR1 or TERM, found {signal!r}")
            argv.append(f"--signal={signal}")
        if batch_only:
            argv.append("--batch")
        result = self._run([*argv, *ids], f"cancelling {' '.join(ids)}")
        if result.returncode != 0:
            raise SlurmError(f"scancel {' '.join(ids)} failed: {_first_error(result.stderr) or f'exit code {result.returncode}'}")

    def ping(self) -> str | None:
        """None when a controller answers, else why not (for status pages and test skips)."""
        try:
            result = self._run(["sinfo", "--noheader", "--format=%T"], "asking sinfo for the nodes")
        except SlurmError as exc:
            return str(exc)
        if result.returncode != 0:
            return _first_error(result.stderr) or f"sinfo exit code {result.returncode}"
        return None


def _check_ids(ids: Iterable[str]) -> None:
    for job_id in ids:
        if not JOB_ID.match(job_id):
            raise SlurmError(f"a SLURM job id is digits (an array task: digits_digits), found {job_id!r}")


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [""])[-1]


def _user() -> str:
    import getpass

    return getpass.getuser()
