"""`ance run --config EXP [--seed S] [--out RUN_DIR] [--role all|trainer|refresher]`

The ANCE loop (ance_core/loop/ance.py): the shared BM25 warm-up if configured,
then training while the negatives are refreshed with the newest checkpoint.
Re-running the same command resumes from the run folder. SIGUSR1/SIGTERM:
checkpoint at the next safe point and exit 99 so that SLURM requeues the job.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ance_core.errors import InputError

log = logging.getLogger(__name__)

ROLES = ("all", "trainer", "refresher")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ance_core.train.runtime import add_experiment_arguments

    add_experiment_arguments(parser)
    parser.add_argument("--out", type=Path, help="run folder (default: <outputs.root>/<name>/seed<S>)")
    parser.add_argument("--role", choices=ROLES, default="all",
                        help="async mode: 'trainer' or 'refresher' (one SLURM step each); 'all' runs both")


def main(args: argparse.Namespace) -> int:
    from ance_core.train import distributed as D
    from ance_core.loop.ance import run
    from ance_core.train.rundir import default_run_dir
    from ance_core.train.runtime import experiment_for, setup_process
    from ance_core.train.signals import Requeue, stop_on_signals

    # ---- setup: everything cheap is checked before a model is loaded
    experiment, seed = experiment_for(args)
    if experiment.ance.mode == "sync" and args.role != "all":
        raise InputError.single(args.config, "--role", "'all' with ance.mode 'sync' (roles split an async run)", args.role)
    run_dir = args.out or default_run_dir(experiment, seed)
    setup_process(experiment)
    dist = D.init_distributed()
    if dist.active and args.role == "refresher":
        raise InputError.single(args.config, "--role", "'refresher' as one process (torchrun is for the trainer)", args.role)
    if dist.active and args.role == "all" and experiment.ance.mode == "async":
        raise InputError.single(args.config, "--role", "'trainer' under torchrun, with one `--role refresher` "
                                "process beside it (as the run job script does): 'all' would start one per rank", args.role)

    # ---- the loop
    with stop_on_signals() as stop:
        try:
            run(experiment, seed, run_dir, args.role, dist, stop)
        except Requeue as exc:
            log.warning("%s", exc)
            return exc.exit_code
        finally:
            D.shutdown()
    log.info("run %s (seed %d, role %s) done: %s", experiment.name, seed, args.role, run_dir)
    return 0
