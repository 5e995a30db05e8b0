"""What a submission asks for, and what the scale model expects it to use (printed before submitting).

Asked for: per job shape, the jobs, their GPUs, CPUs, memory and time limit,
and the GPU-hours if every job ran to its limit. Expected: GPU-hours from the
FLOP model (ance_core.flops) of the jobs' work:

* a refresh encodes the collection, the re-mined share of the train queries and
  the eval queries (one forward each) and searches them exactly (2·Q·N·d);
* a training step is 3 forwards (the backward costs two) of its queries,
  positives and negatives, for batch_size × grad_accum × trainer GPUs examples;
* a run's job lasts its training and its refreshes side by side (async: trainer
  and refresher GPUs) or one after the other (sync), and bills all its GPUs;
* the warm-up job trains `warmup.steps`; the refresh0 job encodes once.

Rates are the GPU kind's datasheet peak (resources.gpu_type) times the assumed
MFU of ance_core.flops until `make bench-gpu` measures one; sizes are counted
from the data when it is there, else MS MARCO's published sizes for a data set
the prep job downloads. Mean tokens per text are assumed (MS MARCO's: ~80 per
passage, ~10 per query, capped by the cut lengths). It is an estimate, and says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ance_core.config import Experiment
from ance_core.config.schema import SHAPES
from ance_core.flops import ASSUMED_MFU, MINILM_L6, ROBERTA_BASE, EncoderShape, gpu_kind
from launcher.render import slurm_time_seconds

# MS MARCO passage ranking's official files (what `ance data download msmarco-passage` fetches).
MS_MARCO_SIZES = {"collection": 8_841_823, "train": 502_939, "dev": 6_980}
MEAN_PASSAGE_TOKENS = 80  # benchmarks/scale.py MS_MARCO: declared, errs slow
MEAN_QUERY_TOKENS = 10
DEFAULT_KIND = "A100"  # when resources.gpu_type names no kind we know


@dataclass(frozen=True)
class ShapeRequest:
    shape: str
    jobs: int
    gpus: int  # per job (all nodes)
    cpus: int
    mem: str
    time: str

    @property
    def gpu_hours(self) -> float:
        return self.jobs * self.gpus * slurm_time_seconds(self.time) / 3600


def requested(plan) -> list[ShapeRequest]:
    """Per job shape, in graph order: what its jobs ask SLURM for."""
    found: dict[str, ShapeRequest] = {}
    for job in plan.jobs:
        shape, res = job.context.shape, job.resources
        nodes = job.experiment.resources.nodes if job.template == "run_multinode" else 1
        gpus = (res.gpus or 0) * nodes
        if job.template == "encode":
            gpus = min(res.gpus or 0, 1) * (job.array_size or 1)
        seen = found.get(shape)
        if seen and (seen.gpus, seen.cpus, seen.mem, seen.time) == (gpus, res.cpus, res.mem, res.time):
            found[shape] = ShapeRequest(shape, seen.jobs + 1, gpus, res.cpus, res.mem, res.time)
        elif seen:  # the same shape with other resources (experiments that differ): its own line
            found[f"{shape} ({job.key})"] = ShapeRequest(shape, 1, gpus, res.cpus, res.mem, res.time)
        else:
            found[shape] = ShapeRequest(shape, 1, gpus, res.cpus, res.mem, res.time)
    order = {shape: i for i, shape in enumerate(SHAPES)}
    return sorted(found.values(), key=lambda r: order.get(r.shape, len(order)))


# ---------------------------------------------------------------- the expectation


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 22), b""))


@lru_cache(maxsize=16)
def _data_sizes(dataset: str, files: tuple[tuple[str, str], ...], download: str | None,
                train: str, dev: str) -> tuple[int, int, int, str]:
    """(passages, train queries, eval queries, where the numbers come from) of the full data set."""
    from ance_core.data.layout import resolve_dataset
    from ance_core.errors import InputError

    try:
        source = resolve_dataset(dataset, dict(files))
        return (_count_lines(source.collection), _count_lines(source.queries(train)),
                _count_lines(source.queries(dev)), "counted")
    except (InputError, OSError):
        if download == "msmarco-passage":
            return MS_MARCO_SIZES["collection"], MS_MARCO_SIZES["train"], MS_MARCO_SIZES["dev"], "MS MARCO's sizes"
        raise


def encoder_shape(experiment: Experiment) -> tuple[EncoderShape, str]:
    """The encoder's matmul shape from its config.json (local folder or HF cache), else roberta-base's."""
    from ance_core.hub import cached_model_dir

    name = experiment.model.name
    if name == "minilm":
        return MINILM_L6, "minilm"
    folder = Path(name) if Path(name).is_dir() else cached_model_dir(name, experiment.resources.hf_home)
    try:
        config = json.loads((Path(folder) / "config.json").read_text()) if folder else None
        if config:
            return EncoderShape(config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"]), name
    except (OSError, ValueError, KeyError):
        pass
    return ROBERTA_BASE, f"{name} (assumed roberta-base's shape)"


@dataclass(frozen=True)
class Expectation:
    gpu_hours: float
    basis: str  # what the number rests on, in one line


def expected(plan) -> Expectation | None:
    """Expected GPU-hours of the plan's GPU jobs, or None when it has none."""
    total = 0.0
    kinds: set[str] = set()
    for job in plan.jobs:
        gpus = job.resources.gpus or 0
        if not gpus or job.context.shape not in ("warmup", "refresh0", "run"):
            continue
        exp = job.experiment
        kind = gpu_kind(exp.resources.gpu_type or "") or gpu_kind(DEFAULT_KIND)
        assert kind is not None
        kinds.add(kind.name)
        rate = kind.peak_flops * ASSUMED_MFU[0]
        search_rate = kind.peak_flops * ASSUMED_MFU[1]
        work = _Work(exp)
        if job.context.shape == "warmup":
            seconds = work.train_flops(exp.warmup.steps, work.negatives, gpus) / (rate * gpus)
        elif job.context.shape == "refresh0":
            seconds = work.encode_flops(fraction=1.0) / rate
        else:
            seconds = work.run_seconds(rate, search_rate)
        total += seconds * gpus * (exp.resources.nodes if job.template == "run_multinode" else 1) / 3600
    if not kinds:
        return None
    basis = (f"{'/'.join(sorted(kinds))} peak × assumed MFU {ASSUMED_MFU[0]} (encode, train) and {ASSUMED_MFU[1]} "
             f"(search); mean tokens {MEAN_PASSAGE_TOKENS} per passage, {MEAN_QUERY_TOKENS} per query")
    return Expectation(total, basis)


class _Work:
    """The FLOPs of one experiment's pieces of work."""

    def __init__(self, exp: Experiment):
        data, model = exp.data, exp.model
        passages, train, dev, _ = _data_sizes(data.dataset, tuple(sorted(data.files.items())), data.download,
                                              data.train_split, exp.eval.split)
        fraction = data.subset.fraction if data.subset else 1.0
        # A subset keeps about `fraction` of the passages and of the queries (those whose positive survived).
        self.passages, self.train, self.dev = passages * fraction, train * fraction, dev * fraction
        self.encoder, _ = encoder_shape(exp)
        self.dim = model.head_dim or self.encoder.hidden
        self.passage = self.encoder.sequence_flops(min(model.passage_max_len, MEAN_PASSAGE_TOKENS))
        self.query = self.encoder.sequence_flops(min(model.query_max_len, MEAN_QUERY_TOKENS))
        self.exp = exp
        # Negatives per example: rdot_nll pairs one; InfoNCE takes negatives_per_query.
        self.negatives = getattr(exp.train.loss, "negatives_per_query", 1)

    def encode_flops(self, fraction: float) -> float:
        """One refresh's encoding: the collection, `fraction` of the train queries, the eval queries."""
        return self.passages * self.passage + (self.train * fraction + self.dev) * self.query

    def search_flops(self, fraction: float) -> float:
        return 2.0 * (self.train * fraction + self.dev) * self.passages * self.dim

    def train_flops(self, steps: int, negatives: int, world: int) -> float:
        train = self.exp.train
        examples = train.batch_size * train.grad_accum * world
        return 3.0 * steps * examples * (self.query + (1 + negatives) * self.passage)

    def run_seconds(self, rate: float, search_rate: float) -> float:
        exp, res = self.exp, self.exp.resources
        split = exp.ance.mode == "async" and res.gpus_refresh > 0
        trainer_gpus = res.gpus - res.gpus_refresh if split else res.gpus
        refresher_gpus = res.gpus_refresh if split else res.gpus
        train_s = self.train_flops(exp.max_steps, self.negatives, trainer_gpus * res.nodes) / (rate * trainer_gpus * res.nodes)
        fraction = exp.ance.query_fraction
        refresh_s = exp.ance.refreshes * (self.encode_flops(fraction) / rate + self.search_flops(fraction) / search_rate)
        refresh_s /= refresher_gpus
        return max(train_s, refresh_s) if split else train_s + refresh_s
