"""`?`: what the current screen shows and its keys, and the keys every screen has."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static

COMMON = """
### Everywhere

| key | |
| --- | --- |
| `1` `2` `3` `4` | Experiments, Script, Jobs, Results (or click them in the top line) |
| `tab` / `shift+tab` | move between panes; arrows and the mouse wheel scroll |
| `?` | this help; `escape` closes it |
| `q` | quit (asks first while local jobs of this session still run) |

`ance-launch --help` lists the same actions as commands (`validate`, `render`,
`submit`, `status`, `logs`, `cancel`, `reproduce-all`).
"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 90%;
        max-width: 100;
        height: 90%;
        border: round $accent;
        border-title-color: $accent;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen Static {
        color: $text-muted;
    }
    """
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, title: str, text: str):
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = f"help: {self.title_text}"
            yield Markdown(self.text + "\n" + COMMON)
            yield Static("escape: close")

    def action_close(self) -> None:
        self.dismiss(None)
