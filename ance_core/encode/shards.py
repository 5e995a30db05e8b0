"""Embedding shards on disk: `shard-<i>-of-<n>/` folders that read back as one matrix.

```
<out>/shard-00000-of-00004/   embeddings.npy (float16, rows x dim), ids.txt, shard.json, manifest.json, COMPLETE
<out>/shard-00001-of-00004/   ...
```
A shard folder is written with `atomic_dir`, so it is complete or absent. Each
`shard.json` carries the same `key` (encoder fingerprint, content digest, max
length, kind, precision) and its row range; `load_embeddings` concatenates the
shards in order after checking that all of them exist, share the key and tile
the rows without a gap. A SLURM array task, a torchrun rank or one process
writing the only shard all produce the same layout.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ance_core.data.readers import IdIndex
from ance_core.errors import InputError, StageError
from ance_core.io.atomic import atomic_dir, is_complete, write_json
from ance_core.io.manifest import write_manifest

SHARD_DIR = re.compile(r"^shard-(\d{5})-of-(\d{5})$")


def shard_dir(out: str | Path, index: int, count: int) -> Path:
    return Path(out) / f"shard-{index:05d}-of-{count:05d}"


def read_shard_meta(directory: Path) -> dict[str, Any] | None:
    if not is_complete(directory):
        return None
    try:
        return json.loads((directory / "shard.json").read_text())
    except (OSError, ValueError):
        return None


def shard_done(out: str | Path, index: int, count: int, key: dict[str, Any]) -> bool:
    """A complete shard for the same key is already there (a requeued job skips it)."""
    meta = read_shard_meta(shard_dir(out, index, count))
    return meta is not None and meta.get("key") == key


@contextlib.contextmanager
def shard_writer(
    out: str | Path,
    index: int,
    count: int,
    key: dict[str, Any],
    ids: list[str],
    dim: int,
    rows: tuple[int, int],
    total_rows: int,
    **manifest: Any,
) -> Iterator[np.ndarray]:
    """Yield a memory-mapped float16 (len(ids), dim) array to fill; on success the shard appears complete."""
    if rows[1] - rows[0] != len(ids):
        raise ValueError(f"{len(ids)} ids for rows {rows}: they must agree")
    with atomic_dir(shard_dir(out, index, count)) as tmp:
        vectors = np.lib.format.open_memmap(tmp / "embeddings.npy", mode="w+", dtype=np.float16, shape=(len(ids), dim))
        yield vectors
        vectors.flush()
        del vectors
        (tmp / "ids.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
        write_json(tmp / "shard.json", {
            "key": key, "index": index, "count": count, "rows": list(rows), "total_rows": total_rows, "dim": dim,
        })
        write_manifest(tmp, "encode", **manifest)


def write_shard(
    out: str | Path,
    index: int,
    count: int,
    key: dict[str, Any],
    ids: list[str],
    vectors: np.ndarray,
    rows: tuple[int, int],
    total_rows: int,
    **manifest: Any,
) -> Path:
    """Write vectors already in memory as one shard (see `shard_writer` to fill one in place)."""
    if len(ids) != len(vectors):
        raise ValueError(f"{len(ids)} ids, {len(vectors)} vectors: they must agree")
    with shard_writer(out, index, count, key, ids, int(vectors.shape[1]), rows, total_rows, **manifest) as target:
        target[:] = vectors
    return shard_dir(out, index, count)


def list_shards(out: str | Path) -> dict[int, list[Path]]:
    """Shard folders by their count n (normally a single n)."""
    found: dict[int, list[Path]] = {}
    out = Path(out)
    if out.is_dir():
        for child in sorted(out.iterdir()):
            if match := SHARD_DIR.match(child.name):
                found.setdefault(int(match[2]), []).append(child)
    return found


def load_embeddings(out: str | Path, key: dict[str, Any] | None = None, mmap: bool = False) -> tuple[IdIndex, np.ndarray]:
    """All shards of `out`, in row order: (ids, float16 matrix). Missing or mixed shards are an error."""
    out = Path(out)
    by_count = list_shards(out)
    if not by_count:
        raise InputError.single(out, "folder", "embedding shards (shard-*-of-*/) written by `ance encode`", "none",
                                raw=True)
    if len(by_count) > 1:
        raise StageError(f"{out}: shards of different splits {sorted(by_count)} are mixed; remove the stale ones")
    (count,) = by_count
    metas = []
    for index in range(count):
        meta = read_shard_meta(shard_dir(out, index, count))
        if meta is None:
            raise StageError(f"{out}: shard {index} of {count} is missing or incomplete; run `ance encode --shard "
                             f"{index}/{count}` for it")
        metas.append(meta)
    expected = key if key is not None else metas[0]["key"]
    for meta in metas:
        if meta["key"] != expected:
            raise StageError(f"{out}: shard {meta['index']} was made with {meta['key']}, not {expected}")
    position = 0
    for meta in metas:
        if meta["rows"][0] != position:
            raise StageError(f"{out}: shard {meta['index']} starts at row {meta['rows'][0]}, expected {position}")
        position = meta["rows"][1]
    if position != metas[0]["total_rows"]:
        raise StageError(f"{out}: shards cover {position} of {metas[0]['total_rows']} rows")
    ids: list[str] = []
    parts = []
    for index in range(count):
        directory = shard_dir(out, index, count)
        ids += (directory / "ids.txt").read_text(encoding="utf-8").split("\n")[:-1]
        parts.append(np.load(directory / "embeddings.npy", mmap_mode="r" if mmap else None))
    vectors = parts[0] if count == 1 else np.concatenate(parts)
    return IdIndex(ids, out), vectors
