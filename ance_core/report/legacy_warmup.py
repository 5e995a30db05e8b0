"""Import the original study's BM25 warm-up log (microsoft/ANCE `drivers/run_warmup.py`).

Two forms are read:

* the SLURM output (`cleaned_warmup.out.gz`): `Reranking/Full ranking mrr: a/b`
  lines (MRR@10 reranking the BM25 top 1000 / ranking the full corpus) and the
  `{"learning_rate": .., "loss": .., "step": ..}` lines;
* the study's own parse of it (`parsed_warmup.json`): a list of those loss
  dicts, some with `reranking_mrr` / `full_ranking_mrr` added.

`run_warmup.py` evaluates at global step G (a multiple of logging_steps x
logging_steps_per_eval) and prints the MRR line *before* the loss line of step
G. So an MRR line belongs to the step of the next loss line. The study's JSON
attached it to the previous entry instead (step G - logging_steps); both forms
are read to the evaluated step G here, so they give the same rows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ance_core.errors import InputError
from ance_core.report.legacy import LEGACY_STUDY, TRAIN_LOG
from ance_core.report.strategies import log_stem
from ance_core.report.tidy import KIND_EVAL, KIND_TRAIN, SOURCE_LEGACY, WARMUP, Row, RunInfo, TidyTable
from ance_core.report.textfile import is_gzip, read_lines

MRR_LINE = re.compile(r"Reranking/Full ranking mrr:\s*(?P<rerank>[^/\s]+)/(?P<full>\S+)")
FULL_MRR = "MRR@10"  # full-corpus ranking: the number comparable with our eval's MRR@10
RERANK_MRR = "rerank MRR@10"  # reranking the official BM25 top 1000


def load_warmup_log(path: str | Path, study: str = LEGACY_STUDY) -> TidyTable:
    """Warm-up MRR@10 (full and rerank) per evaluated step and loss per step, strategy 'warmup'."""
    path = Path(path)
    if not path.is_file():
        raise InputError.single(path, "file", "an existing warm-up log (.out[.gz]) or its parsed .json", "no such file")
    if _looks_like_json(path):
        losses, evaluations = _from_parsed_json(path)
    else:
        losses, evaluations = _from_output_log(path)
    if not evaluations:
        raise InputError.single(path, "content", "'Reranking/Full ranking mrr: a/b' evaluations of a warm-up log", "none")
    info = RunInfo(
        source=SOURCE_LEGACY, study=study, run=log_stem(path), experiment=WARMUP, strategy=WARMUP,
        seed=None, path=path, state="log", file=path,
    )

    def row(kind: str, metric: str, value: float, step: int) -> Row:
        return Row(
            source=SOURCE_LEGACY, study=study, run=info.run, experiment=WARMUP, strategy=WARMUP, seed=None,
            kind=kind, split="dev" if kind == KIND_EVAL else None, refresh=None, step=step, metric=metric, value=value,
        )

    rows = []
    for step, (rerank, full) in sorted(evaluations.items()):
        rows += [row(KIND_EVAL, FULL_MRR, full, step), row(KIND_EVAL, RERANK_MRR, rerank, step)]
    for step, (loss, lr) in sorted(losses.items()):
        rows.append(row(KIND_TRAIN, "loss", loss, step))
        if lr is not None:
            rows.append(row(KIND_TRAIN, "lr", lr, step))
    return TidyTable(rows=rows, runs=[info])


def is_warmup_log(path: str | Path) -> bool:
    """True for a warm-up output log (it has `Reranking/Full ranking mrr:` lines) or its parsed JSON."""
    path = Path(path)
    if not path.is_file():
        return False
    if _looks_like_json(path):
        return b"full_ranking_mrr" in path.read_bytes()
    return any(MRR_LINE.search(line.text) for line in read_lines(path))


def _looks_like_json(path: Path) -> bool:
    if is_gzip(path):
        return False
    with open(path, "rb") as handle:
        return handle.read(64).lstrip().startswith(b"[")


Losses = dict[int, tuple[float, float | None]]
Evaluations = dict[int, tuple[float, float]]


def _from_output_log(path: Path) -> tuple[Losses, Evaluations]:
    losses: Losses = {}
    evaluations: Evaluations = {}
    pending: list[tuple[int, float, float]] = []  # MRR lines waiting for the step of the next loss line
    for line in read_lines(path):
        if match := MRR_LINE.search(line.text):
            pending.append((line.number, _float(match.group("rerank"), path, line.number), _float(match.group("full"), path, line.number)))
        for text in TRAIN_LOG.findall(line.text):
            try:
                logged = json.loads(text)
            except ValueError:
                continue
            step = logged.get("step")
            if not isinstance(step, int) or not isinstance(logged.get("loss"), (int, float)):
                raise InputError.single(path, f"line {line.number}", '{"learning_rate": .., "loss": <number>, "step": <integer>}', text)
            lr = logged.get("learning_rate")
            losses[step] = (float(logged["loss"]), float(lr) if isinstance(lr, (int, float)) else None)
            for _, rerank, full in pending:
                evaluations[step] = (rerank, full)
            pending.clear()
    if pending:  # the log ends with an evaluation: it was at the step after the last logged one
        steps = sorted(losses)
        if len(steps) < 2:
            raise InputError.single(path, f"line {pending[0][0]}", "loss lines around an evaluation (to know its step)", "too few")
        for _, rerank, full in pending:
            evaluations[steps[-1] + (steps[-1] - steps[-2])] = (rerank, full)
    return losses, evaluations


def _from_parsed_json(path: Path) -> tuple[Losses, Evaluations]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError.single(path, "document", "a JSON list of warm-up log entries", str(exc), raw=True) from None
    if not isinstance(entries, list):
        raise InputError.single(path, "document", "a JSON list of warm-up log entries", type(entries).__name__, raw=True)
    losses: Losses = {}
    evaluated_after: list[tuple[int, float, float]] = []
    steps: list[int] = []
    for index, entry in enumerate(entries):
        where = f"[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("step"), int) or not _is_number(entry.get("loss")):
            raise InputError.single(path, where, '{"learning_rate": .., "loss": <number>, "step": <integer>, ...}', entry)
        step = entry["step"]
        lr = entry.get("learning_rate")
        losses[step] = (float(entry["loss"]), float(lr) if _is_number(lr) else None)
        steps.append(step)
        if "full_ranking_mrr" in entry or "reranking_mrr" in entry:
            rerank, full = entry.get("reranking_mrr"), entry.get("full_ranking_mrr")
            if not _is_number(rerank) or not _is_number(full):
                raise InputError.single(path, where, "numbers in both reranking_mrr and full_ranking_mrr", entry)
            evaluated_after.append((index, float(rerank), float(full)))
    evaluations: Evaluations = {}
    for index, rerank, full in evaluated_after:
        if index + 1 < len(steps):
            evaluations[steps[index + 1]] = (rerank, full)
        elif len(steps) >= 2:
            evaluations[steps[-1] + (steps[-1] - steps[-2])] = (rerank, full)
        else:
            raise InputError.single(path, f"[{index}]", "entries around an evaluation (to know its step)", "too few")
    return losses, evaluations


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _float(text: str, path: Path, number: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError.single(path, f"line {number}", "'Reranking/Full ranking mrr: <number>/<number>'", text) from None
