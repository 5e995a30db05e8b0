"""Read log and metrics files line by line, plain or gzip, without trusting them.

Logs come from clusters: SLURM output with stray bytes from progress bars, and
`metrics.jsonl` files that a running (or killed) process may have left with a
partial last line. So lines are decoded with replacement characters instead of
failing, and each line says whether it ended with a newline.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ance_core.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based, as an editor shows it
    text: str  # without the line break
    complete: bool  # False only for a last line with no newline (a write that did not finish)


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as probe:
        return probe.read(2) == GZIP_MAGIC


def read_lines(path: str | Path) -> Iterator[Line]:
    """Every line of a plain or gzip file (chosen by magic bytes, not by name)."""
    path = Path(path)
    if not path.is_file():
        raise InputError.single(path, "file", "an existing file", "no such file")
    opener = gzip.open if is_gzip(path) else open
    number = 0
    try:
        with opener(path, "rb") as handle:
            for raw in handle:
                number += 1
                complete = raw.endswith(b"\n")
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                yield Line(number, text, complete)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError.single(
            path, f"line {number + 1}", "a complete gzip stream", f"it ends early ({exc})", raw=True
        ) from None
