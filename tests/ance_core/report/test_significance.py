"""Paired tests between strategies: Holm, the scipy tests, the verdict's words, and the report's use of run files."""

from __future__ import annotations

import numpy as np
import pytest

from ance_core.report import collect, summarize
from ance_core.report.significance import compare_strategies, holm, paired_test
from ance_core.report.render import render_markdown, report_json
from helpers.report_runs import write_tested_study


def test_holm_agrees_with_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(0)
    for size in (1, 2, 6, 15):
        p = rng.uniform(0, 0.2, size)
        assert holm(p) == pytest.approx(multipletests(p, method="holm")[1].tolist())


def test_paired_test_is_scipys_and_reproducible():
    from scipy import stats

    rng = np.random.default_rng(1)
    a = rng.uniform(size=300)
    b = a - 0.012 + 0.1 * rng.normal(size=300)
    first, again = paired_test(a, b, (0, 0), resamples=2000), paired_test(a, b, (0, 0), resamples=2000)
    assert first == again
    assert first["p_ttest"] == stats.ttest_rel(a, b).pvalue
    # the sign-flip form is the randomization test of the pairs (a_i, b_i) swapped at random
    pairs = stats.permutation_test((a, b), lambda x, y, axis: np.mean(x - y, axis=axis), vectorized=True,
                                   permutation_type="samples", n_resamples=2000, rng=np.random.default_rng(9))
    assert 0.01 < first["p_randomization"] < 0.2
    assert first["p_randomization"] == pytest.approx(pairs.pvalue, abs=0.02)
    assert first["difference"] == pytest.approx(float(np.mean(a - b)))
    assert first["ci_low"] < first["difference"] < first["ci_high"]


def values_of(means: dict[str, float], queries: int = 400, seeds=(0, 1, 2), noise: float = 0.3) -> dict:
    """strategy -> seed -> {qid: value}: a shared per-query difficulty plus each strategy's shift and noise."""
    rng = np.random.default_rng(7)
    difficulty = rng.uniform(0.3, 0.9, queries)
    return {
        name: {seed: {f"q{i}": float(v) for i, v in enumerate(difficulty + shift + noise * rng.normal(size=queries))}
               for seed in seeds}
        for name, shift in means.items()
    }


def test_a_clear_difference_is_named_and_a_tie_is_not():
    result = compare_strategies(values_of({"top20": 0.1, "random20": 0.0, "bottom20": 0.0}), "nDCG@10", "dev", 2)
    assert [(p.a, p.b) for p in result.pairs] == [("top20", "random20"), ("top20", "bottom20"), ("random20", "bottom20")]
    assert len(result.per_seed) == 9 and result.queries == 400 and result.seeds == (0, 1, 2)
    significant = {(p.a, p.b) for p in result.pairs if p.significant}
    assert significant == {("top20", "random20"), ("top20", "bottom20")}
    assert all(p.p_randomization_holm >= p.p_randomization for p in result.pairs)
    assert "top20 > random20 (p" in result.text and "top20 > bottom20 (p" in result.text
    assert result.text.endswith("; no difference detected between random20 and bottom20 (p = "
                                f"{result.pairs[2].p_randomization_holm:.3f}).")


def test_no_difference_detected_when_strategies_only_differ_by_noise():
    result = compare_strategies(values_of({"top20": 0.0, "random20": 0.0}, queries=200), "nDCG@10", "dev", 2)
    assert not result.any_significant
    assert "no difference detected between any two strategies" in result.text


def test_the_report_tests_run_files_and_words_the_verdict_from_them(tmp_path):
    root = write_tested_study(tmp_path / "runs" / "embedded")
    [summary] = summarize(collect([root]), metric="MRR@10")
    significance = summary.significance
    assert significance is not None and significance.refresh == 1 and significance.queries == 120
    [pair] = significance.pairs
    assert (pair.a, pair.b) == ("top20", "bottom20") and pair.significant
    assert summary.verdict.text == significance.text and summary.verdict.significant
    assert significance.text.startswith("At refresh 1, on 120 dev queries (MRR@10 per query, averaged over 2 seeds")
    assert "top20 > bottom20 (p < 0.001" in significance.text
    # the tested means are the run files' own: what the eval events say
    assert pair.mean_a == pytest.approx(summary.strategies[0].at_common.mean, abs=1e-9)
    table = collect([root])
    markdown = render_markdown([summary], table)
    assert "| top20 vs bottom20 * |" in markdown and "Holm" in markdown
    saved = report_json([summary], table)["studies"][0]["significance"]
    assert saved["pairs"][0]["p_randomization_holm"] == pair.p_randomization_holm
    assert {t["seed"] for t in saved["per_seed"]} == {0, 1}
    assert (saved["evaluated_in"], saved["mined_in"]) == ("fp32", "int8")
    assert "evaluated in fp32 (the model as trained), negatives mined in int8" in markdown


def test_runs_without_run_files_keep_the_seed_spread_verdict(study):
    [summary] = summarize(collect([study]))
    assert summary.significance is None
    assert "seed spread" in summary.verdict.text
