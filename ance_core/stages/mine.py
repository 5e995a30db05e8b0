"""`ance mine --config EXP --checkpoint CKPT --out DIR [--refresh R] [--seed S] [--no-eval] [--json]`

One refresh by hand (what the ANCE loop does between training chunks): embed
the corpus (or reuse the cached embeddings of this checkpoint), retrieve the
train queries' top-K, sample the experiment's rank segment and write
`DIR/negatives/negatives-<R>.jsonl` + `.stats.json`, then evaluate the dev
split into `DIR/eval/refresh-<R>.json` (skip with --no-eval).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ance_core.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="experiment YAML (segment, top_k, data, model)")
    parser.add_argument("--checkpoint", required=True, help="'minilm', one of our checkpoints, a HF model folder or name")
    parser.add_argument("--out", required=True, type=Path, help="run directory: negatives/ and eval/ go inside")
    parser.add_argument("--refresh", type=int, default=0, help="refresh number: names the files, seeds the sample (0)")
    parser.add_argument("--seed", type=int, help="experiment seed (default: the experiment's first)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="override an experiment field, e.g. --set ance.segment.n=10 (repeatable)")
    parser.add_argument("--no-eval", action="store_true", help="mine only, no dev evaluation")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: a GPU if there is one)")
    parser.add_argument("--json", action="store_true", help="print the stats (and dev metrics) as one JSON object")


def main(args: argparse.Namespace) -> int:
    from ance_core.config import experiment_hash, load_experiment
    from ance_core.console import out_console
    from ance_core.io.manifest import write_manifest
    from ance_core.mining import refresh
    from ance_core.data.negatives import NEGATIVES_DIR

    if args.refresh < 0:
        raise InputError.single("command line", "--refresh", "a refresh number >= 0", args.refresh)
    experiment = load_experiment(args.config, args.overrides)
    seed = experiment.seeds[0] if args.seed is None else args.seed
    result = refresh(experiment, args.checkpoint, args.out, args.refresh, seed, evaluate=not args.no_eval,
                     device=args.device)
    write_manifest(args.out / NEGATIVES_DIR, "mine", experiment_hash(experiment), refresh=args.refresh, seed=seed,
                   checkpoint=args.checkpoint)
    if args.json:
        summary = {**result.stats, "negatives": str(result.negatives_path), "eval": dict(result)}
        sys.stdout.write(json.dumps(summary) + "\n")
        return 0
    from rich.table import Table

    stats = result.stats
    table = Table(title=f"refresh {args.refresh}: {stats['segment']}", show_header=False)
    rows = [
        ("negatives file", str(result.negatives_path)),
        ("queries mined", f"{stats['queries']} of {stats['queries_with_positive']} with a positive"),
        (f"positive in top-{stats['top_k']}", f"{stats['positive_in_topk']:.4f}"),
        ("positive rank mean / median", f"{stats['positive_rank']['mean']} / {stats['positive_rank']['median']}"),
        ("negative rank mean (min..max)", f"{stats['negative_rank']['mean']} ({stats['negative_rank']['min']}.."
                                          f"{stats['negative_rank']['max']})"),
        ("negatives per query", f"{stats['negatives_per_query']['mean']}"),
        ("negatives judged relevant", str(stats["qrels_overlap"])),
        ("seconds", ", ".join(f"{k} {v:.1f}" for k, v in stats["seconds"].items())),
    ]
    rows += [(f"dev {name}", f"{value:.4f}") for name, value in result.items()]
    for name, value in rows:
        table.add_row(name, value)
    out_console.print(table)
    return 0
