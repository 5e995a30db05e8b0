"""Helpers the TUI tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable


async def wait_for(pilot, condition: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Let the app run until `condition()` holds (workers, timers and threads land meanwhile)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or condition}")
        await pilot.pause(0.1)


def screen_text(app) -> str:
    """The screen as plain text, as a user would read it."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())
