"""Encoding: length-sorted batched inference, shards on disk, and the embedding cache."""

from ance_core.encode.batching import length_sorted_batches, parse_shard, shard_range
from ance_core.encode.cache import embed_collection, embed_file, embed_queries, embedding_key
from ance_core.encode.inference import embed, quantize_for_cpu, resolve_device, resolve_precision
from ance_core.encode.shards import load_embeddings, shard_writer, write_shard

__all__ = [
    "embed",
    "embed_collection",
    "embed_file",
    "embed_queries",
    "embedding_key",
    "length_sorted_batches",
    "load_embeddings",
    "parse_shard",
    "quantize_for_cpu",
    "resolve_device",
    "resolve_precision",
    "shard_range",
    "shard_writer",
    "write_shard",
]
