"""The warm-up key changes exactly when the warm-up's outputs would, field by field of the schema.

FIELDS classifies every leaf of the schema. A new schema field fails
`test_every_schema_field_is_classified` until it is added here, with whether the
warm-up's outputs (checkpoint-0, the BM25 negatives-0, metrics.jsonl's train
events, the bm25 and zero-shot baselines) depend on it, and a changed value.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from ance_core.config import Experiment, validate_experiment, warmup_key

SHAPES = "shapes the warm-up"
IGNORED = "the warm-up ignores it"
NO_WARMUP = "the changed value means no warm-up at all"

# A base in which every changed value below is valid on its own (a subset to vary, an ANCE head
# whose size can be set, two GPUs so that one can go to the refresher).
BASE: dict[str, Any] = {
    "name": "base",
    "data": {"subset": {"fraction": 0.5}},
    "model": {"ance_head": True},
    "resources": {"gpus": 2},
}

FIELDS: dict[str, tuple[str, Any]] = {
    # labels; the seed itself is in the folder name (seed 0 keeps its warm-up when seed 5 is added)
    "name": (IGNORED, "other"),
    "description": (IGNORED, "words"),
    "strategy": (IGNORED, "label"),
    "seeds": (IGNORED, [0, 5]),
    # the collection and the queries: BM25 negatives, training, baselines
    "data.dataset": (SHAPES, "/elsewhere"),
    "data.files": (SHAPES, {"queries.dev": "queries.dev.small.tsv"}),
    "data.subset.fraction": (SHAPES, 0.3),
    "data.subset.seed": (SHAPES, 8),
    "data.subset.keep_positives_of": (SHAPES, ["dev"]),
    "data.train_split": (SHAPES, "train2"),
    # how data.dataset comes to exist (prep downloads into it when missing), not what it holds
    "data.download": (IGNORED, "msmarco-passage"),
    # the starting weights and the encoder spec trained (saved in checkpoint-0's encoder.json)
    "model.name": (SHAPES, "other-model"),
    "model.pooling": (SHAPES, "cls"),
    "model.normalize": (SHAPES, True),
    "model.ance_head": (SHAPES, False),
    "model.head_dim": (SHAPES, 16),
    "model.similarity": (SHAPES, "cosine"),
    "model.shared_weights": (SHAPES, False),
    "model.query_max_len": (SHAPES, 64),
    "model.passage_max_len": (SHAPES, 256),
    # the warm-up itself; enabled: false and init_checkpoint start from a checkpoint instead
    "warmup.enabled": (NO_WARMUP, False),
    "warmup.init_checkpoint": (NO_WARMUP, "checkpoints/ance-warmup"),
    "warmup.bm25_depth": (SHAPES, 50),
    "warmup.negatives_per_query": (SHAPES, 2),
    "warmup.steps": (SHAPES, 10),
    "warmup.lr": (SHAPES, 1e-5),
    "warmup.query_fraction": (SHAPES, 0.5),
    "warmup.batch_size": (SHAPES, 3),
    "warmup.grad_accum": (SHAPES, 3),
    "warmup.precision": (SHAPES, "bf16"),
    "warmup.passage_max_len": (SHAPES, 16),
    "warmup.warmup_steps": (SHAPES, 2),
    "warmup.schedule_steps": (SHAPES, 99),
    # the ANCE loop after checkpoint-0, except what the zero-shot baseline encodes and searches with
    "ance.mode": (IGNORED, "async"),
    "ance.top_k": (IGNORED, 100),
    "ance.refresh_every": (IGNORED, 100),
    "ance.refreshes": (IGNORED, 2),
    "ance.query_fraction": (IGNORED, 0.5),
    "ance.segment": (IGNORED, {"kind": "random", "windows": [[0, 200]]}),
    "ance.encode.batch_size": (IGNORED, 64),  # batching leaves embeddings as they are (the cache's key agrees)
    "ance.encode.precision": (SHAPES, "bf16"),
    "ance.encode.quantize_cpu": (SHAPES, True),
    "ance.index": (SHAPES, "hnsw"),
    # the trainer the warm-up shares with the runs; it takes its lr and schedule length from `warmup`
    "train.batch_size": (SHAPES, 8),
    "train.grad_accum": (SHAPES, 2),
    "train.lr": (IGNORED, 1e-5),
    "train.schedule": (SHAPES, "constant"),
    "train.warmup_steps": (IGNORED, 100),
    "train.schedule_steps": (IGNORED, 1000),
    "train.optimizer": (SHAPES, "lamb"),
    "train.weight_decay": (SHAPES, 0.01),
    "train.max_grad_norm": (SHAPES, None),
    "train.loss": (SHAPES, {"kind": "infonce"}),
    "train.precision": (SHAPES, "bf16"),
    "train.checkpoint_every": (IGNORED, 100),  # resume points, deleted once checkpoint-0 is written
    "train.keep_last": (IGNORED, 5),
    "train.log_every": (SHAPES, 5),  # which train events metrics.jsonl holds
    # the baselines are evaluated once, on eval.split
    "eval.split": (SHAPES, "test"),
    "eval.metrics": (SHAPES, ["MRR@10"]),
    "eval.every_refreshes": (IGNORED, 2),
    "eval.max_queries": (SHAPES, 100),
    # one process on at most one GPU whatever the resources (launcher/templates/warmup.sh.j2)
    "resources.executor": (IGNORED, "slurm"),
    "resources.runtime": (IGNORED, "apptainer"),
    "resources.image": (IGNORED, "other.sif"),
    "resources.partition": (IGNORED, "gpu"),
    "resources.account": (IGNORED, "project"),
    "resources.qos": (IGNORED, "high"),
    "resources.constraint": (IGNORED, "a100|a40"),
    "resources.nodes": (IGNORED, 2),
    "resources.gpus": (IGNORED, 4),
    "resources.gpus_refresh": (IGNORED, 1),
    "resources.gpu_type": (IGNORED, "a100"),
    "resources.cpu_ranks": (IGNORED, 2),
    "resources.cpus": (IGNORED, 8),
    "resources.mem": (IGNORED, "64G"),
    "resources.time": (IGNORED, "1-00:00:00"),
    "resources.signal_seconds": (IGNORED, 60),
    "resources.requeue": (IGNORED, False),
    "resources.shards": (IGNORED, 4),
    "resources.modules": (IGNORED, ["cuda"]),
    "resources.binds": (IGNORED, ["/scratch"]),
    "resources.mail_user": (IGNORED, "someone@example.org"),
    "resources.mail_type": (IGNORED, "FAIL"),
    "resources.sbatch": (IGNORED, ["--reservation=gpu"]),
    "resources.hf_home": (IGNORED, "/elsewhere/hf"),  # where model.name's weights are read from, not which
    # what each job shape asks SLURM for; the warm-up still is one process on at most one GPU
    **{f"resources.{shape}.{field}": (IGNORED, value)
       for shape in ("prep", "warmup", "refresh0", "report")
       for field, value in (("cpus", 4), ("mem", "8G"), ("time", "01:00:00"), ("partition", "cpu"),
                            ("gpus", 0 if shape in ("prep", "report") else 2))},
    # event files mirror metrics.jsonl's numbers
    "logging.tensorboard": (IGNORED, True),
    # the warm-up folder lives under the root
    "outputs.root": (IGNORED, "elsewhere"),
    # a sweep's label of the run; the window it trains on is ance.segment, after checkpoint-0
    "sweep_point.sweep": (IGNORED, "a-sweep"),
    "sweep_point.window": (IGNORED, [20, 40]),
}


def _section(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds when it is one section (possibly optional); None for a value or a union of kinds."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(options) == 1:
            return _section(options[0])
    return None


def schema_fields(model: type[BaseModel] = Experiment, prefix: str = "") -> list[str]:
    """Every leaf field path; `kind` unions (ance.segment, train.loss) are leaves: a key takes them whole."""
    paths = []
    for name, info in model.model_fields.items():
        section = _section(info.annotation)
        paths += schema_fields(section, f"{prefix}{name}.") if section else [f"{prefix}{name}"]
    return paths


def variant(path: str, value: Any) -> Experiment:
    data = copy.deepcopy(BASE)
    node = data
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    if parents == ["sweep_point"]:  # a section whose fields are all required
        node.setdefault("sweep", "a-sweep")
        node.setdefault("window", [0, 20])
    if path == "warmup.init_checkpoint":
        data["warmup"]["enabled"] = False  # one start or the other
    return validate_experiment(data)


def test_every_schema_field_is_classified():
    assert sorted(schema_fields()) == sorted(FIELDS)


@pytest.mark.parametrize("path", sorted(FIELDS))
def test_the_key_changes_exactly_when_the_warmup_outputs_would(path):
    role, value = FIELDS[path]
    base, changed = validate_experiment(BASE), variant(path, value)
    assert changed != base, f"{path}: the changed value must differ from the base"
    if role == NO_WARMUP:
        assert not changed.warmup.enabled
    else:
        assert (warmup_key(changed) != warmup_key(base)) == (role == SHAPES), path


def test_the_launcher_reads_the_key_without_torch():
    code = "import sys, launcher.plan, ance_core.config.keys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
