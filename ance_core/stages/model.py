"""`ance model fetch [NAME] [--cache DIR | --config EXP]`: put a Hugging Face hub model where the jobs will look.

Run it on a node with internet (a login node) before submitting: compute nodes
run with `HF_HUB_OFFLINE=1` and read the cache of their HF home, the rule of
ance_core/hub.py (resources.hf_home, else $HF_HOME, else HF's default), which
is the cache the launcher's pre-flight checks.
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
                       help="HF home to fill (files go to DIR/hub; jobs then need resources.hf_home: DIR). "
                       "Default: the site file's hf_home, else $HF_HOME, else ~/.cache/huggingface, as the jobs")
    where.add_argument("--config", type=Path, metavar="EXP",
                       help="fill the cache this experiment's jobs read (its resources.hf_home with the site file, "
                       "else $HF_HOME, else ~/.cache/huggingface): the one the pre-flight checks")


def main(args: argparse.Namespace) -> int:
    from ance_core import hub
    from ance_core.config.site import site_resources
    from ance_core.model.loading import MINILM, require_weights

    name = args.name
    if args.cache is not None:
        hf_home = args.cache
    elif args.config is not None:
        from ance_core.config import load_experiment

        experiment = load_experiment(args.config, site=site_resources()[1])
        hf_home = experiment.resources.hf_home
        name = name or experiment.model.name
    else:
        hf_home = site_resources()[1].get("hf_home")  # what an experiment without its own hf_home gets
    hf_home = hub.job_hf_home(hf_home).absolute()  # relative: to the working directory, as the launcher's
    cache = hub.hub_cache(hf_home)
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
        snapshot = hub.download(name, hf_home, offline=False)
    except Exception as exc:  # noqa: BLE001 - unknown repo, gated, no network: one clear message
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError.single(None, "NAME", f"a model on the hub at {_endpoint()}",
                                f"{name!r} ({type(exc).__name__}: {first_line})", raw=True) from None
    require_weights(snapshot)
    log.info("%s is in %s: jobs with HF_HOME=%s load it offline (HF_HUB_OFFLINE=1)", name, cache, hf_home)
    print(snapshot)  # the result, alone on stdout (a rich console would wrap a long path)
    return 0


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT
