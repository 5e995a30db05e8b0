"""`ance report`'s "where the time went": the timings of train and refresh events, summed over a runs folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ance_core.cli import main as ance
from ance_core.report.timing import WORK, render_time_spent, time_spent


def append(metrics: Path, *events: dict) -> None:
    with metrics.open("a") as out:
        out.writelines(json.dumps(event) + "\n" for event in events)


def refresh_event(refresh: int, **seconds: float) -> dict:
    return {"kind": "refresh", "refresh": refresh, "step": refresh * 10, "queries": 50, **seconds}


@pytest.fixture
def timed_study(study: Path) -> Path:
    run = study / "top20" / "seed0" / "metrics.jsonl"
    append(run, {"kind": "train", "step": 5, "loss": 0.5, "lr": 1e-5, "refresh": 1, "seconds": 30.0},
           {"kind": "train", "step": 10, "loss": 0.4, "lr": 1e-5, "refresh": 1, "seconds": 20.0},
           refresh_event(1, load_s=1.0, encode_s=100.0, search_s=4.0, sample_s=0.5, write_s=0.5, eval_s=10.0),
           # a resumed run logs refresh 1 again: counted once, the later event
           refresh_event(1, load_s=1.0, encode_s=90.0, search_s=4.0, sample_s=0.5, write_s=0.5, eval_s=10.0))
    warmup = next((study / "_warmup").iterdir()) / "metrics.jsonl"
    append(warmup, {"kind": "train", "step": 50, "loss": 0.9, "lr": 1e-5, "phase": "warmup", "seconds": 60.0})
    other = study / "top20-bottom20" / "seed1" / "metrics.jsonl"
    append(other, refresh_event(2, encode_s=10.0, search_s=1.0, sample_s=0.25, eval_s=5.0))
    return study


def test_time_is_summed_by_kind_of_work(timed_study: Path):
    spent = time_spent([timed_study])
    assert list(spent) == list(WORK)
    assert spent == {"warm-up": 60.0, "encode": 100.0, "search": 5.0, "sampling": 0.75, "training": 50.0,
                     "evaluation": 15.0, "refresh load + write": 1.5}


def test_runs_without_timings_give_no_table(study: Path):
    assert time_spent([study]) == {}


def test_the_table_gives_each_kind_its_share():
    table = render_time_spent({"warm-up": 0.0, "encode": 150.0, "search": 0.0, "sampling": 0.0, "training": 3450.0,
                               "evaluation": 0.0, "refresh load + write": 0.0})
    assert "| encode | 2.5 min | 4.2% |" in table
    assert "| training | 57.5 min | 95.8% |" in table
    assert "| total | 1.00 h | |" in table


def test_ance_report_ends_with_where_the_time_went(timed_study: Path, tmp_path: Path, capsys):
    assert ance(["report", str(timed_study), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "## Where the time went" in out and "| encode | 100.0 s |" in out
    assert ance(["report", str(timed_study), "--out", str(tmp_path / "report")]) == 0
    assert "| training | 50.0 s |" in (tmp_path / "report" / "report.md").read_text()


def test_a_run_folder_brings_its_shared_warm_up_once(timed_study: Path):
    warmup = next((timed_study / "_warmup").iterdir())
    for seed_run in ("top20/seed0", "top20-bottom20/seed1"):
        append(timed_study / seed_run / "metrics.jsonl",
               {"kind": "warmup_done", "step": 0, "checkpoint": str(warmup / "checkpoint-0")})
    runs = [timed_study / "top20" / "seed0", timed_study / "top20-bottom20" / "seed1"]
    spent = time_spent(runs)
    assert spent["warm-up"] == 60.0 and spent["training"] == 50.0 and spent["encode"] == 100.0
    assert time_spent([timed_study])["warm-up"] == 60.0  # found under the root and named by runs: once
