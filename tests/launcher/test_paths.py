"""Paths: absolute before a job sees them; refused where a script could not hold them safely."""

from __future__ import annotations

import pytest

from ance_core.config import validate_experiment
from ance_core.errors import InputError
from launcher.paths import check_bind_path, check_sbatch_path, paths_to_bind, resolve_experiment


def test_relative_paths_resolve_against_the_working_directory(tmp_path):
    (tmp_path / "models" / "ckpt").mkdir(parents=True)
    exp = validate_experiment({
        "name": "x", "data": {"dataset": "data/ms"}, "model": {"name": "models/ckpt"},
        "warmup": {"enabled": False, "init_checkpoint": "./warm"},
        "resources": {"image": "img/ance.sif", "binds": ["cache"]}, "outputs": {"root": "runs"},
    })
    resolved = resolve_experiment(exp, tmp_path)
    assert resolved.data.dataset == str(tmp_path / "data" / "ms")
    assert resolved.model.name == str(tmp_path / "models" / "ckpt")
    assert resolved.warmup.init_checkpoint == str(tmp_path / "warm")
    assert resolved.resources.image == str(tmp_path / "img" / "ance.sif")
    assert resolved.resources.binds == [str(tmp_path / "cache")]
    assert resolved.outputs.root == str(tmp_path / "runs")


def test_builtins_and_hub_names_are_left_alone(tmp_path):
    exp = validate_experiment({"name": "x", "model": {"name": "sentence-transformers/all-MiniLM-L6-v2"}})
    resolved = resolve_experiment(exp, tmp_path, runs_root="/scratch/runs")
    assert resolved.data.dataset == "builtin:debian-10pct"
    assert resolved.model.name == "sentence-transformers/all-MiniLM-L6-v2"
    assert resolved.outputs.root == "/scratch/runs"
    assert resolve_experiment(validate_experiment({"name": "y"}), tmp_path).model.name == "minilm"


def test_binds_cover_every_path_once_outermost_first():
    exp = validate_experiment({
        "name": "x", "data": {"dataset": "/data/msmarco"}, "outputs": {"root": "/scratch/runs"},
        "resources": {"binds": ["/scratch", "/data/msmarco/extra"]},
    })
    assert paths_to_bind(exp, "/scratch/runs/_jobs/1") == [("resources.binds[0]", "/scratch"), ("data.dataset", "/data/msmarco")]


@pytest.mark.parametrize("path,why", [("/a\nb", "newline"), ('/a"b', "double quote"), ("/a\\b", "backslash"),
                                      ("/runs/%j", "sbatch expands")])
def test_paths_that_cannot_be_written_into_sbatch_lines_are_refused(path, why):
    with pytest.raises(InputError, match=why):
        check_sbatch_path(path, "outputs.root", "exp.yaml")


@pytest.mark.parametrize("path", ["/a b", "/a$(touch x)", "/a`id`", "/a;rm -rf b", "/it's"])
def test_other_odd_paths_are_fine_in_sbatch_lines(path):
    assert check_sbatch_path(path, "outputs.root") == path


@pytest.mark.parametrize("path", ["/a:b", "/a,b"])
def test_bind_paths_with_separators_are_refused(path):
    with pytest.raises(InputError, match="apptainer"):
        check_bind_path(path, "data.dataset")
