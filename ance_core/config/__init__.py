"""Experiment configuration: the schema and its loader (the one thing `launcher` imports)."""

from ance_core.config.keys import WARMUP_KEY_FIELDS, experiment_hash, warmup_key
from ance_core.config.loader import (
    apply_overrides,
    load_experiment,
    load_experiment_data,
    load_experiments,
    validate_experiment,
)
from ance_core.config.schema import Experiment

__all__ = [
    "WARMUP_KEY_FIELDS",
    "Experiment",
    "apply_overrides",
    "experiment_hash",
    "load_experiment",
    "load_experiment_data",
    "load_experiments",
    "validate_experiment",
    "warmup_key",
]
