"""The benchmark harness: child measurements, rounds and ratios, targets, merging results, the tables."""

from __future__ import annotations

import json
import sys
import types

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import rows as bench_rows
from benchmarks.harness import (
    MIN_ROUNDS,
    PROJECTED,
    Row,
    Side,
    interleave,
    measure,
    merge_results,
    render_markdown,
)


def row(group: str, name: str, ours: list[float], baseline: list[float] | None, **kwargs) -> Row:
    return Row.from_rounds(group, name, ours, baseline, "s", 50.0, 100.0, **kwargs)


def test_sides_run_interleaved_round_by_round():
    calls = []

    def side(name: str):
        return lambda: calls.append(name) or Side(seconds=float(len(calls)), peak_mem_mib=1.0)

    results = interleave(3, {"ours": side("ours"), "theirs": side("theirs")})
    assert calls == ["ours", "theirs"] * 3
    assert [s.seconds for s in results["ours"]] == [1.0, 3.0, 5.0]
    assert [s.seconds for s in results["theirs"]] == [2.0, 4.0, 6.0]


def test_the_ratio_is_the_median_of_round_ratios_with_its_range():
    # times: ratio = baseline / ours, per round, paired in run order
    r = row("g", "time", ours=[1.0, 2.0, 1.0], baseline=[60.0, 80.0, 100.0])
    assert [x["ratio"] for x in r.rounds] == [60.0, 40.0, 100.0]
    assert (r.ratio, r.ratio_min, r.ratio_max) == (60.0, 40.0, 100.0)
    assert (r.ours, r.baseline) == (1.0, 80.0)  # medians of each side's rounds
    rate = Row.from_rounds("g", "speed", [300.0, 200.0, 330.0], [100.0, 100.0, 110.0], "q/s", None, None,
                           lower_is_better=False)
    assert (rate.ratio, rate.ratio_min, rate.ratio_max) == (3.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="3 rounds of ours but 2"):
        row("g", "uneven", [1.0, 1.0, 1.0], [2.0, 2.0])


def test_a_target_is_met_only_when_the_lowest_round_meets_it():
    assert row("g", "all above", [1.0, 1.0, 1.0], [60.0, 55.0, 50.0]).meets_target is True
    below = row("g", "median above, one round below", [1.0, 1.0, 1.0], [60.0, 70.0, 49.0])
    assert below.ratio == 60.0 and below.meets_target is False
    assert row("g", "no baseline", [1.0, 1.0, 1.0], None).meets_target is None
    heavy = row("g", "fast but over its memory limit", [1.0] * 3, [60.0] * 3, peak_limit_mib=99.0)
    assert heavy.meets_target is False


def test_a_projection_is_never_ticked():
    projected = Row("scale", "refresh on a GPU", 0.1, 16.0, "h", 64.0, None, kind=PROJECTED)
    assert projected.ratio == 160.0 and projected.meets_target is None
    with pytest.raises(ValueError, match="kind"):
        Row("g", "x", 1.0, 2.0, "s", None, None, kind="guessed")


def test_a_side_runs_in_its_own_process_and_reports_its_peak_memory():
    side = measure("benchmarks.harness", "idle_side")
    assert side.seconds == 0.0
    assert 5 < side.peak_mem_mib < 1024  # an interpreter with numpy: tens of MiB


def test_a_failing_side_says_which_and_why():
    with pytest.raises(RuntimeError, match="no_such_side"):
        measure("benchmarks.harness", "no_such_side")


def test_the_results_file_keeps_every_round_and_replaces_only_the_groups_that_ran(tmp_path):
    path = tmp_path / "machine.json"
    first = merge_results(path, "m", {}, {"encode", "samplers"},
                          [row("encode", "e", [1.0] * 3, [2.0] * 3), row("samplers", "old", [1.0] * 3, [2.0] * 3)],
                          "d1", "c1", {"encode": 60.0, "samplers": 30.0})
    path.write_text(json.dumps(first))
    second = merge_results(path, "m", {}, {"samplers"}, [row("samplers", "new", [1.0, 2.0, 4.0], [3.0, 3.0, 3.0])],
                           "d2", "c2", {"samplers": 20.0})
    assert [(r["group"], r["name"]) for r in second["rows"]] == [("encode", "e"), ("samplers", "new")]
    new = second["rows"][1]
    assert new["rounds"] == [{"ours": 1.0, "baseline": 3.0, "ratio": 3.0}, {"ours": 2.0, "baseline": 3.0, "ratio": 1.5},
                             {"ours": 4.0, "baseline": 3.0, "ratio": 0.75}]
    assert (new["ratio"], new["ratio_min"], new["ratio_max"], new["meets_target"]) == (1.5, 0.75, 3.0, False)
    assert new["kind"] == "measured" and second["group_seconds"] == {"encode": 60.0, "samplers": 20.0}
    assert second["date"] == "d2" and second["quick"] is False


def test_markdown_ticks_by_the_lowest_round_and_keeps_projections_apart(tmp_path):
    doc = merge_results(tmp_path / "none.json", "m", {"cpu": "x"}, {"g", "scale"}, [
        row("g", "fast", [0.1] * 3, [10.0, 10.0, 8.0]),
        row("g", "slow", [1.0] * 3, [10.0, 60.0, 60.0]),
        row("g", "alone", [1.0] * 3, None),
        Row("scale", "refresh projected", 0.1, 16.0, "h", 64.0, None, kind=PROJECTED, note="assumed MFU"),
    ], "d", "c")
    table = render_markdown(doc)
    measured, projections = table.split("## Projections")
    assert "| g: fast | 0.1 | 10 | s | 100× (80–100) ✅ | 3 | ≥ 50× |" in measured
    assert "| g: slow | 1 | 60 | s | 60× (10–60) ❌ | 3 | ≥ 50× |" in measured
    assert "| g: alone | 1 | – | s |  | 3 | ≥ 50× |" in measured  # no baseline: no ratio, no tick
    assert "refresh projected" not in measured
    assert "* g: fast: lowest round 80× against ≥ 50× — met" in measured
    assert "* g: slow: lowest round 10× against ≥ 50× — missed: 80% short" in measured
    assert "| scale: refresh projected | 0.1 | 16 | h | 160× | 64× | assumed MFU |" in projections
    assert "✅" not in projections and "❌" not in projections


IDLE = "idle-test-group"


@pytest.fixture
def idle_group(monkeypatch):
    """A registered group whose one row compares two real child processes that do nothing."""
    module = types.ModuleType("idle_bench_group")

    def run(options):
        results = interleave(MIN_ROUNDS, {name: (lambda: measure("benchmarks.harness", "idle_side"))
                                          for name in ("ours", "theirs")})
        return [Row.from_rounds(IDLE, "idle", [s.peak_mem_mib for s in results["ours"]],
                                [s.peak_mem_mib for s in results["theirs"]], "MiB", None, None)]

    module.run = run
    monkeypatch.setitem(sys.modules, "idle_bench_group", module)
    monkeypatch.setitem(bench_rows.ROWS, IDLE, "idle_bench_group")
    monkeypatch.setattr(bench_main, "ROWS", bench_rows.ROWS)


def test_a_quick_run_is_labelled_and_never_overwrites_the_results(idle_group, tmp_path):
    (tmp_path / "m.json").write_text('{"rows": []}')
    assert bench_main.main(["--only", IDLE, "--quick", "--machine", "m", "--results-dir", str(tmp_path)]) == 0
    assert (tmp_path / "m.json").read_text() == '{"rows": []}'
    quick = json.loads((tmp_path / "quick" / "m.json").read_text())
    assert quick["quick"] is True and len(quick["rows"][0]["rounds"]) == MIN_ROUNDS
    assert IDLE in quick["group_seconds"]
    assert "Quick smoke run" in (tmp_path / "quick" / "m.md").read_text()
