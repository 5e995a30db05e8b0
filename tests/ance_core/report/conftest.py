"""The `study` fixture: a runs root as `make reproduce-all` leaves it (see helpers/report_runs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.report_runs import write_study


@pytest.fixture
def study(tmp_path: Path) -> Path:
    """runs/embedded: top20 and top20-bottom20 with seeds 0 and 1, random20 still running, two warm-ups."""
    return write_study(tmp_path / "runs" / "embedded")
