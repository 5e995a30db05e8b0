"""The sweep's dose-response and the promised analyses, read from run folders as `ance run` writes them."""

from __future__ import annotations

import pytest

from ance_core.report import collect, summarize
from ance_core.report.render import render_markdown, report_json
from ance_core.report.sweep_view import sweep_plot
from helpers.report_runs import SWEEP_WINDOWS, write_sweep_study


@pytest.fixture(scope="module")
def falling(tmp_path_factory):
    root = write_sweep_study(tmp_path_factory.mktemp("a") / "runs" / "sweep", falls_by=0.1)
    return root, summarize(collect([root]), metric="MRR@10")[0]


def test_a_falling_curve_is_a_detected_trend_with_paired_cis(falling):
    _, summary = falling
    curve = summary.sweep
    assert curve is not None and [p.window for p in curve.points] == SWEEP_WINDOWS
    assert curve.queries == 150 and curve.seeds == (0, 1) and curve.start_mean == pytest.approx(0.5)
    assert curve.trend.significant and curve.trend.slope < 0
    assert curve.trend.ci_low < curve.trend.slope < curve.trend.ci_high < 0
    first, last = curve.points[0], curve.points[-1]
    assert first.significant and first.gain > 0 and first.ci_low > 0  # rank 1 for ~60% of queries: a clear gain
    assert first.mean == pytest.approx(first.gain + curve.start_mean)
    assert curve.best.window == (0, 20)
    assert "falls as the window moves down the ranking" in curve.text
    # the pairwise tests of a sweep: neighbouring windows, not all 15 pairs of six
    assert [(p.a, p.b) for p in summary.significance.pairs] == [
        (f"rank{a}-{b}", f"rank{c}-{d}") for (a, b), (c, d) in zip(SWEEP_WINDOWS, SWEEP_WINDOWS[1:])]


def test_a_flat_curve_says_no_trend_detected(tmp_path):
    root = write_sweep_study(tmp_path / "runs" / "sweep", falls_by=0.0)
    [summary] = summarize(collect([root]), metric="MRR@10")
    assert not summary.sweep.trend.significant
    assert "no trend detected" in summary.sweep.text


def test_the_curve_and_the_analyses_reach_markdown_json_and_the_terminal_plot(falling):
    root, summary = falling
    table = collect([root])
    markdown = render_markdown([summary], table)
    assert "How hard should negatives be?" in markdown and "| [0,20) * |" in markdown
    for title in ("Gain by query difficulty", "Loss and gradient norm", "Sampled negatives against the positive",
                  "Time and memory per refresh"):
        assert title in markdown
    saved = report_json([summary], table)["studies"][0]
    assert saved["sweep"]["trend"]["significant"] and len(saved["sweep"]["points"]) == len(SWEEP_WINDOWS)
    assert set(saved["analyses"]["texts"]) == {"strata", "dynamics", "margins", "resources"}
    plot = sweep_plot(summary.sweep).plain.splitlines()
    assert len(plot) == 1 + len(SWEEP_WINDOWS) + 2 and "●" in plot[1] and plot[1].lstrip().startswith("[0,20)")


def test_the_analyses_read_strata_dynamics_margins_and_memory(falling):
    _, summary = falling
    analyses = summary.analyses
    # every query started at rank 2: one stratum, (seed, query) pairs = 2 x 150 per window
    assert {row.stratum for row in analyses.strata} == {"ranks 2-3"}
    assert all(row.pairs == 300 for row in analyses.strata)
    by_strategy = {row.strategy: row for row in analyses.strata}
    assert by_strategy["rank0-20"].gain > by_strategy["rank100-120"].gain
    dynamics = {d.strategy: d for d in analyses.dynamics}
    assert dynamics["rank20-40"].grad_norm_mean == pytest.approx(1.1)
    margins = {(m.strategy, m.refresh): m for m in analyses.margins}
    assert margins[("rank40-60", 1)].outscoring_share == pytest.approx(0.4)
    resources = {r.strategy: r for r in analyses.resources}
    assert resources["rank0-20"].peak_rss_mib == 901.0 and resources["rank0-20"].refresh_seconds == 30.0
    assert "rank 2-3" not in analyses.texts["strata"] and "ranks 2-3" in analyses.texts["strata"]


def test_the_report_names_the_commit_the_runs_were_made_at(tmp_path):
    import json

    from helpers.report_runs import write_tested_study

    root = write_tested_study(tmp_path / "runs" / "embedded")
    (root / "embedded-top20" / "seed0" / "manifest.json").write_text(json.dumps({"git_sha": "ab12" * 10}))
    table = collect([root])
    assert report_json(summarize(table), table)["run_commits"] == {"ab12" * 10: 1, "unknown": 3}
