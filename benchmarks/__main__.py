"""Run benchmark rows and record them: `python -m benchmarks [--only GROUP ...] [--queries N]`.

Writes benchmarks/results/<machine>.json and .md, replacing only the rows of the
groups that ran. `make bench` runs every group but `gpu` (`make bench-gpu`).
`--quick` runs every row at reduced sizes (still 3 interleaved rounds) to check the
harness; it writes benchmarks/results/quick/<machine>.json, marked `"quick": true`,
never the published results.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import (
    RESULTS_DIR,
    default_machine_name,
    git_commit,
    load_average,
    machine_info,
    merge_results,
    now,
    render_markdown,
)
from benchmarks.rows import ON_REQUEST, ROWS

logger = logging.getLogger("benchmarks")


@dataclass(frozen=True)
class Options:
    queries: int
    scratch: Path
    quick: bool


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(ROWS),
                        help="run this group (repeatable; default: every group but gpu)")
    parser.add_argument("--queries", type=int, default=200_000,
                        help="queries in the samplers' synthetic ranking (default 200k: 3 rounds of the study's loop "
                             "fit make bench's 20 minutes)")
    parser.add_argument("--quick", action="store_true",
                        help="a small smoke run at reduced sizes, written to results/quick/ (not to publish)")
    parser.add_argument("--machine", help="results file name (default: from the CPU model and count)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--list", action="store_true", help="list the groups and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.list:
        sys.stdout.write("\n".join(sorted(ROWS)) + "\n")
        return 0
    groups = args.only or default_groups()
    info = machine_info()
    machine = args.machine or default_machine_name(info)
    queries = 20_000 if args.quick else args.queries

    rows, group_seconds = [], {}
    with tempfile.TemporaryDirectory(prefix="ance-bench-") as scratch:
        options = Options(queries=queries, scratch=Path(scratch), quick=args.quick)
        for group in groups:
            before, started = load_average(), time.perf_counter()
            group_rows = importlib.import_module(ROWS[group]).run(options)
            group_seconds[group] = round(time.perf_counter() - started, 1)
            after = load_average()
            for row in group_rows:
                row.note += f"; load avg {before[0]:g}→{after[0]:g}" if before and after else ""
            rows += group_rows

    results_dir = args.results_dir / "quick" if args.quick else args.results_dir
    json_path = results_dir / f"{machine}.json"
    date, commit = now(), git_commit()
    for row in rows:  # each row keeps its own provenance: later runs of other groups keep these
        row.date, row.commit = date, commit
    doc = merge_results(json_path, machine, info, set(groups), rows, date, commit, group_seconds, quick=args.quick)
    _write(json_path, doc)
    _write(json_path.with_suffix(".md"), render_markdown(doc))
    logger.info("wrote %s and %s", json_path, json_path.with_suffix(".md"))
    for row in rows:
        logger.info("%s: %s  ours %.4g %s, baseline %s, ratio %s (%s–%s)%s", row.group, row.name, row.ours, row.unit,
                    row.baseline, row.ratio, row.ratio_min, row.ratio_max,
                    "" if row.meets_target is None else " target met" if row.meets_target else " target MISSED")
    return 0


def default_groups() -> list[str]:
    """The groups run without --only: all but those that need hardware not every machine has (gpu)."""
    return [group for group in sorted(ROWS) if group not in ON_REQUEST]


def _write(path: Path, content) -> None:
    from ance_core.io.atomic import write_json, write_text

    if isinstance(content, str):
        write_text(path, content)
    else:
        write_json(path, content)


if __name__ == "__main__":
    sys.exit(main())
