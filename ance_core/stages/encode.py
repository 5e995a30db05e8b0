"""`ance encode --checkpoint CKPT --data DIR [--split S | --collection] --out DIR [--shard I/N]`

Embeds a collection (or a query split) into float16 shards under --out; see
`ance_core.encode.shards` for the layout and `load_embeddings` to read them back.
Sharding: `--shard I/N` writes shard I of N (a SLURM array task each); under
torchrun every rank writes its own slice of that shard, so N array tasks x W
ranks give N*W shard folders. A shard that is already complete for the same
key is skipped, so a requeued job only does what is left.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from ance_core.config.schema import EncodeConfig, ModelConfig
from ance_core.errors import InputError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True,
                        help="'minilm', one of our checkpoint folders, a HF model folder or a HF hub name")
    parser.add_argument("--data", required=True, help="data directory (MS MARCO layout) or builtin:NAME")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--collection", action="store_true", help="embed the passages")
    what.add_argument("--split", help="embed the queries of this split (queries.<split>.tsv)")
    parser.add_argument("--out", required=True, type=Path, help="output folder for shard-*-of-*/")
    parser.add_argument("--shard", default="0/1", help="I/N: write shard I (0-based) of N (default 0/1)")
    parser.add_argument("--config", type=Path, help="experiment YAML: model and ance.encode settings (flags override)")
    parser.add_argument("--batch-size", type=int, help="texts per batch (default 128, or the experiment's)")
    parser.add_argument("--max-length", type=int, help="truncation length (default: the encoder's for the kind)")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"],
                        help="'auto': bf16 on GPUs that support it, fp32 on CPU")
    parser.add_argument("--quantize", action="store_true", default=None, help="int8 dynamic quantization (CPU only)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: this rank's GPU, else CPU)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--cache-root", type=Path,
                        help="token cache location (default $ANCE_CACHE_ROOT, else OUT/.cache)")


def _settings(args: argparse.Namespace) -> tuple[ModelConfig | None, EncodeConfig, dict[str, str]]:
    if args.config is None:
        return None, EncodeConfig(), {}
    from ance_core.config.loader import load_experiment

    experiment = load_experiment(args.config)
    return experiment.model, experiment.ance.encode, dict(experiment.data.files)


def _init_distributed(device) -> tuple[int, int]:
    """torchrun: (rank, world). Each rank writes its own shard; the group only names the ranks."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def main(args: argparse.Namespace) -> int:
    from ance_core.data.layout import resolve_dataset
    from ance_core.encode.batching import parse_shard
    from ance_core.encode.inference import resolve_device, resolve_precision

    # Check everything cheap before loading a model.
    index, count = parse_shard(args.shard)
    model_cfg, encode_cfg, files = _settings(args)
    batch_size = encode_cfg.batch_size if args.batch_size is None else args.batch_size
    if batch_size < 1:
        raise InputError.single(None, "--batch-size", "a positive integer", batch_size)
    if args.max_length is not None and args.max_length < 2:
        raise InputError.single(None, "--max-length", "an integer >= 2", args.max_length)
    quantize = encode_cfg.quantize_cpu if args.quantize is None else args.quantize
    source = resolve_dataset(args.data, files)
    kind = "passage" if args.collection else "query"
    tsv = source.collection if args.collection else source.queries(args.split)
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision or encode_cfg.precision, device)
    if quantize and device.type != "cpu":
        raise InputError.single(None, "--quantize", "--device cpu (int8 dynamic quantization is CPU-only)", str(device))
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    rank, world = _init_distributed(device)
    try:
        return _encode(args, index * world + rank, count * world, model_cfg, kind, tsv, device, precision,
                       batch_size, quantize)
    finally:
        if world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


def _encode(args, index, count, model_cfg, kind, tsv, device, precision, batch_size, quantize) -> int:
    """Shard `index` of `count` (under torchrun: this rank's contiguous slice of the array task's rows)."""
    from ance_core.data.tokcache import token_cache
    from ance_core.encode.batching import shard_range
    from ance_core.encode.cache import embedding_key
    from ance_core.encode.inference import embed, quantize_for_cpu
    from ance_core.encode.shards import shard_dir, shard_done, shard_writer
    from ance_core.model.loading import load_encoder

    encoder = load_encoder(args.checkpoint, model_cfg)
    if quantize:
        encoder = quantize_for_cpu(encoder)
    max_len = args.max_length or encoder.spec.max_len(kind)
    cache_root = args.cache_root or Path(os.environ.get("ANCE_CACHE_ROOT") or args.out / ".cache")
    tokens = token_cache(encoder.tokenizer, tsv, cache_root, max_len)
    key = embedding_key(str(encoder.fingerprint), tokens.meta["content"], max_len, kind, precision)  # type: ignore[index]
    if shard_done(args.out, index, count, key):
        log.info("shard %d of %d in %s is already complete: nothing to do", index, count, args.out)
        return 0
    start, stop = shard_range(len(tokens), index, count)
    log.info("encoding %s rows %d..%d of %d (shard %d/%d) with %s, %s on %s", kind, start, stop, len(tokens),
             index, count, args.checkpoint, precision, device)
    with shard_writer(
        args.out, index, count, key, tokens.ids.ids[start:stop], encoder.dim, (start, stop), len(tokens),
        checkpoint=args.checkpoint, data=args.data, file=str(tsv), batch_size=batch_size, quantize=quantize,
    ) as vectors:
        embed(encoder, tokens, kind, batch_size=batch_size, precision=precision, device=device,
              rows=slice(start, stop), out=vectors)
    log.info("wrote %s (%d x %d float16)", shard_dir(args.out, index, count), stop - start, encoder.dim)
    return 0
