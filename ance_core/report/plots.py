"""matplotlib figures of a report (PNG, and SVG on request), one set per study.

* `<study>-<split>-<metric>.png`: dev metric against ANN refresh, a line per
  strategy with a band for the seed spread (the study's Figure 3);
* `<study>-train-loss.png`: training loss against step, smoothed (Figure 4);
* `<study>-warmup.png`: the warm-up's MRR@10 and loss against step (Figure 2).

Figures are built with the object API (`Figure`, no pyplot), so no global
backend or state is touched, and written atomically with fixed metadata so
that regenerating unchanged results gives identical files.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ance_core.io.atomic import write_bytes
from ance_core.report.series import Series, loss_series, strategy_series, warmup_series
from ance_core.report.strategies import STUDY_ORDER, study_title
from ance_core.report.summary import StudySummary
from ance_core.report.significance import fmt_p
from ance_core.report.sweep import PER_RANKS
from ance_core.report.tidy import TidyTable

log = logging.getLogger(__name__)

FORMATS = ("png", "svg")
DPI = 150
# One colour per strategy in every figure (the study's four first; matplotlib's tab10 order).
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
# Legend names of the original warm-up log's two evaluations.
_WARMUP_LABELS = {"MRR@10": "MRR@10, full ranking", "rerank MRR@10": "MRR@10, reranking the BM25 top 1000"}
_RANKING_METRIC = re.compile(r"^(rerank )?(MRR|nDCG)@\d+$")
_STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "svg.hashsalt": "ance-bundle",  # stable SVG ids
}


def write_plots(
    table: TidyTable,
    summaries: Sequence[StudySummary],
    out_dir: str | Path,
    formats: Sequence[str] = ("png",),
    loss_window: int | None = None,
) -> list[Path]:
    """Every figure the data allows, for every study; returns the files written."""
    out_dir = Path(out_dir)
    written: list[Path] = []
    metric_curves = _by_study(strategy_series(table, summaries[0].metric, summaries[0].split) if summaries else [])
    losses = _by_study(loss_series(table, loss_window))
    grad_norms = _by_study(loss_series(table, loss_window, metric="grad_norm"))
    warmup_curves = _by_study(warmup_series(table))
    warmup_losses = _by_study(loss_series(table, loss_window, warmup=True))
    colours = strategy_colours(s.strategy for summary in summaries for s in summary.strategies)
    for summary in summaries:
        stem = out_dir / slug(summary.study)
        if curves := metric_curves.get(summary.study):
            figure = metric_figure(summary, curves, colours)
            written += save(figure, f"{stem}-{slug(summary.split)}-{slug(summary.metric)}", formats)
        if curves := losses.get(summary.study):
            written += save(loss_figure(summary.study, curves, colours), f"{stem}-train-loss", formats)
        if curves := grad_norms.get(summary.study):
            figure = loss_figure(summary.study, curves, colours, quantity="gradient norm (before clipping)")
            written += save(figure, f"{stem}-grad-norm", formats)
        if summary.sweep:
            written += save(sweep_figure(summary), f"{stem}-sweep-{slug(summary.metric)}", formats)
        if curves := warmup_curves.get(summary.study):
            figure = warmup_figure(summary, curves, warmup_losses.get(summary.study, []))
            written += save(figure, f"{stem}-warmup", formats)
    return written


def metric_figure(summary: StudySummary, curves: Sequence[Series], colours: dict[str, str]) -> Figure:
    with matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=(9, 4.8), layout="constrained")
        ax = figure.subplots()
        seeds = max(max(c.n) for c in curves)
        at_common = {row.strategy: row.at_common for row in summary.strategies}
        best = {row.strategy for row in summary.strategies if row.is_best}
        for curve in curves:
            colour = colours[curve.label]
            runs = max(curve.n)
            label = ("★ " if curve.label in best else "") + curve.label + (f" ({runs} seeds)" if runs > 1 else "")
            if (value := at_common.get(curve.label)) is not None and len(curves) > 1:
                label += f"\n{value.mean:.4f} at refresh {summary.common_refresh}"
            ax.plot(curve.x, curve.y, color=colour, label=label, linewidth=1.6, **_markers(len(curve.x)))
            ax.plot(curve.x[-1:], curve.y[-1:], color=colour, marker="o", markersize=5)  # where the run stopped
            if curve.low and curve.high:
                ax.fill_between(curve.x, curve.low, curve.high, color=colour, alpha=0.18, linewidth=0)
        for index, baseline in enumerate(b for b in summary.baselines if _same_measure(b, summary)):
            ax.axhline(
                baseline.value.mean, color="0.35", linestyle=("--", "-.", (0, (1, 1)))[index % 3], linewidth=1,
                label=f"{baseline.name} (baseline)\n{baseline.value.mean:.4f}",
            )
        if summary.common_refresh is not None and len(curves) > 1:
            ax.axvline(
                summary.common_refresh, color="0.5", linestyle=":", linewidth=1.2,
                label=f"refresh {summary.common_refresh}: the last\nall runs reached",
            )
        ax.set_title(f"Dev {summary.metric} after each ANN refresh — {study_title(summary.study)}")
        ax.set_xlabel("ANN refresh (0 = start checkpoint)")
        ax.set_ylabel(f"{summary.split} {summary.metric}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        band = "\nband: ±1 std over seeds" if seeds > 1 else ""
        # Outside the axes: a legend inside would hide the curves' ends, where the answer is.
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title=f"negatives{band}", labelspacing=0.9)
    return figure


def _same_measure(baseline, summary: StudySummary) -> bool:
    return baseline.metric == summary.metric and baseline.split in (summary.split, None)


def sweep_figure(summary: StudySummary) -> Figure:
    """The dose-response: each window's gain over the start checkpoint with its paired 95% CI, by window start."""
    curve = summary.sweep
    assert curve is not None
    with matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=(9, 4.8), layout="constrained")
        ax = figure.subplots()
        x = [point.window[0] for point in curve.points]
        gain = [point.gain for point in curve.points]
        below = [point.gain - point.ci_low for point in curve.points]
        above = [point.ci_high - point.gain for point in curve.points]
        ax.errorbar(x, gain, yerr=[below, above], color="#1f77b4", marker="o", capsize=4, linewidth=1.6,
                    label=f"gain over the start checkpoint ({curve.start_mean:.4f})\nmean over "
                          f"{curve.queries:,} queries, paired 95% CI")
        significant = [(p.window[0], p.gain) for p in curve.points if p.significant]
        if significant:
            ax.scatter(*zip(*significant), s=90, facecolors="none", edgecolors="black",
                       label="Holm-corrected p < 0.05", zorder=3)
        ax.axhline(0.0, color="0.4", linewidth=1, linestyle="--")
        trend = curve.trend
        ax.set_title(f"How hard should negatives be? {study_title(summary.study)}, {summary.split} {summary.metric} "
                     f"at refresh {curve.refresh}\ntrend {trend.slope:+.4f} per {PER_RANKS} ranks (95% CI "
                     f"{trend.ci_low:+.4f} to {trend.ci_high:+.4f}, permutation {fmt_p(trend.p_permutation)})",
                     loc="left")
        ax.set_xlabel("start of the window of positive-free ranks the negatives are drawn from")
        ax.set_ylabel(f"Δ {summary.split} {summary.metric} vs start")
        ax.set_xticks(x, [f"{p.window[0]}–{p.window[1]}" for p in curve.points], rotation=30)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return figure


def loss_figure(study: str, curves: Sequence[Series], colours: dict[str, str], quantity: str = "loss") -> Figure:
    with matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=(9, 4.8), layout="constrained")
        ax = figure.subplots()
        for curve in curves:
            colour = colours[curve.label]
            if curve.raw_y is not None and (curve.window or 1) > 1:
                ax.plot(curve.x, curve.raw_y, color=colour, alpha=0.15, linewidth=0.6)
            label = curve.label + (f" (mean of {max(curve.n)} seeds)" if max(curve.n) > 1 else "")
            ax.plot(curve.x, curve.y, color=colour, linewidth=1.8, label=label)
            if curve.low and curve.high:
                ax.fill_between(curve.x, curve.low, curve.high, color=colour, alpha=0.18, linewidth=0)
        windows = sorted({curve.window for curve in curves if curve.window and curve.window > 1})
        smoothing = (
            f"\nbold: rolling mean over {'/'.join(map(str, windows))} logged points; faint: as logged" if windows else ""
        )
        ax.set_title(f"Training {quantity} — {study_title(study)}{smoothing}")
        ax.set_xlabel("training step")
        _thousands(ax.xaxis)
        ax.set_ylabel(quantity)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title="negatives")
    return figure


def warmup_figure(summary: StudySummary, curves: Sequence[Series], losses: Sequence[Series]) -> Figure:
    """Left: the warm-up's dev evaluations (MRR@10, nDCG@10) and the baselines; right: its loss."""
    curves = [curve for curve in curves if _RANKING_METRIC.match(curve.label)]  # recall has another scale
    with matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=(10, 4.2), layout="constrained")
        eval_ax, loss_ax = figure.subplots(1, 2) if losses else (figure.subplots(), None)
        for index, curve in enumerate(curves):
            colour = _PALETTE[index % len(_PALETTE)]
            label = _WARMUP_LABELS.get(curve.label, curve.label) if summary.study == "legacy" else curve.label
            eval_ax.plot(curve.x, curve.y, color=colour, marker="o", markersize=4, linewidth=1.6, label=label)
            if curve.low and curve.high:
                eval_ax.fill_between(curve.x, curve.low, curve.high, color=colour, alpha=0.18, linewidth=0)
            for baseline in summary.baselines:
                if baseline.metric == curve.label:
                    eval_ax.axhline(
                        baseline.value.mean, color=colour, linestyle="--", linewidth=1,
                        label=f"{baseline.name} {baseline.metric} (baseline)",
                    )
        eval_ax.set_title("Dev evaluations during the warm-up")
        eval_ax.set_xlabel("warm-up step")
        _thousands(eval_ax.xaxis)
        eval_ax.set_ylabel(f"{summary.split} metric")
        eval_ax.legend(loc="lower right")
        if loss_ax is not None:
            for curve in losses:
                loss_ax.plot(curve.x, curve.raw_y or curve.y, color="0.3", linewidth=1.2)
            values = [v for curve in losses for v in (curve.raw_y or curve.y) if v > 0]
            log_scale = bool(values) and max(values) / min(values) > 20  # ANCE's first logged loss is ~50x the rest
            if log_scale:
                loss_ax.set_yscale("log")
            loss_ax.set_title("Warm-up training loss" + (" (log scale)" if log_scale else ""))
            loss_ax.set_xlabel("warm-up step")
            _thousands(loss_ax.xaxis)
            loss_ax.set_ylabel("loss")
        figure.suptitle(f"BM25-negative warm-up — {study_title(summary.study)}")
    return figure


def save(figure: Figure, stem: str | Path, formats: Sequence[str]) -> list[Path]:
    written = []
    for fmt in formats:
        if fmt not in FORMATS:
            raise ValueError(f"plot format one of {FORMATS}, got {fmt!r}")
        buffer = io.BytesIO()
        metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
        with matplotlib.rc_context({"svg.hashsalt": "ance-bundle"}):
            figure.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
        path = Path(f"{stem}.{fmt}")
        write_bytes(path, buffer.getvalue())
        log.info("wrote %s", path)
        written.append(path)
    return written


def strategy_colours(strategies) -> dict[str, str]:
    """The study's strategies keep their colour whatever else is plotted; others follow."""
    colours = {name: _PALETTE[i] for i, name in enumerate(STUDY_ORDER)}
    for name in strategies:
        if name not in colours:
            colours[name] = _PALETTE[len(colours) % len(_PALETTE)]
    return colours


def slug(text: str) -> str:
    """'nDCG@10' -> 'ndcg10', 'embedded default' -> 'embedded-default': safe in file names."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9.-]+", "-", text.lower().replace("@", ""))).strip("-.") or "study"


def _thousands(axis) -> None:
    """Step counts as 150k instead of 150000, so that tick labels never run into each other."""
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1000:g}k" if abs(value) >= 1000 else f"{value:g}"))


def _markers(points: int) -> dict[str, object]:
    return {"marker": "o", "markersize": 3.5} if points <= 40 else {}


def _by_study(series: Sequence[Series]) -> dict[str, list[Series]]:
    grouped: dict[str, list[Series]] = {}
    for item in series:
        grouped.setdefault(item.study, []).append(item)
    return grouped
