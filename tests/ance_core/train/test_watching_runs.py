"""Watching a run from a batch log: plain progress lines when stderr is not a terminal, and
TensorBoard event files holding the same scalars as metrics.jsonl."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from ance_core.config import load_experiment
from ance_core.errors import InputError
from ance_core.train.metrics import METRICS_FILE, MetricsLog

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


def _board(directory: Path) -> dict[str, list[tuple[int, float]]]:
    board = EventAccumulator(str(directory), size_guidance={"scalars": 0})
    board.Reload()
    return {tag: [(e.step, e.value) for e in board.Scalars(tag)] for tag in board.Tags()["scalars"]}


def _expected(directory: Path) -> dict[str, list[tuple[int, float]]]:
    """metrics.jsonl's numbers, tagged <kind>[/<name>]/<field>, at each event's step."""
    expected: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for line in (directory / METRICS_FILE).read_text().splitlines():
        event = json.loads(line)
        if not isinstance(event.get("step"), int):
            continue
        prefix = event["kind"] + (f"/{event['name']}" if "name" in event else "")
        for field, value in event.items():
            if field in ("kind", "step", "time", "name") or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)) and math.isfinite(value):
                expected[f"{prefix}/{field}"].append((event["step"], float(value)))
    return dict(expected)


def _same(board: dict, expected: dict) -> None:
    assert set(board) == set(expected)
    for tag, points in expected.items():
        got = board[tag]
        assert [s for s, _ in got] == [s for s, _ in points], tag
        # TensorBoard stores float32
        assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6) for (_, a), (_, b) in zip(got, points)), tag


def test_a_batch_run_logs_progress_lines_and_tensorboard_matches_metrics(tiny_experiment):
    config = tiny_experiment(logging={"tensorboard": True})
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "300"}
    env.pop("ANCE_GPUS", None)
    result = subprocess.run([sys.executable, "-m", "ance_core.cli", "run", "--config", str(config)],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]

    # stderr is a pipe here, as in a SLURM log: the first and the last step of each phase are printed.
    lines = re.findall(r"(warmup|ance): step (\d+)/(\d+) \([\d.]+%\), loss [\d.]+, [\d.]+ steps/s", result.stderr)
    steps = {(phase, int(step), int(until)) for phase, step, until in lines}
    assert ("warmup", 1, 48) in steps and ("warmup", 48, 48) in steps
    assert ("ance", 24, 24) in steps

    experiment = load_experiment(config)
    run_dir = Path(experiment.outputs.root) / experiment.name / "seed0"
    assert list(run_dir.glob("events.out.tfevents.*"))
    expected = _expected(run_dir)
    assert {"train/loss", "train/lr", "eval/MRR@10", "refresh/seconds"} <= set(expected)
    _same(_board(run_dir), expected)
    warmup_dir = next((Path(experiment.outputs.root) / "_warmup").glob("*-seed0"))
    _same(_board(warmup_dir), _expected(warmup_dir))


def test_a_rewound_log_hides_the_dropped_steps_in_tensorboard(tmp_path):
    metrics = MetricsLog(tmp_path / METRICS_FILE, tensorboard=True)
    for step in (1, 2, 3, 4):
        metrics.emit("train", step=step, loss=1.0 / step)
    metrics.rewind(2)  # a resume from checkpoint-2: steps 3 and 4 run again
    for step in (3, 4):
        metrics.emit("train", step=step, loss=10.0 + step)
    assert _board(tmp_path)["train/loss"] == [(1, 1.0), (2, 0.5), (3, 13.0), (4, 14.0)]
    _same(_board(tmp_path), _expected(tmp_path))


def test_tensorboard_off_writes_no_event_files(tmp_path):
    MetricsLog(tmp_path / METRICS_FILE).emit("train", step=1, loss=1.0)
    assert not list(tmp_path.glob("events.out.tfevents.*"))


def test_tensorboard_without_the_package_is_refused_at_validation(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    path = tmp_path / "exp.yaml"
    path.write_text("name: x\nlogging: {tensorboard: true}\n")
    with pytest.raises(InputError, match=r"logging\.tensorboard.*the tensorboard package"):
        load_experiment(path)
