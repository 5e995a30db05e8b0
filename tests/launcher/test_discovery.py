"""Experiment discovery: folders, profiles, partial bases, errors that name every bad file."""

from __future__ import annotations

import pytest

from ance_core.errors import InputError
from launcher.discovery import experiment_files, load_or_raise, profile_folder


@pytest.fixture
def profile(tmp_path):
    folder = tmp_path / "experiments" / "embedded"
    folder.mkdir(parents=True)
    (folder / "_base.yaml").write_text("seeds: [0, 1]\noutputs: {root: runs}\n")
    for name in ("top20", "bottom20"):
        (folder / f"{name}.yaml").write_text(f"extends: _base.yaml\nname: {name}\n")
    (folder / "notes.txt").write_text("not an experiment")
    return folder


def test_a_profile_folder_holds_its_experiments_not_its_bases(profile):
    assert profile_folder("embedded", profile.parent) == profile
    files = experiment_files([profile])
    assert [path.name for path in files] == ["bottom20.yaml", "top20.yaml"]
    loaded = load_or_raise(files)
    assert [exp.name for _, exp in loaded] == ["bottom20", "top20"]
    assert all(exp.seeds == [0, 1] for _, exp in loaded)  # from the base, through extends


def test_an_unknown_profile_lists_the_ones_there(profile):
    with pytest.raises(InputError, match=r"--profile: expected a folder of experiments, one of \['embedded'\]"):
        profile_folder("msmarco-10", profile.parent)


def test_missing_files_and_empty_folders_are_refused(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        experiment_files([tmp_path / "nope.yaml"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="experiment YAML files"):
        experiment_files([tmp_path / "empty"])


def test_every_bad_file_is_named_in_one_error(profile):
    (profile / "top20.yaml").write_text("extends: _base.yaml\nname: top20\ntrain: {lr: -1}\n")
    (profile / "bottom20.yaml").write_text("extends: _base.yaml\nname: bottom20\nresources: {gpus: lots}\n")
    with pytest.raises(InputError) as error:
        load_or_raise(experiment_files([profile]))
    message = str(error.value)
    assert "bottom20.yaml: resources.gpus" in message and "top20.yaml: train.lr" in message
