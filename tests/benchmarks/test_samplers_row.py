"""The samplers benchmark end to end, on a small ranking (slow: it starts ~40 Python processes)."""

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
    for strategy in ("top20", "bottom20", "top20+bottom20", "random20"):
        agreed = "same count per query as ours" if strategy == "random20" else "negatives identical to ours"
        for baseline, target in (("the study's loop", 50.0), ("vectorised numpy", 1.0)):
            row = rows[f"{strategy}: ours vs {baseline}"]
            assert agreed in row["note"] and row["target"] == target and row["unit"] == "CPU s"
            assert len(row["rounds"]) == 3 and row["ratio_min"] <= row["ratio"] <= row["ratio_max"]
        assert rows[f"{strategy}: ours vs the study's loop"]["ratio"] > 1
    assert (tmp_path / "smoke.md").read_text().startswith("# Benchmarks on `smoke`")
