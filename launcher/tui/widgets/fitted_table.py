"""A DataTable whose column widths are fixed from the content before any row is drawn.

DataTable sizes auto-width columns when the app is idle. A frame drawn before
that (a loaded machine, a busy event loop) caches the rows with the old, narrow
widths, and those cached lines can stay on screen ("bad." for "bad.yaml") until
something else refreshes the table. Measuring every cell here and giving each
column an explicit width removes that window: the first frame is the final one.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text


def cell_width(cell: Cell) -> int:
    """Terminal cells the widest line of `cell` takes (wide characters count twice)."""
    text = cell if isinstance(cell, Text) else Text(str(cell))
    return max((line.cell_len for line in text.split()), default=0)


class FittedTable(DataTable):
    def fill(self, columns: Sequence[str], rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        """Replace the rows (`(key, cells)` each); columns are re-made only when their widths change."""
        widths = [max([cell_width(name), *(cell_width(cells[i]) for _, cells in rows)]) for i, name in enumerate(columns)]
        current = [(str(column.label), column.width) for column in self.columns.values()]
        same_columns = current == list(zip(columns, widths))
        self.clear(columns=not same_columns)
        if not same_columns:
            for name, width in zip(columns, widths):
                self.add_column(name, width=width, key=name)
        for key, cells in rows:
            self.add_row(*cells, key=key)
