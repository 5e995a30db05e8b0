"""Validation problems of the selected experiment: field path, what was expected, what was found."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ance_core.errors import Problem


class ProblemList(VerticalScroll):
    DEFAULT_CSS = """
    ProblemList {
        height: auto;
        max-height: 7;
        border: round $error;
        border-title-color: $error;
        padding: 0 1;
    }
    ProblemList.-empty {
        display: none;
    }
    ProblemList > Static {
        width: 100%;
    }
    """

    def __init__(self, **kwargs):
        super().__init__(Static(), classes="-empty", **kwargs)
        self.problems: tuple[Problem, ...] = ()

    def show(self, problems: Sequence[Problem], lines: Sequence[int | None] = (), what: str = "submission disabled") -> None:
        """List the problems (with the file line each points at, where known); none hides the list."""
        self.problems = tuple(problems)
        self.set_class(not problems, "-empty")
        if not problems:
            return
        count = len(problems)
        self.border_title = f"{count} problem{'s' if count > 1 else ''}: {what}"
        text = Text()
        for index, problem in enumerate(problems):
            line = lines[index] if index < len(lines) else None
            if index:
                text.append("\n")
            text.append(problem.where, style="bold")
            if line is not None and not problem.where.startswith("line "):
                text.append(f" (line {line})", style="dim")
            text.append(f": expected {problem.expected}")
            if problem.found is not None:
                text.append(f", found {problem.found}", style="italic")
        self.query_one(Static).update(text)
