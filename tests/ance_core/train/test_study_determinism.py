"""The same study twice on CPU, same seed, fresh caches: the same run files, the same report, the same verdict.

A small stand-in for two `make reproduce-all` runs at one commit (each takes ~45 min):
two strategies of one seed on the tiny model and data, the whole chain the
embedded study runs (warm-up, refreshes, fp32 evaluations, TREC run files,
the report with its paired tests), run in two separate output roots.
"""

from __future__ import annotations

import json

import yaml

from ance_core.report import collect, summarize
from ance_core.report.render import render_markdown, report_json
from ance_core.selftest import tiny_experiment as tiny_experiment_dict
from loop_helpers import run_loop

STRATEGIES = {"top4": {"kind": "top", "windows": [[0, 4]], "n": 4},
              "random4": {"kind": "random", "windows": [[0, 30]], "n": 4}}


def run_study(tmp_path, tiny_model, tiny_dataset, attempt: str):
    root = tmp_path / attempt / "study"
    for strategy, segment in STRATEGIES.items():
        config = tmp_path / attempt / f"{strategy}.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        sections = dict(name=f"tiny-{strategy}", strategy=strategy, ance={"segment": segment})
        config.write_text(yaml.safe_dump(tiny_experiment_dict(tiny_model, tiny_dataset, root, **sections)))
        run_loop(config)
    return root


def without_measured_resources(summary):
    """The report less its time-and-memory analysis: seconds and peak memory measure the machine, not the study."""
    from dataclasses import replace

    analyses = summary.analyses
    texts = {name: text for name, text in analyses.texts.items() if name != "resources"}
    return replace(summary, analyses=replace(analyses, resources=[], texts=texts))


def test_two_runs_of_a_study_give_the_same_table(tmp_path, tiny_model, tiny_dataset):
    first, second = (run_study(tmp_path, tiny_model, tiny_dataset, attempt) for attempt in ("a", "b"))
    for strategy in STRATEGIES:
        for refresh in (0, 1, 2):
            name = f"tiny-{strategy}/seed0/eval/refresh-{refresh}.run.tsv"
            assert (first / name).read_bytes() == (second / name).read_bytes(), name
    reports = []
    for root in (first, second):
        table = collect([root])
        summaries = [without_measured_resources(summary) for summary in summarize(table)]
        assert summaries[0].significance is not None  # the verdict comes from the paired tests
        studies = report_json(summaries, table)["studies"]
        reports.append((render_markdown(summaries, table), json.dumps(studies, sort_keys=True)))
    assert reports[0] == reports[1]
