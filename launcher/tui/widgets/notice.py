"""One line (or a few) that tells the state of things: SLURM missing, nothing found, a problem."""

from __future__ import annotations

from textual.widgets import Static


class Notice(Static):
    DEFAULT_CSS = """
    Notice {
        height: auto;
        max-height: 4;
        padding: 0 1;
        color: $text-muted;
    }
    Notice.-empty {
        display: none;
    }
    Notice.-warning {
        color: $warning;
    }
    Notice.-error {
        color: $error;
    }
    Notice.-success {
        color: $success;
    }
    """

    def say(self, text: str, level: str = "info") -> None:
        """Show `text` at `level` (info, success, warning, error); empty text hides the notice."""
        self.set_classes("-empty" if not text else f"-{level}")
        self.update(text)

    @property
    def text(self) -> str:
        return str(self.content)
