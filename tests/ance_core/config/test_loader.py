"""Every bad experiment file gives one InputError naming the file, the field or line, expected vs found."""

import pytest

from ance_core.config import apply_overrides, experiment_hash, load_experiment, load_experiment_data
from ance_core.errors import InputError

BASE = """\
name: top20
seeds: [0, 1]
data:
  dataset: builtin:debian-10pct
ance:
  top_k: 200
  segment: {kind: top, windows: [[0, 20]], n: 20}
train:
  batch_size: 16
"""


def load_text(tmp_path, text: str | bytes, name: str = "exp.yaml"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return load_experiment(path)


def error_of(tmp_path, text: str | bytes) -> str:
    with pytest.raises(InputError) as err:
        load_text(tmp_path, text)
    message = str(err.value)
    assert message.startswith(str(tmp_path / "exp.yaml") + ":"), message  # always names the file first
    return message


def test_a_good_file_loads(tmp_path):
    experiment = load_text(tmp_path, BASE)
    assert experiment.name == "top20" and experiment.ance.segment.windows == [(0, 20)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # unknown field, top level and nested
        ("name: a\ntrian: {}\n", "trian: expected a known field (unknown fields are rejected; check the spelling), found unknown field 'trian'"),
        ("name: a\ntrain: {batchsize: 8}\n", "train.batchsize: expected a known field"),
        # wrong types
        ("name: a\ntrain: {batch_size: many}\n", "train.batch_size: expected a valid integer"),
        ("name: a\nseeds: 3\n", "seeds: expected a valid list, found 3"),
        ("name: a\ndata: builtin\n", "data: expected a valid dictionary"),
        # unknown segment kind
        ("name: a\nance: {segment: {kind: middle, windows: [[0, 20]]}}\n", "ance.segment.kind: expected kind one of 'top', 'random'"),
        # unsafe names (they end up in paths and shell words)
        ("name: 'a b; rm -rf ~'\n", "name: expected a safe name: letters, digits, '_', '.', '-'"),
        ("name: ../escape\n", "name: expected a safe name"),
        # negative or zero sizes
        ("name: a\ntrain: {batch_size: 0}\n", "train.batch_size: expected greater than 0, found 0"),
        ("name: a\nance: {top_k: -5}\n", "ance.top_k: expected greater than 0, found -5"),
        ("name: a\ndata: {subset: {fraction: 0}}\n", "data.subset.fraction: expected greater than 0, found 0"),
        # a window beyond top-K, or an inverted one
        ("name: a\nance: {top_k: 100, segment: {kind: top, windows: [[180, 200]]}}\n", "ance: expected segment.windows within top_k=100, found a window ending at 200"),
        ("name: a\nance: {segment: {kind: top, windows: [[20, 10]]}}\n", "ance.segment.windows: expected start < end in every window, found [20, 10)"),
        ("name: a\nance: {segment: {kind: top, n: 30, windows: [[0, 20]]}}\n", "expected segment.n <= the windows' total width 20, found n=30"),
        # malformed YAML, empty files, not a mapping, bytes that are not UTF-8
        ("name: a\n  bad: [\n", "line 2, column 6: expected valid YAML, found mapping values are not allowed here"),
        ("", "document: expected a mapping of experiment fields, found an empty file"),
        ("- a\n- b\n", "document: expected a mapping of experiment fields, found list"),
        (b"name: caf\xe9\n", "line 1: expected UTF-8 text, found byte 0xe9"),
        # missing required field
        ("seeds: [1]\n", "name: expected a value (this field is required), found nothing"),
        # nesting too deep for the YAML reader (PyYAML recurses; ~600 levels exhaust Python's stack)
        pytest.param("name: a\ndata: " + "[" * 700 + "]" * 700 + "\n", "document: expected valid YAML of ordinary depth", id="too-deep"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text)


def test_several_problems_are_listed_together(tmp_path):
    message = error_of(tmp_path, "name: a\ntrain: {batch_size: 0, lr: -1}\nextra: 1\n")
    assert ": 3 problems" in message
    for part in ("train.batch_size: expected greater than 0", "train.lr: expected greater than 0", "extra: expected a known field"):
        assert part in message


def test_extends_merges_and_reports_cycles_and_missing_parents(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nname: bottom20\nance: {segment: {kind: top, windows: [[180, 200]]}}\n")
    child = load_experiment(tmp_path / "child.yaml")
    assert child.name == "bottom20" and child.ance.segment.windows == [(180, 200)] and child.train.batch_size == 16

    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    with pytest.raises(InputError, match=r"extends: expected no cycle"):
        load_experiment(tmp_path / "a.yaml")
    (tmp_path / "orphan.yaml").write_text("extends: missing.yaml\nname: o\n")
    with pytest.raises(InputError, match=r"orphan.yaml: extends: expected an existing file \(relative to this one\), found .*missing.yaml"):
        load_experiment(tmp_path / "orphan.yaml")
    (tmp_path / "long.yaml").write_text("name: l\nextends: " + "x" * 5000 + "\n")
    with pytest.raises(InputError, match=r"long.yaml: extends: expected an existing file .*\.\.\.$"):
        load_experiment(tmp_path / "long.yaml")  # a name too long for the OS is just "not a file"


def test_missing_file_and_a_directory(tmp_path):
    with pytest.raises(InputError, match=r"nope.yaml: file: expected an existing experiment YAML file"):
        load_experiment(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match=r"file: expected an existing experiment YAML file"):
        load_experiment(tmp_path)


def test_overrides_parse_values_and_reject_bad_syntax(tmp_path):
    (tmp_path / "exp.yaml").write_text(BASE)
    experiment = load_experiment(tmp_path / "exp.yaml", ["train.batch_size=4", "ance.segment={kind: random, windows: [[0, 200]]}"])
    assert experiment.train.batch_size == 4 and experiment.ance.segment.kind == "random"
    with pytest.raises(InputError, match=r"--set: expected FIELD.PATH=VALUE, found 'train.batch_size'"):
        apply_overrides({}, ["train.batch_size"], source="--set")
    with pytest.raises(InputError, match=r"exp.yaml: train.batch_size: expected greater than 0"):
        load_experiment(tmp_path / "exp.yaml", ["train.batch_size=0"])
    assert load_experiment_data(tmp_path / "exp.yaml")["name"] == "top20"


def test_hash_is_stable_and_sees_every_field(tmp_path):
    a = load_text(tmp_path, BASE, "a.yaml")
    b = load_text(tmp_path, BASE.replace("batch_size: 16", "batch_size: 8"), "b.yaml")
    assert experiment_hash(a) == experiment_hash(load_text(tmp_path, BASE, "c.yaml"))
    assert experiment_hash(a) != experiment_hash(b)
