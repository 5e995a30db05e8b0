"""Deterministic, atomic TSV writers: plain or gzip, byte-identical for the same rows.

`gzip` normally stamps the current time and the file name into its header, so
two runs of the same command would differ. Here the header carries mtime 0 and
no name (Python always writes OS byte 255), so the bytes depend only on the
rows and on the zlib build. Files appear under their final name only when
complete (temp file + rename, see `ance_core.io.atomic`).
"""

from __future__ import annotations

import contextlib
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ance_core.io.atomic import atomic_writer

# Level 9 costs little on the sizes written here and keeps the embedded data small.
COMPRESS_LEVEL = 9


@contextlib.contextmanager
def text_writer(path: str | Path, compress: bool | None = None) -> Iterator[IO[str]]:
    """A UTF-8 text handle writing `path` atomically; gzip when `compress` (default: name ends in .gz).

    Lines must be written with "\\n"; no newline translation happens.
    """
    path = Path(path)
    compress = path.name.endswith(".gz") if compress is None else compress
    with atomic_writer(path, "wb") as raw:
        if compress:
            # filename="" keeps the name out of the header; mtime=0 keeps the clock out.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=COMPRESS_LEVEL, mtime=0) as zipped:
                with io.TextIOWrapper(zipped, encoding="utf-8", newline="") as text:
                    yield text
        else:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            try:
                yield text
                text.flush()
            finally:
                text.detach()  # leave `raw` open: atomic_writer fsyncs and closes it


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip of an in-memory blob (same header rules as `text_writer`)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=COMPRESS_LEVEL, mtime=0) as zipped:
        zipped.write(data)
    return buffer.getvalue()
