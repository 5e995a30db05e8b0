"""Keys of experiments: a run folder's (the whole experiment) and the shared warm-up's.

The warm-up key is the one place that says which fields shape `<outputs.root>/_warmup/<key>-seed<S>/`.

Every strategy of a seed starts from one warm-up, so two experiments share it
exactly when they agree on every field its outputs depend on: checkpoint-0, the
BM25 negatives-0, the metrics.jsonl with its `train` events and the bm25 and
zero-shot baselines. Both `ance_core.loop.warmup` (the folder) and
`launcher.plan` (one warm-up job per key and seed) import it; it needs no torch.

Fields left out, and why (tests/ance_core/config/test_warmup_key.py walks the schema
and fails on a field that is in neither list):
* name, description, strategy, seeds, outputs.root, sweep_point: labels; the seed itself is in the folder name,
  and the folder lives under outputs.root; a sweep's window is its runs' ance.segment.
* warmup.enabled, warmup.init_checkpoint: an experiment with a warm-up has them at true and null.
* ance.mode, top_k, refresh_every, refreshes, query_fraction, segment: the ANCE loop after checkpoint-0.
* ance.encode.batch_size: batching does not change an embedding (the embedding cache's key leaves it out too).
* train.lr, warmup_steps, schedule_steps: the warm-up takes warmup.lr, warmup.warmup_steps and warmup.schedule_steps.
* logging.tensorboard: event files mirror metrics.jsonl; they change no number the warm-up writes.
* train.checkpoint_every, keep_last: resume points only, deleted once checkpoint-0 is written.
* eval.every_refreshes: the warm-up evaluates once (its baselines).
* data.download: how data.dataset comes to exist (the prep job downloads into it when it is missing), not what
  it holds; the warm-up reads whatever the folder holds, and data.dataset is in the key.
* resources (the job shapes, hf_home, mail, sbatch included): the warm-up is one process on at most one GPU
  (launcher/templates/warmup.sh.j2) whatever they say, and hf_home is where model.name's weights are read
  from, not which weights.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ance_core.config.schema import Experiment

WARMUP_KEY_FIELDS = (
    "data.dataset",  # the collection, the train queries (BM25 negatives, training) and the eval split (baselines)
    "data.files",
    "data.subset",
    "data.train_split",
    "model",  # the starting weights and every spec field the training and the zero-shot baseline use
    "warmup.bm25_depth",
    "warmup.negatives_per_query",
    "warmup.steps",
    "warmup.lr",
    "warmup.query_fraction",
    "warmup.batch_size",  # the warm-up's own recipe (null: the train section's value, which is in the key too)
    "warmup.grad_accum",
    "warmup.precision",
    "warmup.passage_max_len",
    "warmup.warmup_steps",
    "warmup.schedule_steps",
    "ance.encode.precision",  # the zero-shot baseline's embeddings
    "ance.encode.quantize_cpu",
    "ance.index",  # the zero-shot baseline's search
    "train.batch_size",
    "train.grad_accum",
    "train.schedule",
    "train.optimizer",
    "train.weight_decay",
    "train.max_grad_norm",
    "train.loss",
    "train.precision",
    "train.log_every",  # which `train` events the warm-up's metrics.jsonl holds
    "eval.split",  # the baselines
    "eval.metrics",
    "eval.max_queries",
)


def digest(value: Any) -> str:
    """16 hex digits of a JSON value, the same for equal values whatever their key order."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def experiment_hash(experiment: "Experiment") -> str:
    """The whole experiment's: a run folder belongs to exactly one configuration."""
    return digest(experiment.model_dump(mode="json"))


def _pick(dump: dict[str, Any], path: str) -> Any:
    value: Any = dump
    for part in path.split("."):
        value = value[part]
    return value


def warmup_key(experiment: "Experiment") -> str:
    """16 hex digits naming the warm-up `experiment` needs (the same for every strategy that can share it)."""
    dump = experiment.model_dump(mode="json")
    return digest({path: _pick(dump, path) for path in WARMUP_KEY_FIELDS})
