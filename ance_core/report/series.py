"""Curves for plotting, as plain data: one `Series` per (study, strategy).

The matplotlib figures and a terminal/TUI plot (textual-plotext) draw the same
series: x, the mean over seeds, and a band for the seed spread where a
strategy has two or more runs at that point.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from ance_core.report.strategies import strategy_sort_key
from ance_core.report.summary import DEFAULT_METRIC, DEFAULT_SPLIT, metric_by_refresh
from ance_core.report.tidy import KIND_EVAL, KIND_TRAIN, WARMUP, TidyTable

Band = Literal["std", "minmax"]


@dataclass(frozen=True)
class Series:
    study: str
    label: str  # the strategy (or, for warm-up curves, the metric)
    x: list[float]
    y: list[float]  # mean over the runs that have a value at x (smoothed for loss curves)
    low: list[float] | None  # band: mean - std (or min); NaN where only one run has a value
    high: list[float] | None
    n: list[int]  # runs behind each point
    raw_y: list[float] | None = None  # loss curves: the mean before smoothing
    window: int | None = None  # loss curves: the rolling-mean window, in logged points

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def strategy_series(
    table: TidyTable, metric: str = DEFAULT_METRIC, split: str = DEFAULT_SPLIT, band: Band = "std"
) -> list[Series]:
    """Dev metric against refresh, per study and strategy (the study's Figure 3)."""
    series = []
    for study in table.studies():
        rows = [row for row in table.rows if row.study == study]
        curves = metric_by_refresh(rows, metric, split)
        strategy_of = {row.run: row.strategy for row in rows}
        by_strategy: dict[str, list[dict[int, float]]] = defaultdict(list)
        for run, curve in curves.items():
            by_strategy[strategy_of[run]].append(curve)
        for strategy in sorted(by_strategy, key=strategy_sort_key):
            series.append(_aggregate(study, strategy, by_strategy[strategy], band))
    return series


def loss_series(table: TidyTable, window: int | None = None, *, warmup: bool = False, band: Band = "std",
                metric: str = "loss") -> list[Series]:
    """Training loss (or another `train` event value: `metric="grad_norm"`) against step, mean over seeds,
    smoothed by a centred rolling mean (Figure 4).

    `window` counts logged points; None picks about 1/40 of the longest curve of the study.
    `warmup=True` gives the warm-up's loss instead of the strategies'.
    """
    series = []
    for study in table.studies():
        per_strategy: dict[str, list[dict[int, float]]] = defaultdict(list)
        per_run: dict[str, dict[int, float]] = defaultdict(dict)
        strategy_of: dict[str, str] = {}
        for row in table.rows:
            if row.study != study or row.kind != KIND_TRAIN or row.metric != metric or row.step is None:
                continue
            if (row.strategy == WARMUP) != warmup:
                continue
            per_run[row.run][row.step] = row.value
            strategy_of[row.run] = row.strategy
        for run, curve in per_run.items():
            per_strategy[strategy_of[run]].append(curve)
        raws = [_aggregate(study, strategy, per_strategy[strategy], band) for strategy in sorted(per_strategy, key=strategy_sort_key)]
        # One window for the whole study, so that every curve is smoothed alike.
        size = window if window is not None else auto_window(max((len(raw.x) for raw in raws), default=0))
        for raw in raws:
            series.append(
                Series(
                    study, raw.label, raw.x, rolling_mean(raw.y, size),
                    rolling_mean(raw.low, size) if raw.low else None,
                    rolling_mean(raw.high, size) if raw.high else None,
                    raw.n, raw_y=raw.y, window=size,
                )
            )
    return series


def warmup_series(table: TidyTable, band: Band = "std") -> list[Series]:
    """Warm-up evaluations against warm-up step, one series per (study, metric) (Figure 2)."""
    series = []
    for study in table.studies():
        per_metric: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
        for row in table.rows:
            if row.study == study and row.strategy == WARMUP and row.kind == KIND_EVAL and row.step is not None:
                per_metric[row.metric][row.run][row.step] = row.value
        for metric in sorted(per_metric):
            series.append(_aggregate(study, metric, list(per_metric[metric].values()), band))
    return series


def auto_window(points: int) -> int:
    return max(1, round(points / 40))


def rolling_mean(values: Sequence[float], window: int) -> list[float]:
    """Centred moving average; near the ends it averages the points that exist."""
    if window <= 1 or len(values) < 2:
        return list(values)
    data = np.asarray(values, dtype=float)
    valid = ~np.isnan(data)  # a band is NaN where one run has a value: keep it NaN, don't spread it
    kernel = np.ones(min(window, len(data)))
    sums = np.convolve(np.where(valid, data, 0.0), kernel, mode="same")
    counts = np.convolve(valid.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = np.where(valid, sums / counts, np.nan)
    return smoothed.tolist()


def _aggregate(study: str, label: str, curves: list[dict[int, float]], band: Band) -> Series:
    xs = sorted({x for curve in curves for x in curve})
    y, low, high, n = [], [], [], []
    for x in xs:
        values = [curve[x] for curve in curves if x in curve]
        mean = statistics.fmean(values)
        y.append(mean)
        n.append(len(values))
        if len(values) < 2:
            low.append(float("nan"))
            high.append(float("nan"))
        elif band == "minmax":
            low.append(min(values))
            high.append(max(values))
        else:
            std = statistics.stdev(values)
            low.append(mean - std)
            high.append(mean + std)
    has_band = any(count >= 2 for count in n)
    return Series(study, label, [float(x) for x in xs], y, low if has_band else None, high if has_band else None, n)
