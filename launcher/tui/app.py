"""The App: four screens as modes (each keeps its state while another is shown), help, quit."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding

from launcher.tui.screens.confirm import ConfirmScreen
from launcher.tui.screens.experiments import ExperimentsScreen
from launcher.tui.screens.help import HelpScreen
from launcher.tui.screens.jobs import JobsScreen
from launcher.tui.screens.results import ResultsScreen
from launcher.tui.screens.script import ScriptScreen
from launcher.tui.session import Session
from launcher.tui.widgets.mode_bar import MODES as MODE_KEYS


class LauncherApp(App[int]):
    TITLE = "ance-launch"
    MODES = {
        "experiments": ExperimentsScreen,
        "script": ScriptScreen,
        "jobs": JobsScreen,
        "results": ResultsScreen,
    }
    DEFAULT_MODE = "experiments"
    ENABLE_COMMAND_PALETTE = False  # its footer entry costs a tenth of an 80-column footer
    BINDINGS = [
        *(Binding(str(number), f"switch_mode('{mode}')", label, show=False) for number, (mode, label) in enumerate(MODE_KEYS, start=1)),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, session: Session):
        super().__init__()
        self.session = session

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(getattr(self.screen, "MODE", ""), getattr(self.screen, "HELP", "")))

    async def action_quit(self) -> None:
        running = self.session.running_local
        if not running:
            self.exit(0)
            return
        question = (f"Local submission {', '.join(sorted(running))} is still running in this window. Quit anyway?\n"
                    "The job running now finishes on its own; the jobs after it in the chain will not start.")
        self.push_screen(ConfirmScreen(question, yes="Quit", no="Stay"), lambda yes: self.exit(0) if yes else None)
