"""Results: run directories and the original study's logs -> one tidy table -> tables and plots.

Typical use (what `ance report` and a results screen do):

    table = collect(["runs/embedded"], legacy_logs=["results/legacy/logs/x-ann_data_4.out.gz"])
    studies = summarize(table, metric="nDCG@10")      # per study: strategy rows, runs, baselines, verdict
    rows = strategy_rows(table)                        # flat per-strategy rows (plain data)
    curves = strategy_series(table)                    # per-strategy dev curves with seed bands

matplotlib is imported only by `ance_core.report.plots`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import logging

from ance_core.report.legacy import LEGACY_STUDY, load_legacy_log, parse_legacy_spec
from ance_core.report.legacy_warmup import is_warmup_log, load_warmup_log
from ance_core.report.render import BEST_MARK, fmt_baseline, fmt_int_range, fmt_runs, fmt_stat, render_rich
from ance_core.report.runs import find_run_dirs, load_runs
from ance_core.report.series import Series, loss_series, strategy_series, warmup_series
from ance_core.report.strategies import legacy_strategy, normalize_strategy
from ance_core.report.summary import (
    DEFAULT_METRIC,
    DEFAULT_SPLIT,
    LOSS_WINDOW,
    Baseline,
    RunSummary,
    Stat,
    StrategyRow,
    StudySummary,
    Verdict,
    strategy_rows,
    summarize,
)
from ance_core.report.tidy import COLUMNS, Row, RunInfo, TidyTable
from ance_core.report.analyses_view import analyses_tables
from ance_core.report.significance_view import significance_lines
from ance_core.report.sweep_view import sweep_plot
from ance_core.report.timing import render_time_spent, time_spent

log = logging.getLogger(__name__)


def load_legacy_logs(specs: Iterable[str], study: str = LEGACY_STUDY) -> TidyTable:
    """Several `FILE` / `STRATEGY=FILE` specs; two files of one strategy are two seeds of it.

    The study's warm-up log sits beside its training logs, so `results/legacy/logs/*.out.gz`
    names it too: a file whose name maps to no strategy and that holds the warm-up's
    MRR lines is read as the warm-up.
    """
    tables = []
    for spec in specs:
        path, strategy = parse_legacy_spec(spec)
        if strategy is None and legacy_strategy(path) is None and is_warmup_log(path):
            log.info("%s: a warm-up log, read as such (as with --warmup-log)", path)
            tables.append(load_warmup_log(path, study))
        else:
            tables.append(load_legacy_log(path, strategy, study))
    return TidyTable.concat(tables)


def collect(
    runs: Iterable[str | Path] = (),
    legacy_logs: Iterable[str] = (),
    warmup_logs: Iterable[str | Path] = (),
    *,
    finished_only: bool = False,
) -> TidyTable:
    """One tidy table of run folders, legacy logs (`FILE` or `STRATEGY=FILE`) and warm-up logs."""
    tables = [load_runs(runs, finished_only=finished_only)] if runs else []
    if legacy_logs:
        tables.append(load_legacy_logs(list(legacy_logs)))
    tables += [load_warmup_log(path) for path in warmup_logs]
    return TidyTable.concat(tables)


__all__ = [
    "BEST_MARK",
    "analyses_tables",
    "COLUMNS",
    "DEFAULT_METRIC",
    "DEFAULT_SPLIT",
    "LOSS_WINDOW",
    "Baseline",
    "Row",
    "RunInfo",
    "RunSummary",
    "Series",
    "Stat",
    "StrategyRow",
    "StudySummary",
    "TidyTable",
    "Verdict",
    "collect",
    "find_run_dirs",
    "fmt_baseline",
    "fmt_int_range",
    "fmt_runs",
    "fmt_stat",
    "load_legacy_log",
    "load_legacy_logs",
    "load_runs",
    "load_warmup_log",
    "loss_series",
    "normalize_strategy",
    "parse_legacy_spec",
    "render_rich",
    "render_time_spent",
    "significance_lines",
    "strategy_rows",
    "strategy_series",
    "summarize",
    "sweep_plot",
    "time_spent",
    "warmup_series",
]
