"""FittedTable: column widths come from the content at once, not when the app is next idle.

The failure this prevents: a frame drawn between `add_row` and DataTable's idle
re-measure kept narrow cached lines on screen ("bad." for "bad.yaml").
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from launcher.tui.widgets.fitted_table import FittedTable, cell_width


class TableApp(App):
    def compose(self) -> ComposeResult:
        yield FittedTable()


def test_cell_width_counts_terminal_cells():
    assert cell_width("bad.yaml") == 8
    assert cell_width(Text("✗ 2 problems", style="red")) == 12
    assert cell_width("漢字") == 4  # wide characters take two cells
    assert cell_width("a\nlonger line") == 11  # the widest line
    assert cell_width("") == 0


async def test_widths_are_final_before_the_table_is_idle():
    async with TableApp().run_test(size=(80, 10)) as pilot:
        table = pilot.app.query_one(FittedTable)
        # no pause between fill and the check: DataTable alone would still have the labels' widths here
        table.fill(("file", "check"), [("a", ["sub/random20.yaml", "ok"]), ("b", ["x", Text("✗ 2 problems")])])
        assert [column.get_render_width(table) - 2 * table.cell_padding for column in table.columns.values()] == [17, 12]
        await pilot.pause()
        assert [str(cell) for cell in table.get_row("a")] == ["sub/random20.yaml", "ok"]


async def test_refill_keeps_columns_of_the_same_width_and_remakes_changed_ones():
    async with TableApp().run_test(size=(80, 10)) as pilot:
        table = pilot.app.query_one(FittedTable)
        table.fill(("job", "state"), [("1", ["train", "RUNNING"])])
        first = list(table.columns.values())
        table.fill(("job", "state"), [("1", ["train", "RUNNING"]), ("2", ["mine", "PENDING"])])
        assert list(table.columns.values()) == first and table.row_count == 2  # same widths: same columns
        table.fill(("job", "state"), [("1", ["train", "COMPLETED"])])
        assert [column.width for column in table.columns.values()] == [5, 9] and table.row_count == 1
        await pilot.pause()
