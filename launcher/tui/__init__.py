"""The Textual launcher: pick an experiment, see its batch script, submit, follow the jobs, see results.

`ance-launch` with no arguments (or `ance-launch tui [--experiments DIR] [--runs DIR]`)
opens it. Screens (one per file in `screens/`) talk to the launcher's public
functions through the plain-data modules beside this file (`catalog`, `scripts`,
`tracking`, `results_data`); widgets live in `widgets/`, each with its own CSS.
"""

from __future__ import annotations

from collections.abc import Sequence


def run(experiments: Sequence[str] = (), runs: str | None = None) -> int:
    """Open the TUI; returns the exit code. Textual is imported here, not when the CLI starts."""
    from launcher.tui.app import LauncherApp
    from launcher.tui.session import Session

    app = LauncherApp(Session.create(experiments or ["experiments"], runs))
    app.run()
    return app.return_code or 0
