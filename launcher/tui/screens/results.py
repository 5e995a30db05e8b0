"""Results: per strategy, start / best / final dev metric, Δ, the value at the common refresh, loss,
refreshes and seeds; terminal plots of the metric per refresh and the loss per step (a sweep's
dose-response above them); the promised analyses on `a`; export the PNGs."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Static

from ance_core.errors import AnceError
from ance_core.report import analyses_tables, fmt_baseline, significance_lines, sweep_plot
from launcher.tui.results_data import METRICS, Results, export_plots, load_results
from launcher.tui.screens.base import ModeScreen
from launcher.tui.screens.path_prompt import PathPromptScreen
from launcher.tui.widgets.curve_plot import CurvePlot, colour_of
from launcher.tui.widgets.notice import Notice
from launcher.tui.widgets.strategy_table import StrategyTable


def _answered(summary) -> bool:
    """The verdict names a winner: a paired test found a difference, or (no tests) the lead exceeds the seed spread."""
    if summary is None or summary.verdict is None:
        return False
    verdict = summary.verdict
    return bool(verdict.significant if verdict.significant is not None else verdict.exceeds_spread)


class ResultsScreen(ModeScreen):
    MODE = "results"
    BINDINGS = [
        Binding("m", "metric", "Metric"),
        Binding("a", "analyses", "Analyses"),
        Binding("n", "next_study", "Next study"),
        Binding("p", "export", "Export PNGs"),
        Binding("r", "reload", "Reload"),
    ]
    DEFAULT_CSS = """
    ResultsScreen #plots {
        height: 1fr;
        min-height: 8;
    }
    ResultsScreen #verdict {
        max-height: 14;  /* baselines, a verdict that wraps to four lines at 80 columns, six pairs */
    }
    ResultsScreen #sweep {
        height: auto;
        padding: 0 1;
    }
    ResultsScreen #analyses {
        height: 1fr;
        padding: 0 1;
    }
    """
    HELP = """
## Results

The runs under the runs roots, one study per runs root (the strategies of one
`reproduce-all` are compared with each other only). Per strategy: the dev
metric at the **start** (refresh 0), its **best** and **final** value, **Δ** =
final − start, the value **@R** at the last refresh every run reached (where
strategies are ranked; ★ marks the best), the **loss** at the end, the
refreshes reached and the runs (seeds). Numbers are mean ± std over seeds.
The verdict comes from paired tests over the dev queries at that refresh
(randomization test and t-test on each query's metric, read from the runs'
TREC run files, averaged over seeds, Holm-corrected over the pairs); one line
per pair gives the mean difference with its bootstrap 95% CI and the corrected
p-values, `*` where the randomization test finds a difference. Runs without
run files (older runs) get the seed-spread sentence instead.

Plots: the metric per refresh and the training loss per step (smoothed), one
line per strategy, the same colour in both.

A **sweep** (an experiment file with `sweep:`, one run per rank window) is one
study: above the plots, its dose-response as a terminal plot, a line per
window: the gain over the start checkpoint with its paired 95% CI (`●` on
`├──┤`, the dotted column is zero, `*` = Holm-corrected p < 0.05), and the
trend test's sentence ("no trend detected" unless it rejects).

`a` switches the plots for the **analyses**: gain by query difficulty (the
start checkpoint's rank of the first relevant passage), loss and gradient norm
over the steps, the score margin of the sampled negatives and the share that
outscore the positive, time and peak memory per refresh; each with its sentence.

| key | |
| --- | --- |
| `m` | nDCG@10 / MRR@10 |
| `a` | the analyses / the plots |
| `n` | next study (when the roots hold several) |
| `p` | write the report's PNG figures into a folder |
| `r` | read the runs again |
"""

    def __init__(self) -> None:
        super().__init__()
        self.results: Results | None = None
        self.reading = True  # until the first read lands (not `loading`: that Textual attribute hides the screen)
        self.metric = METRICS[0]
        self.study_index = 0
        self.showing_analyses = False

    def compose(self) -> ComposeResult:
        yield self.mode_bar()
        yield Notice(id="where")
        yield StrategyTable()
        yield Notice(id="verdict")
        yield Static(id="sweep")
        with Horizontal(id="plots"):
            yield CurvePlot(id="metric-plot")
            yield CurvePlot(id="loss-plot")
        with VerticalScroll(id="analyses"):
            yield Static(id="analyses-body")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#sweep").display = False
        self.query_one("#analyses").display = False

    def on_screen_resume(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.reading = True
        self.query_one("#where", Notice).say("reading the runs ...")
        self.load(self.session.runs_roots())

    @work(thread=True, exclusive=True, group="results")
    def load(self, roots: list[Path]) -> None:
        try:
            results = load_results(roots)
        except AnceError as exc:
            self.app.call_from_thread(self.show_error, str(exc))
            return
        self.app.call_from_thread(self.show_results, results, roots)

    def show_error(self, message: str) -> None:
        self.results, self.reading = None, False
        self.query_one("#where", Notice).say(f"cannot read the runs: {message}", "error")
        self.query_one(StrategyTable).show(None)
        self.query_one("#verdict", Notice).say("")
        self._hide_views()

    def show_results(self, results: Results, roots: list[Path]) -> None:
        self.results, self.reading = results, False
        if not results.studies:
            self.query_one("#where", Notice).say(
                f"no runs with evaluations under {', '.join(map(self.session.shown, roots))} yet: submit an experiment (2), "
                "or start with --runs DIR", "warning")
            self.query_one(StrategyTable).show(None)
            self.query_one("#verdict", Notice).say("")
            self._hide_views()
            return
        self.study_index %= len(results.studies)
        self.show_study()

    @property
    def study(self) -> str | None:
        if self.results is None or not self.results.studies:
            return None
        return self.results.studies[self.study_index % len(self.results.studies)]

    def show_study(self) -> None:
        results, study = self.results, self.study
        if results is None or study is None:
            return
        summary = results.summary(study, self.metric)
        studies = results.studies
        position = f" ({self.study_index + 1}/{len(studies)}, n: next)" if len(studies) > 1 else ""
        roots = ", ".join(self.session.shown(root) for root in results.roots)
        self.query_one("#where", Notice).say(f"study '{study}'{position} · {self.metric} · runs under {roots}")
        self.query_one(StrategyTable).show(summary)
        sweep = summary.sweep if summary else None
        if sweep is not None:  # its answer is the curve's; the neighbouring windows' pairs are in report.md
            verdict = sweep.text
        elif summary and summary.verdict:
            verdict = summary.verdict.text
        else:
            verdict = "only one strategy in this study: nothing to compare it with" if summary and len(summary.strategies) == 1 else ""
        baselines = [b for b in summary.baselines if b.metric == self.metric and b.split in (summary.split, None)] if summary else []
        if baselines:  # BM25 and the untrained encoder: what training has to beat
            listed = " · ".join(f"{b.name} {fmt_baseline(b.value)}" for b in baselines)
            verdict = f"baselines: {listed}\n{verdict}" if verdict else f"baselines: {listed}"
        if sweep is None and summary and summary.significance:
            verdict = "\n".join([verdict, *significance_lines(summary.significance)])
        answered = sweep.trend.significant if sweep is not None else _answered(summary)
        self.query_one("#verdict", Notice).say(verdict, "success" if answered else "info")
        sweep_view = self.query_one("#sweep", Static)
        sweep_view.display = sweep is not None
        if sweep is not None:
            sweep_view.update(sweep_plot(sweep, with_text=False))  # the sentence is in the verdict above
        analyses = summary.analyses if summary else None
        self.query_one("#analyses-body", Static).update(
            analyses_tables(analyses) if analyses else "no analyses: these runs have no run files or refresh events")
        self.query_one("#plots").display = not self.showing_analyses
        self.query_one("#analyses").display = self.showing_analyses
        curves = results.study_curves(study, self.metric)
        losses = results.study_losses(study)
        colours = colour_of([series.label for series in curves + losses])
        self.query_one("#metric-plot", CurvePlot).show(f"dev {self.metric} per refresh", curves, "refresh", colours)
        self.query_one("#loss-plot", CurvePlot).show("train loss per step", losses, "step", colours)

    def action_metric(self) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self.show_study()

    def _hide_views(self) -> None:
        for name in ("#plots", "#sweep", "#analyses"):
            self.query_one(name).display = False

    def action_analyses(self) -> None:
        self.showing_analyses = not self.showing_analyses
        self.show_study()

    def action_next_study(self) -> None:
        if self.results and self.results.studies:
            self.study_index = (self.study_index + 1) % len(self.results.studies)
            self.show_study()

    def action_export(self) -> None:
        results = self.results
        if results is None or not results.studies:
            self.notify("no results to export yet", severity="warning")
            return
        default = str(results.roots[0] / "_plots")
        metric = self.metric
        self.app.push_screen(PathPromptScreen("Write the PNG figures into:", default),
                             lambda folder: self.export(results, metric, folder) if folder else None)

    @work(thread=True, group="export")
    def export(self, results: Results, metric: str, folder: str) -> None:
        target = Path(folder).expanduser()
        if not target.is_absolute():
            target = Path(self.session.workdir) / target
        try:
            written = export_plots(results, metric, target)
        except (AnceError, OSError) as exc:
            self.app.call_from_thread(self.notify, f"could not write the plots: {exc}", severity="error")
            return
        self.app.call_from_thread(self.notify, f"wrote {len(written)} PNG file(s) into {self.session.shown(target)}")
