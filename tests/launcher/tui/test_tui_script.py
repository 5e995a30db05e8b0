"""The script screen: the rendered script follows template, executor and runtime; write it; submit guard."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Select

from launcher.render import render
from launcher.tui.app import LauncherApp
from launcher.tui.screens.path_prompt import PathPromptScreen
from launcher.tui.screens.script import ScriptScreen
from launcher.tui.screens.submit import SubmitScreen
from launcher.tui.scripts import ScriptOptions, preview
from launcher.tui.session import Session
from launcher.tui.widgets.code_view import CodeView
from launcher.tui.widgets.notice import Notice
from launcher.tui.widgets.problem_list import ProblemList
from tui_helpers import select_experiment, screen_text, wait_for


async def open_script(pilot, name: str) -> ScriptScreen:
    app = pilot.app
    await select_experiment(pilot, name)
    await pilot.press("2")
    await wait_for(pilot, lambda: isinstance(app.screen, ScriptScreen))
    await pilot.pause()
    return app.screen


async def test_preview_is_the_script_the_submission_gets(app: LauncherApp, workdir: Path):
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_script(pilot, "top20.yaml")
        view = screen.view
        assert view.job.key == "run.top20.s0" and view.executor == "local" and view.runtime == "native"
        # The same text the renderer gives the plan's job: the screen adds nothing and drops nothing.
        assert screen.query_one(CodeView).code_text == render(view.job.experiment, view.job.template, view.job.context)
        assert f"--chdir=\"{workdir}\"" in view.text
        assert f"{workdir}/runs/_jobs/preview" in view.text


async def test_changing_the_executor_changes_how_it_is_started(app: LauncherApp):
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_script(pilot, "top20.yaml")
        how = screen.query_one("#how", Notice)
        assert "local executor -> bash on this machine once refresh0.s0 has succeeded" in how.text

        await pilot.press("e")
        await pilot.pause()
        assert screen.view.executor == "slurm"
        assert "slurm executor -> sbatch; runs on a compute node once refresh0.s0 has succeeded (afterok)" in how.text
        assert screen.query_one("#executor", Select).value == "slurm"
        assert app.session.options == ScriptOptions(template="run", executor="slurm")


async def test_changing_the_runtime_and_template_changes_the_script(app: LauncherApp):
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_script(pilot, "top20.yaml")
        code = screen.query_one(CodeView)
        assert "apptainer exec" not in code.code_text

        await pilot.press("a")  # runtime: apptainer
        await pilot.pause()
        assert "apptainer exec" in code.code_text and "--bind" in code.code_text

        # The drop-down does the same as the key (mouse users).
        screen.query_one("#template", Select).value = "report"
        await pilot.pause()
        assert screen.view.job.key == "report"
        assert " report " in code.code_text and "--markdown" in code.code_text
        assert "report.sh.j2" in screen_text(app)


async def test_a_combination_the_schema_refuses_disables_submission(app: LauncherApp, workdir: Path):
    """bf16 training without GPUs: fine with the local executor (CPU autocast), refused for a SLURM job."""
    (workdir / "experiments" / "top20.yaml").write_text(
        (workdir / "experiments" / "top20.yaml").read_text() + "train:\n  precision: bf16\n")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_script(pilot, "top20.yaml")
        assert screen.check_action("submit", ()) is True
        await pilot.press("e")
        await pilot.pause()
        problems = screen.query_one(ProblemList)
        assert not problems.has_class("-empty")
        assert "needs GPUs" in problems.problems[0].expected
        assert screen.check_action("submit", ()) is None
        await pilot.press("s")
        await pilot.pause()
        assert not isinstance(app.screen, SubmitScreen)


async def test_write_saves_the_shown_script(app: LauncherApp, workdir: Path):
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_script(pilot, "top20.yaml")
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, PathPromptScreen))
        prompt = app.screen.query_one("#path")
        assert prompt.value == str(workdir / "run.top20.s0.sh")
        prompt.value = "scripts/top20-run.sh"
        await pilot.press("enter")
        await pilot.pause()
        written = workdir / "scripts" / "top20-run.sh"
        assert written.read_text() == screen.view.text
        assert written.stat().st_mode & 0o111


async def test_nothing_selected_says_where_to_pick(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    app = LauncherApp(Session.create(["empty"], workdir=str(tmp_path)))
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("2")
        await pilot.pause()
        assert "pick one on the Experiments screen" in screen_text(app)
        assert app.screen.check_action("submit", ()) is None


def test_run_multinode_on_one_node_renders_for_reference(workdir: Path):
    view = preview(workdir / "experiments" / "top20.yaml", ScriptOptions(template="run_multinode"), None, str(workdir))
    assert view.job is None and not view.problems
    assert "srun" in view.text
