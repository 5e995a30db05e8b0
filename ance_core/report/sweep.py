"""The rank-window sweep's dose-response: the metric against the window's start, with paired CIs and a trend test.

A sweep study's runs each train on one window of ranks (`sweep_point` in their
config, ance_core.config.sweep). From their TREC run files at the common refresh,
per query and averaged over the seeds:

* each window's **gain over the start checkpoint** (refresh 0, the same warm-up
  checkpoint for every window of a seed): mean over queries with the paired
  randomization test, paired t-test and BCa bootstrap 95% CI of
  `significance.paired_test`, Holm-corrected over the windows. The curve and its
  error bars are these gains: a CI is the query-level uncertainty of a window's
  effect, paired against the same queries at the start.
* the **trend**: each query's least-squares slope of its metric against the
  window start (per 100 ranks); the mean slope is tested with a permutation
  test that shuffles the windows' values within each query (scipy
  `permutation_test`, permutation_type="samples": no window order matters under
  the null), with a bootstrap CI of the mean slope. The sentence says "no trend
  detected" unless that test rejects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ance_core.report.significance import ALPHA, RESAMPLES, fmt_p, holm, paired_test, per_query_values

_TREND_STREAM = (0x54524E44,)  # "TRND": the trend test's own resampling stream
PER_RANKS = 100  # the slope is per this many ranks of window start


@dataclass(frozen=True)
class WindowPoint:
    strategy: str
    window: tuple[int, int]
    mean: float  # the metric at the refresh, mean over queries (seed-averaged per query)
    gain: float  # mean over queries of (metric at the refresh - at the start checkpoint)
    ci_low: float
    ci_high: float
    p_randomization: float
    p_ttest: float
    p_randomization_holm: float = 1.0

    @property
    def significant(self) -> bool:
        return self.p_randomization_holm < ALPHA


@dataclass(frozen=True)
class Trend:
    slope: float  # mean over queries of the per-query slope, metric per PER_RANKS ranks of window start
    ci_low: float
    ci_high: float
    p_permutation: float
    p_ttest: float

    @property
    def significant(self) -> bool:
        return self.p_permutation < ALPHA


@dataclass(frozen=True)
class SweepCurve:
    metric: str
    split: str
    refresh: int
    queries: int
    seeds: tuple[int, ...]
    start_mean: float
    points: list[WindowPoint]  # by window start
    trend: Trend
    text: str

    @property
    def best(self) -> WindowPoint:
        return max(self.points, key=lambda point: point.mean)

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "split": self.split, "refresh": self.refresh, "queries": self.queries,
            "seeds": list(self.seeds), "start_mean": self.start_mean, "per_ranks": PER_RANKS,
            "points": [{**asdict(point), "window": list(point.window), "significant": point.significant}
                       for point in self.points],
            "trend": {**asdict(self.trend), "significant": self.trend.significant},
            "tests": "gain over the start checkpoint per window: two-sided paired randomization test (sign flips), "
                     "paired t-test, Holm over the windows, BCa bootstrap 95% CI; trend: mean per-query "
                     "least-squares slope, permutation test shuffling the windows within each query "
                     "(scipy.stats.permutation_test, permutation_type='samples'), bootstrap 95% CI",
            "text": self.text,
        }


def sweep_curve(
    run_dirs: Mapping[str, Mapping[int, Path]], windows: Mapping[str, tuple[int, int]], metric: str, split: str,
    refresh: int | None,
) -> SweepCurve | None:
    """The curve of a sweep study; `run_dirs` is strategy -> seed -> run folder, `windows` strategy -> window.
    None when fewer than three windows have run files at `refresh` and at refresh 0."""
    if refresh is None or refresh == 0:
        return None
    finals: dict[str, dict[int, dict[str, float]]] = {}
    starts: dict[int, dict[str, float]] = {}
    for strategy, seeds in run_dirs.items():
        if strategy not in windows:
            continue
        for seed, run_dir in seeds.items():
            final, start = (per_query_values(run_dir, r, metric, split) for r in (refresh, 0))
            if final is None or start is None:
                return None
            finals.setdefault(strategy, {})[seed] = final
            starts.setdefault(seed, start)  # one warm-up checkpoint per seed: every window starts from it
    if len(finals) < 3:
        return None
    seeds = sorted(set.intersection(*(set(by_seed) for by_seed in finals.values())))
    if not seeds:
        return None
    queries = sorted(set.intersection(*(set(values) for by_seed in finals.values() for s, values in by_seed.items()
                                        if s in seeds), *(set(starts[s]) for s in seeds)))
    if not queries:
        return None

    def averaged(by_seed: Mapping[int, Mapping[str, float]]) -> np.ndarray:
        return np.mean([[by_seed[s][q] for q in queries] for s in seeds], axis=0)

    ordered = sorted(finals, key=lambda strategy: windows[strategy])
    start = averaged(starts)
    values = np.stack([averaged(finals[strategy]) for strategy in ordered])  # (windows, queries)
    points = []
    for index, strategy in enumerate(ordered):
        test = paired_test(values[index], start, (0x5357, index))  # "SW"
        points.append(WindowPoint(strategy, windows[strategy], float(values[index].mean()), test["difference"],
                                  test["ci_low"], test["ci_high"], test["p_randomization"], test["p_ttest"]))
    points = [replace(point, p_randomization_holm=p) for point, p in zip(points, holm([pt.p_randomization for pt in points]))]
    starts_at = np.array([windows[strategy][0] for strategy in ordered], dtype=float)
    trend = trend_test(values, starts_at)
    curve = SweepCurve(metric, split, refresh, len(queries), tuple(seeds), float(start.mean()), points, trend, "")
    return replace(curve, text=sweep_text(curve))


def trend_test(values: np.ndarray, starts: np.ndarray, resamples: int = RESAMPLES) -> Trend:
    """The mean per-query slope of `values` (windows x queries) against `starts`, per PER_RANKS ranks."""
    from scipy import stats

    centred = (starts - starts.mean()) / ((starts - starts.mean()) ** 2).sum() * PER_RANKS

    def mean_slope(*per_window: np.ndarray, axis: int = -1) -> np.ndarray:
        stacked = np.stack(per_window, axis=0)  # (windows, ..., queries)
        return np.tensordot(centred, stacked, axes=(0, 0)).mean(axis=axis)

    slopes = np.tensordot(centred, values, axes=(0, 0))
    rng = np.random.default_rng([*_TREND_STREAM, 0])
    permutation = stats.permutation_test(tuple(values), mean_slope, permutation_type="samples", vectorized=True,
                                         n_resamples=resamples, alternative="two-sided", rng=rng)
    interval = stats.bootstrap((slopes,), np.mean, confidence_level=0.95, n_resamples=resamples, vectorized=True,
                               rng=np.random.default_rng([*_TREND_STREAM, 1])).confidence_interval
    ttest = stats.ttest_1samp(slopes, 0.0)
    return Trend(float(slopes.mean()), float(interval.low), float(interval.high), float(permutation.pvalue),
                 float(ttest.pvalue))


def sweep_text(curve: SweepCurve) -> str:
    """What the sweep found, worded from its tests and nothing else."""
    averaged = f", averaged over {len(curve.seeds)} seeds" if len(curve.seeds) > 1 else ""
    head = (f"Across {len(curve.points)} windows, at refresh {curve.refresh}, on {curve.queries:,} {curve.split} "
            f"queries ({curve.metric} per query{averaged}): ")
    trend = curve.trend
    ci = f"95% CI {trend.ci_low:+.4f} to {trend.ci_high:+.4f}"
    if trend.significant:
        direction = "falls" if trend.slope < 0 else "rises"
        said = (f"{curve.metric} {direction} as the window moves down the ranking, {trend.slope:+.4f} per "
                f"{PER_RANKS} ranks ({ci}; within-query permutation test {fmt_p(trend.p_permutation)})")
    else:
        said = (f"no trend detected against the window's start ({trend.slope:+.4f} per {PER_RANKS} ranks, {ci}; "
                f"within-query permutation test {fmt_p(trend.p_permutation)})")
    best = curve.best
    gains = [point for point in curve.points if point.significant and point.gain > 0]
    losses = [point for point in curve.points if point.significant and point.gain < 0]
    over_start = (f"{len(gains)} of {len(curve.points)} windows improve on the start checkpoint "
                  f"(Holm-corrected paired tests)" + (f", {len(losses)} fall below it" if losses else ""))
    return (f"{head}{said}; {over_start}; the highest mean is {best.strategy} ({best.mean:.4f}, gain "
            f"{best.gain:+.4f}, 95% CI {best.ci_low:+.4f} to {best.ci_high:+.4f}).")
