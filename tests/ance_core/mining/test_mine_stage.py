import json

import yaml

from ance_core.cli import main as ance
from ance_core.data.negatives import is_complete


def test_ance_mine_writes_negatives_stats_and_manifest(make_experiment, tmp_path, capsys):
    experiment = make_experiment({"kind": "top", "windows": [[0, 20], [180, 200]], "n": 40})
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(experiment.model_dump(mode="json")))
    out = tmp_path / "run"
    code = ance(["mine", "--config", str(config), "--checkpoint", experiment.model.name, "--out", str(out),
                 "--refresh", "2", "--no-eval", "--json"])
    stdout = capsys.readouterr().out
    assert code == 0 and stdout.count("\n") == 1
    summary = json.loads(stdout)
    negatives = out / "negatives" / "negatives-2.jsonl"
    assert summary["negatives"] == str(negatives) and is_complete(negatives)
    assert summary["refresh"] == 2 and summary["qrels_overlap"] == 0 and summary["eval"] == {}
    assert summary["negatives_per_query"]["mean"] == 40
    assert json.loads((out / "negatives" / "manifest.json").read_text())["stage"] == "mine"
    assert not (out / "eval").exists()


def test_ance_mine_refuses_a_negative_refresh(make_experiment, tmp_path, capsys):
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(make_experiment({"kind": "top", "windows": [[0, 5]], "n": 5}).model_dump(mode="json")))
    code = ance(["mine", "--config", str(config), "--checkpoint", "x", "--out", str(tmp_path), "--refresh", "-1"])
    assert code == 2 and "--refresh" in capsys.readouterr().err
