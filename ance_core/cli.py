"""`ance <stage> ...`: one entry point for every stage.

Stage modules live in `ance_core/stages/` and are imported only when chosen, so
`ance --help` stays fast and a stage's heavy imports (torch, faiss) are paid
only by that stage. Each module provides `add_arguments(parser)` and
`main(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ance_core import __version__
from ance_core.errors import DISK_ERRNOS, AnceError
from ance_core.gpus import require_requested_gpus

STAGES: dict[str, str] = {
    "data": "data sets: download MS MARCO, make a subset, rebuild the Debian corpus",
    "prep": "a study's data set: download if missing, subset, tokenize (the prep job)",
    "warmup": "BM25 warm-up: mine BM25 negatives and train checkpoint-0",
    "refresh0": "encode corpus and queries with the start checkpoint into the cache (the refresh0 job)",
    "encode": "embed the collection or queries with a checkpoint (shardable)",
    "mine": "retrieve top-K, sample a rank segment, write negatives-<refresh>.jsonl",
    "train": "train on the newest complete negatives file",
    "run": "the ANCE loop: warm-up, then train and refresh (sync or async); resumes",
    "eval": "MRR@10, nDCG@10, R@k of a checkpoint on a split",
    "report": "tables and plots from run directories and the original study's logs",
    "selftest": "check torch, faiss, tokenizer and model loading; run a tiny loop",
    "model": "models offline: `ance model fetch NAME` puts a HF hub model where the jobs look",
}

log = logging.getLogger("ance")


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ance", description="ANCE rank-segment study stages.")
    parser.add_argument("--version", action="version", version=f"ance-bundle {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="stage", metavar="STAGE", required=True)
    for name, help_text in STAGES.items():
        stage_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(f"ance_core.stages.{name}")
            module.add_arguments(stage_parser)
            stage_parser.set_defaults(_main=module.main)
    return parser


def setup_logging(verbose: bool = False) -> None:
    from rich.logging import RichHandler

    from ance_core.console import err_console

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=True)],
        force=True,
    )
    for noisy in ("httpx", "urllib3", "filelock", "bm25s", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(chosen if chosen in STAGES else None)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        require_requested_gpus()
        return int(args._main(args) or 0)
    except AnceError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except OSError as exc:
        if exc.errno in DISK_ERRNOS:
            # Disk full / read-only / no permission: the atomic writers left earlier files intact.
            log.error("cannot write %s: %s (earlier checkpoints and negatives are intact)", exc.filename or "", exc.strerror)
            return 1
        raise
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
