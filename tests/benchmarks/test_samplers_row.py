"""The samplers benchmark end to end, on a small ranking (slow: it starts ~15 Python processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_samplers_row_writes_comparable_rows(tmp_path):
    command = [sys.executable, "-m", "benchmarks", "--only", "samplers", "--queries", "3000",
               "--machine", "smoke", "--results-dir", str(tmp_path)]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=900)
    doc = json.loads((tmp_path / "smoke.json").read_text())
    rows = {r["name"]: r for r in doc["rows"]}
    for strategy in ("top20", "bottom20", "top20+bottom20"):
        assert "negatives identical to the loop's" in rows[f"{strategy}, legacy counting"]["note"]
    assert "same count per query" in rows["random20, legacy counting"]["note"]
    total = rows["all 4 study strategies, legacy counting"]
    assert total["ratio"] > 1 and total["target"] == 50.0 and total["unit"] == "CPU s"
    assert (tmp_path / "smoke.md").read_text().startswith("# Benchmarks on `smoke`")
