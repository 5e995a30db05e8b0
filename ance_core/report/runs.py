"""Load run directories (docs/ARCHITECTURE.md, "Run directory") into the tidy table.

A run directory is any folder with a `metrics.jsonl`:
`<root>/<experiment>/seed<S>/` for a strategy run and `<root>/_warmup/<hash>-seed<S>/`
for the warm-up shared by the strategies of one seed (its BM25 / zero-shot
`baseline` events). The study a run belongs to is the name of its runs root,
so the strategies of one `make reproduce-all` are compared with each other
and never with runs of another setup.

A run that is still going, or that died in the middle of a write, is read up
to its last complete line: an unreadable line is skipped and counted, never a
crash. A readable line that breaks the event contract is an `InputError`
naming the file, the line and the field.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from ance_core.config.schema import METRIC_PATTERN
from ance_core.errors import InputError
from ance_core.report.strategies import normalize_strategy
from ance_core.report.tidy import (
    KIND_BASELINE,
    KIND_EVAL,
    KIND_REFRESH,
    KIND_TRAIN,
    SOURCE_RUN,
    WARMUP,
    Row,
    RunInfo,
    TidyTable,
)
from ance_core.report.textfile import read_lines

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.yaml"
STATUS_FILE = "STATUS.json"
MANIFEST_FILE = "manifest.json"
WARMUP_FOLDER = "_warmup"
# Folders under a runs root that hold no runs (caches, launcher job records) or are
# the temp folders of atomic writes.
_NOT_RUNS = ("_cache", "_jobs")
_SEED_FOLDER = re.compile(r"seed(\d+)$")
# Fields of a `refresh` event that identify it rather than measure it.
_REFRESH_IDS = ("kind", "refresh", "step", "time", "split")
# Fields of a `train` event that become rows.
_TRAIN_VALUES = ("loss", "lr", "grad_norm", "steps_per_s")


def run_commits(table: TidyTable) -> dict[str, int]:
    """{git commit the run was made at: runs}, from each run folder's manifest.json ("unknown" where it has none)."""
    commits: dict[str, int] = {}
    for info in table.runs:
        if info.source != SOURCE_RUN:
            continue
        try:
            sha = json.loads((Path(info.path) / MANIFEST_FILE).read_text(encoding="utf-8")).get("git_sha") or "unknown"
        except (OSError, ValueError, AttributeError):
            sha = "unknown"
        commits[sha] = commits.get(sha, 0) + 1
    return commits


def find_run_dirs(root: str | Path) -> list[Path]:
    """Run folders at or below `root` (a runs root, an experiment folder or one run)."""
    root = Path(root)
    if not root.exists():
        raise InputError.single(root, "path", "a runs root, experiment folder or run folder", "no such folder")
    if not root.is_dir():
        raise InputError.single(root, "path", "a folder of runs (pass log files with --legacy-log)", "a file")
    if (root / METRICS_FILE).is_file():
        return [root]
    found: list[Path] = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in _NOT_RUNS)
        if METRICS_FILE in files:
            found.append(Path(folder))
            subfolders[:] = []  # checkpoints/, eval/ ... of a run hold no further runs
    if not found:
        raise InputError.single(root, "path", f"run folders with a {METRICS_FILE} below it", "none")
    return found


def load_runs(roots: Iterable[str | Path], *, finished_only: bool = False) -> TidyTable:
    """The tidy table of every run below the given folders (each run once, even if named twice)."""
    table = TidyTable()
    seen: set[Path] = set()
    for root in roots:
        for run_dir in find_run_dirs(root):
            if run_dir.resolve() in seen:
                continue
            seen.add(run_dir.resolve())
            info, rows = load_run(run_dir)
            if finished_only and info.strategy != WARMUP and info.state != "finished":
                log.info("skipping %s: %s, not finished (--finished-only)", info.run, info.state)
                continue
            table.runs.append(info)
            table.rows.extend(rows)
    return table


def load_run(run_dir: str | Path) -> tuple[RunInfo, list[Row]]:
    """One run folder: who it is (config, folder names, STATUS.json) and its metrics rows."""
    run_dir = Path(run_dir)
    info = identify_run(run_dir)
    metrics_path = run_dir / METRICS_FILE
    events, skipped = read_events(metrics_path)
    info.skipped_lines = skipped
    info.file = metrics_path
    if skipped:
        log.warning(
            "%s: skipped %d unreadable line(s) (%s): a run still writing, or one killed mid-line",
            metrics_path, len(skipped), ", ".join(f"line {n}" for n in skipped[:5]) + (" ..." if len(skipped) > 5 else ""),
        )
    rows = _latest_only(row for number, event in events for row in rows_of_event(event, info, metrics_path, number))
    return info, rows


def run_id(run_dir: Path) -> str:
    """A run's name in the tidy table (RunInfo.run): the last three parts of its resolved folder."""
    return "/".join(Path(run_dir).resolve().parts[-3:])


def identify_run(run_dir: Path) -> RunInfo:
    config = _read_config(run_dir / CONFIG_FILE)
    is_warmup = run_dir.parent.name == WARMUP_FOLDER
    experiment = str(config.get("name") or run_dir.parent.name)
    if is_warmup:
        strategy = WARMUP
    else:
        strategy = normalize_strategy(str(config.get("strategy") or config.get("name") or run_dir.parent.name))
    study = run_dir.parent.parent.name or run_dir.parent.name
    return RunInfo(
        source=SOURCE_RUN,
        study=study,
        run=run_id(run_dir),
        experiment=experiment,
        strategy=strategy,
        seed=_seed_of(run_dir, config),
        path=run_dir,
        state=_read_state(run_dir / STATUS_FILE) if is_warmup else _run_state(run_dir, config),
        sweep_window=_sweep_window(config),
    )


def read_events(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[int]]:
    """(line number, event) of every decodable line, and the numbers of the lines skipped.

    A line that is not JSON is skipped wherever it is: after a crash mid-write and
    a resume that appends, the torn line sits in the middle of the file.
    """
    events: list[tuple[int, dict[str, Any]]] = []
    skipped: list[int] = []
    for line in read_lines(path):
        if not line.text.strip():
            continue
        try:
            event = json.loads(line.text)
        except ValueError:
            skipped.append(line.number)
            continue
        if not line.complete and not isinstance(event, dict):
            skipped.append(line.number)  # e.g. a number cut short: `{"loss": 0.4` can't parse, `12` can
            continue
        if not isinstance(event, dict):
            raise InputError.single(path, f"line {line.number}", "a JSON object (one event per line)", type(event).__name__, raw=True)
        events.append((line.number, event))
    return events, skipped


def rows_of_event(event: dict[str, Any], info: RunInfo, path: Path, number: int) -> list[Row]:
    """The tidy rows of one metrics.jsonl event; kinds the report does not use give none."""
    where = f"line {number}"
    kind = event.get("kind")
    if not isinstance(kind, str):
        raise InputError.single(path, f"{where}: kind", "an event kind such as 'train' or 'eval'", kind)

    def row(metric: str, value: float, *, strategy: str | None = None, event_kind: str = kind) -> Row:
        return Row(
            source=info.source, study=info.study, run=info.run, experiment=info.experiment,
            strategy=strategy or info.strategy, seed=info.seed, kind=event_kind,
            split=_optional_str(event, "split", path, where),
            refresh=_optional_int(event, "refresh", path, where),
            step=_optional_int(event, "step", path, where),
            metric=metric, value=value,
        )

    def values(names: Iterable[str]) -> list[tuple[str, float]]:
        # null is how the trainer writes a NaN/inf loss (JSON has none): no value, not bad input.
        return [(name, value) for name in names if (value := _number(event, name, path, where)) is not None]

    if kind == KIND_TRAIN:
        _required_int(event, "step", path, where)
        return [row(name, value) for name, value in values(n for n in _TRAIN_VALUES if n in event)]
    if kind == KIND_EVAL:
        return [row(name, value) for name, value in values(_metric_names(event))]
    if kind == KIND_BASELINE:
        name = event.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InputError.single(path, f"{where}: name", "the baseline's name, e.g. 'bm25'", name)
        return [row(metric, value, strategy=name) for metric, value in values(_metric_names(event))]
    if kind == KIND_REFRESH:
        return [
            row(name, float(value))
            for name, value in event.items()
            if name not in _REFRESH_IDS and _is_number(value)
        ]
    return []  # warmup_done and kinds added later: nothing to tabulate


# ---------------------------------------------------------------- helpers


def _latest_only(rows: Iterable[Row]) -> list[Row]:
    """A resumed run logs some events again (the eval of the refresh it resumed at):
    the later value of the same (kind, split, refresh, step, metric) wins."""
    latest: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        key = (row.kind, row.strategy, row.split, row.refresh, row.step, row.metric)
        latest.pop(key, None)  # re-insert so the order follows the later event
        latest[key] = row
    return list(latest.values())


def _metric_names(event: dict[str, Any]) -> list[str]:
    return [name for name in event if METRIC_PATTERN.match(name)]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(event: dict[str, Any], name: str, path: Path, where: str) -> float | None:
    value = event.get(name)
    if value is None:
        return None
    if not _is_number(value):
        raise InputError.single(path, f"{where}: {name}", "a number (or null)", value)
    return float(value)


def _optional_int(event: dict[str, Any], name: str, path: Path, where: str) -> int | None:
    value = event.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError.single(path, f"{where}: {name}", "a whole number", value)
    return value


def _required_int(event: dict[str, Any], name: str, path: Path, where: str) -> int:
    value = _optional_int(event, name, path, where)
    if value is None:
        raise InputError.single(path, f"{where}: {name}", "a whole number (required for this kind)", "nothing")
    return value


def _optional_str(event: dict[str, Any], name: str, path: Path, where: str) -> str | None:
    value = event.get(name)
    if value is not None and not isinstance(value, str):
        raise InputError.single(path, f"{where}: {name}", "text", value)
    return value


def _read_config(path: Path) -> dict[str, Any]:
    """The resolved experiment as a mapping (not re-validated: a report must still read
    runs written by an older schema). Missing: {} and the folder names tell the rest."""
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError.single(path, "document", "the run's resolved experiment (YAML)", str(exc).splitlines()[0], raw=True) from None
    if not isinstance(data, dict):
        raise InputError.single(path, "document", "a mapping of experiment fields", type(data).__name__, raw=True)
    return data


def _sweep_window(config: dict[str, Any]) -> tuple[int, int] | None:
    point = config.get("sweep_point")
    window = point.get("window") if isinstance(point, dict) else None
    if isinstance(window, list) and len(window) == 2 and all(isinstance(v, int) for v in window):
        return (window[0], window[1])
    return None


def _seed_of(run_dir: Path, config: dict[str, Any]) -> int | None:
    seed = config.get("seed")
    seeds = config.get("seeds")
    if seed is None and isinstance(seeds, list) and len(seeds) == 1:
        seed = seeds[0]
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed
    match = _SEED_FOLDER.search(run_dir.name)
    return int(match.group(1)) if match else None


def _run_state(run_dir: Path, config: dict[str, Any]) -> str:
    """STATUS.json's state, except that a run is finished only when every planned refresh has its record
    (docs/ARCHITECTURE.md, "Run directory"); otherwise it is unfinished work: running."""
    from ance_core.train.rundir import missing_refreshes

    state = _read_state(run_dir / STATUS_FILE)
    planned = (config.get("ance") or {}).get("refreshes") if isinstance(config.get("ance"), dict) else None
    if state == "finished" and isinstance(planned, int):
        missing = missing_refreshes(run_dir, planned)
        if missing:
            log.warning("%s: STATUS.json says finished, but refreshes %s have no record: counted as running",
                        run_dir, missing)
            return "running"
    return state


def _read_state(path: Path) -> str:
    """running / finished / failed from STATUS.json; unknown when absent or unreadable."""
    try:
        state = json.loads(path.read_text(encoding="utf-8")).get("state")
    except (OSError, ValueError, AttributeError):
        return "unknown"
    return state if state in ("running", "finished", "failed") else "unknown"
