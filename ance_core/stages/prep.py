"""`ance prep --config EXP [--set FIELD=VALUE ...]`: the data set of a study, ready before any GPU job starts.

The `prep` job of a submission (CPU only, once per data set, shared by every run):

1. `data.dataset` missing and `data.download` set: download it there (`ance data download`);
2. `data.subset`: cut the subset into `<outputs.root>/_cache/` (ance_core.data.subset);
3. tokenize the collection and the train and eval queries with the model's tokenizer
   into the token cache, at the lengths the runs read them with.

Each step finds its result when it is already there, so the job is cheap the
second time; concurrent builders of one cache entry wait for each other (lock).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from ance_core.errors import InputError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="experiment YAML")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a field (repeatable)")


def ensure_dataset(experiment) -> None:
    """Download `data.dataset` when it is missing and `data.download` names what it is; else say how to get it."""
    data = experiment.data
    if data.dataset.startswith("builtin:") or Path(data.dataset).is_dir():
        return
    if data.download is None:
        raise InputError.single(
            None, "data.dataset", "an existing data directory, or data.download naming what to download into it",
            f"{data.dataset} does not exist", raw=True,
        )
    from ance_core.data import msmarco

    log.info("%s is missing: downloading %s into it", data.dataset, data.download)
    base_url, catalog = msmarco.mirror_source()
    msmarco.download_dataset(data.download, data.dataset, base_url=base_url, catalog=catalog)


def main(args: argparse.Namespace) -> int:
    from ance_core.config import load_experiment
    from ance_core.console import out_console
    from ance_core.data.subset import subset_source
    from ance_core.data.tokcache import token_cache
    from ance_core.model import load_encoder
    from ance_core.train.rundir import cache_root

    started = time.perf_counter()
    experiment = load_experiment(args.config, args.set)
    ensure_dataset(experiment)
    source = subset_source(experiment)
    tokenizer = load_encoder(experiment.model.name, experiment.model).tokenizer
    model, cache = experiment.model, cache_root(experiment)
    files = [(source.collection, model.passage_max_len)]
    files += [(source.queries(split), model.query_max_len) for split in dict.fromkeys((experiment.data.train_split, experiment.eval.split))]
    for path, max_len in files:
        tokens = token_cache(tokenizer, path, cache, max_len)
        out_console.print(f"{path}: {len(tokens):,} rows tokenized at {max_len} ({tokens.path})", markup=False, highlight=False, soft_wrap=True)
    out_console.print(f"prep of {experiment.name} done in {time.perf_counter() - started:.1f} s: {source.root}", markup=False, highlight=False, soft_wrap=True)
    return 0
