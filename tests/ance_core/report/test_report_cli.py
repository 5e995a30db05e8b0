"""`ance report`: the views (rich, Markdown, JSON), the files of --out/--plots, and bad options."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from ance_core.cli import main as ance
from ance_core.report import COLUMNS, load_runs, strategy_series, summarize
from ance_core.report.plots import metric_figure, save, slug, strategy_colours
from ance_core.report.render import render_rich

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_json_is_one_object_with_studies_and_notes(study: Path, capsys):
    assert ance(["report", str(study), "--json"]) == 0

    report = json.loads(capsys.readouterr().out)  # the whole of stdout is one JSON object
    (summary,) = report["studies"]
    assert summary["common_refresh"] == 2
    assert summary["verdict"]["best"] == "top20+bottom20"
    assert report["skipped_lines"] == 1
    assert any("random20/seed0 (running)" in note for note in report["notes"])
    assert {b["name"] for b in summary["baselines"]} == {"bm25"}


def test_markdown_table_stars_the_best_strategy(study: Path, capsys):
    assert ance(["report", str(study), "--markdown", "--per-run"]) == 0

    text = capsys.readouterr().out
    header = next(line for line in text.splitlines() if line.startswith("| strategy"))
    assert "at refresh 2" in header
    best = next(line for line in text.splitlines() if "★" in line)
    assert "top20+bottom20" in best and "0.6700 ± 0.0141 (0.6600–0.6800)" in best
    assert "| bm25 | dev | 0.4000 | 0.4500 | 0.8500 |" in text
    assert "`embedded/random20/seed0`" in text


def test_rich_table_fits_80_columns_without_cutting_numbers(study: Path):
    table = load_runs([study])
    console = Console(width=80, record=True, color_system=None)

    render_rich(summarize(table), table, console, per_run=True)

    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    for number in ("0.5900", "±0.0141", ".5800–.6000", "0.6700", "+0.1500"):
        assert number in text
    assert "★ top20+bottom20" in text
    assert "the lead exceeds the seed spread" in text


def test_out_writes_report_figures_and_json(study: Path, tmp_path: Path, capsys):
    out = tmp_path / "results"

    assert ance(["report", str(study), "--out", str(out), "--svg"]) == 0

    names = sorted(path.name for path in out.iterdir())
    assert names == [
        "embedded-dev-ndcg10.png", "embedded-dev-ndcg10.svg", "embedded-train-loss.png", "embedded-train-loss.svg",
        "embedded-warmup.png", "embedded-warmup.svg", "report.json", "report.md",
    ]
    for png in out.glob("*.png"):
        assert png.read_bytes().startswith(PNG_MAGIC) and png.stat().st_size > 10_000
    assert (out / "embedded-dev-ndcg10.svg").read_text().lstrip().startswith("<?xml")
    document = (out / "report.md").read_text()
    assert "![dev metric against ANN refresh, one line per strategy](embedded-dev-ndcg10.png)" in document
    assert re.search(r"^ance report \S+embedded --svg --out \S+results$", document, re.MULTILINE)
    assert json.loads((out / "report.json").read_text())["studies"][0]["verdict"]["best"] == "top20+bottom20"


def test_figure_files_are_named_after_study_and_metric():
    assert slug("MRR@10") == "mrr10"
    assert slug("embedded default") == "embedded-default"
    assert slug("../x") == "x"


def test_regenerating_a_figure_gives_identical_bytes(study: Path, tmp_path: Path):
    table = load_runs([study])
    (summary,) = summarize(table)
    curves = strategy_series(table)
    colours = strategy_colours(row.strategy for row in summary.strategies)

    first = save(metric_figure(summary, curves, colours), tmp_path / "a", ("png", "svg"))
    second = save(metric_figure(summary, curves, colours), tmp_path / "b", ("png", "svg"))

    for one, two in zip(first, second):
        assert one.read_bytes() == two.read_bytes(), one.name


def test_nothing_to_report_and_conflicting_options_exit_2(tmp_path: Path, capsys):
    assert ance(["report"]) == 2
    assert "at least one RUNS folder" in capsys.readouterr().err

    assert ance(["report", str(tmp_path), "--svg"]) == 2
    assert "--svg: expected --plots DIR or --out DIR" in " ".join(capsys.readouterr().err.split())

    assert ance(["report", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err

    with pytest.raises(SystemExit) as caught:  # argparse: not allowed together
        ance(["report", str(tmp_path), "--json", "--markdown"])
    assert caught.value.code == 2


def test_tidy_csv_has_a_row_per_value(study: Path, tmp_path: Path):
    target = tmp_path / "tidy.csv"

    assert ance(["report", str(study), "--tidy", str(target), "--json"]) == 0

    rows = list(csv.DictReader(target.open()))
    assert list(rows[0]) == list(COLUMNS)
    assert len(rows) == len(load_runs([study]).rows)
    top = [r for r in rows if r["run"] == "embedded/top20/seed1" and r["kind"] == "eval" and r["metric"] == "nDCG@10"]
    assert [(r["refresh"], float(r["value"])) for r in top] == [("0", 0.52), ("1", 0.56), ("2", 0.58), ("3", 0.64)]


def test_warmup_log_alone_gives_a_report_without_a_strategy_table(tmp_path: Path, capsys):
    log = tmp_path / "warmup.out"
    log.write_text(
        '{"learning_rate": 1, "loss": 2.0, "step": 1000}\n'
        "Reranking/Full ranking mrr: 0.3/0.25\n"
        '{"learning_rate": 1, "loss": 1.0, "step": 2000}\n'
    )

    assert ance(["report", "--warmup-log", str(log), "--markdown"]) == 0

    text = capsys.readouterr().out
    assert "No dev nDCG@10 evaluations of strategies in this study." in text and "| strategy" not in text
