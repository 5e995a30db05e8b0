"""The sweep's dose-response as a terminal plot (rich, the results screen) and as Markdown (report.md).

The terminal plot is a forest plot on one shared axis, a line per window from
the top of the ranking down: the gain over the start checkpoint as a dot, its
paired 95% CI as a bar, the zero line as a column of dots. Read top to bottom
it is the curve the PNG draws left to right.
"""

from __future__ import annotations

from rich.text import Text

from ance_core.report.significance_view import p_cell
from ance_core.report.sweep import PER_RANKS, SweepCurve

PLOT_WIDTH = 44


def _window(point) -> str:
    return f"[{point.window[0]},{point.window[1]})"


def sweep_plot(curve: SweepCurve, width: int = PLOT_WIDTH, with_text: bool = True) -> Text:
    """One line per window: label, the CI bar with its dot, the gain and its corrected p; then the axis and
    (`with_text`) the sweep's sentence."""
    low = min(0.0, *(p.ci_low for p in curve.points))
    high = max(0.0, *(p.ci_high for p in curve.points))
    span = (high - low) or 1.0

    def column(value: float) -> int:
        return min(width - 1, max(0, round((value - low) / span * (width - 1))))

    label_width = max(len(_window(p)) for p in curve.points)
    text = Text()
    text.append(f"gain in {curve.metric} over the start checkpoint ({curve.start_mean:.4f}), refresh "
                f"{curve.refresh}, paired 95% CI\n", style="bold")
    for point in curve.points:
        cells = [" "] * width
        cells[column(0.0)] = "┊"
        for c in range(column(point.ci_low), column(point.ci_high) + 1):
            cells[c] = "─"
        cells[column(point.ci_low)], cells[column(point.ci_high)] = "├", "┤"
        cells[column(point.gain)] = "●"
        style = "bold" if point.significant else "dim"
        text.append(f"{_window(point):>{label_width}} ")
        text.append("".join(cells), style=style)
        text.append(f" {point.gain:+.4f}  p {p_cell(point.p_randomization_holm)}{' *' if point.significant else ''}\n")
    axis = f"{low:+.3f}".ljust(width // 2) + f"{high:+.3f}".rjust(width - width // 2)
    text.append(" " * (label_width + 1) + axis + ("\n" if with_text else ""), style="dim")
    if with_text:
        text.append(curve.text, style="bold")
    return text


def sweep_markdown(curve: SweepCurve) -> str:
    lines = [f"| window | {curve.metric} at refresh {curve.refresh} | gain over start | 95% CI | "
             "p randomization (Holm) | p t-test |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for point in curve.points:
        lines.append(f"| {_window(point)}{' *' if point.significant else ''} | {point.mean:.4f} | {point.gain:+.4f} | "
                     f"{point.ci_low:+.4f} to {point.ci_high:+.4f} | {p_cell(point.p_randomization_holm)} | "
                     f"{point.p_ttest:.3g} |")
    trend = curve.trend
    caption = (f"{curve.queries:,} {curve.split} queries, per-query values averaged over seeds "
               f"{', '.join(map(str, curve.seeds))}; the start checkpoint scores {curve.start_mean:.4f}. Gain: mean "
               f"over queries of (window's run − start), BCa bootstrap 95% CI, two-sided paired randomization test "
               f"Holm-corrected over the {len(curve.points)} windows (* = p < 0.05). Trend: mean per-query slope "
               f"{trend.slope:+.4f} per {PER_RANKS} ranks of window start (95% CI {trend.ci_low:+.4f} to "
               f"{trend.ci_high:+.4f}), permutation test shuffling the windows within each query p = "
               f"{trend.p_permutation:.4f}, t-test on the slopes p = {trend.p_ttest:.4f}.")
    return "\n".join(lines) + "\n\n" + caption + "\n\n**" + curve.text + "**\n"
