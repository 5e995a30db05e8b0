"""The experiments screen: the list, the highlighted file, problems inline, submission disabled."""

from __future__ import annotations

from pathlib import Path

from launcher.tui.app import LauncherApp
from launcher.tui.catalog import find_files, scan
from launcher.tui.screens.experiments import ExperimentsScreen
from launcher.tui.screens.script import ScriptScreen
from launcher.tui.session import Session
from launcher.tui.widgets.code_view import CodeView
from launcher.tui.widgets.experiment_table import ExperimentTable
from launcher.tui.widgets.mode_bar import ModeLink
from launcher.tui.widgets.problem_list import ProblemList
from launcher.tui.yaml_lines import line_of
from tui_helpers import screen_text, wait_for

REPO = Path(__file__).resolve().parents[3]


async def _loaded(pilot) -> ExperimentTable:
    table = pilot.app.screen.query_one(ExperimentTable)
    await wait_for(pilot, lambda: table.row_count > 0, what="the experiment list")
    return table


async def test_lists_every_experiment_with_its_key_settings(app: LauncherApp):
    async with app.run_test(size=(120, 30)) as pilot:
        table = await _loaded(pilot)
        labels = [table.get_row_at(i)[0] for i in range(table.row_count)]
        assert labels == ["bad.yaml", "broken.yaml", "sub/random20.yaml", "top20.yaml"]  # _base.yaml is a partial
        random20 = table.get_row(str(app.session.experiment_dirs[0] / "sub" / "random20.yaml"))
        # file, check, segment, dataset, model, GPUs, executor: the settings come through `extends:`
        assert [str(cell) for cell in random20] == [
            "sub/random20.yaml", "ok", "random 20 of [0,200)", "builtin:debian-10pct", "minilm", "4", "slurm"]
        assert str(table.get_row_at(0)[1]) == "✗ 2 problems"


async def test_selected_file_shows_problems_with_field_path_and_marked_line(app: LauncherApp):
    async with app.run_test(size=(100, 30)) as pilot:
        await _loaded(pilot)
        screen = app.screen
        assert app.session.selected.name == "bad.yaml"  # the first file is selected
        problems = screen.query_one(ProblemList)
        assert not problems.has_class("-empty")
        assert {p.where for p in problems.problems} == {"ance.segment.windows", "train.lr"}
        # drawn on the next refresh (late on a loaded machine): wait for it rather than read a stale screen
        await wait_for(pilot, lambda: "2 problems: submission disabled" in screen_text(app), what="the problems drawn")
        text = screen_text(app)
        assert "ance.segment.windows (line 5): expected start < end in every window" in text
        assert "train.lr (line 7)" in text
        assert "2 problems: submission disabled" in text
        assert screen.query_one(CodeView).code_text.startswith("name: bad")

        # Submission is greyed out and does nothing while the file has problems.
        assert screen.check_action("submit", ()) is None
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ExperimentsScreen)

        await pilot.press("down")  # broken.yaml: not YAML at all
        await pilot.pause()
        assert [p.where for p in problems.problems] == ["line 4, column 1"]
        assert "valid YAML" in screen_text(app)

        await pilot.press("down", "down")  # top20.yaml: valid
        await pilot.pause()
        assert app.session.selected.name == "top20.yaml"
        assert problems.has_class("-empty")
        assert screen.check_action("submit", ()) is True


async def test_enter_opens_the_script_of_the_selected_experiment(app: LauncherApp):
    async with app.run_test(size=(100, 30)) as pilot:
        table = await _loaded(pilot)
        table.move_cursor(row=3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ScriptScreen))
        assert "run.top20.s0" in app.screen.query_one(CodeView).code_text


async def test_reload_picks_up_an_edited_file(app: LauncherApp, workdir: Path):
    async with app.run_test(size=(100, 30)) as pilot:
        table = await _loaded(pilot)
        (workdir / "experiments" / "bad.yaml").write_text("name: fixed\n")
        await pilot.press("r")
        await wait_for(pilot, lambda: str(table.get_row_at(0)[1]) == "ok", what="the fixed file to validate")
        assert app.screen.query_one(ProblemList).has_class("-empty")


async def test_a_missing_experiments_folder_says_what_to_do(tmp_path: Path):
    app = LauncherApp(Session.create(["nowhere"], workdir=str(tmp_path)))
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "no experiment files under nowhere" in screen_text(app)
        assert app.screen.check_action("submit", ()) is None


def test_render_problems_count_as_problems(workdir: Path):
    """A value the templates refuse (a % in the runs root reaches an #SBATCH line) blocks submission too."""
    entries = scan([workdir / "experiments"], runs=str(workdir / "runs%j"), workdir=str(workdir))
    top20 = next(entry for entry in entries if entry.label == "top20.yaml")
    assert not top20.ok
    assert any("%" in problem.expected for problem in top20.problems)


def test_line_of_follows_field_paths():
    text = "name: x\nance:\n  segment:\n    windows: [[0, 20], [30, 10]]\ntrain:\n  lr: -1\n"
    assert line_of(text, "train.lr") == 6
    assert line_of(text, "ance.segment.windows[1]") == 4
    assert line_of(text, "ance.segment.n") == 3  # missing field: its nearest parent in the file
    assert line_of(text, "line 2, column 3") == 2
    assert line_of(text, "seeds") is None
    assert line_of("a: [unclosed\n", "a") is None


def test_repository_experiments_load_without_crashing():
    """Whatever experiments/ holds today, each file is listed, valid or with its problems."""
    folder = REPO / "experiments"
    entries = scan([folder], runs=None, workdir=str(REPO))
    assert len(entries) == len(find_files([folder]))
    for entry in entries:
        assert entry.ok or entry.problems


async def test_the_mouse_switches_screens_and_selects_rows(app: LauncherApp):
    async with app.run_test(size=(100, 30)) as pilot:
        table = await _loaded(pilot)
        # Row 3 of the table body (after the border and the header): top20.yaml.
        await pilot.click(ExperimentTable, offset=(4, 5))
        await wait_for(pilot, lambda: app.session.selected.name == "top20.yaml", what="the clicked row")
        links = list(app.screen.query(ModeLink))
        await pilot.click(links[1])
        await wait_for(pilot, lambda: isinstance(app.screen, ScriptScreen), what="the script screen")
        assert "run.top20.s0" in app.screen.query_one(CodeView).code_text
        assert table.cursor_row == 3


def test_a_sweep_file_is_one_entry_whose_submission_holds_every_window(workdir: Path):
    from launcher.tui.catalog import key_settings
    from launcher.tui.scripts import ScriptOptions, build_plan

    sweep = workdir / "experiments" / "sweep.yaml"
    sweep.write_text("extends: _base.yaml\nname: sw\nseeds: [0]\nance: {segment: {kind: top, n: 10}}\n"
                     "sweep: {range: {start: 0, stop: 40, width: 10}}\n")
    entries = scan([workdir / "experiments"], runs=None, workdir=str(workdir))
    [entry] = [e for e in entries if e.label == "sweep.yaml"]
    assert entry.ok and [e.name for e in entry.experiments] == ["sw-0-10", "sw-10-20", "sw-20-30", "sw-30-40"]
    assert key_settings(entry.experiment)["segment"] == "sweep of sw: top 10 per window"
    _, plan = build_plan(sweep, ScriptOptions(), None, str(workdir), "preview")
    runs = [job.key for job in plan.jobs if job.template.startswith("run")]
    assert runs == [f"run.sw-{a}-{a + 10}.s0" for a in (0, 10, 20, 30)]
    assert sum(job.template == "warmup" for job in plan.jobs) == 1  # the windows share the warm-up
