"""TREC run files: `qid Q0 pid rank score run-name`, one line per retrieved passage, written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ance_core.io.atomic import atomic_writer


def write_run_file(
    path: str | Path,
    query_ids: Sequence[str],
    ranked_ids: Sequence[Sequence[str]],
    scores: np.ndarray,
    run_name: str = "ance",
) -> Path:
    """Write the ranking (ranks from 1, as trec_eval expects); rows of `scores` align with `ranked_ids`."""
    path = Path(path)
    with atomic_writer(path, "w") as handle:
        for qid, pids, row in zip(query_ids, ranked_ids, scores):
            handle.writelines(
                f"{qid} Q0 {pid} {rank} {score:.6f} {run_name}\n" for rank, (pid, score) in enumerate(zip(pids, row.tolist()), 1)
            )
    return path


def read_run_file(path: str | Path) -> dict[str, list[tuple[str, int, float]]]:
    """{qid: [(pid, rank, score), ...]} in file order (for tests and tools)."""
    run: dict[str, list[tuple[str, int, float]]] = {}
    for line in Path(path).read_text().splitlines():
        qid, _q0, pid, rank, score, _name = line.split()
        run.setdefault(qid, []).append((pid, int(rank), float(score)))
    return run
