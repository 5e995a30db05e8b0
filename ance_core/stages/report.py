"""`ance report RUNS... [--legacy-log FILE ...] [--json] [--markdown] [--plots DIR] [--out DIR]`

Collects run folders and the original study's logs into one tidy table and
shows, per study, a row per strategy: start, best, final, final - start, the
value at the last refresh all runs reached, the loss at the end; mean ± std
over seeds; the best strategy starred, with a verdict on its lead.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from ance_core import __version__
from ance_core.console import out_console
from ance_core.errors import InputError, Problem
from ance_core.io.atomic import write_json, write_text
from ance_core.report import collect, summarize
from ance_core.report.summary import DEFAULT_METRIC, DEFAULT_SPLIT, LOSS_WINDOW
from ance_core.report.strategies import study_title
from ance_core.report.render import render_markdown, render_rich, report_json
from ance_core.report.runs import run_commits
from ance_core.report.timing import render_time_spent, time_spent

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs", nargs="*", metavar="RUNS",
        help="runs roots, experiment folders or run folders (anything with metrics.jsonl below it); "
        "put them before --legacy-log / --warmup-log, which take every word after them",
    )
    parser.add_argument(
        "--legacy-log", nargs="+", action="extend", default=[], metavar="FILE",
        help="original-study ANCE logs (.out or .out.gz); the strategy comes from the name "
        "(ann_data_4, _bottom_neg, _random, _bottom_neg_only) or is given as STRATEGY=FILE; "
        "a warm-up log among them is read as with --warmup-log",
    )
    parser.add_argument(
        "--warmup-log", nargs="+", action="extend", default=[], metavar="FILE",
        help="original-study warm-up log (cleaned_warmup.out.gz) or its parse (parsed_warmup.json): Figure 2",
    )
    parser.add_argument("--metric", default=DEFAULT_METRIC, help=f"dev metric to compare (default {DEFAULT_METRIC}; e.g. MRR@10)")
    parser.add_argument("--split", default=DEFAULT_SPLIT, help=f"evaluation split (default {DEFAULT_SPLIT})")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    output.add_argument("--markdown", action="store_true", help="print Markdown tables instead of rich ones")
    parser.add_argument("--per-run", action="store_true", help="also show a row per run")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="write PNG figures into DIR")
    parser.add_argument("--svg", action="store_true", help="write SVG figures too (with --plots or --out)")
    parser.add_argument(
        "--out", type=Path, metavar="DIR",
        help="write a complete report into DIR: report.md (tables + figures), report.json and the figures",
    )
    parser.add_argument("--tidy", type=Path, metavar="FILE.csv", help="write the tidy table (one row per value) as CSV")
    parser.add_argument("--finished-only", action="store_true", help="leave out runs whose STATUS.json is not 'finished'")
    parser.add_argument(
        "--loss-window", type=int, metavar="N",
        help="rolling-mean window of the loss figure, in logged points (default: about 1/40 of the longest curve)",
    )


def main(args: argparse.Namespace) -> int:
    _check(args)
    table = collect(args.runs, args.legacy_log, args.warmup_log, finished_only=args.finished_only)
    summaries = summarize(table, args.metric, args.split, LOSS_WINDOW)
    if not any(summary.strategies for summary in summaries) and not table.rows:
        raise InputError(None, Problem("RUNS / --legacy-log", "runs or logs with evaluations", "none left to report"))

    spent = time_spent(args.runs)
    timing = render_time_spent(spent) if spent else ""
    if args.json:
        sys.stdout.write(json.dumps(report_json(summaries, table), indent=2) + "\n")
    elif args.markdown:
        sys.stdout.write(render_markdown(summaries, table, per_run=args.per_run) + (f"\n{timing}" if timing else ""))
    else:
        render_rich(summaries, table, out_console, per_run=args.per_run)
        if timing:
            from rich.markdown import Markdown

            out_console.print(Markdown(timing))

    if args.tidy:
        write_text(args.tidy, table.to_csv())
        log.info("wrote %s (%d rows)", args.tidy, len(table.rows))
    formats = ("png", "svg") if args.svg else ("png",)
    if args.plots:
        _write_plots(table, summaries, args.plots, formats, args.loss_window)
    if args.out:
        figures = _write_plots(table, summaries, args.out, formats, args.loss_window)
        write_json(args.out / "report.json", report_json(summaries, table))
        write_text(args.out / "report.md", _report_document(summaries, table, figures, args)
                   + (f"\n{timing}" if timing else ""))
        log.info("wrote %s", args.out / "report.md")
    return 0


def _check(args: argparse.Namespace) -> None:
    """Conflicting or empty options fail before any file is read."""
    problems = []
    if not args.runs and not args.legacy_log and not args.warmup_log:
        problems.append(Problem("arguments", "at least one RUNS folder, --legacy-log FILE or --warmup-log FILE", "none"))
    if args.svg and not (args.plots or args.out):
        problems.append(Problem("--svg", "--plots DIR or --out DIR to write the figures into", "neither"))
    if args.loss_window is not None and args.loss_window < 1:
        problems.append(Problem("--loss-window", "a whole number >= 1", str(args.loss_window)))
    if args.tidy is not None and args.tidy.is_dir():
        problems.append(Problem("--tidy", "a CSV file name", f"a folder: {args.tidy}"))
    for option, folder in (("--plots", args.plots), ("--out", args.out)):
        if folder is not None and folder.exists() and not folder.is_dir():
            problems.append(Problem(option, "a folder (created if missing)", f"a file: {folder}"))
    if problems:
        raise InputError(None, problems)


def _write_plots(table, summaries, folder: Path, formats, loss_window) -> list[Path]:
    from ance_core.report.plots import write_plots  # matplotlib only when figures are asked for

    folder.mkdir(parents=True, exist_ok=True)
    return write_plots(table, summaries, folder, formats, loss_window)


def _report_document(summaries, table, figures: list[Path], args: argparse.Namespace) -> str:
    titles = ", ".join(study_title(summary.study) for summary in summaries)
    lines = [
        f"# Results: {titles}",
        "",
        f"Generated by `ance report` (ance-bundle {__version__}) with:",
        "",
        "```",
        _command_line(args),
        "```",
        "",
        *_provenance(table),
        render_markdown(summaries, table, per_run=True, heading="##"),
    ]
    pngs = [figure for figure in figures if figure.suffix == ".png"]
    if pngs:
        lines += ["## Figures", ""]
        lines += [f"![{_caption(figure.name)}]({figure.name})\n" for figure in pngs]
    return "\n".join(lines)


def _provenance(table) -> list[str]:
    """Which code made the runs: the commits their manifest.json record."""
    commits = run_commits(table)
    if not commits:
        return []
    listed = ", ".join(f"`{sha[:12]}` ({count} run{'s' if count != 1 else ''})" for sha, count in commits.items())
    return [f"The runs were made at commit {listed}, as their `manifest.json` records.", ""]


def _caption(name: str) -> str:
    if name.endswith("-train-loss.png"):
        return "training loss against step, smoothed"
    if name.endswith("-grad-norm.png"):
        return "gradient norm (before clipping) against step, smoothed"
    if "-sweep-" in name:
        return "the sweep's dose-response: gain over the start checkpoint against the rank window, paired 95% CIs"
    if name.endswith("-warmup.png"):
        return "warm-up MRR@10 and loss against step"
    return "dev metric against ANN refresh, one line per strategy"


def _command_line(args: argparse.Namespace) -> str:
    """The options that shaped this report, spelled so that the line reruns it."""
    words = ["ance", "report", *map(str, args.runs)]
    if args.legacy_log:
        words += ["--legacy-log", *args.legacy_log]
    if args.warmup_log:
        words += ["--warmup-log", *map(str, args.warmup_log)]
    if args.metric != DEFAULT_METRIC:
        words += ["--metric", args.metric]
    if args.split != DEFAULT_SPLIT:
        words += ["--split", args.split]
    if args.finished_only:
        words.append("--finished-only")
    if args.loss_window is not None:
        words += ["--loss-window", str(args.loss_window)]
    if args.svg:
        words.append("--svg")
    words += ["--out", str(args.out)]
    return shlex.join(words)
