"""Progress for long loops: a rich bar on a terminal, a log line every 30 s in batch logs.

SLURM output files are not terminals; a rich bar there prints nothing until the
end, so a job that runs for hours would look dead. Both forms report items/s.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)
LOG_EVERY_S = 30.0


@contextlib.contextmanager
def progress(total: int | None, description: str, unit: str = "passages", enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield `advance(n)`; a summary line with the rate is logged at the end. total=None: unknown."""
    from ance_core.console import err_console

    start = time.perf_counter()
    done = 0
    if enabled and err_console.is_terminal:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        columns = (
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>8.0f} " + unit + "/s"), TimeElapsedColumn(), TimeRemainingColumn(),
        )
        with Progress(*columns, console=err_console, transient=True) as bar:
            task = bar.add_task(description, total=total, rate=0.0)

            def advance(n: int) -> None:
                nonlocal done
                done += n
                bar.update(task, advance=n, rate=done / max(time.perf_counter() - start, 1e-9))

            yield advance
    else:
        last = start

        def advance(n: int) -> None:
            nonlocal done, last
            done += n
            now = time.perf_counter()
            if enabled and now - last >= LOG_EVERY_S:
                last = now
                log.info("%s: %d/%s %s (%.0f/s)", description, done, total or "?", unit, done / (now - start))

        yield advance
    elapsed = time.perf_counter() - start
    if enabled and done:
        log.info("%s: %d %s in %.1f s (%.0f/s)", description, done, unit, elapsed, done / max(elapsed, 1e-9))
