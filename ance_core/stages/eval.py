"""`ance eval --checkpoint CKPT --data DIR|builtin:NAME [--split dev | --queries F --qrels F] [--json]`

Embeds the collection and the queries through the embedding cache (a second
evaluation of the same checkpoint on the same corpus encodes nothing), retrieves
the top-k by exact inner product and reports MRR@10, nDCG@10, R@100, R@1000
(ir_measures; R@k capped at the corpus size and reported as R@<N>). `--json`
prints exactly one JSON object on stdout; otherwise a table. The TREC run file
goes to --run-file, by default under <cache>/runs/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
from pathlib import Path

from ance_core.errors import InputError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="'minilm', one of our checkpoints, a HF model folder or name")
    parser.add_argument("--data", required=True, help="data directory (MS MARCO layout) or builtin:NAME")
    parser.add_argument("--split", help="evaluate queries.<split> with qrels.<split> (default: dev)")
    parser.add_argument("--queries", type=Path, help="a queries file (qid<TAB>text) instead of a split")
    parser.add_argument("--qrels", type=Path, help="its qrels file (TREC: qid 0 pid grade)")
    parser.add_argument("--metrics", nargs="+", help="metric names (default: MRR@10 nDCG@10 R@100 R@1000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of a table")
    parser.add_argument("--run-file", type=Path, help="TREC run file to write (default: under <cache>/runs/)")
    parser.add_argument("--config", type=Path, help="experiment YAML: model, encode and index settings, data file names")
    parser.add_argument("--index", choices=["flat", "ivf", "hnsw"], help="search index (default flat: exact)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: a GPU if there is one)")
    parser.add_argument("--batch-size", type=int, help="texts per encoder batch")
    parser.add_argument("--cache-root", type=Path,
                        help="embedding cache (default $ANCE_CACHE_ROOT, else <outputs.root>/_cache, else runs/_cache)")


def _check_inputs(args: argparse.Namespace) -> str | None:
    """The split to evaluate, or None with --queries/--qrels; conflicting options fail before any model loads."""
    if (args.queries is None) != (args.qrels is None):
        raise InputError.single("command line", "--queries/--qrels", "both files, or neither (then --split)", "only one")
    if args.queries is not None and args.split:
        raise InputError.single("command line", "--split", "either --split or --queries/--qrels", "both")
    for path in (args.queries, args.qrels):
        if path is not None and not path.is_file():
            raise InputError.single(path, "file", "an existing file", "no such file")
    if args.batch_size is not None and args.batch_size < 1:
        raise InputError.single("command line", "--batch-size", "a positive integer", args.batch_size)
    return None if args.queries is not None else (args.split or "dev")


def _default_run_file(cache_root: Path, checkpoint: str, model_cfg, queries: Path, collection: Path) -> Path:
    from ance_core.model import encoder_fingerprint

    fingerprint = encoder_fingerprint(checkpoint, model_cfg)[:12]
    where = hashlib.sha256(f"{queries.resolve()}\n{collection.resolve()}".encode()).hexdigest()[:8]
    return cache_root / "runs" / f"{fingerprint}-{where}-{queries.name.split('.tsv')[0]}.run.tsv"


def main(args: argparse.Namespace) -> int:
    from ance_core.config.schema import EncodeConfig
    from ance_core.console import out_console
    from ance_core.data.layout import resolve_dataset
    from ance_core.eval import DEFAULT_METRICS, evaluate_checkpoint, plan_metrics

    split = _check_inputs(args)
    metrics = args.metrics or list(DEFAULT_METRICS)
    try:
        plan_metrics(metrics, 1)  # names only: fail before loading anything
    except ValueError as exc:
        raise InputError.single("command line", "--metrics", "names like MRR@10 nDCG@10 R@100", str(exc), raw=True) from None
    model_cfg, encode_cfg, files, index, outputs_root = None, EncodeConfig(), {}, "flat", None
    if args.config is not None:
        from ance_core.config import load_experiment

        experiment = load_experiment(args.config)
        model_cfg, encode_cfg, files = experiment.model, experiment.ance.encode, dict(experiment.data.files)
        index, outputs_root = experiment.ance.index, experiment.outputs.root
    if args.batch_size is not None:
        encode_cfg = encode_cfg.model_copy(update={"batch_size": args.batch_size})
    index = args.index or index
    source = resolve_dataset(args.data, files)
    cache_root = args.cache_root or Path(
        os.environ.get("ANCE_CACHE_ROOT") or Path(outputs_root or "runs") / "_cache"
    )
    queries = args.queries or source.queries(split)
    run_file = args.run_file or _default_run_file(cache_root, args.checkpoint, model_cfg, queries, source.collection)

    result = evaluate_checkpoint(
        args.checkpoint, source, split=split, queries_path=args.queries, qrels_path=args.qrels, metrics=metrics,
        cache_root=cache_root, model_cfg=model_cfg, encode_cfg=encode_cfg, device=args.device, index=index,
        run_file=run_file,
    )
    where = {"checkpoint": args.checkpoint, "data": args.data}
    where.update({"split": split} if split else {"queries_file": str(args.queries), "qrels_file": str(args.qrels)})
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(**where)) + "\n")
        sys.stdout.flush()
        return 0
    from rich.table import Table

    table = Table(title=f"{args.checkpoint} on {args.data} ({split or args.queries.name})")
    for name in result.metrics:
        table.add_column(name, justify="right")
    table.add_row(*(f"{value:.4f}" for value in result.metrics.values()))
    out_console.print(table)
    notes = [f"{result.queries} queries, {result.corpus} passages, search: {result.engine}"]
    notes += [f"{asked} capped to {shown}: the corpus has {result.corpus} passages" for asked, shown in result.capped.items()]
    notes.append(f"run file: {result.run_file}")
    for note in notes:
        out_console.print(note, style="dim")
    return 0
