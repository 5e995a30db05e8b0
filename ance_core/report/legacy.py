"""Import the original study's ANCE training logs (results/legacy/logs).

Those are SLURM outputs of microsoft/ANCE's `drivers/run_ann.py`, in which two
kinds of lines matter:

* `dev_ndcg <value> <n>`: printed when the trainer picks up ANN data number n;
  value is the dev nDCG@10 of the checkpoint that mined it. n is the refresh:
  0 (or 1) is the starting checkpoint, every later n one ANN refresh more.
* `{"learning_rate": .., "loss": .., "step": ..}`: training loss every
  `logging_steps`, printed once per logging rank, so some logs hold each line twice.

Four ranks write into one file, so a JSON object can share its line with
another rank's output; objects are therefore found anywhere in a line.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from ance_core.errors import InputError
from ance_core.report.strategies import legacy_folder, legacy_strategy, log_stem, normalize_strategy
from ance_core.report.tidy import KIND_EVAL, KIND_TRAIN, SOURCE_LEGACY, Row, RunInfo, TidyTable
from ance_core.report.textfile import read_lines

log = logging.getLogger(__name__)

LEGACY_STUDY = "legacy"
LEGACY_METRIC = "nDCG@10"  # what ANCE's ann data generator reports as "ndcg" (MS MARCO dev, @10)
DEV_NDCG = re.compile(r"dev_ndcg\s+(?P<value>\S+)\s+(?P<refresh>\S+)")
TRAIN_LOG = re.compile(r'\{"learning_rate":[^{}]*\}')
_TRAIN_START = '{"learning_rate"'
# The Namespace(...) line of run_ann.py, when the log kept it, names the seed.
_SEED = re.compile(r"Namespace\(.*\bseed=(\d+)")


def parse_legacy_spec(spec: str) -> tuple[Path, str | None]:
    """`FILE` or `STRATEGY=FILE` (the override for a file whose name does not say)."""
    if Path(spec).is_file() or "=" not in spec:
        return Path(spec), None
    label, _, path = spec.partition("=")
    return Path(path), normalize_strategy(label)


def load_legacy_log(path: str | Path, strategy: str | None = None, study: str = LEGACY_STUDY) -> TidyTable:
    """One original-study log as tidy rows with source='legacy' (dev nDCG@10 per refresh, loss per step)."""
    path = Path(path)
    if path.is_dir():
        raise InputError.single(
            path, "--legacy-log", "a log file (run folders go before --legacy-log: its list takes every word after it)",
            "a folder",
        )
    if not path.is_file():
        raise InputError.single(path, "--legacy-log", "an existing log file", "no such file")
    strategy = strategy or legacy_strategy(path)
    if strategy is None:
        raise InputError.single(
            path, "file name",
            "a name ending in ann_data_<n>, ann_data_<n>_bottom_neg, _random or _bottom_neg_only "
            "(or give the strategy: --legacy-log STRATEGY=FILE)",
            path.name,
        )
    info = RunInfo(
        source=SOURCE_LEGACY, study=study, run=log_stem(path), experiment=legacy_folder(path) or log_stem(path),
        strategy=strategy, seed=None, path=path, state="log", file=path,
    )
    ndcg_by_refresh: dict[int, float] = {}
    train_by_step: dict[int, tuple[float, float | None, int | None]] = {}
    current_refresh: int | None = None
    for line in read_lines(path):
        if info.seed is None and (seed := _SEED.search(line.text)):
            info.seed = int(seed.group(1))
        for match in DEV_NDCG.finditer(line.text):
            refresh, value = _parse_dev_ndcg(match, path, line.number)
            if refresh in ndcg_by_refresh and ndcg_by_refresh[refresh] != value:
                log.warning("%s line %d: refresh %d reported again with another value; keeping the later one", path, line.number, refresh)
            ndcg_by_refresh[refresh] = value
            current_refresh = refresh
        objects = TRAIN_LOG.findall(line.text)
        if _TRAIN_START in line.text and not objects:
            info.skipped_lines.append(line.number)  # a training log line cut off by another rank's output
        for text in objects:
            parsed = _parse_train(text, path, line.number)
            if parsed is None:
                info.skipped_lines.append(line.number)
                continue
            step, loss, lr = parsed
            # A second rank's copy is identical and simply overwrites; a restart
            # that re-logs a step with other numbers keeps the later ones.
            train_by_step[step] = (loss, lr, current_refresh)
    if not ndcg_by_refresh:
        raise InputError.single(path, "content", "'dev_ndcg <value> <refresh>' lines of an ANCE training log", "none")
    if info.skipped_lines:
        log.warning("%s: skipped %d unreadable training log line(s)", path, len(info.skipped_lines))

    def row(kind: str, metric: str, value: float, refresh: int | None, step: int | None) -> Row:
        return Row(
            source=SOURCE_LEGACY, study=study, run=info.run, experiment=info.experiment, strategy=strategy,
            seed=info.seed, kind=kind, split="dev" if kind == KIND_EVAL else None,
            refresh=refresh, step=step, metric=metric, value=value,
        )

    rows = [row(KIND_EVAL, LEGACY_METRIC, value, refresh, None) for refresh, value in sorted(ndcg_by_refresh.items())]
    for step, (loss, lr, refresh) in sorted(train_by_step.items()):
        rows.append(row(KIND_TRAIN, "loss", loss, refresh, step))
        if lr is not None:
            rows.append(row(KIND_TRAIN, "lr", lr, refresh, step))
    return TidyTable(rows=rows, runs=[info])


def _parse_dev_ndcg(match: re.Match[str], path: Path, number: int) -> tuple[int, float]:
    try:
        value = float(match.group("value"))
        refresh = int(match.group("refresh"))
    except ValueError:
        raise InputError.single(
            path, f"line {number}", "'dev_ndcg <number> <refresh number>'", match.group(0)
        ) from None
    return refresh, value


def _parse_train(text: str, path: Path, number: int) -> tuple[int, float, float | None] | None:
    try:
        logged = json.loads(text)
    except ValueError:
        return None
    step, loss, lr = logged.get("step"), logged.get("loss"), logged.get("learning_rate")
    if not isinstance(step, int) or not isinstance(loss, (int, float)):
        raise InputError.single(path, f"line {number}", '{"learning_rate": .., "loss": <number>, "step": <integer>}', text)
    return step, float(loss), float(lr) if isinstance(lr, (int, float)) else None
