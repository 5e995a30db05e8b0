"""A job's log, followed as it grows.

Runs roots are often on NFS, which has no inotify: the file is polled (its
size, then the new bytes) in a thread, so a slow file server never freezes the
screen. A log that shrinks (a requeued job that starts it again) is read anew.
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.widgets import Log

POLL_SECONDS = 1.0
FIRST_READ_BYTES = 64 * 1024  # a long log opens at its end, as `tail` does


class LogFollower(Log):
    DEFAULT_CSS = """
    LogFollower {
        height: 1fr;
        min-height: 4;
        border: round $primary-darken-2;
        border-title-color: $text;
    }
    LogFollower:focus {
        border: round $accent;
    }
    """

    def __init__(self, **kwargs):
        super().__init__(max_lines=5000, auto_scroll=True, **kwargs)
        self.path: Path | None = None
        self._offset = 0
        self._generation = 0  # a read started for an older path is dropped when it lands
        self._placeholder = False  # the log shows a note, not the file

    def on_mount(self) -> None:
        self.set_interval(POLL_SECONDS, self.poll)
        self.border_title = "log"

    def follow(self, path: Path | None, waiting: str = "", title: str = "") -> None:
        """Show the log at `path` (None: show `waiting` instead) and keep it current; `title`: how to name it."""
        if path == self.path and path is not None:
            return
        self._generation += 1
        self.path, self._offset = path, 0
        self.border_title = f"log: {title or path}" if path else "log"
        self._note(waiting or "(no job selected)")
        self.poll()

    def poll(self) -> None:
        if self.path is not None:
            self._read(self.path, self._offset, self._generation)

    @work(thread=True, exclusive=True, group="log-read")
    def _read(self, path: Path, offset: int, generation: int) -> None:
        try:
            size = path.stat().st_size
        except OSError:
            text, new_offset, restart = None, 0, False
        else:
            restart = size < offset
            start = 0 if restart else offset
            first = start == 0 and size > FIRST_READ_BYTES
            if first:
                start = size - FIRST_READ_BYTES
            with open(path, "rb") as handle:
                handle.seek(start)
                data = handle.read(size - start)
            text = data.decode("utf-8", errors="replace")
            if first:
                text = text.split("\n", 1)[-1]  # drop the line cut in half
            new_offset = start + len(data)
        self.app.call_from_thread(self._append, generation, offset, text, new_offset, restart)

    def _note(self, text: str) -> None:
        self.clear()
        self.write_line(text)
        self._placeholder = True

    def _append(self, generation: int, read_from: int, text: str | None, offset: int, restart: bool) -> None:
        # Two reads can be in flight (follow's first read and the timer's: a thread worker is not
        # stopped by `exclusive`); one that started where an earlier one already moved on from
        # would write the same lines twice.
        if generation != self._generation or read_from != self._offset:
            return
        if text is None:
            if self._offset:  # it was there and is gone (a cleaned-up job folder)
                self._offset = 0
            self._note("(no log yet: the job has not started)")
            return
        if restart or self._placeholder:
            self.clear()
            self._placeholder = False
        self._offset = offset
        if text:
            self.write(text)
