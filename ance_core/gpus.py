"""No silent CPU fallback: a stage in a job that was given GPUs stops when it cannot use them.

The job scripts the launcher renders export `ANCE_GPUS=<n>` when they ask SLURM
(or the local executor) for n GPUs, and only then; `ance` checks it before any
stage starts. Without the check a node whose driver does not match torch, or a
venv with the CPU build of torch, trains on the CPU until the time limit.
The experiment's `resources.gpus` is not the signal: the same experiment also
runs CPU jobs (data preparation, the report), and CPU tests and the embedded
profile never set the variable.
"""

from __future__ import annotations

import os

from ance_core.errors import DeviceError

GPUS_ENV = "ANCE_GPUS"


def requested_gpus(environ: dict[str, str] | None = None) -> int:
    """How many GPUs the job script said this job was given (0: not a GPU job)."""
    value = (os.environ if environ is None else environ).get(GPUS_ENV, "").strip()
    if not value:
        return 0
    try:
        count = int(value)
    except ValueError:
        raise DeviceError(f"{GPUS_ENV}: expected a number of GPUs, found {value!r}") from None
    return max(count, 0)


def require_requested_gpus() -> None:
    """Raise DeviceError (exit 2) naming the reason and the versions found when a GPU job has no usable CUDA."""
    requested = requested_gpus()
    if not requested:
        return
    import torch

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    found = (
        f"torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'}, "
        f"CUDA_VISIBLE_DEVICES={visible if visible is not None else '(unset)'}"
    )
    if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:  # ROCm builds drive GPUs too
        reason = "torch is built without CUDA (torch.version.cuda is None)"
        fix = "install the CUDA build of torch (README, 'Torch') or run in the image (resources.runtime: apptainer)"
    elif not torch.cuda.is_available():
        reason = "no CUDA device is visible to torch (driver missing or older than the CUDA build, or none allocated)"
        fix = "check `nvidia-smi` on the node and that the driver supports the CUDA build"
    else:
        return
    raise DeviceError(
        f"this job was given {requested} GPU(s) ({GPUS_ENV}={requested}) but cannot use them: {reason}; "
        f"found {found}. Stopping instead of running on the CPU: {fix}."
    )
