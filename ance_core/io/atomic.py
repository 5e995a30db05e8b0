"""Atomic writes: a temp file (or folder) in the same directory, fsync, then rename.

A reader, including the asynchronous trainer polling for new negatives, sees
either the old state or the complete new file, never half a file. A folder is
complete when its `COMPLETE` marker exists; the marker lists the sha256 of every
file so a reader can also verify contents copied between file systems.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

COMPLETE_MARKER = "COMPLETE"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; results on a shared cluster must be readable by the group as
# usual, so the final file gets the permissions a plain open() would have given it.
_FILE_MODE = 0o666 & ~_current_umask()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temp file beside `path`; on success fsync and rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_writer(path, "wb") as handle:
        handle.write(data)


def write_text(path: str | Path, text: str) -> None:
    with atomic_writer(path, "w") as handle:
        handle.write(text)


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Build a folder under a temp name; on success write its COMPLETE marker and rename it into place.

    An existing complete folder at `path` is replaced only after the new one is
    complete, so a crash at any moment leaves one complete copy.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_current_umask())
    try:
        yield tmp
        mark_complete(tmp)
        if path.exists():
            trash = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, trash)
            os.replace(tmp, path)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def mark_complete(directory: str | Path) -> None:
    directory = Path(directory)
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != COMPLETE_MARKER)
    listing = {str(p.relative_to(directory)): sha256_file(p) for p in files}
    write_json(directory / COMPLETE_MARKER, {"files": listing})


def is_complete(directory: str | Path, verify: bool = False) -> bool:
    """True when the folder's COMPLETE marker is whole and names files that are there.

    Without `verify` this costs one small read and a stat per file: a marker copied in
    place by `cp -r` (not renamed) can be seen half-written, and must not count. With
    `verify`, every file's checksum must match too.
    """
    marker = Path(directory) / COMPLETE_MARKER
    try:
        listing = json.loads(marker.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if not isinstance(listing, dict):
        return False
    for name, digest in listing.items():
        file = Path(directory) / name
        if not file.is_file() or (verify and sha256_file(file) != digest):
            return False
    return True


def remove_stale_temps(directory: str | Path) -> int:
    """Delete leftovers of writes that were killed mid-way (`.name.*.tmp`, `.name.*.partial`)."""
    removed = 0
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    for leftover in directory.glob(".*"):
        if leftover.name.endswith((".tmp", ".partial")) or ".old-" in leftover.name:
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            removed += 1
    return removed
