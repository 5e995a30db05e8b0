"""`ance refresh0 --config EXP [--seed S] [--set FIELD=VALUE ...]`: what every strategy's refresh 0 shares.

The `refresh0` job of a submission (once per start checkpoint and seed): with the
start checkpoint (the warm-up's checkpoint-0, `warmup.init_checkpoint` or
`model.name`) it encodes the collection, the train queries refresh 0 mines and the
eval queries into the embedding cache `<outputs.root>/_cache/embeddings/`, and ranks
the train queries into the ranking cache `_cache/rankings/` (ance_core.mining.rankings),
with the options refresh 0 of a run uses, so that each strategy's refresh 0 finds them
and only samples. Up to 15 strategies' jobs never encode the same refresh 0: a cache
entry being built is locked (ance_core.io.lock) and the next builder finds it complete.
"""

from __future__ import annotations

import argparse
import logging
import time

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ance_core.train.runtime import add_experiment_arguments

    add_experiment_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from ance_core.console import out_console
    from ance_core.data.subset import subset_source
    from ance_core.encode import embed_collection, embed_file
    from ance_core.mining.mine import search_depth
    from ance_core.mining.rankings import cached_search
    from ance_core.mining.refresh import train_queries
    from ance_core.model import load_encoder
    from ance_core.train import distributed as D
    from ance_core.train.rundir import cache_root
    from ance_core.train.runtime import experiment_for, setup_process
    from ance_core.train.signals import Requeue, stop_on_signals
    from ance_core.loop.warmup import start_checkpoint

    started = time.perf_counter()
    experiment, seed = experiment_for(args)
    setup_process(experiment)
    dist = D.init_distributed()
    with stop_on_signals() as stop:
        try:
            start = start_checkpoint(experiment, seed, dist, stop)  # after the warm-up job: found complete
        except Requeue as exc:
            log.warning("%s", exc)
            return exc.exit_code
        finally:
            D.shutdown()
    ance, encode = experiment.ance, experiment.ance.encode
    # The options of ance_core.mining.refresh, so the cache keys are the ones refresh 0 looks up.
    options = dict(batch_size=encode.batch_size, precision=encode.precision, device=None,
                   quantize=encode.quantize_cpu, show_progress=True)
    cache = cache_root(experiment)
    source = subset_source(experiment)
    encoder = load_encoder(start, experiment.model)
    collection_ids, corpus = embed_collection(encoder, source, cache, **options)
    qids, positives, query_vectors = train_queries(experiment, encoder, source, collection_ids, cache, 0, seed, options)
    depth = search_depth(ance.segment, ance.top_k, positives)
    cached_search(cache, query_vectors, corpus, depth, index=ance.index)
    dev_ids, _ = embed_file(encoder, source.queries(experiment.eval.split), "query", cache, **options)
    out_console.print(
        f"refresh 0 of seed {seed} with {start}: {len(collection_ids):,} passages and {len(dev_ids):,} "
        f"{experiment.eval.split} queries embedded, {len(qids):,} train queries ranked {depth} deep, in {cache} "
        f"({time.perf_counter() - started:.1f} s)", markup=False, highlight=False, soft_wrap=True)
    return 0
