"""The benchmark harness: child measurements, ratio orientation, merging results, the table."""

from __future__ import annotations

import json

import pytest

from benchmarks.harness import Row, measure, merge_results, render_markdown


def row(group: str, name: str, ours: float, baseline: float | None, **kwargs) -> Row:
    return Row(group, name, ours, baseline, "s", 50.0, 100.0, **kwargs)


def test_ratio_is_oriented_so_that_higher_is_better():
    assert row("g", "time", ours=0.5, baseline=10.0).ratio == 20.0
    assert Row("g", "speed", 300.0, 100.0, "q/s", None, None, lower_is_better=False).ratio == 3.0
    assert row("g", "alone", ours=1.0, baseline=None).ratio is None
    assert row("g", "slow", ours=1.0, baseline=10.0).meets_target is False


def test_a_side_runs_in_its_own_process_and_reports_its_peak_memory():
    side = measure("benchmarks.harness", "idle_side")
    assert side.seconds == 0.0
    assert 5 < side.peak_mem_mib < 1024  # an interpreter with numpy: tens of MiB


def test_a_failing_side_says_which_and_why():
    with pytest.raises(RuntimeError, match="no_such_side"):
        measure("benchmarks.harness", "no_such_side")


def test_merging_replaces_only_the_groups_that_ran(tmp_path):
    path = tmp_path / "machine.json"
    first = merge_results(path, "m", {}, {"encode", "samplers"},
                          [row("encode", "e", 1.0, 2.0), row("samplers", "old", 1.0, 2.0)], "d1", "c1")
    path.write_text(json.dumps(first))
    second = merge_results(path, "m", {}, {"samplers"}, [row("samplers", "new", 1.0, 3.0)], "d2", "c2")
    assert [(r["group"], r["name"]) for r in second["rows"]] == [("encode", "e"), ("samplers", "new")]
    assert second["date"] == "d2" and second["rows"][1]["ratio"] == 3.0
    assert set(second["rows"][0]) >= {"name", "ours", "baseline", "unit", "ratio", "target", "peak_mem_mib"}


def test_markdown_table_marks_targets_met_and_missed(tmp_path):
    doc = merge_results(tmp_path / "none.json", "m", {"cpu": "x"}, {"g"},
                        [row("g", "fast", 0.1, 10.0), row("g", "slow", 1.0, 10.0), row("g", "alone", 1.0, None)],
                        "d", "c")
    table = render_markdown(doc)
    assert "| g: fast | 0.1 | 10 | s | 100× ✅ | ≥ 50× |" in table
    assert "| g: slow | 1 | 10 | s | 10× ❌ | ≥ 50× |" in table
    assert "| g: alone | 1 | – | s |  |" in table
