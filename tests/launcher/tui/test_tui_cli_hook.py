"""`ance-launch` with no arguments, or `ance-launch tui ...`, opens the TUI with the folders given."""

from __future__ import annotations

import launcher.tui
from launcher import cli


def test_no_arguments_and_tui_open_the_tui(monkeypatch):
    opened = []
    monkeypatch.setattr(launcher.tui, "run", lambda experiments, runs: opened.append((experiments, runs)) or 0)
    assert cli.main([]) == 0
    assert cli.main(["tui", "--experiments", "a", "--experiments", "b", "--runs", "r"]) == 0
    assert opened == [([], None), (["a", "b"], "r")]


def test_the_tui_defaults_to_experiments_and_runs(tmp_path, monkeypatch):
    from launcher.tui.session import Session

    session = Session.create(["experiments"], workdir=str(tmp_path))
    assert session.experiment_dirs == (tmp_path / "experiments",)
    assert session.runs_roots() == [(tmp_path / "runs").resolve()]
