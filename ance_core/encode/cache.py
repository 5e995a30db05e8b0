"""Embedding cache: a checkpoint never encodes the same collection (or query split) twice.

```
<cache_root>/tokens/<tokenizer>-<content>-L<max_len>/      token cache (ance_core.data.tokcache)
<cache_root>/embeddings/<key hash>/shard-*-of-*/           embedding shards (ance_core.encode.shards)
<cache_root>/digests/                                      memo of file content digests
```
The key is (encoder fingerprint, file content digest, max length, kind,
precision); an int8-quantized encoder has its own fingerprint. An encoder whose
fingerprint is unknown (trained in memory since it was loaded or saved) is
encoded without touching the cache, with a warning: its vectors could not be
told apart from those of its starting weights.

Under torchrun (an initialised process group), each rank encodes a contiguous
slice into its own shard, then every rank reads all shards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ance_core.data.layout import DataSource
from ance_core.data.readers import IdIndex
from ance_core.data.tokcache import content_digest, token_cache
from ance_core.encode.batching import dist_rank_world, shard_range
from ance_core.encode.inference import embed, quantize_for_cpu, resolve_device, resolve_precision
from ance_core.encode.shards import list_shards, load_embeddings, read_shard_meta, shard_done, shard_writer
from ance_core.io.lock import build_lock
from ance_core.model.encoder import DualEncoder, Kind
from ance_core.model.loading import encoder_fingerprint

log = logging.getLogger(__name__)

EMBEDDING_FORMAT = 1


def embedding_key(fingerprint: str, content: str, max_len: int, kind: str, precision: str) -> dict[str, Any]:
    return {"format": EMBEDDING_FORMAT, "encoder": fingerprint, "content": content, "max_len": int(max_len),
            "kind": kind, "precision": precision}


def key_dir(cache_root: str | Path, key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return Path(cache_root) / "embeddings" / digest


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def embed_file(
    encoder: DualEncoder,
    tsv_path: str | Path,
    kind: Kind,
    cache_root: str | Path,
    *,
    batch_size: int = 128,
    precision: str = "auto",
    device: str | None = None,
    max_length: int | None = None,
    quantize: bool = False,
    show_progress: bool = True,
) -> tuple[IdIndex, np.ndarray]:
    """(ids, float16 vectors) of an `id<TAB>text` file, from the cache or encoded and cached.

    The vectors are a read-only memory map when the cache holds one shard.
    """
    cache_root = Path(cache_root)
    max_len = max_length or encoder.spec.max_len(kind)
    torch_device = resolve_device(device)
    resolved = resolve_precision(precision, torch_device)
    tokens = token_cache(encoder.tokenizer, tsv_path, cache_root, max_len, show_progress=show_progress)
    model = quantize_for_cpu(encoder) if quantize else encoder
    options = dict(batch_size=batch_size, precision=resolved, device=torch_device, show_progress=show_progress)
    if model.fingerprint is None:
        log.warning("the encoder changed since it was loaded or saved: encoding %s without the cache", tsv_path)
        return tokens.ids, embed(model, tokens, kind, **options)

    key = embedding_key(model.fingerprint, tokens.meta["content"], max_len, kind, resolved)  # type: ignore[index]
    out = key_dir(cache_root, key)
    found = _complete(out, key)
    if found is not None:
        log.info("embeddings of %s found in the cache (%s)", tsv_path, out.name)
        return found

    rank, world = dist_rank_world()
    # One process: wait for any other job building this entry (refresh 0 of up to 15 strategies), then
    # find it complete. A torchrun group shares the entry among its ranks and takes no lock: a rank
    # waiting on another job would stall the group's collectives.
    with build_lock(out) if world == 1 else contextlib.nullcontext():
        if world == 1 and (found := _complete(out, key)) is not None:
            log.info("embeddings of %s built by another process meanwhile (%s)", tsv_path, out.name)
            return found
        if rank == 0:  # a killed run with another shard count leaves shards that would mix with these
            for count, folders in list_shards(out).items():
                if count != world:
                    for folder in folders:
                        shutil.rmtree(folder, ignore_errors=True)
        _barrier()
        if not shard_done(out, rank, world, key):
            start, stop = shard_range(len(tokens), rank, world)
            with shard_writer(out, rank, world, key, tokens.ids.ids[start:stop], model.dim, (start, stop),
                              len(tokens), source=str(tsv_path), encoder_source=encoder.source) as vectors:
                embed(model, tokens, kind, rows=slice(start, stop), out=vectors, **options)
        _barrier()
    return load_embeddings(out, key, mmap=True)


def _complete(out: Path, key: dict[str, Any]) -> tuple[IdIndex, np.ndarray] | None:
    """The cached embeddings if a complete shard set for this key is there, whatever its shard count."""
    from ance_core.errors import AnceError

    if not list_shards(out):
        return None
    try:
        return load_embeddings(out, key, mmap=True)
    except AnceError:
        return None


def embed_collection(
    encoder: DualEncoder, source: DataSource, cache_root: str | Path, **options: Any
) -> tuple[IdIndex, np.ndarray]:
    """Passage embeddings of the data set's collection (see `embed_file` for options)."""
    return embed_file(encoder, source.collection, "passage", cache_root, **options)


def embed_queries(
    encoder: DualEncoder, source: DataSource, split: str, cache_root: str | Path, **options: Any
) -> tuple[IdIndex, np.ndarray]:
    """Query embeddings of one split (see `embed_file` for options)."""
    return embed_file(encoder, source.queries(split), "query", cache_root, **options)


def drop_embeddings(cache_root: str | Path, checkpoint: str) -> None:
    """Delete the cached embeddings of `checkpoint` at every precision (a quantized encoder's fingerprint is
    the checkpoint's plus `+int8`). The loop calls it once refresh k >= 1, their only user, is recorded;
    refresh 0's, of the shared start checkpoint, stay for the other strategies."""
    fingerprint = encoder_fingerprint(checkpoint)
    for folder in sorted((Path(cache_root) / "embeddings").glob("*")):
        shards = [path for paths in list_shards(folder).values() for path in paths]
        meta = read_shard_meta(shards[0]) if shards else None
        if meta is not None and str(meta["key"].get("encoder", "")).split("+")[0] == fingerprint:
            trash = folder.with_name(f".{folder.name}.partial")
            folder.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
            log.debug("dropped stale embeddings %s of %s", folder.name, checkpoint)


__all__ = ["content_digest", "drop_embeddings", "embed_collection", "embed_file", "embed_queries", "embedding_key", "key_dir"]
