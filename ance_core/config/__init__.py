"""Experiment configuration: the schema and its loader (the one thing `launcher` imports)."""

from ance_core.config.loader import (
    apply_overrides,
    experiment_hash,
    load_experiment,
    load_experiment_data,
    validate_experiment,
)
from ance_core.config.schema import Experiment

__all__ = [
    "Experiment",
    "apply_overrides",
    "experiment_hash",
    "load_experiment",
    "load_experiment_data",
    "validate_experiment",
]
