"""Importing the original study's logs: the real files (results/legacy/logs), and edge cases."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from helpers.report_runs import LEGACY_LOGS, REPO

from ance_core.cli import main as ance
from ance_core.errors import InputError
from ance_core.report import collect, load_legacy_log, load_warmup_log, parse_legacy_spec, summarize
from ance_core.report.strategies import legacy_strategy, normalize_strategy

EXPECTED_STRATEGY = {
    "subset_10_train-a40-26398175-ann_data_4.out.gz": "top20",
    "subset_10_train-a40-26398212-ann_data_4_bottom_neg.out.gz": "top20+bottom20",
    "subset_10_train-a40-26449628-ann_data_4_random.out.gz": "random20",
    "subset_10_train-a40-26456768-ann_data_4_bottom_neg_only.out.gz": "bottom20",
}


def raw_dev_ndcg(path: Path) -> dict[int, float]:
    """refresh -> dev nDCG@10, straight from the lines that are nothing but `dev_ndcg <value> <refresh>`."""
    values = {}
    for line in gzip.open(path, "rt").read().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "dev_ndcg":
            values[int(parts[2])] = float(parts[1])
    return values


def test_report_json_matches_values_computed_from_the_raw_lines(capsys):
    logs = LEGACY_LOGS
    files = sorted(logs.glob("*-ann_data_4*.out.gz"))
    assert [f.name for f in files] == sorted(EXPECTED_STRATEGY)

    # `*.out.gz` also names the warm-up log, which is read as the warm-up
    assert ance(["report", "--legacy-log", *map(str, sorted(logs.glob("*.out.gz"))), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {source["strategy"] for source in report["sources"]} == {*EXPECTED_STRATEGY.values(), "warmup"}

    curves = {EXPECTED_STRATEGY[f.name]: raw_dev_ndcg(f) for f in files}
    common = min(max(curve) for curve in curves.values())  # the last refresh all four reached
    (study,) = report["studies"]
    assert study["study"] == "legacy" and study["metric"] == "nDCG@10"
    assert study["common_refresh"] == common == 80
    rows = {row["strategy"]: row for row in study["strategies"]}
    assert list(rows) == ["top20", "top20+bottom20", "random20", "bottom20"]
    for strategy, curve in curves.items():
        row = rows[strategy]
        assert row["n_runs"] == 1
        assert row["refreshes"]["mean"] == max(curve)
        assert row["evaluations"]["mean"] == len(curve)
        assert row["start"]["mean"] == curve[min(curve)]
        assert row["best"]["mean"] == max(curve.values())
        assert row["final"]["mean"] == curve[max(curve)]
        assert row["at_common"]["mean"] == curve[common]
    best = max(curves, key=lambda s: curves[s][common])
    assert [s for s, row in rows.items() if row["is_best"]] == [best]
    assert study["verdict"]["best"] == best and study["verdict"]["exceeds_spread"] is None


def test_rank_copies_of_loss_lines_are_counted_once():
    logs = LEGACY_LOGS
    path = logs / "subset_10_train-a40-26398175-ann_data_4.out.gz"  # the log in which both ranks print
    objects = re.findall(r'\{"learning_rate":[^{}]*\}', gzip.open(path, "rt").read())
    steps = {json.loads(text)["step"] for text in objects}
    assert len(objects) == 2 * len(steps)

    table = load_legacy_log(path)

    losses = table.select(kind="train", metric="loss")
    assert sorted(row.step for row in losses) == sorted(steps)
    assert {row.source for row in table.rows} == {"legacy"}
    assert table.runs[0].seed == 42  # from the Namespace(...) line


def test_loss_object_sharing_a_line_with_another_rank_is_read():
    logs = LEGACY_LOGS
    path = logs / "subset_10_train-a40-26456768-ann_data_4_bottom_neg_only.out.gz"
    glued = [line for line in gzip.open(path, "rt") if re.search(r'"step": \d+\}\S', line)]
    assert glued, "the file has a loss object with another rank's output right after it"
    step = json.loads(re.search(r"\{.*?\}", glued[0]).group(0))["step"]

    table = load_legacy_log(path)

    assert table.select(kind="train", metric="loss", step=step)
    assert table.skipped_lines == 0


def test_train_rows_carry_the_refresh_whose_negatives_they_train_on(tmp_path: Path):
    log = tmp_path / "x-ann_data_4_random.out"
    log.write_text(
        "dev_ndcg 0.5 0\n"
        '{"learning_rate": 1e-07, "loss": 0.9, "step": 100}\n'
        "dev_ndcg 0.55 1\n"
        '{"learning_rate": 2e-07, "loss": 0.8, "step": 200}\n'
        '{"learning_rate": 2e-07, "loss": 0.8, "step": 200}\n'
    )

    table = load_legacy_log(log)

    assert [(r.step, r.refresh, r.value) for r in table.select(kind="train", metric="loss")] == [(100, 0, 0.9), (200, 1, 0.8)]
    assert [(r.refresh, r.value) for r in table.select(kind="eval")] == [(0, 0.5), (1, 0.55)]
    assert table.runs[0].strategy == "random20" and table.runs[0].experiment == "ann_data_4_random"


def test_plain_and_gzipped_logs_read_the_same(tmp_path: Path):
    text = "dev_ndcg 0.5 0\n" + '{"learning_rate": 1e-07, "loss": 0.9, "step": 100}\n'
    plain = tmp_path / "a-ann_data_4.out"
    plain.write_text(text)
    packed = tmp_path / "b-ann_data_4.out.gz"
    packed.write_bytes(gzip.compress(text.encode()))

    def values(path):
        return [(r.kind, r.metric, r.refresh, r.step, r.value) for r in load_legacy_log(path).rows]

    assert values(plain) == values(packed)


def test_cut_off_loss_line_is_skipped_and_counted(tmp_path: Path):
    log = tmp_path / "x-ann_data_4.out"
    log.write_text('dev_ndcg 0.5 0\n{"learning_rate": 1e-07, "loss": 0.9, "st\n')

    table = load_legacy_log(log)

    assert table.runs[0].skipped_lines == [2]
    assert not table.select(kind="train")


def test_strategy_from_file_name_and_override():
    assert {name: legacy_strategy(name) for name in EXPECTED_STRATEGY} == EXPECTED_STRATEGY
    assert legacy_strategy("run.out.gz") is None
    path, strategy = parse_legacy_spec("top20-bottom20=/data/whatever.log")
    assert (path, strategy) == (Path("/data/whatever.log"), "top20+bottom20")


def test_override_labels_a_file_whose_name_does_not_say(tmp_path: Path):
    log = tmp_path / "mystery.log"
    log.write_text("dev_ndcg 0.5 0\n")
    with pytest.raises(InputError) as caught:
        load_legacy_log(log)
    assert "mystery.log" in str(caught.value) and "STRATEGY=FILE" in str(caught.value)

    assert load_legacy_log(log, strategy="bottom20").runs[0].strategy == "bottom20"


def test_malformed_dev_ndcg_line_names_file_and_line(tmp_path: Path):
    log = tmp_path / "x-ann_data_4.out"
    log.write_text("dev_ndcg 0.5 0\nsomething\ndev_ndcg nan? 1\n")

    with pytest.raises(InputError, match=r"x-ann_data_4.out: line 3: expected 'dev_ndcg <number> <refresh number>'"):
        load_legacy_log(log)


def test_log_without_evaluations_is_an_input_error(tmp_path: Path):
    log = tmp_path / "x-ann_data_4.out"
    log.write_text("Process rank: 0\n")
    with pytest.raises(InputError, match="dev_ndcg"):
        load_legacy_log(log)


def test_normalize_strategy_spellings():
    assert normalize_strategy("top20-bottom20") == "top20+bottom20"
    assert normalize_strategy("Top20_Bottom20") == "top20+bottom20"
    assert normalize_strategy("random20") == "random20"
    assert normalize_strategy("simans-a1") == "simans-a1"  # not a join of segment tokens: left alone


def test_warmup_log_and_its_parsed_json_give_the_same_rows():
    logs = LEGACY_LOGS

    from_log = load_warmup_log(logs / "cleaned_warmup.out.gz")
    from_json = load_warmup_log(logs / "parsed_warmup.json")

    def values(table):
        return sorted((r.kind, r.metric, r.step, r.value) for r in table.rows)

    assert values(from_log) == values(from_json)
    full = from_log.select(kind="eval", metric="MRR@10")
    # run_warmup.py evaluates every logging_steps x logging_steps_per_eval = 1000 x 20 steps
    assert [r.step for r in full] == list(range(20_000, 160_001, 20_000))
    raw = re.findall(r"Reranking/Full ranking mrr: (\S+)/(\S+)", gzip.open(logs / "cleaned_warmup.out.gz", "rt").read())
    assert [r.value for r in full] == [float(f) for _, f in raw]
    assert [r.value for r in from_log.select(kind="eval", metric="rerank MRR@10")] == [float(r) for r, _ in raw]


def test_warmup_evaluation_takes_the_step_of_the_next_loss_line(tmp_path: Path):
    log = tmp_path / "warmup.out"
    log.write_text(
        '{"learning_rate": 1, "loss": 2.0, "step": 1000}\n'
        "Reranking/Full ranking mrr: 0.3/0.25\n"
        '{"learning_rate": 1, "loss": 1.0, "step": 2000}\n'
        "Reranking/Full ranking mrr: 0.4/0.35\n"
    )

    rows = load_warmup_log(log).select(kind="eval", metric="MRR@10")

    assert [(r.step, r.value) for r in rows] == [(2000, 0.25), (3000, 0.35)]


def test_run_folder_swallowed_by_legacy_log_gets_a_clear_error(tmp_path: Path):
    (tmp_path / "runs").mkdir()

    with pytest.raises(InputError, match="run folders go before --legacy-log"):
        load_legacy_log(tmp_path / "runs")
    assert ance(["report", "--legacy-log", str(tmp_path / "runs")]) == 2


def test_committed_legacy_results_match_what_the_code_computes_now():
    logs = LEGACY_LOGS
    committed = REPO / "results" / "legacy" / "report.json"
    table = collect(
        legacy_logs=[str(p) for p in sorted(logs.glob("*-ann_data_4*.out.gz"))],
        warmup_logs=[logs / "cleaned_warmup.out.gz"],
    )

    fresh = json.loads(json.dumps([study.as_dict() for study in summarize(table)]))

    assert json.loads(committed.read_text())["studies"] == fresh, "results/ is stale: run `make results`"
