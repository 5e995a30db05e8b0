"""Our jobs, newest submission first: state, elapsed time, node and reason. The cursor stays on its job
across refreshes."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from launcher.tui.tracking import JobRow
from launcher.tui.widgets.fitted_table import FittedTable
from launcher.views import STATE_STYLES

# What a job is doing first: at 80 columns the last columns scroll out of view.
COLUMNS = ("job", "state", "elapsed", "node", "reason", "job id", "submission")


class JobTable(FittedTable):
    DEFAULT_CSS = """
    JobTable {
        border-title-color: $text;
        height: auto;
        max-height: 60%;
        min-height: 5;
        border: round $primary-darken-2;
    }
    JobTable:focus {
        border: round $accent;
    }
    """

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.job_rows: dict[str, JobRow] = {}

    def on_mount(self) -> None:
        self.fill(COLUMNS, [])

    def show(self, rows: Sequence[JobRow], select: str | None = None) -> None:
        """Replace the rows; the cursor goes to `select` (a row key), else stays on the job it was on."""
        current = self.selected_key()
        self.job_rows = {row.key: row for row in rows}
        table_rows = []
        previous = None
        for row in rows:
            status = row.status
            # The submission id once per submission: the rows below it are its jobs.
            submission = row.submission.id if row.submission.id != previous else ""
            previous = row.submission.id
            state = status.state + (f" ({status.restarts} restarts)" if status.restarts else "")
            table_rows.append((row.key, [row.label, Text(state, style=STATE_STYLES.get(status.state, "")), status.elapsed,
                                         status.node, status.reason, status.job_id or "", submission]))
        self.fill(COLUMNS, table_rows)
        count = len({row.submission.id for row in rows})
        self.border_title = f"jobs of {count} submission{'s' if count != 1 else ''}, newest first" if rows else "jobs"
        target = select if select in self.job_rows else current
        if target in self.job_rows:
            self.move_cursor(row=self.get_row_index(target), animate=False)

    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return key if key in self.job_rows else None

    def selected(self) -> JobRow | None:
        key = self.selected_key()
        return self.job_rows.get(key) if key else None
