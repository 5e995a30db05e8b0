"""experiments/rehearsal/ is the MS MARCO 10% profile with only the fields its _base.yaml lists changed.

Each rehearsal experiment is resolved beside its namesake in msmarco-10/ (every default filled in by the
schema) and the two dumps are compared field by field: a difference outside the listed fields fails, and
so does a listed field that does not differ (the list says exactly what the rehearsal changes).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ance_core.config import load_experiment

ROOT = Path(__file__).resolve().parents[2] / "experiments"
REHEARSAL = ROOT / "rehearsal"
RENAMED = {("name",)}  # runs of the two profiles must not share folders


def leaves(value, path: tuple = ()) -> dict[tuple, object]:
    if isinstance(value, dict) and value:
        return {leaf: v for key, item in value.items() for leaf, v in leaves(item, (*path, key)).items()}
    return {path: value}


def listed() -> set[tuple]:
    data = yaml.safe_load((REHEARSAL / "_base.yaml").read_text())
    data.pop("extends")
    return set(leaves(data))


def pairs() -> list[tuple[Path, Path]]:
    files = sorted(p for p in REHEARSAL.glob("*.yaml") if not p.name.startswith("_"))
    return [(p, ROOT / "msmarco-10" / p.name) for p in files]


def test_the_rehearsal_extends_the_msmarco_10_profile_and_runs_some_of_its_strategies():
    assert yaml.safe_load((REHEARSAL / "_base.yaml").read_text())["extends"] == "../msmarco-10/_base.yaml"
    assert pairs() and all(study.is_file() for _, study in pairs())


@pytest.mark.parametrize(("rehearsal", "study"), pairs(), ids=[p.name for p, _ in pairs()])
def test_only_the_listed_fields_differ_from_the_msmarco_profile(rehearsal, study):
    ours = leaves(load_experiment(rehearsal).model_dump(mode="json"))
    theirs = leaves(load_experiment(study).model_dump(mode="json"))
    differ = {path for path in ours.keys() | theirs.keys() if ours.get(path) != theirs.get(path)}
    unlisted = {".".join(map(str, p)): (theirs.get(p), ours.get(p)) for p in differ - listed() - RENAMED}
    assert not unlisted, f"fields that differ from {study.name} without a line in rehearsal/_base.yaml: {unlisted}"
    same = sorted(".".join(p) for p in listed() - differ)
    assert not same, f"rehearsal/_base.yaml lists fields that do not differ from the MS MARCO profile: {same}"


def test_every_changed_field_says_why():
    lines = (REHEARSAL / "_base.yaml").read_text().splitlines()
    # a leaf line: `key: value` with a value; each carries a comment with the reason
    values = [line for line in lines if re.match(r"^\s*[\w.]+:\s*[^\s#]", line) and not line.startswith("extends:")]
    assert len(values) == len(listed())
    silent = [line for line in values if "#" not in line.split(":", 1)[1] or not line.split("#", 1)[1].strip()]
    assert not silent, f"fields without a reason: {silent}"
