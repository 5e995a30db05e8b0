"""The promised analyses (ance_core.report.analyses) as Markdown for report.md and rich tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ance_core.report.analyses import STRATA, Analyses

TITLES = {
    "strata": "Gain by query difficulty",
    "dynamics": "Loss and gradient norm over the ANCE steps",
    "margins": "Sampled negatives against the positive",
    "resources": "Time and memory per refresh",
}


def _f(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def analyses_rows(analyses: Analyses) -> dict[str, tuple[list[str], list[list[str]], str]]:
    """analysis -> (header, rows, caption), shared by the Markdown and the rich views."""
    out: dict[str, tuple[list[str], list[list[str]], str]] = {}
    if analyses.strata:
        strategies = list(dict.fromkeys(row.strategy for row in analyses.strata))
        cell = {(r.stratum, r.strategy): r for r in analyses.strata}
        rows = []
        for label, _, _ in STRATA:
            found = [cell.get((label, s)) for s in strategies]
            if any(found):
                pairs = max(r.pairs for r in found if r)
                rows.append([label, f"{pairs:,}", *(f"{r.gain:+.4f} (↑{r.improved:.0%} ↓{r.worsened:.0%})" if r else "–"
                                                     for r in found)])
        out["strata"] = (["start rank of the first relevant", "pairs", *strategies], rows,
                         f"mean {analyses.metric} gain from the start checkpoint to refresh {analyses.refresh} per "
                         f"(seed, query), by the rank the start checkpoint gave the query's first relevant passage; "
                         f"↑/↓ share of pairs that rose/fell")
    if analyses.dynamics:
        out["dynamics"] = (["strategy", "loss first → last", "grad norm first → last", "grad norm mean"],
                           [[d.strategy, f"{_f(d.loss_first, '.3f')} → {_f(d.loss_last, '.3f')}",
                             f"{_f(d.grad_norm_first, '.3f')} → {_f(d.grad_norm_last, '.3f')}",
                             _f(d.grad_norm_mean, '.3f')] for d in analyses.dynamics],
                           "first and last logged ANCE training step, mean over seeds; the gradient norm is taken "
                           "before clipping")
    if analyses.margins:
        out["margins"] = (["strategy", "refresh", "mean margin s(q,pos) − s(q,neg)", "negatives above the positive"],
                          [[m.strategy, str(m.refresh), _f(m.margin_mean, '+.4f'),
                            "–" if m.outscoring_share is None else f"{m.outscoring_share:.2%}"]
                           for m in analyses.margins],
                          "over every sampled negative of the refresh, in the mining model's scores, mean over seeds")
    if analyses.resources:
        out["resources"] = (["strategy", "refreshes", "s per refresh", "encode s", "sample s", "peak RSS MiB",
                             "peak GPU MiB", "train steps/s"],
                            [[r.strategy, str(r.refreshes), _f(r.refresh_seconds, '.1f'), _f(r.encode_seconds, '.1f'),
                              _f(r.sample_seconds, '.3f'), _f(r.peak_rss_mib, '.0f'), _f(r.peak_gpu_mib, '.0f'),
                              _f(r.steps_per_s, '.3f')] for r in analyses.resources],
                            "wall seconds of a refresh record (mean over refreshes and seeds); peak resident memory "
                            "of a refresh, the largest over refreshes and seeds")
    return out


def analyses_markdown(analyses: Analyses, heading: str = "####") -> str:
    parts = []
    for name, (header, rows, caption) in analyses_rows(analyses).items():
        table = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
        table += ["| " + " | ".join(row) + " |" for row in rows]
        sentence = analyses.texts.get(name)
        parts.append(f"{heading} {TITLES[name]}\n\n" + "\n".join(table) + f"\n\n{caption[0].upper() + caption[1:]}.\n"
                     + (f"\n{sentence[0].upper() + sentence[1:]}\n" if sentence else ""))
    return "\n".join(parts)


def analyses_tables(analyses: Analyses, only: Sequence[str] | None = None) -> Group:
    items = []
    for name, (header, rows, caption) in analyses_rows(analyses).items():
        if only is not None and name not in only:
            continue
        table = Table(title=TITLES[name], caption=caption, caption_justify="left", title_style="bold",
                      header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
        for index, column in enumerate(header):
            table.add_column(column, justify="left" if index == 0 else "right", overflow="fold")
        for row in rows:
            table.add_row(*row)
        items.append(table)
        if analyses.texts.get(name):
            items.append(Text(analyses.texts[name][0].upper() + analyses.texts[name][1:], style="italic"))
    return Group(*items)
