"""Template, executor and runtime of the shown script: three compact drop-downs (mouse) beside keys t, e, a."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Label, Select

from launcher.render import TEMPLATES
from launcher.tui.scripts import EXECUTORS, RUNTIMES


CHOICES = {"template": tuple(TEMPLATES), "executor": EXECUTORS, "runtime": RUNTIMES}


class ScriptOptionsBar(Horizontal):
    DEFAULT_CSS = """
    ScriptOptionsBar {
        height: 1;
        margin: 0 0 1 0;
    }
    ScriptOptionsBar > Label {
        width: auto;
        padding: 0 1 0 1;
        color: $text-muted;
    }
    ScriptOptionsBar > Select {
        width: 1fr;
    }
    ScriptOptionsBar > #template {
        width: 3fr;
    }
    ScriptOptionsBar > #executor, ScriptOptionsBar > #runtime {
        width: 2fr;
    }
    """

    def __init__(self, template: str, executor: str, runtime: str):
        super().__init__()
        # Initial values go to the constructors: a Select takes its constructor value when it mounts.
        self.shown = {"template": template, "executor": executor, "runtime": runtime}

    @dataclass
    class Changed(Message):
        """The user picked another value: field is 'template', 'executor' or 'runtime'."""

        field: str
        value: str

    def compose(self) -> ComposeResult:
        for field, values in CHOICES.items():
            yield Label(field)
            value = self.shown[field] if self.shown[field] in values else values[0]
            yield Select([(value, value) for value in values], allow_blank=False, value=value, id=field, compact=True)

    def show(self, template: str, executor: str, runtime: str) -> None:
        """Show the effective values without reporting them back as the user's choice."""
        self.shown = {"template": template, "executor": executor, "runtime": runtime}
        with self.prevent(Select.Changed):
            for field, value in self.shown.items():
                select = self.query_one(f"#{field}", Select)
                if value in CHOICES[field] and select.value != value:
                    select.value = value

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        field = event.select.id or ""
        # A Select also reports the value it mounts with: only a different value is the user's choice.
        if field in self.shown and isinstance(event.value, str) and event.value != self.shown[field]:
            self.shown[field] = event.value
            self.post_message(self.Changed(field, event.value))
