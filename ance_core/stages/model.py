"""`ance model fetch NAME [--cache DIR]`: put a Hugging Face hub model where the jobs will look.

Run it on a node with internet (a login node) before submitting: compute nodes
run with `HF_HUB_OFFLINE=1` and read the same cache (ance_core/model/hub.py).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ance_core.errors import InputError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    fetch = actions.add_parser("fetch", help="download a HF hub model into the HF cache the jobs read",
                               description="Download a HF hub model (e.g. roberta-base) into the HF cache the jobs "
                               "read, so that it loads with HF_HUB_OFFLINE=1 on compute nodes.")
    fetch.add_argument("name", nargs="?", help="hub name, e.g. roberta-base (default: the experiment's model.name)")
    where = fetch.add_mutually_exclusive_group()
    where.add_argument("--cache", type=Path, metavar="DIR",
                       help="HF home to fill (files go to DIR/hub; jobs then need HF_HOME=DIR). "
                       "Default: $HF_HOME, else ~/.cache/huggingface, the jobs' own default")
    where.add_argument("--config", type=Path, metavar="EXP",
                       help="fill the cache this experiment's jobs read (in the image: <outputs.root>/.cache/huggingface)")


def main(args: argparse.Namespace) -> int:
    from ance_core.model import hub
    from ance_core.model.loading import MINILM, require_weights

    name = args.name
    cache, jobs_note = hub.hub_cache(), "with this environment's HF_HOME"
    if args.cache is not None:
        cache, jobs_note = hub.hub_cache(args.cache), f"with HF_HOME={args.cache.expanduser()}"
    if args.config is not None:
        from ance_core.config import load_experiment

        experiment = load_experiment(args.config)
        cache, jobs_note = hub.job_hub_cache(experiment), f"of {experiment.name}"
        name = name or experiment.model.name
    if not name:
        raise InputError.single(None, "NAME", "a HF hub name, or --config EXP to fetch its model.name", None)
    name = name.strip()
    if name == MINILM or Path(name).expanduser().is_dir():
        raise InputError.single(None, "NAME", "a HF hub name (minilm and local folders need no fetching)", name)
    if hub.offline_from_env():
        raise InputError.single(None, "HF_HUB_OFFLINE", "unset or 0 on the node that fetches (it needs internet)",
                                "1")
    log.info("fetching %s into %s", name, cache)
    try:
        snapshot = hub.download(name, cache, offline=False)
    except Exception as exc:  # noqa: BLE001 - unknown repo, gated, no network: one clear message
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError.single(None, "NAME", f"a model on the hub at {_endpoint()}",
                                f"{name!r} ({type(exc).__name__}: {first_line})", raw=True) from None
    require_weights(snapshot)
    log.info("%s is in %s: jobs %s load it offline (HF_HUB_OFFLINE=1)", name, cache, jobs_note)
    print(snapshot)  # the result, alone on stdout (a rich console would wrap a long path)
    return 0


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT
