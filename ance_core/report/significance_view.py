"""The paired tests as a rich table (terminal, results screen) and as Markdown (report.md).

One row per pair of strategies: the mean difference over queries with its
bootstrap 95% CI, the Holm-corrected randomization and t-test p-values of the
seed-averaged comparison, then each seed's own Δ and corrected randomization p.
"""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from ance_core.report.significance import PairTest, Significance


def p_cell(p: float) -> str:
    """A p-value in a table cell or a plot line."""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _difference(test: PairTest) -> str:
    return f"{test.difference:+.4f} [{test.ci_low:+.4f}, {test.ci_high:+.4f}]"


def _seeds(significance: Significance, pair: PairTest) -> str:
    return " · ".join(f"s{t.seed} {t.difference:+.4f} p {p_cell(t.p_randomization_holm)}"
                      for t in significance.seed_tests(pair.a, pair.b))


def caption(significance: Significance) -> str:
    seeds = f"query values averaged over seeds {', '.join(map(str, significance.seeds))}; " if len(significance.seeds) > 1 else ""
    return (f"{significance.split} {significance.metric} per query at refresh {significance.refresh}, "
            f"{significance.queries:,} queries; {seeds}Δ = mean of a − b with bootstrap 95% CI; "
            f"p: two-sided paired randomization test ({significance.resamples:,} sign flips) and paired t-test, "
            f"Holm-corrected over the pairs (per seed: over that seed's pairs); * = corrected randomization "
            f"p < {significance.alpha}; evaluated in {significance.evaluated_in} (the model as trained), "
            f"negatives mined in {significance.mined_in}")


def significance_table(significance: Significance) -> Table:
    table = Table(title=f"paired tests at refresh {significance.refresh}", caption=caption(significance),
                  caption_justify="left", title_style="bold", header_style="bold", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    table.add_column("a vs b", min_width=18)
    table.add_column("Δ [95% CI]", justify="right", no_wrap=True)
    table.add_column("p rand.", justify="right", no_wrap=True)
    table.add_column("p t-test", justify="right", no_wrap=True)
    table.add_column("per seed (Δ, p rand.)", overflow="fold")
    for pair in significance.pairs:
        mark = "* " if pair.significant else "  "
        table.add_row(Text(f"{mark}{pair.a} vs {pair.b}"), _difference(pair), p_cell(pair.p_randomization_holm),
                      p_cell(pair.p_ttest_holm), Text(_seeds(significance, pair), style="dim"),
                      style="bold" if pair.significant else None)
    return table


def significance_markdown(significance: Significance) -> str:
    header = ["a vs b", "Δ mean (a − b)", "95% CI", "p randomization (Holm)", "p t-test (Holm)",
              "p randomization, uncorrected", "per seed: Δ, p randomization (Holm)"]
    lines = ["| " + " | ".join(header) + " |", "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for pair in significance.pairs:
        cells = [f"{pair.a} vs {pair.b}" + (" *" if pair.significant else ""), f"{pair.difference:+.4f}",
                 f"{pair.ci_low:+.4f} to {pair.ci_high:+.4f}", p_cell(pair.p_randomization_holm), p_cell(pair.p_ttest_holm),
                 p_cell(pair.p_randomization), _seeds(significance, pair)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + caption(significance) + ".\n"


def significance_lines(significance: Significance) -> list[str]:
    """One short line per pair, for narrow places (the launcher's results screen)."""
    return [f"{'*' if pair.significant else ' '} {pair.a} vs {pair.b}: Δ {_difference(pair)}, "
            f"p rand. {p_cell(pair.p_randomization_holm)}, t {p_cell(pair.p_ttest_holm)} (Holm)"
            for pair in significance.pairs]
