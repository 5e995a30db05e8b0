"""The results screen: the comparison table, terminal plots and PNG export over run folders in tmp."""

from __future__ import annotations

from pathlib import Path

from helpers.report_runs import write_run, write_study, write_tested_study
from launcher.tui.app import LauncherApp
from launcher.tui.screens.path_prompt import PathPromptScreen
from launcher.tui.screens.results import ResultsScreen
from launcher.tui.session import Session
from launcher.tui.widgets.curve_plot import CurvePlot
from launcher.tui.widgets.strategy_table import StrategyTable
from tui_helpers import screen_text, wait_for

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def open_results(pilot) -> ResultsScreen:
    await pilot.press("4")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResultsScreen))
    screen = pilot.app.screen
    await wait_for(pilot, lambda: not screen.reading, what="the runs to load")
    await pilot.pause()
    return screen


def _app(workdir: Path, runs: str = "runs") -> LauncherApp:
    return LauncherApp(Session.create(["experiments"], runs=runs, workdir=str(workdir)))


async def test_table_compares_strategies_and_plots_one_line_each(workdir: Path):
    write_study(workdir / "runs" / "embedded")
    app = _app(workdir)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_results(pilot)
        table = screen.query_one(StrategyTable)
        assert [str(table.get_row_at(i)[0]).strip() for i in range(table.row_count)] == [
            "top20", "★ top20+bottom20", "random20"]
        best = [str(cell) for cell in table.get_row("top20+bottom20")]
        # start, best, final, Δ, at the common refresh (2), loss, refreshes, runs: mean ± std over two seeds
        assert best[1:6] == ["0.5100 ± 0.0141", "0.6700 ± 0.0141", "0.6600 ± 0.0141", "+0.1500 ± 0.0000", "0.6700 ± 0.0141"]
        assert best[7:] == ["3", "2 (seed 0, 1)"]
        assert [str(column.label) for column in table.columns.values()][5] == "@2"
        text = screen_text(app)
        assert "study 'embedded' · nDCG@10" in text
        assert "the lead exceeds the seed spread" in text
        assert "baselines: bm25 0.4500" in text  # the warm-ups' BM25 on dev (nDCG@10)
        assert "0.4500 ±" not in text  # the same in both seeds' warm-ups: no "± 0.0000"
        assert screen.query_one("#metric-plot", CurvePlot).labels == ["top20", "top20+bottom20", "random20"]
        assert screen.query_one("#loss-plot", CurvePlot).labels == ["top20", "top20+bottom20", "random20"]

        await pilot.press("m")
        await pilot.pause()
        assert "study 'embedded' · MRR@10" in screen_text(app)
        assert str(table.get_row("top20+bottom20")[1]) == "0.4600 ± 0.0141"  # MRR@10 = nDCG@10 - 0.05 in the fixture
        assert "baselines: bm25 0.4000" in screen_text(app)


async def test_the_verdict_and_the_pairs_come_from_the_paired_tests(workdir: Path):
    write_tested_study(workdir / "runs" / "embedded")
    app = _app(workdir)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_results(pilot)
        await pilot.press("m")  # MRR@10: the metric the fixture's run files were made for
        await pilot.pause()
        text = " ".join(screen_text(app).split())  # the verdict wraps
        assert "on 120 dev queries (MRR@10 per query, averaged over 2 seeds" in text
        assert "top20 > bottom20 (p < 0.001" in text
        assert "* top20 vs bottom20: Δ +" in text and "(Holm)" in text


async def test_export_writes_the_report_pngs(workdir: Path):
    write_study(workdir / "runs" / "embedded")
    app = _app(workdir)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_results(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, PathPromptScreen))
        assert app.screen.query_one("#path").value == str(workdir / "runs" / "_plots")
        app.screen.query_one("#path").value = "figures"
        await pilot.press("enter")
        figures = workdir / "figures"
        await wait_for(pilot, lambda: (figures / "embedded-train-loss.png").is_file(), 60, "the PNG files")
        assert (figures / "embedded-dev-ndcg10.png").read_bytes()[:8] == PNG_MAGIC


async def test_several_studies_one_at_a_time(workdir: Path):
    write_study(workdir / "runs" / "embedded")
    write_run(workdir / "runs" / "msmarco-10", "bottom20", 0, {0: 0.30, 1: 0.28})
    app = _app(workdir)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await open_results(pilot)
        assert "study 'embedded' (1/2, n: next)" in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert "study 'msmarco-10' (2/2, n: next)" in screen_text(app)
        assert screen.query_one(StrategyTable).row_count == 1
        assert "only one strategy in this study" in screen_text(app)


async def test_no_runs_yet_says_what_to_do(workdir: Path):
    app = _app(workdir)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        assert "no runs with evaluations under runs yet" in screen_text(app)
        assert not screen.query_one("#plots").display
        await pilot.press("p")
        await pilot.pause()
        assert not isinstance(app.screen, PathPromptScreen)


async def test_a_run_that_breaks_the_metrics_contract_is_reported_not_a_crash(workdir: Path):
    run = write_run(workdir / "runs" / "embedded", "top20", 0, {0: 0.5, 1: 0.55})
    with open(run / "metrics.jsonl", "a") as handle:
        handle.write('{"kind": "eval", "refresh": 2, "nDCG@10": "high"}\n')
    app = _app(workdir)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_results(pilot)
        text = screen_text(app)
        assert "cannot read the runs" in text and "nDCG@10" in text


async def test_a_sweep_is_one_study_with_its_curve_and_the_analyses_on_a(workdir: Path):
    from helpers.report_runs import write_sweep_study

    write_sweep_study(workdir / "runs" / "sweep", falls_by=0.1)
    app = _app(workdir)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_results(pilot)
        await pilot.press("m")  # MRR@10: the metric the fixture's run files were made for
        await pilot.pause()
        text = screen_text(app)
        assert "study 'sweep' · MRR@10" in text and "(1/" not in text  # one study, not one per window
        joined = " ".join(text.split())
        assert "falls as the window moves down the ranking" in joined
        assert "[0,20) " in text and "●" in text and "├" in text  # the terminal dose-response plot
        assert "vs rank" not in text  # no list of the 15 window pairs
        await pilot.press("a")
        await pilot.pause()
        text = screen_text(app)
        assert "Gain by query difficulty" in text and "ranks 2-3" in text  # the rest is below, scrolled to
        assert screen.query_one("#analyses").display and not screen.query_one("#plots").display
        await pilot.press("a")
        await pilot.pause()
        assert screen.query_one("#plots").display and not screen.query_one("#analyses").display
