"""End to end with the real stages: experiments/smoke.yaml, prep -> warm-up -> refresh 0 -> ANCE run -> report.

Minutes of CPU work (the embedded corpus, MiniLM), hence `slow`; the SLURM one also needs
`make slurm-up`. Everything runs through `ance-launch` as a user would call it.
"""

from __future__ import annotations

import re
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
    keys = ("prep", "warmup.s0", "refresh0.s0", "run.smoke.s0", "report")
    assert {key: status.state for key, status in statuses.items()} == dict.fromkeys(keys, "COMPLETED")
    prep, warmup, refresh0, run, report = (statuses[key] for key in keys)
    assert prep.end <= warmup.start and warmup.end <= refresh0.start and refresh0.end <= run.start <= run.end <= report.start
    assert (runs / "smoke" / "seed0" / "metrics.jsonl").is_file()
    assert (folder / "report" / "report.md").is_file()
    # refresh 0 of the run found the corpus the refresh0 job encoded: it encoded nothing itself
    run_log = " ".join(submission.log_path(submission.entry("run.smoke.s0")).read_text().split())  # unwrapped
    refresh0 = run_log.split("refresh 0 dev:")[0]
    assert "collection.tsv.gz found in the cache" in refresh0 and "encoding passages" not in refresh0
    assert re.search(r"ranking of \d+ queries found in the cache", refresh0)  # it ranked nothing either
    assert "rows tokenized at 48" in submission.log_path(submission.entry("prep")).read_text()


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
