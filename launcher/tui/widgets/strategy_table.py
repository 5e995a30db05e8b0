"""The comparison table of one study: a row per strategy, mean ± std over its seeds.

The numbers and their formatting come from the report package (the same as
`ance report` prints); the best strategy at the common refresh is starred.
"""

from __future__ import annotations

from rich.text import Text

from ance_core.report import BEST_MARK, StudySummary, fmt_int_range, fmt_runs, fmt_stat
from launcher.tui.widgets.fitted_table import FittedTable


class StrategyTable(FittedTable):
    DEFAULT_CSS = """
    StrategyTable {
        height: auto;
        max-height: 12;
        border: round $primary-darken-2;
        border-title-color: $text;
    }
    StrategyTable:focus {
        border: round $accent;
    }
    """

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def show(self, summary: StudySummary | None) -> None:
        if summary is None:
            self.clear(columns=True)
            self.border_title = "no results"
            return
        common = summary.common_refresh
        self.border_title = f"{summary.split} {summary.metric} per strategy (mean ± std over seeds)"
        columns = ("strategy", "start", "best", "final", "Δ", f"@{common}" if common is not None else "@common",
                   "loss", "refreshes", "runs")
        rows = []
        for row in summary.strategies:
            name = Text(f"{BEST_MARK} {row.strategy}" if row.is_best else f"  {row.strategy}", style="bold" if row.is_best else "")
            rows.append((row.strategy, [
                name, fmt_stat(row.start), fmt_stat(row.best), fmt_stat(row.final), fmt_stat(row.delta, signed=True),
                fmt_stat(row.at_common), fmt_stat(row.final_loss), fmt_int_range(row.refreshes), fmt_runs(row),
            ]))
        self.fill(columns, rows)
