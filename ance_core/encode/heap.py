"""Give the heap's free pages back to the system between CPU batches (glibc only).

CPU forwards are kept small enough that their activations come from the heap
(`inference.CPU_ACTIVATION_BYTES`): reused memory instead of fresh page faults.
Length-sorted batches change shape at every batch, and glibc keeps the freed
chunks it cannot reuse for the next shape: over the 6,023-passage Debian corpus
the resident size of `ance mine` grew by 700 MiB, all of it free heap.

`malloc_trim` returns it, but trimming after every batch costs about 8% of a
corpus encode (the next batch page-faults its activations in again). So `HeapGuard` trims only when the resident size has grown by more
than `limit` since its last trim: memory stays bounded, and most batches still
reuse warm pages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

GROWTH_LIMIT = 256 << 20
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or None (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def resident_bytes() -> int | None:
    """This process's resident size (Linux /proc), or None elsewhere."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


def release_free_heap() -> bool:
    """Return the heap's free pages to the system now; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


class HeapGuard:
    """Trims the heap once the resident size has grown by `limit` bytes since the last trim (or the start)."""

    def __init__(self, limit: int = GROWTH_LIMIT) -> None:
        self.limit = limit
        self.mark = resident_bytes()
        self.active = _malloc_trim() is not None and self.mark is not None
        self.trims = 0

    def check(self) -> bool:
        """Call between batches; True if it trimmed."""
        if not self.active:
            return False
        if resident_bytes() - self.mark <= self.limit:
            return False
        release_free_heap()
        self.mark = resident_bytes()
        self.trims += 1
        return True
