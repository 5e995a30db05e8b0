"""A sweep file expands into one experiment per window; a bad sweep block names its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ance_core.config import load_experiment, load_experiments, warmup_key
from ance_core.errors import InputError

REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return path


def test_the_embedded_sweep_is_ten_windows_of_twenty_sharing_one_warmup():
    experiments = load_experiments(REPO / "experiments/embedded/sweep/sweep.yaml")
    assert [e.ance.segment.windows for e in experiments] == [[(a, a + 20)] for a in range(0, 200, 20)]
    assert [e.label for e in experiments][:2] == ["rank0-20", "rank20-40"]
    assert experiments[3].name == "embedded-sweep-60-80" and experiments[3].sweep_point.window == (60, 80)
    assert {e.ance.segment.n for e in experiments} == {20} and len({warmup_key(e) for e in experiments}) == 1
    # the embedded study's warm-up, too: the same setup up to checkpoint-0
    top20 = load_experiment(REPO / "experiments/embedded/top20.yaml")
    assert warmup_key(experiments[0]) == warmup_key(top20)
    assert experiments[0].ance.segment == top20.ance.segment  # [0,20) is the study's top20


def test_an_explicit_list_and_a_step(tmp_path):
    listed = load_experiments(write(tmp_path, "name: s\nance: {segment: {kind: random, n: 5}}\n"
                                              "sweep: {windows: [[0, 10], [50, 60], [190, 200]]}\n"))
    assert [(e.ance.segment.kind, e.ance.segment.windows) for e in listed] == [
        ("random", [(0, 10)]), ("random", [(50, 60)]), ("random", [(190, 200)])]
    stepped = load_experiments(write(tmp_path, "name: s\nance: {segment: {kind: top, n: 10}}\n"
                                               "sweep: {range: {start: 0, stop: 100, width: 20, step: 40}}\n"))
    assert [e.ance.segment.windows[0] for e in stepped] == [(0, 20), (40, 60), (80, 100)]


@pytest.mark.parametrize("block, where, expected", [
    ("{windows: [[0, 20]]}", "sweep.windows", "at least two windows"),
    ("{windows: [[0, 20], [0, 20]]}", "sweep.windows", "distinct windows"),
    ("{windows: [[30, 20], [20, 40]]}", "sweep.windows", "start < end"),
    ("{range: {start: 0, stop: 10, width: 20}}", "sweep.range.stop", "room for one window"),
    ("{range: {stop: 100}}", "sweep.range.width", "required"),
    ("{range: {stop: 100, width: 10}, windows: [[0, 20], [20, 40]]}", "sweep.windows", "exactly one of"),
    ("{}", "sweep.windows", "exactly one of"),
    ("{window: [[0, 20], [20, 40]]}", "sweep.window", "known field"),
])
def test_a_bad_sweep_block_names_the_field(tmp_path, block, where, expected):
    with pytest.raises(InputError) as caught:
        load_experiments(write(tmp_path, f"name: s\nance: {{segment: {{kind: top, n: 20}}}}\nsweep: {block}\n"))
    assert any(p.where.startswith(where) and expected in p.expected for p in caught.value.problems), caught.value


def test_a_window_narrower_than_n_is_refused_for_that_window(tmp_path):
    with pytest.raises(InputError, match=r"sweep window \[0, 10\)"):
        load_experiments(write(tmp_path, "name: s\nance: {segment: {kind: top, n: 20}}\n"
                                         "sweep: {windows: [[0, 10], [20, 40]]}\n"))


def test_a_sweep_needs_its_segment_and_is_not_one_experiment(tmp_path):
    with pytest.raises(InputError, match="ance.segment"):
        load_experiments(write(tmp_path, "name: s\nsweep: {windows: [[0, 20], [20, 40]]}\n"))
    path = write(tmp_path, "name: s\nance: {segment: {kind: top, n: 20}}\nsweep: {windows: [[0, 20], [20, 40]]}\n")
    with pytest.raises(InputError, match="a sweep of 2 windows"):
        load_experiment(path)
