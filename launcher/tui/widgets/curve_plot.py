"""A terminal plot of report curves (textual-plotext): one line per strategy, the same colour for a
strategy in every plot."""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual_plotext import PlotextPlot

from ance_core.report import Series

# plotext colour names, in the order strategies are met (the report sorts the study's four first).
COLOURS = ("blue+", "orange+", "green+", "red+", "magenta+", "cyan+", "yellow+", "white")


def colour_of(labels: Sequence[str]) -> dict[str, str]:
    return {label: COLOURS[index % len(COLOURS)] for index, label in enumerate(dict.fromkeys(labels))}


class CurvePlot(PlotextPlot):
    DEFAULT_CSS = """
    CurvePlot {
        height: 1fr;
        min-height: 6;
        width: 1fr;
    }
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.labels: list[str] = []  # the lines drawn (tests look at them)

    def show(self, title: str, series: Sequence[Series], xlabel: str, colours: dict[str, str]) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title(title)
        plt.xlabel(xlabel)
        self.labels = []
        for curve in series:
            points = [(x, y) for x, y in zip(curve.x, curve.y) if not math.isnan(y)]
            if not points:
                continue
            xs, ys = zip(*points)
            plt.plot(list(xs), list(ys), label=curve.label, color=colours.get(curve.label, "white"), marker="braille")
            self.labels.append(curve.label)
        if not self.labels:
            plt.title(f"{title}: nothing to plot yet")
        self.refresh()
