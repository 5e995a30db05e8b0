"""What the four main screens share: the mode bar on top, the footer with their keys, and help text."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.screen import Screen

from launcher.tui.widgets.mode_bar import ModeBar

if TYPE_CHECKING:
    from launcher.tui.session import Session


class ModeScreen(Screen):
    MODE: ClassVar[str] = ""
    HELP: ClassVar[str] = ""  # Markdown, shown by `?` above the keys every screen has

    @property
    def session(self) -> "Session":
        return self.app.session  # type: ignore[attr-defined]

    def mode_bar(self) -> ModeBar:
        return ModeBar(self.MODE)
