"""`ance train --config EXP --run-dir RUN_DIR [--seed S] [--steps N]`

Trains N more steps (default: ance.refresh_every) on the newest complete
negatives file in RUN_DIR/negatives, from the newest checkpoint in the run
folder (or the start checkpoint), and checkpoints at the end. With `ance mine`
it is the loop by hand; `ance run` does the same in one command.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ance_core.errors import InputError, StageError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ance_core.train.runtime import add_experiment_arguments

    add_experiment_arguments(parser)
    parser.add_argument("--run-dir", required=True, type=Path, help="run folder with negatives/ (and checkpoints/)")
    parser.add_argument("--steps", type=int, help="optimizer steps to train (default: ance.refresh_every)")


def main(args: argparse.Namespace) -> int:
    from ance_core.train import distributed as D
    from ance_core.train import rundir
    from ance_core.train.checkpoint import latest_checkpoint
    from ance_core.loop.ance import Run, build_session, prepare_start
    from ance_core.data.negatives import newest_complete
    from ance_core.train.runtime import experiment_for, setup_process
    from ance_core.train.signals import Requeue, stop_on_signals

    # ---- setup
    experiment, seed = experiment_for(args)
    steps = experiment.ance.refresh_every if args.steps is None else args.steps
    if steps < 1:
        raise InputError.single(None, "--steps", "a positive number of steps", steps)
    setup_process(experiment)
    dist = D.init_distributed()
    if dist.main:
        rundir.prepare(args.run_dir, experiment, "train")
    with stop_on_signals() as stop:
        ctx = Run(experiment, seed, args.run_dir, dist, stop)
        try:
            negatives = newest_complete(ctx.negatives_dir)
            if negatives is None:
                raise StageError(f"no complete negatives file in {ctx.negatives_dir}: run `ance mine` first")
            start = prepare_start(ctx)
            resume = latest_checkpoint(args.run_dir)
            session = build_session(ctx, start, resume)
            if session.feed.file is None or session.feed.file.refresh != negatives.refresh:
                session.feed.load(negatives)
            # ---- train
            session.run(session.step + steps)
        except Requeue as exc:
            log.warning("%s", exc)
            return exc.exit_code
        finally:
            D.shutdown()
    log.info("trained to step %d on %s", session.step, negatives.path.name)
    return 0
