"""Negatives files (docs/ARCHITECTURE.md, "Negatives file"): write, find the newest complete one, read.

`negatives/negatives-<r>.jsonl` holds one JSON object per query,
`{"qid", "pos", "neg", "neg_ranks"}`, and is written atomically;
`negatives-<r>.stats.json` is written after it and carries its sha256 and line
count. A reader takes a negatives file only when its stats file exists and
agrees with it — so the asynchronous trainer, polling while the refresher
writes, never reads a partial file, even one copied in pieces by hand.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ance_core.errors import InputError
from ance_core.io.atomic import atomic_writer, sha256_file, write_json

log = logging.getLogger(__name__)

NEGATIVES_DIR = "negatives"
_NAME = re.compile(r"^negatives-(\d+)\.jsonl$")


def negatives_path(directory: str | Path, refresh: int) -> Path:
    return Path(directory) / f"negatives-{refresh}.jsonl"


def stats_path(negatives: str | Path) -> Path:
    negatives = Path(negatives)
    return negatives.with_name(negatives.name.removesuffix(".jsonl") + ".stats.json")


def write_negatives(path: str | Path, records: Iterable[dict[str, Any]], **stats: Any) -> dict[str, Any]:
    """Write the records atomically, then the stats file (sha256, lines, and `stats`) that completes them."""
    path = Path(path)
    digest = hashlib.sha256()
    lines = 0
    with atomic_writer(path, "wb") as handle:
        for record in records:
            line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
            digest.update(line)
            handle.write(line)
            lines += 1
    full = {**stats, "file": path.name, "sha256": digest.hexdigest(), "lines": lines}
    write_json(stats_path(path), full)
    return full


def read_stats(path: str | Path) -> dict[str, Any] | None:
    try:
        stats = json.loads(stats_path(path).read_text())
    except (OSError, ValueError):
        return None
    return stats if isinstance(stats, dict) and "sha256" in stats and "lines" in stats else None


def is_complete(path: str | Path, verify: bool = True) -> bool:
    """The stats file exists and names this file's sha256 (verify) or at least its presence."""
    path = Path(path)
    stats = read_stats(path)
    if stats is None or not path.is_file():
        return False
    return not verify or sha256_file(path) == stats["sha256"]


@dataclass(frozen=True)
class NegativesFile:
    refresh: int
    path: Path
    sha256: str


def complete_files(directory: str | Path, verify: bool = True) -> list[NegativesFile]:
    """Every complete negatives file in the folder, oldest refresh first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match and is_complete(path, verify):
            found.append(NegativesFile(int(match.group(1)), path, read_stats(path)["sha256"]))  # type: ignore[index]
    return sorted(found, key=lambda f: f.refresh)


def newest_complete(directory: str | Path, newer_than: int = -1) -> NegativesFile | None:
    """The highest-numbered complete file above `newer_than` (a cheap stat check first, sha256 last)."""
    candidates = [f for f in complete_files(directory, verify=False) if f.refresh > newer_than]
    for candidate in reversed(candidates):
        if is_complete(candidate.path, verify=True):
            return candidate
        log.warning("%s does not match its stats file (sha256): skipped", candidate.path)
    return None


def read_negatives(path: str | Path) -> list[dict[str, Any]]:
    """The records of a complete file; a file that does not match its stats is an InputError."""
    path = Path(path)
    stats = read_stats(path)
    if stats is None:
        raise InputError.single(path, "stats", f"a complete negatives file ({stats_path(path).name} beside it)", "none")
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != stats["sha256"]:
        raise InputError.single(path, "sha256", f"{stats['sha256'][:12]}... as in {stats_path(path).name}", "a different file")
    records = []
    for number, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        try:
            record = json.loads(line)
        except ValueError:
            raise InputError.single(path, f"line {number}", "a JSON object", line[:60]) from None
        if not isinstance(record, dict) or not isinstance(record.get("qid"), str):
            raise InputError.single(path, f"line {number}", '{"qid": str, "pos": [...], "neg": [...]}', line[:60])
        records.append(record)
    return records
