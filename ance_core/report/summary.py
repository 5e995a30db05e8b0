"""Per-strategy summaries of the tidy table: the numbers that answer the study's question.

For each run: start (first evaluation: the refresh-0 checkpoint), best, final,
final - start, the value at the *common refresh* and the loss at the end. Runs
of one study stop after different numbers of refreshes (the original ones ran
for 80 to 136), so strategies are ranked at the last refresh that every run of
the study reached, never at their own last refresh. Across the seeds of a
strategy each number becomes mean, std, min and max.

Everything here is plain data (frozen dataclasses with `as_dict()`): the rich
and Markdown tables, `--json` and the TUI render it without re-reading files.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ance_core.report.analyses import Analyses, analyse
from ance_core.report.significance import Significance, study_significance
from ance_core.report.strategies import strategy_sort_key
from ance_core.report.sweep import SweepCurve, sweep_curve
from ance_core.report.tidy import KIND_BASELINE, KIND_EVAL, KIND_TRAIN, SOURCE_RUN, WARMUP, Row, RunInfo, TidyTable

DEFAULT_METRIC = "nDCG@10"
DEFAULT_SPLIT = "dev"
LOSS_WINDOW = 20  # "loss at the end" = mean of the last this-many logged losses (one log is noisy)
JITTER_REFRESHES = 10  # refresh-to-refresh changes looked at to size one run's noise


@dataclass(frozen=True)
class Stat:
    """A number over the seeds of a strategy; std is None for a single run."""

    mean: float
    std: float | None
    min: float  # an int when the values are counts
    max: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float | None]) -> "Stat | None":
        present = [v for v in values if v is not None]  # counts (refreshes) stay ints in min/max
        if not present:
            return None
        std = statistics.stdev(present) if len(present) >= 2 else None
        return cls(statistics.fmean(present), std, min(present), max(present), len(present))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunSummary:
    study: str
    run: str
    source: str
    strategy: str
    seed: int | None
    state: str
    evaluations: int
    first_refresh: int
    last_refresh: int
    start: float
    best: float
    best_refresh: int
    final: float
    delta: float  # final - start
    at_common: float | None  # value at the study's common refresh (last one at or before it)
    final_loss: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StrategyRow:
    study: str
    strategy: str
    source: str
    n_runs: int
    seeds: tuple[int | None, ...]
    states: dict[str, int]
    refreshes: Stat  # the last refresh each run reached
    evaluations: Stat
    start: Stat
    best: Stat
    best_refresh: Stat
    final: Stat
    delta: Stat
    at_common: Stat | None
    final_loss: Stat | None
    is_best: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seeds"] = list(self.seeds)
        return data


@dataclass(frozen=True)
class Baseline:
    study: str
    name: str
    split: str | None
    metric: str
    value: Stat

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    best: str
    runner_up: str
    lead: float  # best - runner-up, mean at the common refresh
    spread: float | None  # the larger seed std of the two; None with a single run each
    exceeds_spread: bool | None
    jitter: float | None  # typical std of one run's refresh-to-refresh change near the common refresh
    text: str
    significant: bool | None = None  # a paired test found a difference (None: no per-query data to test)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StudySummary:
    study: str
    metric: str
    split: str
    common_refresh: int | None
    strategies: list[StrategyRow]
    runs: list[RunSummary]
    baselines: list[Baseline]
    verdict: Verdict | None
    significance: Significance | None = None
    sweep: SweepCurve | None = None  # a rank-window sweep's dose-response (runs made by a sweep)
    analyses: Analyses | None = None  # query difficulty, training dynamics, margins, resources

    def as_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "metric": self.metric,
            "split": self.split,
            "common_refresh": self.common_refresh,
            "strategies": [s.as_dict() for s in self.strategies],
            "runs": [r.as_dict() for r in self.runs],
            "baselines": [b.as_dict() for b in self.baselines],
            "verdict": self.verdict.as_dict() if self.verdict else None,
            "significance": self.significance.as_dict() if self.significance else None,
            "sweep": self.sweep.as_dict() if self.sweep else None,
            "analyses": self.analyses.as_dict() if self.analyses else None,
        }


def summarize(
    table: TidyTable, metric: str = DEFAULT_METRIC, split: str = DEFAULT_SPLIT, loss_window: int = LOSS_WINDOW
) -> list[StudySummary]:
    """One summary per study (runs root or 'legacy'), in the order the studies were loaded."""
    return [_summarize_study(table, study, metric, split, loss_window) for study in table.studies()]


def strategy_rows(table: TidyTable, metric: str = DEFAULT_METRIC, split: str = DEFAULT_SPLIT) -> list[StrategyRow]:
    """Every study's per-strategy rows, flat: what a results screen lists."""
    return [row for study in summarize(table, metric, split) for row in study.strategies]


def metric_by_refresh(rows: Iterable[Row], metric: str, split: str) -> dict[str, dict[int, float]]:
    """run -> {refresh: value} of a strategy's eval rows (warm-up and baselines excluded)."""
    curves: dict[str, dict[int, float]] = defaultdict(dict)
    for row in rows:
        if (
            row.kind == KIND_EVAL and row.metric == metric and row.refresh is not None
            and row.strategy != WARMUP and row.split in (split, None)
        ):
            curves[row.run][row.refresh] = row.value
    return curves


# ---------------------------------------------------------------- internals


def _summarize_study(table: TidyTable, study: str, metric: str, split: str, loss_window: int) -> StudySummary:
    rows = [row for row in table.rows if row.study == study]
    infos = {info.run: info for info in table.runs if info.study == study and info.strategy != WARMUP}
    curves = metric_by_refresh(rows, metric, split)
    losses = _losses_by_run(rows)
    common = min((max(curve) for run, curve in curves.items() if run in infos), default=None)
    runs = [
        _summarize_run(infos[run], curve, common, losses.get(run), loss_window)
        for run, curve in curves.items()
        if run in infos
    ]
    runs.sort(key=lambda r: (strategy_sort_key(r.strategy), r.seed if r.seed is not None else -1, r.run))
    strategies = _strategy_rows(study, runs)
    verdict = _verdict(strategies, metric, common, curves, infos)
    folders = _run_folders(strategies, runs, infos)
    windows = {info.strategy: info.sweep_window for info in infos.values() if info.sweep_window is not None}
    # A sweep's pairs are its neighbouring windows (does moving 20 ranks down change anything?), not all
    # 45 pairs of ten windows; its own answer is the curve and the trend test.
    by_window = sorted((s for s in folders if s in windows), key=lambda s: windows[s])
    pairs = list(zip(by_window, by_window[1:])) if len(windows) >= 3 else None
    significance = study_significance(folders, metric, split, common, pairs) if folders else None
    if verdict and significance:  # the answer comes from the paired tests whenever the runs allow them
        verdict = replace(verdict, text=significance.text, significant=significance.any_significant)
    if verdict:
        strategies = [replace(s, is_best=True) if s.strategy == verdict.best else s for s in strategies]
    sweep = sweep_curve(folders, windows, metric, split, common) if folders and len(windows) >= 3 else None
    analyses = analyse(folders, rows, metric, split, common) if folders else None
    return StudySummary(study, metric, split, common, strategies, runs, _baselines(study, rows), verdict, significance,
                        sweep, analyses)


def _run_folders(
    strategies: Sequence[StrategyRow], runs: Sequence[RunSummary], infos: dict[str, RunInfo],
) -> dict[str, dict[int, Path]]:
    """strategy -> seed -> run folder, strategies best first at the common refresh; {} unless every run of the
    study is a run folder with a seed (the original study's logs have no per-query values to test)."""
    if any(infos[run.run].source != SOURCE_RUN or run.seed is None for run in runs):
        return {}
    ranked = sorted((s for s in strategies if s.at_common), key=lambda s: s.at_common.mean, reverse=True)  # type: ignore[union-attr]
    folders: dict[str, dict[int, Path]] = {row.strategy: {} for row in ranked}
    for run in runs:
        if run.strategy in folders and run.seed is not None:
            folders[run.strategy][run.seed] = infos[run.run].path
    return folders


def _summarize_run(
    info: RunInfo, curve: dict[int, float], common: int | None, losses: list[float] | None, loss_window: int
) -> RunSummary:
    refreshes = sorted(curve)
    best_refresh = max(refreshes, key=lambda r: (curve[r], -r))  # the earliest refresh among equal bests
    reached = [r for r in refreshes if common is not None and r <= common]
    tail = losses[-loss_window:] if losses else None
    return RunSummary(
        study=info.study, run=info.run, source=info.source, strategy=info.strategy, seed=info.seed, state=info.state,
        evaluations=len(refreshes), first_refresh=refreshes[0], last_refresh=refreshes[-1],
        start=curve[refreshes[0]], best=curve[best_refresh], best_refresh=best_refresh, final=curve[refreshes[-1]],
        delta=curve[refreshes[-1]] - curve[refreshes[0]],
        at_common=curve[reached[-1]] if reached else None,
        final_loss=statistics.fmean(tail) if tail else None,
    )


def _strategy_rows(study: str, runs: Sequence[RunSummary]) -> list[StrategyRow]:
    by_strategy: dict[str, list[RunSummary]] = defaultdict(list)
    for run in runs:
        by_strategy[run.strategy].append(run)
    rows = []
    for strategy in sorted(by_strategy, key=strategy_sort_key):
        group = by_strategy[strategy]

        def stat(field: str) -> Stat | None:
            return Stat.of(getattr(run, field) for run in group)

        rows.append(
            StrategyRow(
                study=study, strategy=strategy, source=group[0].source, n_runs=len(group),
                seeds=tuple(run.seed for run in group), states=dict(Counter(run.state for run in group)),
                refreshes=stat("last_refresh"), evaluations=stat("evaluations"), start=stat("start"),  # type: ignore[arg-type]
                best=stat("best"), best_refresh=stat("best_refresh"), final=stat("final"),  # type: ignore[arg-type]
                delta=stat("delta"), at_common=stat("at_common"), final_loss=stat("final_loss"),  # type: ignore[arg-type]
            )
        )
    return rows


def _verdict(
    strategies: Sequence[StrategyRow], metric: str, common: int | None,
    curves: dict[str, dict[int, float]], infos: dict[str, RunInfo],
) -> Verdict | None:
    ranked = sorted((s for s in strategies if s.at_common), key=lambda s: s.at_common.mean, reverse=True)  # type: ignore[union-attr]
    if len(ranked) < 2 or common is None:
        return None
    best, runner = ranked[0], ranked[1]
    lead = best.at_common.mean - runner.at_common.mean  # type: ignore[union-attr]
    compared = [run for run, info in infos.items() if info.strategy in (best.strategy, runner.strategy) and run in curves]
    jitters = [j for run in compared if (j := refresh_jitter(curves[run], common)) is not None]
    jitter = statistics.fmean(jitters) if jitters else None
    head = (
        f"At refresh {common}, {best.strategy} leads with {metric} {best.at_common.mean:.4f}, "  # type: ignore[union-attr]
        f"{lead:.4f} ahead of {runner.strategy} ({runner.at_common.mean:.4f}); "  # type: ignore[union-attr]
    )
    stds = [s.at_common.std for s in (best, runner)]  # type: ignore[union-attr]
    if any(std is None for std in stds):
        scale = (
            f" For scale: one run's {metric} changes by {jitter:.4f} (std) from one refresh to the next there."
            if jitter is not None else ""
        )
        return Verdict(
            best.strategy, runner.strategy, lead, None, None, jitter,
            head + "with a single run per strategy there is no seed spread to judge this lead against." + scale,
        )
    spread = max(stds)  # type: ignore[type-var]
    exceeds = lead > spread
    tail = (
        f"the lead exceeds the seed spread (std up to {spread:.4f})."
        if exceeds
        else f"the lead is within the seed spread (std up to {spread:.4f}): the order is not established."
    )
    return Verdict(best.strategy, runner.strategy, lead, spread, exceeds, jitter, head + tail)


def refresh_jitter(curve: dict[int, float], upto: int) -> float | None:
    """Std of the changes between consecutive evaluations over the last few refreshes up to `upto`.

    A single run has no seed spread; how much its metric moves from one refresh
    to the next is the nearest yardstick for a lead between single runs.
    """
    refreshes = [r for r in sorted(curve) if r <= upto][-(JITTER_REFRESHES + 1):]
    changes = [curve[b] - curve[a] for a, b in zip(refreshes, refreshes[1:])]
    return statistics.stdev(changes) if len(changes) >= 2 else None


def _losses_by_run(rows: Iterable[Row]) -> dict[str, list[float]]:
    by_run: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in rows:
        if row.kind == KIND_TRAIN and row.metric == "loss" and row.step is not None and row.strategy != WARMUP:
            by_run[row.run].append((row.step, row.value))
    return {run: [value for _, value in sorted(points)] for run, points in by_run.items()}


def _baselines(study: str, rows: Iterable[Row]) -> list[Baseline]:
    values: dict[tuple[str, str | None, str], dict[str, float]] = defaultdict(dict)
    for row in rows:
        if row.kind == KIND_BASELINE:
            # One warm-up folder per seed logs the same baselines: one value per run.
            values[(row.strategy, row.split, row.metric)][row.run] = row.value
    return [
        Baseline(study, name, split, metric, Stat.of(per_run.values()))  # type: ignore[arg-type]
        for (name, split, metric), per_run in sorted(values.items(), key=lambda item: item[0][0])  # metrics as logged
    ]
