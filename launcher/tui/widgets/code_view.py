"""A scrollable, syntax-highlighted view of a file (rich `Syntax`; pygments, no tree-sitter).

Long lines are not wrapped: a batch script is read line by line, so the view
scrolls sideways instead. Lines named in `marked` get a red background: the
experiment screen marks the lines its validation problems point at.
"""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.widgets import Static

THEME = "ansi_dark"  # terminal colours: readable on any background an SSH session has
MARK_STYLE = "bold on dark_red"


class CodeView(ScrollableContainer, can_focus=True):
    DEFAULT_CSS = """
    CodeView {
        height: 1fr;
        border: round $primary-darken-2;
        border-title-color: $text;
        background: $surface;
    }
    CodeView:focus {
        border: round $accent;
    }
    CodeView > Static {
        width: auto;
        min-width: 100%;
    }
    """

    code_text = ""  # what is shown, as plain text (tests and "write to file" read it)

    def compose(self) -> ComposeResult:
        yield Static(id="code")

    def show_code(self, code: str, lexer: str, title: str = "", marked: set[int] | None = None) -> None:
        syntax = Syntax(code, lexer, theme=THEME, line_numbers=True, word_wrap=False, background_color="default")
        lines = code.splitlines()
        for line in sorted(n for n in (marked or ()) if 1 <= n <= len(lines)):
            syntax.stylize_range(MARK_STYLE, (line, 0), (line, len(lines[line - 1])))
        self._set(syntax, title)
        self.code_text = code

    def show_message(self, message: str, title: str = "") -> None:
        self._set(Text(message, style="italic"), title)
        self.code_text = ""

    def _set(self, renderable, title: str) -> None:
        self.query_one("#code", Static).update(renderable)
        if title != self.border_title:
            self.scroll_home(animate=False)  # another file; the same one (another executor) keeps its place
        self.border_title = title
