"""End to end with the real stages: experiments/smoke.yaml, warm-up -> ANCE run -> report.

Minutes of CPU work (the embedded corpus, MiniLM), hence `slow`; the SLURM one also needs
`make slurm-up`. Everything runs through `ance-launch` as a user would call it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher import cli
from launcher.records import find_submissions, load_submission
from launcher.status import collect

ROOT = Path(__file__).resolve().parents[2]


def _check_chain(runs: Path) -> None:
    [folder] = find_submissions(runs)
    submission = load_submission(folder)
    statuses = {status.key: status for status in collect(submission)}
    assert {key: status.state for key, status in statuses.items()} == {
        "warmup.s0": "COMPLETED", "run.smoke.s0": "COMPLETED", "report": "COMPLETED"}
    warmup, run, report = statuses["warmup.s0"], statuses["run.smoke.s0"], statuses["report"]
    assert warmup.end <= run.start and run.end <= report.start
    assert (runs / "smoke" / "seed0" / "metrics.jsonl").is_file()
    assert (folder / "report" / "report.md").is_file()


@pytest.mark.slow
@pytest.mark.slurm
def test_smoke_chain_on_slurm_with_the_real_stages(slurm_cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    runs = tmp_path / "runs"
    code = cli.main(["submit", "experiments/smoke.yaml", "--executor", "slurm", "--runs", str(runs), "--wait", "--timeout", "1800"])
    assert code == 0
    _check_chain(runs)


@pytest.mark.slow
def test_smoke_chain_locally_with_the_real_stages(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    runs = tmp_path / "runs"
    assert cli.main(["submit", "experiments/smoke.yaml", "--executor", "local", "--runs", str(runs)]) == 0
    _check_chain(runs)
