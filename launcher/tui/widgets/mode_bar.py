"""The top line: the bundle's name and the four screens, the current one lit; click or press 1-4."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

# (mode, label): the App's MODES in the order of their keys 1..4.
MODES: tuple[tuple[str, str], ...] = (
    ("experiments", "Experiments"),
    ("script", "Script"),
    ("jobs", "Jobs"),
    ("results", "Results"),
)


class ModeLink(Static):
    DEFAULT_CSS = """
    ModeLink {
        width: auto;
        padding: 0 1;
        color: $text-muted;
    }
    ModeLink:hover {
        background: $boost;
        color: $text;
    }
    ModeLink.-current {
        background: $primary;
        color: $text;
        text-style: bold;
    }
    """

    def __init__(self, mode: str, label: str, key: int, current: bool):
        super().__init__(f"{key} {label}", classes="-current" if current else "")
        self.mode = mode

    def on_click(self) -> None:
        self.app.switch_mode(self.mode)


class ModeBar(Horizontal):
    DEFAULT_CSS = """
    ModeBar {
        height: 1;
        dock: top;
        background: $panel;
    }
    ModeBar > .title {
        width: auto;
        padding: 0 1;
        text-style: bold;
        color: $accent;
    }
    """

    def __init__(self, current: str):
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        yield Static("ance-launch", classes="title")
        for number, (mode, label) in enumerate(MODES, start=1):
            yield ModeLink(mode, label, number, mode == self.current)
