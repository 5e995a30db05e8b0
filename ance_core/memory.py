"""Peak memory of one stretch of work (a refresh), for the report's resource analysis.

A process's lifetime peak says little about a refresh that runs after training
grew the heap, so on Linux the peak resident set (VmHWM) is reset by writing
"5" to /proc/self/clear_refs (proc(5)) and read back at the end: the refresh's own
peak. Where that is refused (another OS, a locked-down /proc) the lifetime peak
(`ru_maxrss`) is reported and `rss_scope` says so ("process" instead of "since"). On CUDA the allocator's peak
is reset and read the same way; torch is only consulted when already imported.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")
_MIB = 2**20


def _reset_rss_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def _rss_peak_mib(scoped: bool) -> float:
    if scoped:
        try:
            for line in _STATUS.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / _MIB
        except (OSError, ValueError, IndexError):
            pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / _MIB  # KiB on Linux


def _cuda():
    torch = sys.modules.get("torch")
    return torch.cuda if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized() else None


class PeakMemory:
    """Resets the peaks when made; `read()`: peak_rss_mib, rss_scope ('since' the reset or 'process'), peak_gpu_mib on CUDA."""

    def __init__(self) -> None:
        self.scoped = _reset_rss_peak()
        self.cuda = _cuda()
        if self.cuda is not None:
            self.cuda.reset_peak_memory_stats()

    def read(self) -> dict[str, float | str]:
        found: dict[str, float | str] = {"peak_rss_mib": round(_rss_peak_mib(self.scoped), 1),
                                         "rss_scope": "since" if self.scoped else "process"}
        if self.cuda is not None:
            found["peak_gpu_mib"] = round(self.cuda.max_memory_allocated() / _MIB, 1)
        return found
