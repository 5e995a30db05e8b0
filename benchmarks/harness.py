"""The shared benchmark harness: measure one side in a fresh process, merge rows, render tables.

A benchmark *row* compares our implementation ("ours") with an alternative
("baseline") on the same inputs and settings. Each side runs in its own child
process (`python -m benchmarks.child MODULE FUNCTION JSON-KWARGS`), so that its
peak memory is its own: the child reports the high-water mark of
its resident memory (VmHWM), which counts numpy buffers, Python objects, the
inputs it loaded and the interpreter itself (~30-100 MiB with numpy imported). The side
function times only the work being compared, not loading its inputs.

Results live in `benchmarks/results/<machine>.json` (and a Markdown table next
to it). Running some groups replaces only those groups' rows; rows of other
groups, measured earlier, are kept with their own date and commit.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
logger = logging.getLogger("benchmarks")


@dataclass(frozen=True)
class Side:
    """One side of a row as measured in its child process."""

    seconds: float
    peak_mem_mib: float
    extra: dict[str, Any] = field(default_factory=dict)


MIN_ROUNDS = 3  # rounds per side of every measured row; a target is met only if its lowest round meets it
MEASURED, PROJECTED = "measured", "projected"


@dataclass
class Row:
    """One line of the results table. `ratio` > 1 means ours is better, whatever the unit.

    A measured row keeps every round (`rounds`: ours, baseline and their ratio, in
    the order they ran); `ours` and `baseline` are the medians of the rounds,
    `ratio` the median of the round ratios, `ratio_min`/`ratio_max` their range.
    It meets its target only when its *lowest* round ratio does (and its peak
    memory is within `peak_limit_mib`, when the target has one). A projected row
    (`kind` "projected") is arithmetic from a model, never measured: it carries
    its inputs in `extra` and never meets a target.
    """

    group: str
    name: str
    ours: float
    baseline: float | None
    unit: str
    target: float | None
    peak_mem_mib: float | None  # ours, the highest round
    baseline_peak_mem_mib: float | None = None
    lower_is_better: bool = True
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # details worth keeping (wall times, inputs)
    kind: str = MEASURED
    rounds: list[dict[str, float | None]] = field(default_factory=list)
    peak_limit_mib: float | None = None
    ratio: float | None = None
    ratio_min: float | None = None
    ratio_max: float | None = None
    date: str = ""
    commit: str = ""

    def __post_init__(self) -> None:
        if self.kind not in (MEASURED, PROJECTED):
            raise ValueError(f"Row.kind: {MEASURED!r} or {PROJECTED!r}, found {self.kind!r}")
        if self.rounds:
            ratios = [r["ratio"] for r in self.rounds if r.get("ratio") is not None]
        else:
            ratios = [self._ratio(self.ours, self.baseline)] if self.baseline is not None else []
            ratios = [r for r in ratios if r is not None]
        if ratios:
            self.ratio = round(statistics.median(ratios), 2)
            self.ratio_min, self.ratio_max = round(min(ratios), 2), round(max(ratios), 2)

    def _ratio(self, ours: float, baseline: float | None) -> float | None:
        if baseline is None or ours <= 0 or baseline <= 0:
            return None
        return baseline / ours if self.lower_is_better else ours / baseline

    @classmethod
    def from_rounds(cls, group: str, name: str, ours: list[float], baseline: list[float] | None, unit: str,
                    target: float | None, peak_mem_mib: float | None, baseline_peak_mem_mib: float | None = None,
                    *, lower_is_better: bool = True, **fields: Any) -> Row:
        """A measured row from per-round values, paired in the order they ran (round i of ours with round i of the baseline)."""
        if baseline is not None and len(baseline) != len(ours):
            raise ValueError(f"{group}: {name}: {len(ours)} rounds of ours but {len(baseline)} of the baseline")
        row = cls(group, name, statistics.median(ours), None if baseline is None else statistics.median(baseline),
                  unit, target, peak_mem_mib, baseline_peak_mem_mib, lower_is_better=lower_is_better, **fields)
        rounds = []
        for i, value in enumerate(ours):
            theirs = None if baseline is None else baseline[i]
            ratio = row._ratio(value, theirs)
            rounds.append({"ours": value, "baseline": theirs, "ratio": None if ratio is None else round(ratio, 4)})
        row.rounds = rounds
        row.__post_init__()
        return row

    @property
    def meets_target(self) -> bool | None:
        """True only when the lowest round meets the target; None for no target, no rounds, or a projection."""
        if self.kind == PROJECTED or self.target is None or self.ratio_min is None or not self.rounds:
            return None
        memory_ok = self.peak_limit_mib is None or (self.peak_mem_mib or 0.0) <= self.peak_limit_mib
        return self.ratio_min >= self.target and memory_ok


def interleave(rounds: int, sides: dict[str, Callable[[], Side]], label: str = "") -> dict[str, list[Side]]:
    """Run each side `rounds` times, interleaved: round 1 of every side in order, then round 2, ...

    Interleaving, not all of one side then all of the other: a shared machine's
    speed drifts over minutes, and a drift then lands on both sides alike.
    """
    results: dict[str, list[Side]] = {name: [] for name in sides}
    for round_ in range(rounds):
        for name, side in sides.items():
            logger.info("%sround %d/%d, %s", f"{label}: " if label else "", round_ + 1, rounds, name)
            results[name].append(side())
    return results


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB.

    Linux: VmHWM from /proc/self/status, the high-water mark of this program's own
    memory. Not ru_maxrss: Linux carries that across exec, so a child forked from
    a large parent would report the parent's peak. Elsewhere ru_maxrss (macOS: bytes).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure(module: str, function: str, timeout_s: float = 1800, **kwargs: Any) -> Side:
    """Run `module.function(**kwargs)` in a fresh Python process; it returns {"seconds": ..., ...}."""
    command = [sys.executable, "-m", "benchmarks.child", module, function, json.dumps(kwargs)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"{module}.{function} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    seconds = report.pop("seconds")
    return Side(seconds=seconds, peak_mem_mib=report.pop("peak_mem_mib"), extra=report)


# ---------------------------------------------------------------- machine and provenance


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory_gib = None
    import numpy

    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": None if memory_gib is None else round(memory_gib, 1),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "system": platform.system(),
    }


def default_machine_name(info: dict[str, Any]) -> str:
    """A stable file name from the CPU model and count (host names change between sessions)."""
    cpu = re.sub(r"\((R|TM)\)|CPU|Processor|@", " ", info["cpu"], flags=re.IGNORECASE)
    slug = re.sub(r"[^a-z0-9.]+", "-", cpu.lower()).strip("-")
    return f"{slug}-{info['cpus']}cpu"


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        # the code that runs, not the results files an earlier run left uncommitted
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "ance_core", "benchmarks",
                                ":(exclude)benchmarks/results"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# ---------------------------------------------------------------- results files


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def merge_results(
    path: Path, machine: str, info: dict[str, Any], groups: set[str], rows: list[Row], date: str, commit: str,
    group_seconds: dict[str, float] | None = None, quick: bool = False,
) -> dict:
    """The results document after replacing `groups`' rows with `rows` (other groups are kept).

    `group_seconds`: each group's wall time in this run, kept per group like its rows
    (what sizes `make bench`'s 20 minutes). A quick run says so (`"quick": true`).
    """
    previous = json.loads(path.read_text()) if path.exists() else {}
    kept = [r for r in previous.get("rows", []) if r.get("group") not in groups]
    fresh = [{**{k: v for k, v in asdict(r).items() if k != "lower_is_better"}, "meets_target": r.meets_target}
             for r in rows]
    seconds = {g: t for g, t in previous.get("group_seconds", {}).items() if g not in groups}
    seconds.update(group_seconds or {})
    return {
        "date": date,
        "commit": commit,
        "machine": machine,
        "machine_info": info,
        "quick": quick,
        "group_seconds": dict(sorted(seconds.items())),
        "rows": sorted(kept + fresh, key=lambda r: (r["group"], r["name"])),
    }


def render_markdown(doc: dict) -> str:
    info = doc.get("machine_info", {})
    measured = [r for r in doc["rows"] if r.get("kind", MEASURED) == MEASURED]
    projected = [r for r in doc["rows"] if r.get("kind") == PROJECTED]
    lines = [f"# Benchmarks on `{doc['machine']}`", ""]
    if doc.get("quick"):
        lines += ["**Quick smoke run** (`--quick`: reduced sizes, to check the harness): not results.", ""]
    lines += [
        f"{info.get('cpu', '?')}, {info.get('cpus', '?')} CPUs, {info.get('memory_gib', '?')} GiB; "
        f"Python {info.get('python', '?')}, numpy {info.get('numpy', '?')}. Updated {doc['date']} at {doc['commit']}.",
        "",
        "ratio = baseline / ours for times, ours / baseline for rates (higher is better): the median of the "
        "per-round ratios, then the lowest–highest round; ours and baseline are the median rounds. "
        "✅ only when the lowest round meets the target. Peak memory is each side's whole process, highest round.",
        "",
        "| row | ours | baseline | unit | ratio (min–max) | rounds | target | peak MiB ours / baseline | note |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in measured:
        lines.append(
            f"| {r['group']}: {r['name']} | {_num(r['ours'])} | {_num(r['baseline'])} | {r['unit']} | {_ratio_cell(r)} "
            f"| {len(r.get('rounds') or [])} | {_target_cell(r)} "
            f"| {_num(r['peak_mem_mib'])} / {_num(r['baseline_peak_mem_mib'])} | {r['note']} |"
        )
    verdicts = [_verdict(r) for r in measured if r.get("meets_target") is not None]
    if verdicts:
        lines += ["", "## Targets (by the lowest round)", "", *verdicts]
    if projected:
        lines += [
            "",
            "## Projections (arithmetic from the scale model, not measurements; never ticked)",
            "",
            "| projection | ours | reference | unit | ratio | target it is projected against | note |",
            "| --- | ---: | ---: | --- | ---: | ---: | --- |",
        ]
        for r in projected:
            ratio = "" if r["ratio"] is None else f"{r['ratio']:g}×"
            target = "" if r["target"] is None else f"{r['target']:g}×"
            lines.append(f"| {r['group']}: {r['name']} | {_num(r['ours'])} | {_num(r['baseline'])} | {r['unit']} "
                         f"| {ratio} | {target} | {r['note']} |")
    if doc.get("group_seconds"):
        took = ", ".join(f"{g} {t / 60:.1f} min" for g, t in doc["group_seconds"].items())
        lines += ["", f"Wall time per group: {took}."]
    return "\n".join(lines) + "\n"


def _verdict(r: dict) -> str:
    """One line per target: met, or missed and by how much (the row's note carries its profile)."""
    lowest, target = r["ratio_min"], r["target"]
    line = f"* {r['group']}: {r['name']}: lowest round {lowest:g}× against ≥ {target:g}×"
    limit, peak = r.get("peak_limit_mib"), r.get("peak_mem_mib")
    over_memory = limit is not None and peak is not None and peak > limit
    if r["meets_target"]:
        return line + " — met"
    missed = [] if lowest >= target else [f"{1 - lowest / target:.0%} short"]
    if over_memory:
        missed.append(f"peak {peak:.0f} MiB over the {limit:.0f} MiB bound")
    return line + " — missed: " + ", ".join(missed)


def _ratio_cell(r: dict) -> str:
    if r["ratio"] is None:
        return ""
    cell = f"{r['ratio']:g}×"
    if r.get("ratio_min") is not None and r.get("rounds"):
        cell += f" ({r['ratio_min']:g}–{r['ratio_max']:g})"
    met = r.get("meets_target")
    return cell + ("" if met is None else " ✅" if met else " ❌")


def _target_cell(r: dict) -> str:
    if r["target"] is None:
        return ""
    limit = r.get("peak_limit_mib")
    return f"≥ {r['target']:g}×" + ("" if limit is None else f", ≤ {limit:.0f} MiB")


def _num(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def idle_side() -> dict:
    """A side that does nothing: its peak memory is the floor of any child (interpreter + numpy)."""
    import numpy  # noqa: F401  (every real side imports it)

    return {"seconds": 0.0}
