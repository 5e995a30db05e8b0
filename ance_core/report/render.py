"""Views of the summaries: rich tables for the terminal, Markdown, and one JSON object.

Each study gets one table, a row per strategy: start, best, final, final -
start, the value at the common refresh (where strategies are compared), and
the loss at the end; mean ± std over seeds with min–max below. The best
strategy is starred, and the verdict line under the table comes from the
paired tests over queries (`significance.py`) when the runs' files allow them,
else says whether the lead exceeds the seed spread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ance_core.report.analyses_view import analyses_markdown, analyses_tables
from ance_core.report.runs import run_commits
from ance_core.report.significance_view import significance_markdown, significance_table
from ance_core.report.strategies import study_title
from ance_core.report.summary import LOSS_WINDOW, Baseline, RunSummary, Stat, StrategyRow, StudySummary
from ance_core.report.sweep_view import sweep_markdown, sweep_plot
from ance_core.report.tidy import KIND_EVAL, TidyTable

BEST_MARK = "★"


# ---------------------------------------------------------------- formatting


def fmt(value: float | None, digits: int = 4, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def fmt_stat(stat: Stat | None, digits: int = 4, signed: bool = False) -> str:
    """'0.6488' for one run, '0.6488 ± 0.0012' for several."""
    if stat is None:
        return "–"
    text = fmt(stat.mean, digits, signed)
    return text if stat.std is None else f"{text} ± {stat.std:.{digits}f}"


def fmt_baseline(stat: Stat) -> str:
    """A baseline's value: BM25 and zero-shot give the same number for every seed, so no '± 0.0000' then."""
    return fmt_stat(stat if stat.std else Stat(stat.mean, None, stat.min, stat.max, stat.n))


def fmt_range(stat: Stat | None, digits: int = 4) -> str:
    if stat is None or stat.n < 2:
        return ""
    return f"{stat.min:.{digits}f}–{stat.max:.{digits}f}"


def fmt_int_range(stat: Stat | None) -> str:
    if stat is None:
        return "–"
    low, high = round(stat.min), round(stat.max)
    return str(low) if low == high else f"{low}–{high}"


def _runs_line(row: StrategyRow) -> str:
    """'1 run · 136 refreshes', '3 seeds · 5 refreshes · 1 running'."""
    runs = f"{row.n_runs} run" if row.n_runs == 1 else f"{row.n_runs} seeds"
    text = f"{runs} · {fmt_int_range(row.refreshes)} refreshes"
    unfinished = {state: count for state, count in row.states.items() if state not in ("finished", "log")}
    return text + "".join(f" · {count} {state}" for state, count in sorted(unfinished.items()))


def fmt_runs(row: StrategyRow) -> str:
    seeds = [str(seed) for seed in row.seeds if seed is not None]
    unfinished = {state: count for state, count in row.states.items() if state not in ("finished", "log")}
    text = str(row.n_runs)
    if seeds and row.source != "legacy":
        text += f" (seed {', '.join(seeds)})" if len(seeds) <= 3 else f" ({len(seeds)} seeds)"
    if unfinished:
        text += " — " + ", ".join(f"{count} {state}" for state, count in sorted(unfinished.items()))
    return text


def _best_cell(row: StrategyRow) -> str:
    return f"{_md_stat(row.best)} @{fmt_int_range(row.best_refresh)}"


# ---------------------------------------------------------------- rich


def render_rich(summaries: Sequence[StudySummary], table: TidyTable, console: Console, per_run: bool = False) -> None:
    for summary in summaries:
        if summary.strategies:
            console.print(strategy_table(summary))
        if summary.verdict:
            console.print(Text(summary.verdict.text, style="bold"), soft_wrap=False)
        if summary.sweep:
            console.print(sweep_plot(summary.sweep))
        if summary.significance and not summary.sweep:  # a sweep's many pairs: report.md and report.json have them
            console.print(significance_table(summary.significance))
        elif len(summary.strategies) == 1:
            console.print(Text("Only one strategy in this study: nothing to compare it with.", style="dim"))
        elif not summary.strategies:
            console.print(Text(f"{study_title(summary.study)}: no {summary.split} {summary.metric} evaluations of strategies.", style="yellow"))
        if summary.baselines:
            console.print(baseline_table(summary.baselines))
        if per_run and summary.runs:
            console.print(run_table(summary))
        if per_run and summary.analyses:
            console.print(analyses_tables(summary.analyses))
        console.print()
    for note in notes(summaries, table):
        console.print(Text(note, style="yellow"))


def strategy_table(summary: StudySummary) -> Table:
    common = summary.common_refresh
    several = any(row.n_runs > 1 for row in summary.strategies)
    table = Table(
        title=f"{study_title(summary.study)}: {summary.split} {summary.metric} per strategy",
        caption=_caption(summary, several),
        caption_justify="left",
        title_style="bold",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        leading=1,  # a blank line between the multi-line rows
    )
    table.add_column("strategy", min_width=16)
    for name in ("start", "best", "final", "Δ", f"@{common}", "loss"):
        # Numbers are never wrapped or cut: the strategy column gives way instead.
        table.add_column(name, justify="right", no_wrap=True)
    for row in summary.strategies:
        name = Text(f"{BEST_MARK} {row.strategy}" if row.is_best else f"  {row.strategy}")
        name.append(f"\n  {_runs_line(row)}", style="dim")
        table.add_row(
            name,
            _stacked(row.start),
            _stacked(row.best, extra=f"@{fmt_int_range(row.best_refresh)}"),
            _stacked(row.final),
            _stacked(row.delta, signed=True),
            _stacked(row.at_common, with_range=True),  # the column strategies are ranked by
            _stacked(row.final_loss, digits=3),
            style="bold green" if row.is_best else None,
        )
    return table


def _caption(summary: StudySummary, several: bool) -> str:
    common = summary.common_refresh
    parts = [
        "start = first evaluation (refresh 0) · best @ its refresh · Δ = final − start",
        f"@{common} = at refresh {common}, the last every run reached: compare here" if common is not None else "",
        f"loss = mean of the last {LOSS_WINDOW} logged training losses",
        f"several seeds: mean, then ± std (and min–max under @{common})" if several else "",
    ]
    return "\n".join(part for part in parts if part)


def run_table(summary: StudySummary) -> Table:
    """A row per run; the run's id goes under its strategy so the numbers keep their width."""
    table = Table(
        title=f"{study_title(summary.study)}: runs", title_style="bold", header_style="bold",
        box=box.SIMPLE_HEAD, pad_edge=False, leading=1,
    )
    table.add_column("run", min_width=22, overflow="fold")
    for name in ("refr.", "start", "best", "final", f"@{summary.common_refresh}", "loss"):
        table.add_column(name, justify="right", no_wrap=True)
    for run in summary.runs:
        label = Text(run.strategy + ("" if run.seed is None else f" · seed {run.seed}"))
        if run.state not in ("finished", "log"):
            label.append(f" · {run.state}", style="yellow")
        label.append(f"\n{run.run}", style="dim")
        best = Text(fmt(run.best))
        best.append(f"\n@{run.best_refresh}", style="dim")
        table.add_row(
            label, f"{run.first_refresh}–{run.last_refresh}", fmt(run.start), best,
            fmt(run.final), fmt(run.at_common), fmt(run.final_loss, 3),
        )
    return table


def run_cells(run: RunSummary) -> list[str]:
    return [
        run.run, run.strategy, "–" if run.seed is None else str(run.seed), run.state,
        f"{run.first_refresh}–{run.last_refresh}", fmt(run.start), fmt(run.best), str(run.best_refresh),
        fmt(run.final), fmt(run.delta, signed=True), fmt(run.at_common), fmt(run.final_loss, 3),
    ]


def baseline_table(baselines: Sequence[Baseline]) -> Table:
    metrics = list(dict.fromkeys(b.metric for b in baselines))
    table = Table(title="baselines", title_style="bold", header_style="bold", box=box.SIMPLE_HEAD)
    table.add_column("baseline")
    table.add_column("split")
    for metric in metrics:
        table.add_column(metric, justify="right", no_wrap=True)
    for (name, split), cells in _baseline_grid(baselines, metrics).items():
        table.add_row(name, split or "–", *cells)
    return table


def _stacked(stat: Stat | None, digits: int = 4, signed: bool = False, extra: str = "", with_range: bool = False) -> Text:
    """Mean on the first line; ± std (and min–max) and any note below it, dimmed."""
    text = Text(fmt(stat.mean, digits, signed) if stat else "–")
    below = []
    if stat is not None and stat.std is not None:
        below.append(f"±{stat.std:.{digits}f}")
        if with_range:
            below.append(_compact_range(stat, digits))
    if extra:
        below.append(extra)
    for line in below:
        text.append("\n" + line, style="dim")
    return text


def _compact_range(stat: Stat, digits: int) -> str:
    """'.5800–.6000': min–max without leading zeros, to fit a terminal column."""
    def short(value: float) -> str:
        return f"{value:.{digits}f}".replace("0.", ".", 1) if abs(value) < 1 else f"{value:.{digits}f}"
    return f"{short(stat.min)}–{short(stat.max)}"


def _baseline_grid(baselines: Sequence[Baseline], metrics: list[str]) -> dict[tuple[str, str | None], list[str]]:
    grid: dict[tuple[str, str | None], dict[str, str]] = {}
    for b in baselines:
        grid.setdefault((b.name, b.split), {})[b.metric] = fmt_baseline(b.value)
    return {key: [cells.get(m, "–") for m in metrics] for key, cells in grid.items()}


# ---------------------------------------------------------------- Markdown


def render_markdown(summaries: Sequence[StudySummary], table: TidyTable, per_run: bool = True, heading: str = "###") -> str:
    parts: list[str] = []
    for summary in summaries:
        parts.append(f"{heading} {study_title(summary.study)}: {summary.split} {summary.metric} per strategy\n")
        if summary.strategies:
            parts += _md_strategies(summary)
        else:
            parts.append(f"No {summary.split} {summary.metric} evaluations of strategies in this study.\n")
        if summary.baselines:
            metrics = list(dict.fromkeys(b.metric for b in summary.baselines))
            rows = [_md_row(["baseline", "split", *metrics]), _md_row(["---", "---"] + ["---:"] * len(metrics))]
            rows += [_md_row([name, split or "–", *cells]) for (name, split), cells in _baseline_grid(summary.baselines, metrics).items()]
            parts.append("\n".join(rows) + "\n")
        if per_run and summary.runs:
            header = ["run", "strategy", "seed", "state", "refreshes", "start", "best", "at refresh", "final", "Δ", f"at {summary.common_refresh}", "loss (end)"]
            rows = [_md_row(header), _md_row(["---"] * 4 + ["---:"] * (len(header) - 4))]
            rows += [_md_row([f"`{cells[0]}`", *cells[1:]]) for cells in map(run_cells, summary.runs)]
            parts.append("<details><summary>Per run</summary>\n\n" + "\n".join(rows) + "\n\n</details>\n")
        parts += _md_every_refresh(summary, table)
        if summary.sweep:
            parts.append(f"{heading}# How hard should negatives be? {summary.split} {summary.metric} against the "
                         f"rank window\n\n" + sweep_markdown(summary.sweep))
        if summary.analyses:
            parts.append(f"{heading}# Analyses\n\n" + analyses_markdown(summary.analyses, heading + "##"))
    for note in notes(summaries, table):
        parts.append(f"> {note}\n")
    return "\n".join(parts)


EVERY_REFRESH_MAX = 12  # wider tables stop being readable; long runs have their figure instead
EVERY_REFRESH_METRICS = ("MRR@10", "nDCG@10")


def _md_every_refresh(summary: StudySummary, table: TidyTable) -> list[str]:
    """Each run's dev metrics after every refresh (short studies only, such as the embedded default)."""
    if not summary.runs or max(run.last_refresh for run in summary.runs) > EVERY_REFRESH_MAX:
        return []
    refreshes = range(min(run.first_refresh for run in summary.runs), max(run.last_refresh for run in summary.runs) + 1)
    metrics = list(dict.fromkeys([summary.metric, *EVERY_REFRESH_METRICS]))
    values: dict[tuple[str, str, int], float] = {}
    for row in table.select(kind=KIND_EVAL, split=summary.split, study=summary.study):
        if row.metric in metrics and row.refresh is not None:
            values[(row.run, row.metric, row.refresh)] = row.value
    metrics = [m for m in metrics if any(key[1] == m for key in values)]
    if not metrics:
        return []
    header = ["strategy", "seed", *(f"{metric} r{r}" for metric in metrics for r in refreshes)]
    lines = [_md_row(header), _md_row(["---", "---"] + ["---:"] * (len(header) - 2))]
    for run in summary.runs:
        cells = [fmt(values.get((run.run, metric, r))) for metric in metrics for r in refreshes]
        lines.append(_md_row([run.strategy, "–" if run.seed is None else str(run.seed), *cells]))
    return [f"Every run's {summary.split} metrics after each refresh (r0 = the start checkpoint):\n\n"
            + "\n".join(lines) + "\n"]


def _md_strategies(summary: StudySummary) -> list[str]:
    """The strategy table, the sentence that explains it and the verdict."""
    common = summary.common_refresh
    header = [
        "strategy", "runs", "refreshes", "start", "best (refresh)", "final", "Δ final−start",
        f"at refresh {common}", f"loss (end, last {LOSS_WINDOW} logs)",
    ]
    lines = [_md_row(header), _md_row(["---"] * 2 + ["---:"] * (len(header) - 2))]
    for row in summary.strategies:
        cells = [
            row.strategy, fmt_runs(row), fmt_int_range(row.refreshes), _md_stat(row.start), _best_cell(row),
            _md_stat(row.final), _md_stat(row.delta, signed=True), _md_stat(row.at_common), _md_stat(row.final_loss, 3),
        ]
        if row.is_best:
            cells[0] = f"{BEST_MARK} {row.strategy}"
            cells = [f"**{cell}**" for cell in cells]
        lines.append(_md_row(cells))
    parts = ["\n".join(lines) + "\n"]
    several = any(row.n_runs > 1 for row in summary.strategies)
    parts.append(
        ("Mean ± std over seeds (min–max in brackets). " if several else "One run per strategy. ")
        + f"Strategies are compared at refresh {common}, the last refresh every run reached; "
        f"start is the first evaluation (the refresh-0 checkpoint); loss is the mean of the last "
        f"{LOSS_WINDOW} logged training losses.\n"
    )
    if summary.verdict:
        parts.append(f"**{summary.verdict.text}**\n")
    if summary.significance:
        parts.append(significance_markdown(summary.significance))
    return parts


def _md_stat(stat: Stat | None, digits: int = 4, signed: bool = False) -> str:
    spread = fmt_range(stat, digits)
    return fmt_stat(stat, digits, signed) + (f" ({spread})" if spread else "")


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


# ---------------------------------------------------------------- JSON and notes


def report_json(summaries: Sequence[StudySummary], table: TidyTable) -> dict[str, Any]:
    return {
        "run_commits": run_commits(table),  # the code the runs were made with (their manifest.json)
        "metric": summaries[0].metric if summaries else None,
        "split": summaries[0].split if summaries else None,
        "studies": [summary.as_dict() for summary in summaries],
        "sources": [info.as_dict() for info in table.runs],
        "skipped_lines": table.skipped_lines,
        "notes": notes(summaries, table),
    }


def notes(summaries: Sequence[StudySummary], table: TidyTable) -> list[str]:
    """What a reader must know before trusting the numbers: partial files and unfinished runs."""
    found = []
    for info in table.runs:
        if info.skipped_lines:
            found.append(
                f"{info.file}: {len(info.skipped_lines)} unreadable line(s) skipped "
                f"(line {', '.join(map(str, info.skipped_lines[:5]))}{' ...' if len(info.skipped_lines) > 5 else ''})."
            )
    unfinished = [run for summary in summaries for run in summary.runs if run.state in ("running", "failed", "unknown")]
    if unfinished:
        states = ", ".join(f"{run.run} ({run.state})" for run in unfinished[:6]) + (" ..." if len(unfinished) > 6 else "")
        found.append(f"{len(unfinished)} run(s) not finished: {states}; their numbers are provisional.")
    return found


def summary_group(summaries: Sequence[StudySummary]) -> Group:
    """All strategy tables as one rich renderable (for embedding, e.g. in a TUI pane)."""
    return Group(*(strategy_table(summary) for summary in summaries))
