"""`ance selftest`: torch, faiss, tokenizer and model loading, and a ~20 s ANCE loop on tiny data.

Exit 0 when every check passes, 1 otherwise; the table says which one failed and why.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", type=Path, help="where the temporary run folder goes (default: the system's temp)")


def main(args: argparse.Namespace) -> int:
    from ance_core.console import out_console
    from ance_core.selftest import render, run_selftest

    checks = run_selftest(args.workdir)
    out_console.print(render(checks))
    return 0 if all(check.ok for check in checks) else 1
