"""Fuzz the experiment loader: any mutated file either loads or raises an InputError naming the file."""

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ance_core.config import Experiment, load_experiment
from ance_core.errors import InputError

BASE = """\
name: top20
description: the study's top 20
seeds: [0, 1]
data:
  dataset: builtin:debian-10pct
  subset: {fraction: 0.1, seed: 7, keep_positives_of: [dev]}
  files: {queries.dev: queries.dev.small.tsv}
ance:
  top_k: 200
  refresh_every: 100
  segment: {kind: top, windows: [[0, 20], [180, 200]], n: 40}
train:
  batch_size: 16
  lr: 2.0e-5
  loss: {kind: infonce, temperature: 0.05}
eval: {metrics: [MRR@10, nDCG@10, R@100]}
resources: {executor: slurm, gpus: 4, gpus_refresh: 1, partition: gpu, time: "04:00:00", mem: 64G}
"""
# Characters that change YAML's meaning, plus a few that break encodings or lines.
YAML_BITS = list(":-[]{},#&*!|>'\"%@`?\n\t ") + ["\x00", "\x85", "\ufeff", "é", "0", "-1", "1e9", "null", "true", "~", "<<: *a"]

edit = st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.floats(0, 1), st.sampled_from(YAML_BITS) | st.text(max_size=3))


def mutate(text: str, edits) -> str:
    for kind, where, chunk in edits:
        at = int(where * len(text))
        if kind == "insert":
            text = text[:at] + chunk + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + max(1, len(chunk)):]
        else:
            text = text[:at] + chunk + text[at + len(chunk):]
    return text


def check(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exp.yaml"
        path.write_bytes(content)
        try:
            assert isinstance(load_experiment(path), Experiment)
        except InputError as exc:
            assert str(exc).startswith(f"{path}:"), str(exc)


YAML_CASES = {"edits": st.lists(edit, min_size=1, max_size=8), "encoding": st.sampled_from(["utf-8", "latin-1", "utf-16"])}


def mutated_yaml(edits, encoding):
    text = mutate(BASE, edits)
    check(text.encode(encoding, errors="replace"))


# A quick pass in every test run, a long one with `make test-slow`.
_quiet = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
test_mutated_yaml_loads_or_raises_input_error = settings(max_examples=80, **_quiet)(given(**YAML_CASES)(mutated_yaml))
test_mutated_yaml_long = pytest.mark.slow(settings(max_examples=3000, **_quiet)(given(**YAML_CASES)(mutated_yaml)))


# Values of any shape at real field paths: wrong types, negatives, nesting, unknown names.
values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
PATHS = [
    ("name",), ("seeds",), ("data",), ("data", "dataset"), ("data", "files"), ("data", "subset"), ("data", "subset", "fraction"),
    ("ance", "top_k"), ("ance", "segment"), ("ance", "segment", "kind"), ("ance", "segment", "windows"), ("ance", "segment", "n"),
    ("train", "batch_size"), ("train", "loss"), ("eval", "metrics"), ("resources", "gpus"), ("resources", "time"), ("extends",), ("nope",),
]


STRUCTURED_CASES = {"changes": st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=4)}


def structured_values(changes):
    data = yaml.safe_load(BASE)
    for path, value in changes:
        node = data
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[path[-1]] = value
    check(yaml.safe_dump(data, allow_unicode=True).encode())


test_structured_values_at_real_fields = settings(max_examples=40, **_quiet)(given(**STRUCTURED_CASES)(structured_values))
test_structured_values_long = pytest.mark.slow(settings(max_examples=2000, **_quiet)(given(**STRUCTURED_CASES)(structured_values)))


def test_the_base_file_is_valid():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exp.yaml"
        path.write_text(BASE)
        experiment = load_experiment(path)
        assert experiment.ance.segment.width == 40 and experiment.data.subset.keep_positives_of == ["dev"]
