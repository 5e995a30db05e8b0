"""Every command of the README's "Running on a SLURM cluster" section works as written, in dry-run form.

The commands run from a folder laid out like the bundle's (its experiments, Makefile and
venv), with roberta-base in an HF cache as `ance model fetch` leaves it. Submitting
commands run with --dry-run (make: DRY_RUN=1); status, logs and cancel run against a
submission of the same study made here with the local executor and a stand-in `ance`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from launcher import discovery
from launcher.plan import new_submission_id, plan_study
from launcher.submit import launch, resolve_all
from test_preflight import hub_snapshot

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECTION = "## Running on a SLURM cluster"


def cluster_commands() -> list[str]:
    """The command lines of the section's ```bash blocks (comments dropped, continuations joined)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(SECTION):]
    section = section[: section.index("\n## ", len(SECTION))]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def dry_form(command: str, submission: str) -> str:
    command = command.replace("20261128-...", submission)
    if command.startswith("make "):
        return f"{command} DRY_RUN=1 VENV={ROOT / '.venv'}"
    return command


def test_the_readme_lists_the_commands_this_test_covers():
    commands = cluster_commands()
    kinds = {" ".join(c.split()[:2]) for c in commands}
    assert {"ance-launch validate", "ance-launch render", "ance-launch submit", "make reproduce-all",
            "ance-launch status", "ance-launch logs", "ance-launch cancel", "ance model"} <= kinds
    assert "ance-launch submit experiments/msmarco-10/*.yaml --executor slurm --dry-run" in commands


def test_every_cluster_command_of_the_readme_works_as_written(tmp_path, stand_in, monkeypatch):
    for name in ("experiments", "Makefile", "pyproject.toml"):
        (tmp_path / name).symlink_to(ROOT / name)
    hf_home = tmp_path / "hf"
    hub_snapshot(hf_home, "roberta-base")
    (tmp_path / "checkpoints" / "ance-warmup").mkdir(parents=True)  # where a profile starting from a checkpoint looks
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("ANCE_SITE_FILE", raising=False)
    monkeypatch.setenv("PATH", f"{BIN}:{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)

    # A submission of the study for status, logs and cancel (local executor, stand-in stages, no GPUs).
    loaded = discovery.load_or_raise([Path("experiments/msmarco-10/top20.yaml")],
                                     ["ance.mode=sync", "resources.executor=local", "resources.gpus=0",
                                      "resources.gpus_refresh=0"])
    resolved = resolve_all(loaded, tmp_path)
    submission, results = launch(plan_study(resolved, submission_id=new_submission_id(), workdir=str(tmp_path),
                                            executor="local", ance=stand_in))
    assert all(result.exit_code == 0 for result in results)

    for command in cluster_commands():
        if command.startswith("ance model "):
            command = "ance model --help"  # fetching needs the internet: the command is there
        done = subprocess.run(["bash", "-c", dry_form(command, submission.id)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        if "submit" in command or "reproduce-all" in command:
            flat = " ".join(done.stdout.split())
            assert "prep" in flat and "refresh0.s42" in flat and "report" in flat and "GPU-hours:" in flat, flat
    assert not any(p.name != submission.id for p in (tmp_path / "runs" / "_jobs").iterdir())  # dry runs wrote nothing
