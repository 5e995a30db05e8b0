"""Paired tests between strategies: Holm, the scipy tests, the verdict's words, and the report's use of run files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ance_core.eval.runfile import trec_run, write_qrels_file, write_run_file
from ance_core.report import collect, summarize
from ance_core.report.significance import compare_strategies, holm, paired_test
from ance_core.report.tables import render_markdown, report_json
from helpers.report_runs import write_run


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
    b = a - 0.05 + 0.1 * rng.normal(size=300)
    first, again = paired_test(a, b, (0, 0)), paired_test(a, b, (0, 0))
    assert first == again
    assert first["p_ttest"] == stats.ttest_rel(a, b).pvalue
    assert first["difference"] == pytest.approx(float(np.mean(a - b)))
    assert first["ci_low"] < first["difference"] < first["ci_high"]
    assert first["p_randomization"] < 0.001


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
    assert "no difference detected for the other 1 pair." in result.text


def test_no_difference_detected_when_strategies_only_differ_by_noise():
    result = compare_strategies(values_of({"top20": 0.0, "random20": 0.0}, queries=200), "nDCG@10", "dev", 2)
    assert not result.any_significant
    assert "no difference detected between any two strategies" in result.text


def write_eval(run_dir, refresh: int, per_query: dict[str, float], corpus: int = 50) -> None:
    """The files a refresh's evaluation writes: the run (the positive at a rank that gives `per_query` as RR), qrels."""
    qrels = {qid: {f"{qid}-pos": 1} for qid in per_query}
    ranked, scores = [], []
    for qid, rr in per_query.items():
        rank = round(1 / rr) if rr else 20  # RR@10 0 when the positive is below the cut-off
        pids = [f"{qid}-n{i}" for i in range(rank - 1)] + [f"{qid}-pos"] + [f"{qid}-m{i}" for i in range(30 - rank)]
        ranked.append(pids)
        scores.append(np.linspace(1, 0, len(pids)))
    eval_dir = run_dir / "eval"
    eval_dir.mkdir(exist_ok=True)
    write_run_file(eval_dir / f"refresh-{refresh}.run.tsv", trec_run(list(per_query), ranked, scores))
    write_qrels_file(eval_dir / "qrels.dev.tsv", qrels)
    mean = float(np.mean(list(per_query.values())))
    (eval_dir / f"refresh-{refresh}.json").write_text(json.dumps({"MRR@10": mean, "queries": len(per_query), "corpus": corpus}))


def test_the_report_tests_run_files_and_words_the_verdict_from_them(tmp_path):
    root = tmp_path / "runs" / "embedded"
    rng = np.random.default_rng(5)
    reciprocal = [1.0, 0.5, 1 / 3, 0.25, 0.0]
    for strategy, better in (("top20", True), ("bottom20", False)):
        for seed in (0, 1):
            # top20 finds the positive at rank 1 far more often
            weights = [0.7, 0.1, 0.1, 0.05, 0.05] if better else [0.2, 0.2, 0.2, 0.2, 0.2]
            per_query = {f"q{i}": float(rng.choice(reciprocal, p=weights)) for i in range(120)}
            mean = float(np.mean(list(per_query.values())))
            run_dir = write_run(root, f"embedded-{strategy}", seed, {0: 0.3, 1: mean + 0.05}, strategy=strategy)
            write_eval(run_dir, 1, per_query)
            # the tidy table's MRR@10 at refresh 1 is what the run file gives (write_run puts nDCG - 0.05)
    [summary] = summarize(collect([root]), metric="MRR@10")
    significance = summary.significance
    assert significance is not None and significance.refresh == 1 and significance.queries == 120
    [pair] = significance.pairs
    assert (pair.a, pair.b) == ("top20", "bottom20") and pair.significant
    assert summary.verdict.text == significance.text and summary.verdict.significant
    assert significance.text.startswith("At refresh 1, on 120 dev queries (MRR@10 per query, averaged over 2 seeds")
    assert "top20 > bottom20 (p < 0.001" in significance.text
    table = collect([root])
    markdown = render_markdown([summary], table)
    assert "| top20 vs bottom20 * |" in markdown and "Holm" in markdown
    saved = report_json([summary], table)["studies"][0]["significance"]
    assert saved["pairs"][0]["p_randomization_holm"] == pair.p_randomization_holm
    assert {t["seed"] for t in saved["per_seed"]} == {0, 1}


def test_runs_without_run_files_keep_the_seed_spread_verdict(study):
    [summary] = summarize(collect([study]))
    assert summary.significance is None
    assert "seed spread" in summary.verdict.text
