"""The analyses the original study promised (its section 5.3) and never delivered, per strategy.

From the runs of one study:

* **query difficulty**: queries stratified by the rank at which the start
  checkpoint (refresh 0) put their first relevant passage, with each strategy's
  mean gain (metric at the common refresh - at the start) in each stratum;
  every (seed, query) counts once, its stratum from that seed's start. Queries at
  rank 1 can only stay or fall, so compare strategies within a stratum, not
  strata with each other;
* **training dynamics**: loss and gradient norm (before clipping) over the ANCE
  steps, first and last logged value and mean;
* **negatives vs positive**: per refresh, the mean score margin s(q, positive) -
  s(q, negative) over the sampled negatives, in the mining model's scores, and
  the share of sampled negatives that outscore the positive (hard negatives the
  model gets wrong, or unjudged relevant passages: a false-negative signal);
* **resources**: per refresh, wall seconds (and its encode and sampling parts)
  and peak resident memory (and GPU memory where there was one); training steps
  per second.

Each comes with one sentence worded from its numbers (`texts`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ance_core.report.runs import run_id
from ance_core.report.significance import first_relevant_ranks, per_query_values
from ance_core.report.strategies import strategy_sort_key
from ance_core.report.tidy import KIND_REFRESH, KIND_TRAIN, Row

# (label, lowest rank, highest rank); None: no relevant passage in the run file's depth.
STRATA: tuple[tuple[str, int | None, int | None], ...] = (
    ("rank 1", 1, 1), ("ranks 2-3", 2, 3), ("ranks 4-10", 4, 10), ("ranks 11-100", 11, 100),
    ("not in the top 100", None, None),
)


@dataclass(frozen=True)
class StratumGain:
    stratum: str
    strategy: str
    pairs: int  # (seed, query) pairs in the stratum
    gain: float  # mean of metric at the common refresh - at the start
    improved: float  # share of pairs whose metric rose
    worsened: float


@dataclass(frozen=True)
class Dynamics:
    strategy: str
    loss_first: float | None  # first logged ANCE step (mean over seeds)
    loss_last: float | None
    grad_norm_first: float | None
    grad_norm_last: float | None
    grad_norm_mean: float | None


@dataclass(frozen=True)
class Margin:
    strategy: str
    refresh: int
    margin_mean: float | None  # mean over seeds
    outscoring_share: float | None


@dataclass(frozen=True)
class Resources:
    strategy: str
    refreshes: int  # refresh records averaged (all seeds)
    refresh_seconds: float | None  # mean wall seconds of one refresh
    encode_seconds: float | None
    sample_seconds: float | None
    peak_rss_mib: float | None  # the largest of any refresh
    peak_gpu_mib: float | None
    steps_per_s: float | None  # training, mean of the logged rates


@dataclass(frozen=True)
class Analyses:
    metric: str
    refresh: int
    strata: list[StratumGain] = field(default_factory=list)
    dynamics: list[Dynamics] = field(default_factory=list)
    margins: list[Margin] = field(default_factory=list)
    resources: list[Resources] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # analysis -> one sentence

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def analyse(
    run_dirs: Mapping[str, Mapping[int, Path]], rows: Sequence[Row], metric: str, split: str, refresh: int | None,
) -> Analyses | None:
    """The analyses of one study; `run_dirs` is strategy -> seed -> run folder, `rows` the study's tidy rows."""
    if refresh is None or not run_dirs:
        return None
    strategies = sorted(run_dirs, key=strategy_sort_key)
    runs_of = {strategy: [run_id(path) for path in run_dirs[strategy].values()] for strategy in strategies}
    result = Analyses(metric, refresh,
                      strata=_strata(run_dirs, strategies, metric, split, refresh),
                      dynamics=_dynamics(rows, runs_of),
                      margins=_margins(rows, runs_of),
                      resources=_resources(rows, runs_of))
    result.texts.update(_texts(result))
    return result


# ---------------------------------------------------------------- query difficulty


def stratum_of(rank: int | None) -> str:
    for label, low, high in STRATA:
        if (rank is None and low is None) or (rank is not None and low is not None and low <= rank <= high):
            return label
    return STRATA[-1][0]  # deeper than the run file: not in its top


def _strata(run_dirs, strategies, metric: str, split: str, refresh: int) -> list[StratumGain]:
    if refresh == 0:
        return []
    out = []
    for strategy in strategies:
        gains: dict[str, list[float]] = defaultdict(list)
        for run_dir in run_dirs[strategy].values():
            ranks = first_relevant_ranks(run_dir, 0, split)
            start, final = per_query_values(run_dir, 0, metric, split), per_query_values(run_dir, refresh, metric, split)
            if ranks is None or start is None or final is None:
                return []
            for qid in start.keys() & final.keys():
                gains[stratum_of(ranks.get(qid))].append(final[qid] - start[qid])
        for label, _, _ in STRATA:
            values = gains.get(label, [])
            if values:
                out.append(StratumGain(label, strategy, len(values), statistics.fmean(values),
                                       sum(v > 0 for v in values) / len(values), sum(v < 0 for v in values) / len(values)))
    return out


# ---------------------------------------------------------------- training, margins, resources


def _per_run(rows: Iterable[Row], kind: str, metric: str) -> dict[str, list[tuple[int, float]]]:
    """run -> [(step or refresh, value)] in order, for one kind and metric."""
    found: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in rows:
        if row.kind == kind and row.metric == metric:
            at = row.step if kind == KIND_TRAIN else row.refresh
            if at is not None:
                found[row.run].append((at, row.value))
    return {run: sorted(values) for run, values in found.items()}


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _dynamics(rows: Sequence[Row], runs_of: Mapping[str, list[str]]) -> list[Dynamics]:
    loss, grad = _per_run(rows, KIND_TRAIN, "loss"), _per_run(rows, KIND_TRAIN, "grad_norm")
    out = []
    for strategy, runs in runs_of.items():
        if not any(run in loss for run in runs):
            continue
        out.append(Dynamics(
            strategy,
            loss_first=_mean(loss[r][0][1] for r in runs if loss.get(r)),
            loss_last=_mean(loss[r][-1][1] for r in runs if loss.get(r)),
            grad_norm_first=_mean(grad[r][0][1] for r in runs if grad.get(r)),
            grad_norm_last=_mean(grad[r][-1][1] for r in runs if grad.get(r)),
            grad_norm_mean=_mean(statistics.fmean(v for _, v in grad[r]) for r in runs if grad.get(r)),
        ))
    return out


def _margins(rows: Sequence[Row], runs_of: Mapping[str, list[str]]) -> list[Margin]:
    margin, share = _per_run(rows, KIND_REFRESH, "margin_mean"), _per_run(rows, KIND_REFRESH, "outscoring_share")
    out = []
    for strategy, runs in runs_of.items():
        refreshes = sorted({r for run in runs for r, _ in margin.get(run, [])})
        for refresh in refreshes:
            out.append(Margin(strategy, refresh,
                              _mean(v for run in runs for r, v in margin.get(run, []) if r == refresh),
                              _mean(v for run in runs for r, v in share.get(run, []) if r == refresh)))
    return out


_RESOURCE_FIELDS = ((KIND_REFRESH, "seconds"), (KIND_REFRESH, "encode_s"), (KIND_REFRESH, "sample_s"),
                    (KIND_REFRESH, "peak_rss_mib"), (KIND_REFRESH, "peak_gpu_mib"), (KIND_TRAIN, "steps_per_s"))


def _resources(rows: Sequence[Row], runs_of: Mapping[str, list[str]]) -> list[Resources]:
    per_run = {metric: _per_run(rows, kind, metric) for kind, metric in _RESOURCE_FIELDS}
    out = []
    for strategy, runs in runs_of.items():
        values = {metric: [v for run in runs for _, v in found.get(run, [])] for metric, found in per_run.items()}
        seconds, rss, gpu = values["seconds"], values["peak_rss_mib"], values["peak_gpu_mib"]
        if not seconds:
            continue
        out.append(Resources(strategy, len(seconds), statistics.fmean(seconds), _mean(values["encode_s"]),
                             _mean(values["sample_s"]), max(rss) if rss else None, max(gpu) if gpu else None,
                             _mean(values["steps_per_s"])))
    return out


# ---------------------------------------------------------------- one sentence each


def _texts(result: Analyses) -> dict[str, str]:
    texts = {}
    if result.strata:
        texts["strata"] = _strata_text(result)
    if result.dynamics:
        texts["dynamics"] = _dynamics_text(result.dynamics)
    last = {m.strategy: m for m in result.margins if m.refresh == max(x.refresh for x in result.margins)} if result.margins else {}
    if any(m.outscoring_share is not None for m in last.values()):
        texts["margins"] = _margins_text(list(last.values()))
    if result.resources:
        texts["resources"] = _resources_text(result.resources)
    return texts


def _spread(items, key, fmt: str) -> str:
    """'<low> (<strategy>) to <high> (<strategy>)' over the items with a value."""
    present = [item for item in items if key(item) is not None]
    low, high = min(present, key=key), max(present, key=key)
    if format(key(low), fmt) == format(key(high), fmt):
        return f"{format(key(low), fmt)} for every strategy"
    return f"{format(key(low), fmt)} ({low.strategy}) to {format(key(high), fmt)} ({high.strategy})"


def _strata_text(result: Analyses) -> str:
    by_stratum: dict[str, list[StratumGain]] = defaultdict(list)
    for row in result.strata:
        by_stratum[row.stratum].append(row)
    most = max(by_stratum, key=lambda s: statistics.fmean(r.gain for r in by_stratum[s]))
    parts = [f"the largest mean {result.metric} gains are on queries the start checkpoint put at {most} "
             f"({_spread(by_stratum[most], lambda r: r.gain, '+.4f')})"]
    top = by_stratum.get(STRATA[0][0])
    if top:
        parts.append(f"queries it already ranked first change by {_spread(top, lambda r: r.gain, '+.4f')}")
    return "; ".join(parts) + "."


def _dynamics_text(dynamics: Sequence[Dynamics]) -> str:
    text = f"the last logged training loss runs from {_spread(dynamics, lambda d: d.loss_last, '.3f')}"
    if any(d.grad_norm_mean is not None for d in dynamics):
        text += f", the mean gradient norm from {_spread(dynamics, lambda d: d.grad_norm_mean, '.3f')}"
    return text + " (the loss is the softmax over the positive and one sampled negative: lower means the sampled " \
                  "negatives already score below the positive)."


def _margins_text(last: Sequence[Margin]) -> str:
    refresh = last[0].refresh
    return (f"at refresh {refresh} the share of sampled negatives scored above the positive runs from "
            f"{_spread(last, lambda m: m.outscoring_share, '.1%')}, and the mean margin from "
            f"{_spread(last, lambda m: m.margin_mean, '+.3f')}.")


def _resources_text(resources: Sequence[Resources]) -> str:
    text = f"a refresh takes {_spread(resources, lambda r: r.refresh_seconds, '.0f')} s"
    encode = [r.encode_seconds for r in resources if r.encode_seconds is not None]
    if encode:
        sample_ms = 1000 * max((r.sample_seconds or 0.0) for r in resources)
        text += f" (encoding {statistics.fmean(encode):.0f} s of it on average; sampling at most {sample_ms:.0f} ms)"
    if any(r.peak_rss_mib is not None for r in resources):
        text += f", with a peak resident memory of {_spread(resources, lambda r: r.peak_rss_mib, '.0f')} MiB"
    return text + "."
