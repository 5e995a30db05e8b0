"""Nothing from an experiment file or a command-line argument runs as a shell command.

Names are validated (safe names only); paths may hold anything but a newline, `"`, `\\` or `%`
(refused: they cannot be written safely into #SBATCH lines) and are quoted everywhere else;
the executors run argument lists, never a shell line. Each payload below would create a marker
file if any of it ran.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

from ance_core.config import validate_experiment
from ance_core.errors import InputError
from launcher import cli
from launcher.status import collect
from launcher.submit import launch, resolve_all
from launcher_helpers import make_plan, stand_in_events, wait_finished

LAUNCHER = Path(__file__).resolve().parents[2] / "launcher"


def payloads(markers: Path) -> list[str]:
    """Classic shell-injection payloads, each touching its own marker file."""
    return [
        f"$(touch {markers}/dollar)",
        f"`touch {markers}/backtick`",
        f"; touch {markers}/semicolon",
        f"' ; touch {markers}/quote ; '",
        f"&& touch {markers}/and",
        f"| touch {markers}/pipe",
        f"$IFS&touch {markers}/ifs",
        f"${{IFS}}>{markers}/redirect",
    ]


@pytest.fixture
def markers(tmp_path) -> Path:
    folder = tmp_path / "markers"
    folder.mkdir()
    return folder


def no_markers(markers: Path) -> None:
    assert sorted(p.name for p in markers.iterdir()) == [], "a payload ran"


@pytest.mark.parametrize("field", ["name", "strategy", "data.train_split", "eval.split"])
def test_names_with_payloads_are_refused_by_validation(field, markers):
    for payload in payloads(markers) + ["a\ntouch x", 'a"b', "a b"]:
        data = {"name": "ok"}
        section, _, key = field.rpartition(".")
        (data.setdefault(section, {}) if section else data)[key] = f"x{payload}"
        with pytest.raises(InputError, match=re.escape(field)):
            validate_experiment(data)
    no_markers(markers)


def _payload_experiment(make_experiment, tmp_path, markers, **resources):
    joined = " ".join(payloads(markers))
    (tmp_path / f"data {joined}").mkdir(parents=True)  # the pre-flight wants the data set there (mkdir: no shell)
    return make_experiment(
        "top20",
        data={"dataset": str(tmp_path / f"data {joined}")},
        outputs={"root": str(tmp_path / f"runs {joined}")},
        resources=resources,
    )


def test_payload_paths_reach_the_stage_literally_and_nothing_extra_runs(make_experiment, stand_in, tmp_path, markers):
    exp = _payload_experiment(make_experiment, tmp_path, markers)
    workdir = tmp_path / f"cwd {payloads(markers)[0]}"
    workdir.mkdir(parents=True)
    [(source, resolved)] = resolve_all([("x.yaml", exp)], workdir)
    from launcher.plan import new_submission_id, plan_study

    plan = plan_study([(source, resolved)], submission_id=new_submission_id(), workdir=str(workdir), executor="local", ance=stand_in)
    submission, results = launch(plan)

    assert [r.exit_code for r in results] == [0] * 5  # prep, warmup, refresh0, run, report
    no_markers(markers)
    configs = {e["argv"][e["argv"].index("--config") + 1] for e in stand_in_events(tmp_path) if "--config" in e["argv"]}
    assert configs == {f"{exp.outputs.root}/_jobs/{submission.id}/experiments/top20.yaml"}
    report = next(e for e in stand_in_events(tmp_path) if e["stage"] == "report")
    assert f"{exp.outputs.root}/top20/seed0" in report["argv"]


def test_payload_paths_reach_apptainer_literally(make_experiment, stand_in, tmp_path, markers, monkeypatch):
    # A stand-in `apptainer` on PATH records the command line it was given, then runs the stage.
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    calls = tmp_path / "apptainer-calls.jsonl"
    (fake_bin / "apptainer").write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "args = sys.argv[2:]\n"
        "while args[0].startswith('--'):\n    args = args[2:] if args[0] == '--bind' else args[1:]\n"
        "os.execv(args[1], args[1:])\n"  # args[0] is the image
    )
    (fake_bin / "apptainer").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{os.environ['PATH']}")
    image = str(tmp_path / f"img {payloads(markers)[1]}.sif")
    Path(image).parent.mkdir(parents=True, exist_ok=True)
    Path(image).write_bytes(b"")  # the pre-flight wants the image there; the stand-in apptainer never reads it
    exp = _payload_experiment(make_experiment, tmp_path, markers, runtime="apptainer", image=image)
    plan = make_plan([exp], tmp_path, "local", stand_in, report=False)
    _, results = launch(plan)

    assert [r.exit_code for r in results] == [0] * 4  # prep, warmup, refresh0, run
    no_markers(markers)
    first = json.loads(calls.read_text().splitlines()[0])
    binds = [first[i + 1] for i, word in enumerate(first) if word == "--bind"]
    assert sorted(binds) == sorted([exp.data.dataset, exp.outputs.root])  # the job folder is inside the runs root
    assert image in first and first[:1] == ["exec"]


@pytest.mark.slurm
def test_payload_paths_on_slurm(slurm_cluster, make_experiment, stand_in, tmp_path, markers):
    exp = _payload_experiment(make_experiment, tmp_path, markers)
    submission, _ = launch(make_plan([exp], tmp_path, "slurm", stand_in), slurm_cluster)
    assert [s.state for s in wait_finished(submission)] == ["COMPLETED"] * 5
    no_markers(markers)
    log = submission.log_path(submission.entry("warmup.s0"))
    assert log.parent.parent == Path(exp.outputs.root) / "_jobs" / submission.id  # %j filled in, path kept whole


@pytest.mark.parametrize("bad,why", [("\ntouch x", "newline"), ('" ; touch x ; "', "double quote"),
                                     ("\\$(touch x)", "backslash"), ("%x%j", "sbatch expands")])
def test_paths_that_sbatch_lines_cannot_hold_are_refused_before_anything_is_written(make_experiment, tmp_path, bad, why):
    exp = make_experiment(outputs={"root": str(tmp_path / f"runs{bad}")})
    with pytest.raises(InputError, match=f"outputs.root: expected a path without .*{why}"):
        make_plan([exp], tmp_path, "local")
    assert not any(tmp_path.glob("runs*"))


def test_command_line_payloads_are_refused_or_stay_literal(make_experiment, stand_in, tmp_path, markers, capsys, monkeypatch):
    runs = tmp_path / "runs"
    submission, _ = launch(make_plan([make_experiment(warmup={"enabled": False})], tmp_path, "local", stand_in, report=False))
    exp_file = tmp_path / "exp.yaml"
    exp_file.write_text(f"name: top20\noutputs: {{root: {runs}}}\n")
    monkeypatch.chdir(tmp_path)
    for payload in payloads(markers):
        assert cli.main(["logs", payload, "--runs", str(runs)]) == 2
        assert cli.main(["cancel", payload, "--runs", str(runs)]) == 2
        assert cli.main(["status", payload, "--runs", str(runs)]) == 2
        assert cli.main(["render", str(exp_file), "--template", payload]) == 2
        assert cli.main(["validate", str(exp_file), "--set", f"name=x{payload}"]) == 2
        assert cli.main(["render", str(exp_file), "--set", f"outputs.root={tmp_path}/r{payload}"]) == 0
    no_markers(markers)
    assert {s.state for s in collect(submission)} == {"COMPLETED"}
    capsys.readouterr()


def test_the_launcher_never_hands_text_to_a_shell():
    """Every subprocess is an argument list: no shell=True, os.system or os.popen anywhere in launcher/."""
    offenders = []
    for path in LAUNCHER.rglob("*.py"):
        text = path.read_text()
        for pattern in (r"shell\s*=\s*True", r"os\.system\(", r"os\.popen\(", r"commands\.getoutput"):
            offenders += [f"{path}: {pattern}" for _ in re.finditer(pattern, text)]
    assert offenders == []
