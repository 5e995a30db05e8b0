"""Shared rich consoles: results to stdout, logs and progress to stderr."""

from rich.console import Console

out_console = Console()
err_console = Console(stderr=True)
