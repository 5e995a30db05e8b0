"""TREC run files: `qid Q0 pid rank score run-name`, one line per retrieved passage, written atomically.

The order in the file is the order trec_eval (and ir_measures) sorts it into:
score descending, then document id descending, on the scores *as written*
(`SCORE_DECIMALS` places). `trec_order` puts a ranking into that order before
anything is computed from it, so our metrics, the file and any standard tool
read one ranking: ties at the written precision are broken by document id
everywhere, never by the search's internal order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ance_core.io.atomic import atomic_writer

SCORE_DECIMALS = 6


def written_score(score: float) -> float:
    """The score a reader of the run file gets back (the value trec_eval sorts by)."""
    return float(f"{score:.{SCORE_DECIMALS}f}")


def trec_order(pids: Sequence[str], scores: Sequence[float]) -> list[tuple[str, float]]:
    """(pid, written score) pairs in trec_eval's order: score descending, then pid descending.

    Non-finite scores (the search's padding) are dropped: they are not retrieved passages.
    """
    pairs = [(written_score(score), pid) for pid, score in zip(pids, scores) if np.isfinite(score)]
    pairs.sort(reverse=True)  # pids are unique per query, so no two keys are equal
    return [(pid, score) for score, pid in pairs]


def trec_run(
    query_ids: Sequence[str], ranked_ids: Sequence[Sequence[str]], scores: np.ndarray | Sequence[Sequence[float]]
) -> dict[str, list[tuple[str, float]]]:
    """{qid: [(pid, written score), ...]} in trec_eval's order; rows of `scores` align with `ranked_ids`."""
    return {
        qid: trec_order(pids, np.asarray(row, dtype=np.float64)[: len(pids)].tolist())
        for qid, pids, row in zip(query_ids, ranked_ids, scores)
    }


def write_run_file(path: str | Path, run: dict[str, list[tuple[str, float]]], run_name: str = "ance") -> Path:
    """Write a `trec_run` ranking (ranks from 1, as trec_eval expects)."""
    path = Path(path)
    with atomic_writer(path, "w") as handle:
        for qid, ranking in run.items():
            handle.writelines(
                f"{qid} Q0 {pid} {rank} {score:.{SCORE_DECIMALS}f} {run_name}\n"
                for rank, (pid, score) in enumerate(ranking, 1)
            )
    return path


def read_run_file(path: str | Path) -> dict[str, list[tuple[str, int, float]]]:
    """{qid: [(pid, rank, score), ...]} in file order (for tests and tools)."""
    run: dict[str, list[tuple[str, int, float]]] = {}
    for line in Path(path).read_text().splitlines():
        qid, _q0, pid, rank, score, _name = line.split()
        run.setdefault(qid, []).append((pid, int(rank), float(score)))
    return run


def write_qrels_file(path: str | Path, qrels: dict[str, dict[str, int]]) -> Path:
    """The judged qrels an evaluation used, in TREC format (`qid 0 pid grade`), beside its run files."""
    path = Path(path)
    with atomic_writer(path, "w") as handle:
        for qid, grades in qrels.items():
            handle.writelines(f"{qid} 0 {pid} {grade}\n" for pid, grade in grades.items())
    return path
