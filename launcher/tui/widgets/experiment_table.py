"""The list of experiment files with the settings that tell them apart, and whether each is valid."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.text import Text

from launcher.tui.catalog import ExperimentEntry, key_settings
from launcher.tui.widgets.fitted_table import FittedTable

# "check" second: at 80 columns the last ones scroll out of view, and validity must not.
COLUMNS = ("file", "check", "segment", "dataset", "model", "GPUs", "executor")


class ExperimentTable(FittedTable):
    DEFAULT_CSS = """
    ExperimentTable {
        height: auto;
        max-height: 40%;
        min-height: 4;
        border: round $primary-darken-2;
    }
    ExperimentTable:focus {
        border: round $accent;
    }
    """

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def on_mount(self) -> None:
        self.fill(COLUMNS, [])

    def show(self, entries: Sequence[ExperimentEntry], selected: Path | None) -> None:
        rows = []
        for entry in entries:
            if entry.experiment is not None:
                settings = key_settings(entry.experiment)
                cells = [settings[name] for name in ("segment", "dataset", "model", "gpus", "executor")]
            else:
                cells = ["", "", "", "", ""]
            count = len(entry.problems)
            check = Text("ok", style="green") if entry.ok else Text(f"✗ {count} problem{'s' if count > 1 else ''}", style="bold red")
            rows.append((str(entry.source), [entry.label, check, *cells]))
        self.fill(COLUMNS, rows)
        if selected is not None and str(selected) in self.rows:
            self.move_cursor(row=self.get_row_index(str(selected)), animate=False)
