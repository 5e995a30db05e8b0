"""`ance warmup --config EXP [--seed S] [--set FIELD=VALUE ...]`

The BM25 warm-up shared by every strategy of one seed: BM25 negatives (bm25s),
trained with the same trainer, written as `<outputs.root>/_warmup/<key>-seed<S>/checkpoint-0`.
Nothing to do when the experiment starts from `warmup.init_checkpoint` or has
`warmup.enabled: false`. Resumes like `ance run`; SIGUSR1/SIGTERM: exit 99.
"""

from __future__ import annotations

import argparse
import logging

from ance_core.console import out_console

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ance_core.train.runtime import add_experiment_arguments

    add_experiment_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from ance_core.train import distributed as D
    from ance_core.train.runtime import experiment_for, setup_process
    from ance_core.train.signals import Requeue, stop_on_signals
    from ance_core.loop.warmup import start_checkpoint

    experiment, seed = experiment_for(args)
    if not experiment.warmup.enabled:
        start = experiment.warmup.init_checkpoint or experiment.model.name
        log.info("warmup.enabled is false: runs start from %s, nothing to train", start)
        return 0
    setup_process(experiment)
    dist = D.init_distributed()
    with stop_on_signals() as stop:
        try:
            checkpoint = start_checkpoint(experiment, seed, dist, stop)
        except Requeue as exc:
            log.warning("%s", exc)
            return exc.exit_code
        finally:
            D.shutdown()
    if dist.main:
        out_console.print(checkpoint)
    return 0
