"""Streaming readers for the MS MARCO layout: plain or compressed, one clear error per bad row.

Rows are yielded one at a time, so an 8.8M-passage collection never has to be
held as Python objects all at once. Every error names the file and the line:
wrong column count, bytes that are not UTF-8, a compressed stream that ends early.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ance_core.errors import InputError

# Magic bytes -> (name, opener). Detected by content, not by the file name, so a
# `.tsv` that is really gzip (or the reverse) still reads.
_COMPRESSED = {
    b"\x1f\x8b": ("gzip", gzip.open),
    b"\xfd7zXZ\x00": ("xz", lzma.open),
    b"BZh": ("bzip2", bz2.open),
}
LZ4_MAGIC = b"\x04\x22\x4d\x18"
_STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError, OSError)


def compression_of(path: str | Path) -> str | None:
    """'gzip', 'xz', 'bzip2', 'lz4' or None (plain), from the first bytes."""
    with open(path, "rb") as probe:
        head = probe.read(6)
    if head.startswith(LZ4_MAGIC):
        return "lz4"
    return next((name for magic, (name, _) in _COMPRESSED.items() if head.startswith(magic)), None)


def open_bytes(path: str | Path) -> IO[bytes]:
    """Open plain, gzip, xz or bzip2 by the file's magic bytes; a clear error for anything unreadable."""
    path = Path(path)
    try:
        if not path.is_file():
            raise InputError.single(path, "file", "an existing file", "no such file")
        kind = compression_of(path)
        if kind == "lz4":
            raise InputError.single(
                path, "file", "plain, gzip, xz or bzip2 data", "lz4 (decompress it first, e.g. `lz4 -d`)", raw=True
            )
        for _magic, (name, opener) in _COMPRESSED.items():
            if name == kind:
                return opener(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")
    except OSError as exc:  # permissions, a name too long, a directory...
        raise InputError.single(path, "file", "a readable file", exc.strerror or str(exc), raw=True) from None


def iter_stream_lines(path: str | Path, handle: IO[bytes], kind: str = "compressed") -> Iterator[tuple[int, str]]:
    """(line number, text without the newline) from an open binary stream; errors name `path` and the line."""
    reader = handle if isinstance(handle, io.BufferedReader) else io.BufferedReader(handle, buffer_size=1 << 20)  # type: ignore[arg-type]
    lineno = 0
    while True:
        try:
            raw = reader.readline()
        except _STREAM_ERRORS as exc:
            raise InputError.single(
                path, f"line {lineno + 1}", f"a complete {kind} stream", f"it ends early or is damaged ({exc})", raw=True
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


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, text without the newline) for every line; errors name file and line."""
    path = Path(path)
    with open_bytes(path) as handle:
        kind = compression_of(path) or "plain"
        yield from iter_stream_lines(path, handle, kind)


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
