"""Row group `samplers`: our vectorised samplers against the study's per-query Python loop.

Inputs (the same files for every side): a synthetic top-200 ranking of Q queries
(500k by default, MS MARCO train has 503k) over an MS MARCO-sized collection,
distinct ids per row like faiss returns, one positive per query retrieved for
70% of the queries at a geometric rank (the original keeps one positive per
query, so more would not be comparable), descending scores for the score rules.

For each study strategy the loop runs once (it takes tens of seconds), ours three
times (median); the score rules without a baseline (simans, perc_pos) run once.
Times are CPU seconds of the timed call (process_time): both sides are single-threaded, so on an idle machine they equal wall time, and unlike wall
time they do not count the minutes other jobs on a shared machine take. Wall
seconds are recorded next to them in the JSON. Our `legacy` counting computes what the loop computes, and the
row checks it: identical negatives for the deterministic strategies, identical
counts for random20. Our own `positive_free` counting is timed too, against the
same loop, for scale only (it is not the same computation, so it has no target).

Ours is called as the miner calls it, with `unique_candidates=True`: the ranking
comes from a search, which never returns an id twice in a row (the inputs here
are drawn that way too), so the repeated-id scan is skipped (docs/SAMPLING.md).
"""

from __future__ import annotations

import logging
import random
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.baselines.study_negatives import generate_negative_passage_id, study_args
from benchmarks.harness import Row, measure, peak_rss_mib

GROUP = "samplers"
TARGET_RATIO = 50.0
UNIT = "CPU s"
COLLECTION_SIZE = 8_841_823  # MS MARCO passages
TOP_K = 200
RETRIEVED_FRACTION = 0.7
OUR_REPEATS = 3
SCORED_REPEATS = 1  # the score rules take seconds each and have no target: once keeps `make bench` under 20 min
STRATEGIES = ("top20", "bottom20", "top20+bottom20", "random20")

logger = logging.getLogger(__name__)


def run(options) -> list[Row]:
    folder = Path(options.scratch) / "samplers"
    logger.info("samplers: writing a %d-query ranking", options.queries)
    measure(__name__, "make_inputs", folder=str(folder), queries=options.queries)  # keeps this process small
    shape = f"{options.queries}×{TOP_K}"
    rows: list[Row] = []
    legacy_rows: list[Row] = []
    for strategy in STRATEGIES:
        logger.info("samplers: %s, the study's loop", strategy)
        loop = measure(__name__, "loop_side", folder=str(folder), strategy=strategy)
        logger.info("samplers: %s, ours (legacy and positive-free counting)", strategy)
        legacy = measure(__name__, "ours_side", folder=str(folder), strategy=strategy, counting="legacy")
        positive_free = measure(__name__, "ours_side", folder=str(folder), strategy=strategy, counting="positive_free")
        legacy_rows.append(Row(
            GROUP, f"{strategy}, legacy counting", legacy.seconds, loop.seconds, UNIT, TARGET_RATIO,
            legacy.peak_mem_mib, loop.peak_mem_mib,
            note=f"{shape}; {agreement(folder, strategy)}; unique_candidates=True as the miner calls it",
            extra=_walls(legacy, loop),
        ))
        rows.append(Row(
            GROUP, f"{strategy}, positive-free counting", positive_free.seconds, loop.seconds, UNIT, None,
            positive_free.peak_mem_mib, loop.peak_mem_mib,
            note=f"{shape}; our counting, not the loop's computation: ratio for scale",
            extra=_walls(positive_free, loop),
        ))
    rows += legacy_rows
    rows.append(Row(
        GROUP, "all 4 study strategies, legacy counting", sum(r.ours for r in legacy_rows),
        sum(r.baseline for r in legacy_rows), UNIT, TARGET_RATIO,
        max(r.peak_mem_mib for r in legacy_rows), max(r.baseline_peak_mem_mib for r in legacy_rows),
        note=f"{shape}; sums of the four legacy rows",
    ))
    for kind in ("simans", "perc_pos"):
        logger.info("samplers: %s (no baseline)", kind)
        scored = measure(__name__, "ours_scored_side", folder=str(folder), kind=kind)
        rows.append(Row(
            GROUP, f"{kind} 20 of [0,200), positive-free", scored.seconds, None, UNIT, None, scored.peak_mem_mib,
            note=f"{shape}; no baseline: the study had no score-based rule", extra=_walls(scored),
        ))
    return rows


def _walls(ours, loop=None) -> dict:
    walls = {"ours_wall_s": round(ours.extra["wall_seconds"], 4)}
    if loop is not None:
        walls["baseline_wall_s"] = round(loop.extra["wall_seconds"], 4)
    return walls


# ---------------------------------------------------------------- inputs


def make_inputs(folder: str, queries: int, seed: int = 0) -> dict:
    """Write candidates.npy (Q, K) int64, positives.npy (Q,), scores.npy (Q, K), positive_scores.npy (Q,)."""
    start = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, COLLECTION_SIZE, size=(queries, TOP_K))
    while True:  # faiss never returns an id twice for a query: redraw rows that happen to
        ordered = np.sort(ids, axis=1)
        repeated = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
        del ordered
        if repeated.size == 0:
            break
        ids[repeated] = rng.integers(0, COLLECTION_SIZE, size=(repeated.size, TOP_K))
    retrieved = rng.random(queries) < RETRIEVED_FRACTION
    rank = np.minimum(rng.geometric(0.1, size=queries) - 1, TOP_K - 1)
    positives = rng.integers(0, COLLECTION_SIZE, size=queries)
    positives[retrieved] = ids[retrieved, rank[retrieved]]
    missing = ~retrieved & (ids == positives[:, None]).any(axis=1)
    positives[missing] = COLLECTION_SIZE  # an id just outside the collection: surely not retrieved
    np.save(folder / "candidates.npy", ids)
    np.save(folder / "positives.npy", positives)
    del ids
    scores = -np.sort(-rng.normal(size=(queries, TOP_K)).astype(np.float32), axis=1)
    positive_scores = np.where(retrieved, scores[np.arange(queries), rank], scores[:, -1] - 0.1).astype(np.float64)
    np.save(folder / "scores.npy", scores)
    np.save(folder / "positive_scores.npy", positive_scores)
    return {"seconds": time.perf_counter() - start}


def agreement(folder: Path, strategy: str) -> str:
    """Does ours (legacy) give what the loop gave? Identical ids, or for random20 identical counts."""
    ours = np.load(folder / f"ours-{strategy}-legacy.npy")
    loop = np.load(folder / f"loop-{strategy}.npy")
    if loop.shape[1] < ours.shape[1]:
        loop = np.pad(loop, ((0, 0), (0, ours.shape[1] - loop.shape[1])), constant_values=-1)
    if strategy == "random20":
        same = np.array_equal((ours >= 0).sum(axis=1), (loop >= 0).sum(axis=1))
        return "same count per query as the loop" if same else "COUNTS DIFFER from the loop"
    return "negatives identical to the loop's" if np.array_equal(ours, loop) else "NEGATIVES DIFFER from the loop"


# ---------------------------------------------------------------- the measured sides (child processes)


def loop_side(folder: str, strategy: str) -> dict:
    """The study's per-query loop, with the data structures it had (ids as numpy arrays, a dict of positives)."""
    folder = Path(folder)
    nearest = np.load(folder / "candidates.npy")
    positives = np.load(folder / "positives.npy")
    query_embedding2id = np.arange(nearest.shape[0])
    passage_embedding2id = np.arange(COLLECTION_SIZE)
    training_query_positive_id = {q: int(p) for q, p in enumerate(positives.tolist())}
    effective_q_id = set(query_embedding2id.flatten())
    random.seed(0)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    negatives_of, _ = generate_negative_passage_id(
        study_args(strategy), query_embedding2id, passage_embedding2id, training_query_positive_id,
        nearest, effective_q_id,
    )
    seconds, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    peak = peak_rss_mib()
    width = max(len(v) for v in negatives_of.values())
    padded = np.full((nearest.shape[0], width), -1, dtype=np.int64)
    for q, negatives in negatives_of.items():
        padded[q, : len(negatives)] = negatives
    np.save(folder / f"loop-{strategy}.npy", padded)
    return {"seconds": cpu, "wall_seconds": seconds, "peak_during_run_mib": peak}


def ours_side(folder: str, strategy: str, counting: str) -> dict:
    from ance_core.sampling import PositiveSets, sample_negatives, study_segment

    folder = Path(folder)
    ids = np.load(folder / "candidates.npy")
    positive_ids = np.load(folder / "positives.npy")
    positives = PositiveSets.from_csr(np.arange(ids.shape[0] + 1), positive_ids)
    segment = study_segment(strategy, counting)
    walls, cpus = [], []
    for repeat in range(OUR_REPEATS):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        result = sample_negatives(segment, ids, positives, seed=0, unique_candidates=True)  # as the miner
        walls.append(time.perf_counter() - start_wall)
        cpus.append(time.process_time() - start_cpu)
        if repeat == 0:
            np.save(folder / f"ours-{strategy}-{counting}.npy", result.neg_ids)
        del result
    return {"seconds": statistics.median(cpus), "wall_seconds": statistics.median(walls), "cpu_runs": cpus}


def ours_scored_side(folder: str, kind: str) -> dict:
    from ance_core.config.schema import PercPosSegment, SimANSSegment
    from ance_core.sampling import PositiveSets, sample_negatives

    folder = Path(folder)
    ids = np.load(folder / "candidates.npy")
    positives = PositiveSets.from_csr(np.arange(ids.shape[0] + 1), np.load(folder / "positives.npy"))
    scores = np.load(folder / "scores.npy")
    positive_scores = np.load(folder / "positive_scores.npy")
    windows = [(0, TOP_K)]
    segment = SimANSSegment(windows=windows) if kind == "simans" else PercPosSegment(windows=windows, then="random")
    walls, cpus = [], []
    for _ in range(SCORED_REPEATS):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        sample_negatives(segment, ids, positives, candidate_scores=scores, positive_scores=positive_scores, seed=0,
                         unique_candidates=True)
        walls.append(time.perf_counter() - start_wall)
        cpus.append(time.process_time() - start_cpu)
    return {"seconds": statistics.median(cpus), "wall_seconds": statistics.median(walls), "cpu_runs": cpus}
