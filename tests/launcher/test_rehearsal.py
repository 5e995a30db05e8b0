"""The rehearsal profile (experiments/rehearsal/) on the local SLURM: the MS MARCO job graph end to end.

The prep job downloads the Debian corpus in MS MARCO's layout from scripts/rehearsal_mirror.py's
server on 127.0.0.1, every run trains with 2 ranks (torchrun, gloo) beside a refresher, and a run
is requeued (USR1) and resumed. The whole profile runs through `make reproduce-all` (slow); the
default suite runs one strategy with one requeue that the test forces with USR1 to the batch shell.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launcher import cli
from launcher.records import find_submissions, load_submission
from launcher.status import collect

ROOT = Path(__file__).resolve().parents[2]
GRAPH = ("prep", "warmup.s42", "refresh0.s42")


def mirror_module():
    spec = importlib.util.spec_from_file_location("rehearsal_mirror", ROOT / "scripts" / "rehearsal_mirror.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_graph(runs: Path, data: Path, strategies: list[str]) -> dict:
    """Every job COMPLETED in the graph's order, the download verified, each run finished; the statuses."""
    [folder] = find_submissions(runs)
    submission = load_submission(folder)
    statuses = {status.key: status for status in collect(submission)}
    keys = (*GRAPH, *(f"run.rehearsal-{s}.s42" for s in strategies), "report")
    assert {key: s.state for key, s in statuses.items()} == dict.fromkeys(keys, "COMPLETED"), statuses
    prep, warmup, refresh0 = (statuses[key] for key in GRAPH)
    assert prep.end <= warmup.start and warmup.end <= refresh0.start
    for strategy in strategies:
        run = statuses[f"run.rehearsal-{strategy}.s42"]
        assert refresh0.end <= run.start and run.end <= statuses["report"].start
        status = json.loads((runs / f"rehearsal-{strategy}" / "seed42" / "STATUS.json").read_text())
        assert status["state"] == "finished", status
    record = json.loads((data / "download.json").read_text())
    assert record["files"]["collectionandqueries.tar.gz"]["url"].startswith("http://127.0.0.1:")
    assert (data / "collection.tsv").is_file() and (folder / "report" / "report.md").is_file()
    return statuses


def run_log(runs: Path, key: str) -> str:
    submission = load_submission(find_submissions(runs)[0])
    path = submission.log_path(submission.entry(key))
    return path.read_text() if path and path.is_file() else ""


@pytest.mark.slurm
def test_one_strategy_of_the_rehearsal_requeues_once_and_completes(slurm_cluster, tmp_path, monkeypatch):
    if shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("torchrun is not installed next to this Python")
    monkeypatch.chdir(ROOT)
    runs, data = tmp_path / "runs", tmp_path / "msmarco"
    mirror = mirror_module()
    mirror.build(tmp_path / "mirror", passages=4000, dev=40)
    key = "run.rehearsal-top20.s42"
    # Shorter than the profile: fewer warm-up steps and refreshes, and a time limit no try reaches,
    # so that the one requeue is the one this test forces.
    sets = ["warmup.steps=2", "ance.refreshes=2", "resources.time=00:10:00", f"data.dataset={data}"]
    with mirror.Mirror(tmp_path / "mirror") as served:
        for name, value in served.env().items():
            monkeypatch.setenv(name, value)
        args = ["submit", "experiments/rehearsal/top20.yaml", "--executor", "slurm", "--runs", str(runs)]
        assert cli.main([*args, *(a for s in sets for a in ("--set", s))]) == 0
        job_id = load_submission(find_submissions(runs)[0]).entry(key).job_id
        deadline = time.monotonic() + 240
        # Refresh 1 starts once the trainer has checkpointed step 4 of 8: the USR1 finds both roles at work.
        while not re.search(r"refresh 1: mining", run_log(runs, key)):
            assert time.monotonic() < deadline, f"refresh 1 did not start: {run_log(runs, key)[-2000:]}"
            time.sleep(0.5)
        subprocess.run(["scancel", "--batch", "--signal=USR1", job_id], check=True)
        assert cli.main(["status", "--runs", str(runs), "--wait", "--timeout", "300"]) == 0
    statuses = check_graph(runs, data, ["top20"])
    log = " ".join(run_log(runs, key).split())  # unwrapped
    assert "refresh 1 abandoned (SIGUSR1)" in log  # mid-refresh ...
    assert re.search(r"SIG(TERM|USR1): checkpointed at step [4-7];", log)  # ... and mid-training
    assert log.count("refresh 1 dev:") == log.count("refresh 2 dev:") == 1
    assert statuses[key].restarts == 1
    assert {s.restarts for k, s in statuses.items() if k != key} == {0}


@pytest.mark.slow
@pytest.mark.slurm
def test_the_rehearsal_runs_the_msmarco_graph_through_make(slurm_cluster, tmp_path):
    runs, data = tmp_path / "runs", tmp_path / "msmarco"
    started = time.monotonic()
    done = subprocess.run(["make", "reproduce-all", "PROFILE=rehearsal", "EXECUTOR=slurm", f"RUNS={runs}",
                           f"SET=data.dataset={data}"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert time.monotonic() - started < 15 * 60
    strategies = sorted(p.stem for p in (ROOT / "experiments" / "rehearsal").glob("*.yaml") if not p.stem.startswith("_"))
    statuses = check_graph(runs / "rehearsal", data, strategies)
    assert any(s.restarts for key, s in statuses.items() if key.startswith("run."))  # the time limit requeued a run
