"""Streaming readers for the MS MARCO layout: plain or gzip, one clear error per bad row.

Rows are yielded one at a time, so an 8.8M-passage collection never has to be
held as Python objects all at once. Every error names the file and the line:
wrong column count, bytes that are not UTF-8, a gzip that ends early.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ance_core.errors import InputError


def open_bytes(path: str | Path) -> IO[bytes]:
    """Open plain or gzip by the file's magic bytes, not its name."""
    path = Path(path)
    if not path.is_file():
        raise InputError.single(path, "file", "an existing file", "no such file")
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, text without the newline) for every line; errors name file and line."""
    path = Path(path)
    lineno = 0
    with open_bytes(path) as handle:
        reader = io.BufferedReader(handle, buffer_size=1 << 20) if not isinstance(handle, io.BufferedReader) else handle
        while True:
            try:
                raw = reader.readline()
            except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
                raise InputError.single(
                    path, f"line {lineno + 1}", "a complete gzip stream", f"it ends early ({exc})", raw=True
                ) from None
            if not raw:
                return
            lineno += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError.single(
                    path, f"line {lineno}", "UTF-8 text", f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1}", raw=True
                ) from None
            yield lineno, text.rstrip("\r\n")


def iter_rows(path: str | Path, columns: int, *, whitespace: bool = False) -> Iterator[tuple[int, list[str]]]:
    """Rows of exactly `columns` fields, tab-separated (or any whitespace for TREC qrels).

    Blank lines are skipped; the last column of a tab-separated row may itself
    hold spaces (passage text), so a tab split is limited to `columns` fields.
    """
    for lineno, text in iter_lines(path):
        if not text.strip():
            continue
        fields = text.split() if whitespace else text.split("\t", columns - 1)
        if len(fields) != columns:
            sep = "whitespace" if whitespace else "tab"
            raise InputError.single(
                path, f"line {lineno}", f"{columns} {sep}-separated columns", f"{len(fields)}: {text[:60]!r}", raw=True
            )
        yield lineno, fields
