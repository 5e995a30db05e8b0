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
import os
import platform
import re
import resource
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


@dataclass(frozen=True)
class Side:
    """One side of a row as measured in its child process."""

    seconds: float
    peak_mem_mib: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    """One line of the results table. `ratio` > 1 means ours is better, whatever the unit."""

    group: str
    name: str
    ours: float
    baseline: float | None
    unit: str
    target: float | None
    peak_mem_mib: float | None  # ours
    baseline_peak_mem_mib: float | None = None
    lower_is_better: bool = True
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # details worth keeping (wall times, runs)
    ratio: float | None = None
    date: str = ""
    commit: str = ""

    def __post_init__(self) -> None:
        if self.baseline is not None and self.ours > 0:
            raw = self.baseline / self.ours if self.lower_is_better else self.ours / self.baseline
            self.ratio = round(raw, 2)

    @property
    def meets_target(self) -> bool | None:
        if self.target is None or self.ratio is None:
            return None
        return self.ratio >= self.target


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
    path: Path, machine: str, info: dict[str, Any], groups: set[str], rows: list[Row], date: str, commit: str
) -> dict:
    """The results document after replacing `groups`' rows with `rows` (other groups are kept)."""
    previous = json.loads(path.read_text()) if path.exists() else {}
    kept = [r for r in previous.get("rows", []) if r.get("group") not in groups]
    fresh = [{k: v for k, v in asdict(r).items() if k != "lower_is_better"} for r in rows]
    return {
        "date": date,
        "commit": commit,
        "machine": machine,
        "machine_info": info,
        "rows": sorted(kept + fresh, key=lambda r: (r["group"], r["name"])),
    }


def render_markdown(doc: dict) -> str:
    info = doc.get("machine_info", {})
    lines = [
        f"# Benchmarks on `{doc['machine']}`",
        "",
        f"{info.get('cpu', '?')}, {info.get('cpus', '?')} CPUs, {info.get('memory_gib', '?')} GiB; "
        f"Python {info.get('python', '?')}, numpy {info.get('numpy', '?')}. Updated {doc['date']} at {doc['commit']}.",
        "",
        "ratio = baseline / ours for times (higher is better); peak memory is each side's whole process.",
        "",
        "| row | ours | baseline | unit | ratio | target | peak MiB ours / baseline | note |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for r in doc["rows"]:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:g}×"
        if r["ratio"] is not None and r["target"] is not None:
            ratio += " ✅" if r["ratio"] >= r["target"] else " ❌"
        target = "" if r["target"] is None else f"≥ {r['target']:g}×"
        peak = f"{_num(r['peak_mem_mib'])} / {_num(r['baseline_peak_mem_mib'])}"
        lines.append(
            f"| {r['group']}: {r['name']} | {_num(r['ours'])} | {_num(r['baseline'])} | {r['unit']} | {ratio} "
            f"| {target} | {peak} | {r['note']} |"
        )
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def idle_side() -> dict:
    """A side that does nothing: its peak memory is the floor of any child (interpreter + numpy)."""
    import numpy  # noqa: F401  (every real side imports it)

    return {"seconds": 0.0}
