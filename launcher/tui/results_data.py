"""The results screen's model: the runs under the runs roots, summarised by the report package.

Nothing here reads a metrics file itself: `ance_core.report` loads, summarises
and builds the curves; this module only decides which roots hold runs and
keeps one summary per metric the screen can switch between.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ance_core.errors import InputError
from ance_core.report import Series, StudySummary, TidyTable, collect, find_run_dirs, loss_series, strategy_series, summarize

METRICS = ("nDCG@10", "MRR@10")


@dataclass(frozen=True)
class Results:
    roots: tuple[Path, ...]  # the roots that hold runs
    table: TidyTable
    summaries: dict[str, list[StudySummary]] = field(default_factory=dict)  # metric -> one per study
    curves: dict[str, list[Series]] = field(default_factory=dict)  # metric -> per (study, strategy)
    losses: list[Series] = field(default_factory=list)

    @property
    def studies(self) -> list[str]:
        return [summary.study for summary in self.summaries.get(METRICS[0], []) if summary.strategies]

    def summary(self, study: str, metric: str) -> StudySummary | None:
        return next((s for s in self.summaries.get(metric, []) if s.study == study), None)

    def study_curves(self, study: str, metric: str) -> list[Series]:
        return [series for series in self.curves.get(metric, []) if series.study == study]

    def study_losses(self, study: str) -> list[Series]:
        return [series for series in self.losses if series.study == study]


def roots_with_runs(roots: Iterable[Path]) -> list[Path]:
    """The roots that exist and hold at least one run folder (an empty runs root is no error here)."""
    kept = []
    for root in roots:
        try:
            find_run_dirs(root)
        except InputError:
            continue
        kept.append(root)
    return kept


def load_results(roots: Iterable[Path], metrics: Sequence[str] = METRICS) -> Results:
    """Every run under the roots; an `InputError` only for a run that breaks the metrics contract."""
    kept = roots_with_runs(roots)
    table = collect(kept) if kept else TidyTable()
    return Results(
        roots=tuple(kept),
        table=table,
        summaries={metric: summarize(table, metric) for metric in metrics},
        curves={metric: strategy_series(table, metric) for metric in metrics},
        losses=loss_series(table),
    )


def export_plots(results: Results, metric: str, out_dir: Path) -> list[Path]:
    """The report's PNG figures of every study, as `ance report --plots` writes them."""
    from ance_core.report.plots import write_plots  # matplotlib: paid only when exporting

    return write_plots(results.table, results.summaries[metric], out_dir)
