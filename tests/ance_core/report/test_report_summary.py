"""Per-strategy numbers and plot series, checked against values worked out from the fixture's curves."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest
from helpers.report_runs import BM25, CURVES, LOG_EVERY, REFRESH_EVERY, loss_at, write_run

from ance_core.report import load_runs, loss_series, strategy_rows, strategy_series, summarize, warmup_series
from ance_core.report.series import rolling_mean
from ance_core.report.summary import LOSS_WINDOW, refresh_jitter


def test_per_strategy_numbers_over_seeds(study: Path):
    (summary,) = summarize(load_runs([study]))
    rows = {row.strategy: row for row in summary.strategies}

    # random20 (still running) reached refresh 2 only: everything is compared there
    assert summary.common_refresh == 2
    top = rows["top20"]
    seeds = CURVES["top20"]
    assert top.n_runs == 2 and top.seeds == (0, 1) and top.states == {"finished": 2}
    assert top.start.mean == pytest.approx(statistics.fmean([seeds[0][0], seeds[1][0]]))
    assert top.start.std == pytest.approx(statistics.stdev([seeds[0][0], seeds[1][0]]))
    assert (top.best.min, top.best.max) == (0.62, 0.64)
    assert top.final.mean == pytest.approx(0.63)
    assert top.delta.mean == pytest.approx(0.12)
    assert top.at_common.mean == pytest.approx(0.59) and (top.at_common.min, top.at_common.max) == (0.58, 0.60)
    assert (top.refreshes.min, top.refreshes.max) == (3, 3)
    mixed = rows["top20+bottom20"]
    assert mixed.best.mean == pytest.approx(0.67) and mixed.best_refresh.mean == 2
    assert mixed.final.mean == pytest.approx(0.66)
    running = rows["random20"]
    assert running.n_runs == 1 and running.at_common.std is None and running.states == {"running": 1}


def test_loss_at_the_end_is_the_mean_of_the_last_logged_losses(study: Path):
    (summary,) = summarize(load_runs([study]))
    run = next(r for r in summary.runs if r.run == "embedded/top20/seed0")

    steps = range(LOG_EVERY, 3 * REFRESH_EVERY + 1, LOG_EVERY)
    expected = statistics.fmean([loss_at(step, 0.3) for step in steps][-LOSS_WINDOW:])
    assert run.final_loss == pytest.approx(expected)


def test_best_strategy_is_marked_and_its_lead_judged_against_the_seed_spread(study: Path):
    (summary,) = summarize(load_runs([study]))

    verdict = summary.verdict
    assert (verdict.best, verdict.runner_up) == ("top20+bottom20", "top20")
    assert verdict.lead == pytest.approx(0.67 - 0.59)
    assert verdict.spread == pytest.approx(statistics.stdev([0.66, 0.68]))
    assert verdict.exceeds_spread is True and "exceeds the seed spread" in verdict.text
    assert [row.strategy for row in summary.strategies if row.is_best] == ["top20+bottom20"]


def test_a_lead_inside_the_seed_spread_is_called_so(tmp_path: Path):
    root = tmp_path / "embedded"
    write_run(root, "top20", 0, {0: 0.5, 1: 0.60})
    write_run(root, "top20", 1, {0: 0.5, 1: 0.70})
    write_run(root, "random20", 0, {0: 0.5, 1: 0.64})
    write_run(root, "random20", 1, {0: 0.5, 1: 0.65})

    (summary,) = summarize(load_runs([root]))

    assert summary.verdict.best == "top20" and summary.verdict.lead == pytest.approx(0.005)
    assert summary.verdict.exceeds_spread is False and "not established" in summary.verdict.text


def test_run_without_the_common_refresh_uses_its_last_evaluation_before_it(tmp_path: Path):
    root = tmp_path / "embedded"
    write_run(root, "top20", 0, {0: 0.5, 2: 0.6, 4: 0.7})  # evaluates every second refresh
    write_run(root, "random20", 0, {0: 0.5, 1: 0.55, 2: 0.58, 3: 0.6})

    (summary,) = summarize(load_runs([root]))

    assert summary.common_refresh == 3
    assert {row.strategy: row.at_common.mean for row in summary.strategies} == {"top20": 0.6, "random20": 0.6}


def test_baselines_and_strategy_rows_are_plain_data(study: Path):
    table = load_runs([study])
    (summary,) = summarize(table)

    bm25 = {b.metric: b.value for b in summary.baselines if b.name == "bm25"}
    assert bm25["nDCG@10"].mean == BM25["nDCG@10"] and bm25["nDCG@10"].n == 2
    rows = strategy_rows(table)
    assert [row.strategy for row in rows] == ["top20", "top20+bottom20", "random20"]
    as_dict = rows[0].as_dict()
    assert as_dict["at_common"]["mean"] == pytest.approx(0.59) and as_dict["seeds"] == [0, 1]


def test_other_metric_is_summarised_on_request(study: Path):
    (summary,) = summarize(load_runs([study]), metric="MRR@10")

    top = next(row for row in summary.strategies if row.strategy == "top20")
    assert summary.metric == "MRR@10" and top.at_common.mean == pytest.approx(0.59 - 0.05)


def test_strategy_series_gives_mean_and_a_seed_band(study: Path):
    series = {s.label: s for s in strategy_series(load_runs([study]))}

    top = series["top20"]
    assert top.x == [0.0, 1.0, 2.0, 3.0] and top.n == [2, 2, 2, 2]
    assert top.y[3] == pytest.approx(0.63)
    assert top.low[3] == pytest.approx(0.63 - statistics.stdev([0.62, 0.64]))
    assert top.high[3] == pytest.approx(0.63 + statistics.stdev([0.62, 0.64]))
    assert series["random20"].low is None  # one run: no band


def test_loss_series_is_the_seed_mean_smoothed(study: Path):
    table = load_runs([study])
    raw = {s.label: s for s in loss_series(table, window=1)}
    smooth = {s.label: s for s in loss_series(table, window=5)}

    top = raw["top20"]
    assert top.y[0] == pytest.approx(loss_at(LOG_EVERY, 0.3))  # both seeds log the same loss in the fixture
    assert smooth["top20"].raw_y == top.y and smooth["top20"].window == 5
    assert smooth["top20"].y[10] == pytest.approx(statistics.fmean(top.y[8:13]))


def test_warmup_series_averages_the_seeds_warmups(study: Path):
    series = {s.label: s for s in warmup_series(load_runs([study]))}

    assert series["MRR@10"].x == [50.0, 100.0]
    assert series["MRR@10"].y == pytest.approx([0.305, 0.425])


def test_rolling_mean_is_centred_and_averages_what_exists_at_the_ends():
    assert rolling_mean([1, 2, 3, 4, 5], 3) == pytest.approx([1.5, 2, 3, 4, 4.5])
    assert rolling_mean([1, 2], 1) == [1, 2]
    smoothed = rolling_mean([1, float("nan"), 3], 3)
    assert smoothed[0] == 1 and math.isnan(smoothed[1]) and smoothed[2] == 3


def test_single_runs_get_the_refresh_to_refresh_jitter_as_a_yardstick(tmp_path: Path):
    root = tmp_path / "embedded"
    write_run(root, "top20", 0, {0: 0.50, 1: 0.60, 2: 0.65, 3: 0.66})
    write_run(root, "bottom20", 0, {0: 0.50, 1: 0.52, 2: 0.56, 3: 0.57})

    (summary,) = summarize(load_runs([root]))

    jitter_top = statistics.stdev([0.10, 0.05, 0.01])
    jitter_bottom = statistics.stdev([0.02, 0.04, 0.01])
    assert summary.verdict.exceeds_spread is None and summary.verdict.spread is None
    assert summary.verdict.jitter == pytest.approx((jitter_top + jitter_bottom) / 2)
    assert f"changes by {summary.verdict.jitter:.4f} (std)" in summary.verdict.text
    assert refresh_jitter({0: 0.5, 1: 0.6}, 1) is None  # one change: no spread to speak of
