"""Loading run directories into the tidy table: identity, events, partial and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.report_runs import BM25, CURVES, PARTIAL_TAIL, write_run

from ance_core.errors import InputError
from ance_core.report import COLUMNS, load_runs
from ance_core.report.runs import find_run_dirs


def test_tidy_table_has_one_row_per_value_with_identity_from_config_and_folders(study: Path):
    table = load_runs([study])

    assert set(table.records()[0]) == set(COLUMNS)
    strategies = {info.strategy for info in table.runs}
    # "top20-bottom20" (an experiment name, no '+' allowed) lines up with the study's label
    assert strategies == {"top20", "top20+bottom20", "random20", "warmup"}
    evals = table.select(kind="eval", strategy="top20", seed=1, metric="nDCG@10")
    assert {row.refresh: row.value for row in evals} == CURVES["top20"][1]
    assert all(row.study == "embedded" and row.run == "embedded/top20/seed1" and row.split == "dev" for row in evals)
    assert {row.value for row in table.select(kind="eval", strategy="top20", seed=1, metric="MRR@10", refresh=3)} == {0.64 - 0.05}


def test_train_refresh_and_baseline_events_become_rows(study: Path):
    table = load_runs([study])

    losses = table.select(kind="train", metric="loss", run="embedded/top20/seed0")
    assert [row.step for row in losses] == list(range(10, 301, 10))
    assert table.select(kind="refresh", metric="positive_in_topk", run="embedded/top20/seed0", refresh=2)[0].value == 0.9
    bm25 = table.select(kind="baseline", strategy="bm25", metric="nDCG@10")
    assert [row.value for row in bm25] == [BM25["nDCG@10"]] * 2  # one per warm-up folder (seed)
    assert {row.seed for row in bm25} == {0, 1}


def test_run_still_going_is_read_up_to_its_partial_last_line(study: Path):
    table = load_runs([study])

    running = next(info for info in table.runs if info.strategy == "random20")
    assert running.state == "running"
    lines = (study / "random20" / "seed0" / "metrics.jsonl").read_text().splitlines()
    assert lines[-1] == PARTIAL_TAIL
    assert running.skipped_lines == [len(lines)]
    assert table.skipped_lines == 1
    refreshes = {row.refresh for row in table.select(kind="eval", strategy="random20", metric="nDCG@10")}
    assert refreshes == {0, 1, 2}


def test_torn_line_in_the_middle_is_skipped_and_later_lines_still_count(tmp_path: Path):
    # A run killed mid-write and resumed appends after the torn bytes: the torn line is glued to the next event.
    run = write_run(tmp_path / "embedded", "top20", 0, {0: 0.5, 1: 0.6})
    torn = '{"kind": "eval", "refresh": 2, "nD' + json.dumps({"kind": "train", "step": 201, "loss": 0.3}) + "\n"
    resumed = json.dumps({"kind": "eval", "refresh": 2, "step": 200, "split": "dev", "nDCG@10": 0.7}) + "\n"
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write(torn + resumed)

    table = load_runs([run])

    assert len(table.runs[0].skipped_lines) == 1
    assert {r.refresh: r.value for r in table.select(kind="eval", metric="nDCG@10")} == {0: 0.5, 1: 0.6, 2: 0.7}


def test_event_logged_again_after_a_resume_keeps_the_later_value(tmp_path: Path):
    run = write_run(tmp_path / "embedded", "top20", 0, {0: 0.5, 1: 0.6})
    again = {"kind": "eval", "refresh": 1, "step": 100, "split": "dev", "nDCG@10": 0.61}
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps(again) + "\n")

    rows = load_runs([run]).select(kind="eval", metric="nDCG@10", refresh=1)

    assert [row.value for row in rows] == [0.61]


def test_seed_and_strategy_fall_back_to_folder_names_without_config(tmp_path: Path):
    run = write_run(tmp_path / "embedded", "top20-bottom20", 7, {0: 0.5}, config=False)

    info = load_runs([run]).runs[0]

    assert (info.seed, info.strategy, info.experiment) == (7, "top20+bottom20", "top20-bottom20")


def test_strategy_field_of_the_config_wins_over_the_name(tmp_path: Path):
    run = write_run(tmp_path / "embedded", "segment-0-20", 0, {0: 0.5}, strategy="top20")

    assert load_runs([run]).runs[0].strategy == "top20"


def test_finished_only_leaves_out_running_runs_but_keeps_baselines(study: Path):
    table = load_runs([study], finished_only=True)

    assert "random20" not in {info.strategy for info in table.runs}
    assert table.select(kind="baseline", metric="nDCG@10")


def test_caches_job_records_and_temp_folders_are_not_runs(study: Path):
    for folder in ("_cache/emb", "_jobs/123", ".top20.partial/seed0"):
        (study / folder).mkdir(parents=True)
        (study / folder / "metrics.jsonl").write_text("")

    found = {str(p.relative_to(study)) for p in find_run_dirs(study)}

    assert found == {
        "top20/seed0", "top20/seed1", "top20-bottom20/seed0", "top20-bottom20/seed1", "random20/seed0",
        "_warmup/3f2a9c-seed0", "_warmup/3f2a9c-seed1",
    }


@pytest.mark.parametrize(
    ("line", "where", "expected"),
    [
        ('{"kind": "eval", "refresh": 1, "nDCG@10": "high"}', "line 2: nDCG@10", "a number"),
        ('{"kind": "train", "loss": 0.3}', "line 2: step", "a whole number"),
        ('{"refresh": 1, "nDCG@10": 0.5}', "line 2: kind", "an event kind"),
        ('[1, 2]', "line 2", "a JSON object"),
        ('{"kind": "baseline", "nDCG@10": 0.5}', "line 2: name", "the baseline's name"),
    ],
)
def test_complete_line_that_breaks_the_event_contract_is_an_input_error(tmp_path: Path, line: str, where: str, expected: str):
    run = tmp_path / "embedded" / "top20" / "seed0"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text(json.dumps({"kind": "eval", "refresh": 0, "nDCG@10": 0.5}) + "\n" + line + "\n")

    with pytest.raises(InputError) as caught:
        load_runs([run])

    message = str(caught.value)
    assert str(run / "metrics.jsonl") in message and where in message and expected in message


def test_missing_or_empty_runs_root_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="no such folder"):
        load_runs([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="run folders with a metrics.jsonl below it"):
        load_runs([tmp_path / "empty"])


def test_broken_config_yaml_names_the_file(tmp_path: Path):
    run = write_run(tmp_path / "embedded", "top20", 0, {0: 0.5})
    (run / "config.yaml").write_text("name: [unclosed\n")

    with pytest.raises(InputError, match="config.yaml"):
        load_runs([run])


def test_same_run_named_twice_is_loaded_once(study: Path):
    table = load_runs([study, study / "top20", study / "top20" / "seed0"])

    assert len([info for info in table.runs if info.run == "embedded/top20/seed0"]) == 1


def test_null_values_of_a_diverged_run_are_missing_values_not_errors(tmp_path: Path):
    # The trainer writes a NaN/inf loss as null (JSON has no NaN).
    run = write_run(tmp_path / "embedded", "top20", 0, {0: 0.5, 1: 0.6})
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"kind": "train", "step": 110, "loss": None, "lr": 2e-5, "refresh": 2}) + "\n")
        handle.write(json.dumps({"kind": "eval", "refresh": 2, "step": 200, "nDCG@10": None, "MRR@10": 0.4}) + "\n")

    table = load_runs([run])

    assert not table.select(kind="train", step=110, metric="loss")
    assert table.select(kind="train", step=110, metric="lr")
    assert not table.select(kind="eval", refresh=2, metric="nDCG@10")
    assert table.select(kind="eval", refresh=2, metric="MRR@10")


def test_markdown_lists_every_runs_metric_after_each_refresh(study):
    from ance_core.report import collect, summarize
    from ance_core.report.render import render_markdown

    table = collect([study])
    text = render_markdown(summarize(table, "nDCG@10", "dev", 20), table)
    section = text.split("Every run's dev metrics after each refresh")[1].split("\n\n")[1]
    lines = section.splitlines()
    assert lines[0].startswith("| strategy | seed | nDCG@10 r0 | nDCG@10 r1 | nDCG@10 r2 | nDCG@10 r3 |")
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[(cells[0], cells[1])] = cells[2:6]
    for experiment, seeds in CURVES.items():
        strategy = experiment.replace("-", "+")
        for seed, curve in seeds.items():
            expected = [f"{curve[r]:.4f}" if r in curve else "–" for r in range(4)]
            assert rows[(strategy, str(seed))] == expected, (experiment, seed)
