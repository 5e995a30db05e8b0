"""Process-wide setup shared by `ance warmup`, `ance run` and `ance train`: config, seed, determinism."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ance_core.config import Experiment, load_experiment
from ance_core.train.rundir import for_seed


def add_experiment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="experiment YAML")
    parser.add_argument("--seed", type=int, help="which seed to run (default: the experiment's first)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a field, e.g. --set train.lr=1e-5 (repeatable)")


def experiment_for(args: argparse.Namespace) -> tuple[Experiment, int]:
    return for_seed(load_experiment(args.config, args.set), args.seed)


def setup_process(experiment: Experiment) -> None:
    """Deterministic kernels where torch has them (CPU: all we use), warnings where it does not;
    CPU threads = resources.cpus unless OMP_NUM_THREADS says otherwise (torch would take every core
    of the node, and on a busy machine idle-spinning OpenMP threads cost more than they bring)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    torch.use_deterministic_algorithms(True, warn_only=True)
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(experiment.resources.cpus)
