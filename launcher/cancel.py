"""Cancel jobs of a submission: scancel for SLURM jobs, SIGTERM for the local executor's scripts.

The batch scripts forward TERM to their stage and record `cancelled`
(launcher/templates/_partials/lib.sh.j2), so a local job stops the way a SLURM one
does; the local executor then skips the jobs that depended on it, as `afterok`
makes SLURM cancel them.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterable

from launcher.records import Submission
from launcher.slurm import Slurm
from launcher.status import collect


def cancel_jobs(submission: Submission, keys: Iterable[str] | None = None, slurm: Slurm | None = None) -> list[str]:
    """Stop the unfinished jobs named by `keys` (every job when None); returns the SLURM ids or local keys stopped."""
    wanted = None if keys is None else set(keys)
    entries = [entry for entry in submission.jobs if wanted is None or entry.key in wanted]
    if submission.executor == "slurm":
        slurm = slurm or Slurm()
        unfinished = {status.key for status in collect(submission, slurm) if not status.finished}
        ids = [entry.job_id for entry in entries if entry.job_id and entry.key in unfinished]
        if ids:
            slurm.cancel(ids)
        return ids
    stopped = []
    for entry in entries:
        record = submission.record(entry.key)
        # A pid means something only on the host that wrote it (runs roots are often shared over NFS).
        if not record or record.get("state") != "running" or record.get("host") != socket.gethostname():
            continue
        if isinstance(record.get("pid"), int):
            try:
                os.kill(record["pid"], signal.SIGTERM)
                stopped.append(entry.key)
            except ProcessLookupError:
                pass
    return stopped
