"""The schema expresses the study's four strategies and rejects conflicting options."""

import pytest
from pydantic import ValidationError

from ance_core.config import Experiment
from ance_core.config.loader import validate_experiment
from ance_core.errors import InputError


def segment(**kwargs):
    return Experiment.model_validate({"name": "s", "ance": {"segment": kwargs}}).ance.segment


def test_the_four_strategies_of_the_study():
    assert segment(kind="top", windows=[[0, 20]]).describe() == "top 20 of [0,20)"
    assert segment(kind="top", windows=[[180, 200]]).describe() == "top 20 of [180,200)"
    both = segment(kind="top", windows=[[180, 200], [0, 20]], n=40)
    assert both.windows == [(0, 20), (180, 200)] and both.width == 40 and both.end == 200
    assert segment(kind="random", windows=[[0, 200]]).describe() == "random 20 of [0,200)"


def test_defaults_are_the_embedded_laptop_setup():
    experiment = Experiment.model_validate({"name": "d"})
    assert experiment.data.dataset == "builtin:debian-10pct" and experiment.data.subset is None
    assert experiment.resources.executor == "local" and experiment.label == "d"
    assert experiment.max_steps == experiment.ance.refresh_every * experiment.ance.refreshes


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"ance": {"segment": {"kind": "top", "windows": [[0, 20], [10, 30]]}}}, "non-overlapping windows"),
        ({"seeds": [1, 1]}, "distinct seeds"),
        ({"warmup": {"enabled": True, "init_checkpoint": "ckpt"}}, "either a BM25 warm-up"),
        ({"resources": {"gpus": 1, "gpus_refresh": 1}}, "gpus_refresh < gpus"),
        ({"warmup": {"precision": "fp16"}, "resources": {"executor": "slurm"}}, "warmup.precision 'fp16' needs GPUs"),
        ({"eval": {"metrics": ["MRR@10", "accuracy"]}}, "metrics like MRR@10"),
        ({"data": {"files": {"queries": "q.tsv"}}}, "data.files"),
        ({"data": {"dataset": "  "}}, "a directory path or 'builtin:<name>'"),
        ({"resources": {"partition": "gpu; rm -rf /"}}, "resources.partition"),
    ],
)
def test_conflicts_and_bad_values_are_rejected(data, fragment):
    with pytest.raises(ValidationError) as err:
        Experiment.model_validate({"name": "x", **data})
    assert fragment in str(err.value)


@pytest.mark.parametrize("value", ["04:00:00", "120:00:00", "2-00:00:00", "1-00", "2-01:30"])
def test_slurm_time_limits_are_accepted(value):
    assert validate_experiment({"name": "t", "resources": {"time": value}}).resources.time == value


@pytest.mark.parametrize("value", ["04:00", "4h", "", "1-", "00:00:00:00"])
def test_ambiguous_or_malformed_time_limits_are_refused_with_the_forms_to_use(value):
    with pytest.raises(InputError, match=r"resources.time: expected a time limit HH:MM:SS or D-HH\[:MM\[:SS\]\]"):
        validate_experiment({"name": "t", "resources": {"time": value}})
