"""Row group `samplers`: our vectorised samplers against the study's per-query loop and a vectorised numpy one.

Inputs (the same files for every side): a synthetic top-200 ranking of Q queries
(200k by default; MS MARCO train has 503k) over an MS MARCO-sized collection,
distinct ids per row like faiss returns, one positive per query retrieved for
70% of the queries at a geometric rank (the original keeps one positive per
query, so more would not be comparable), descending scores for the score rules.

For each study strategy, three sides, each round a fresh process per side, in the
order ours, the study's loop, numpy, then again (MIN_ROUNDS rounds):
* ours: `sample_negatives(study_segment(strategy, "legacy"), ...)`, called as the
  miner calls it (`unique_candidates=True`: a search never returns an id twice in
  a row, and the inputs are drawn that way, so the repeated-id scan is skipped);
  it also returns each negative's rank and column;
* the study's loop (benchmarks/baselines/study_negatives.py);
* numpy: what a user would write in ten lines (benchmarks/baselines/numpy_negatives.py).
Every side is checked against ours: identical negatives for the deterministic
strategies, identical counts per query for random20. Each side times one call,
after a warm-up call on the first rows (imports, first-touch of memory).
Times are CPU seconds of the timed call (process_time): every side is
single-threaded, so on an idle machine they equal wall time, and unlike wall time
they do not count what other jobs on a shared machine take; wall seconds are in
each round's record. Targets: ≥ 50× the loop and ≥ 1× numpy, at ≤ 2 GiB peak
memory. The score rules (simans, perc_pos) have no baseline (the study had none):
ours alone, same rounds.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import numpy as np

from benchmarks.baselines.study_negatives import generate_negative_passage_id, study_args
from benchmarks.harness import MIN_ROUNDS, Row, interleave, measure, peak_rss_mib

GROUP = "samplers"
LOOP_TARGET, NUMPY_TARGET = 50.0, 1.0
PEAK_LIMIT_MIB = 2048.0
UNIT = "CPU s"
COLLECTION_SIZE = 8_841_823  # MS MARCO passages
TOP_K = 200
RETRIEVED_FRACTION = 0.7
WARM_ROWS = 1000
STRATEGIES = ("top20", "bottom20", "top20+bottom20", "random20")
SIDES = {"ours": "ours_side", "loop": "loop_side", "numpy": "numpy_side"}

logger = logging.getLogger(__name__)


def run(options) -> list[Row]:
    folder = Path(options.scratch) / "samplers"
    logger.info("samplers: writing a %d-query ranking", options.queries)
    measure(__name__, "make_inputs", folder=str(folder), queries=options.queries)  # keeps this process small
    shape = f"{options.queries}×{TOP_K}"
    rows: list[Row] = []
    for strategy in STRATEGIES:
        results = interleave(MIN_ROUNDS, {
            name: (lambda function=function, name=name: measure(__name__, function, folder=str(folder),
                                                                  strategy=strategy, save=f"{name}-{strategy}"))
            for name, function in SIDES.items()}, label=f"samplers {strategy}")
        ours = results["ours"]
        for name, label, target in (("loop", "the study's loop", LOOP_TARGET), ("numpy", "vectorised numpy", NUMPY_TARGET)):
            theirs = results[name]
            rows.append(Row.from_rounds(
                GROUP, f"{strategy}: ours vs {label}", [s.seconds for s in ours], [s.seconds for s in theirs], UNIT,
                target, max(s.peak_mem_mib for s in ours), max(s.peak_mem_mib for s in theirs),
                peak_limit_mib=PEAK_LIMIT_MIB,
                note=f"{shape}; {agreement(folder, strategy, name)}; legacy counting, unique_candidates=True as the "
                     f"miner calls it",
                extra={"ours_wall_s": [round(s.extra["wall_seconds"], 4) for s in ours],
                       "baseline_wall_s": [round(s.extra["wall_seconds"], 4) for s in theirs]},
            ))
    for kind in ("simans", "perc_pos"):
        results = interleave(MIN_ROUNDS, {"ours": lambda kind=kind: measure(__name__, "ours_scored_side",
                                                                            folder=str(folder), kind=kind)},
                             label=f"samplers {kind}")
        ours = results["ours"]
        rows.append(Row.from_rounds(
            GROUP, f"{kind} 20 of [0,200), positive-free", [s.seconds for s in ours], None, UNIT, None,
            max(s.peak_mem_mib for s in ours), note=f"{shape}; no baseline: the study had no score-based rule",
            extra={"ours_wall_s": [round(s.extra["wall_seconds"], 4) for s in ours]},
        ))
    return rows


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


def agreement(folder: Path, strategy: str, baseline: str) -> str:
    """Does the baseline give what ours (legacy) gave? Identical ids, or for random20 identical counts."""
    ours = np.load(folder / f"ours-{strategy}.npy")
    theirs = np.load(folder / f"{baseline}-{strategy}.npy")
    width = max(ours.shape[1], theirs.shape[1])
    ours, theirs = (np.pad(x, ((0, 0), (0, width - x.shape[1])), constant_values=-1) for x in (ours, theirs))
    if strategy == "random20":
        same = np.array_equal((ours >= 0).sum(axis=1), (theirs >= 0).sum(axis=1))
        return "same count per query as ours" if same else "COUNTS DIFFER from ours"
    return "negatives identical to ours" if np.array_equal(ours, theirs) else "NEGATIVES DIFFER from ours"


# ---------------------------------------------------------------- the measured sides (child processes)


def _timed(call, folder: Path, save: str) -> dict:
    """CPU and wall seconds of one call; its (Q, n) ids saved as `save`.npy unless there already (round 1's)."""
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    result = call()
    seconds, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    peak = peak_rss_mib()
    path = folder / f"{save}.npy"
    if not path.exists():
        np.save(path, result)
    return {"seconds": cpu, "wall_seconds": seconds, "peak_mem_mib": round(peak, 1)}


def loop_side(folder: str, strategy: str, save: str) -> dict:
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
    path = folder / f"{save}.npy"
    if not path.exists():
        width = max(len(v) for v in negatives_of.values())
        padded = np.full((nearest.shape[0], width), -1, dtype=np.int64)
        for q, negatives in negatives_of.items():
            padded[q, : len(negatives)] = negatives
        np.save(path, padded)
    return {"seconds": cpu, "wall_seconds": seconds, "peak_mem_mib": round(peak, 1)}


def numpy_side(folder: str, strategy: str, save: str) -> dict:
    from benchmarks.baselines.numpy_negatives import sample

    folder = Path(folder)
    ids = np.load(folder / "candidates.npy")
    positives = np.load(folder / "positives.npy")
    sample(strategy, ids[:WARM_ROWS], positives[:WARM_ROWS])
    return _timed(lambda: sample(strategy, ids, positives), folder, save)


def ours_side(folder: str, strategy: str, save: str) -> dict:
    from ance_core.sampling import PositiveSets, sample_negatives, study_segment

    folder = Path(folder)
    ids = np.load(folder / "candidates.npy")
    positive_ids = np.load(folder / "positives.npy")
    positives = PositiveSets.from_csr(np.arange(ids.shape[0] + 1), positive_ids)
    segment = study_segment(strategy, "legacy")
    warm = PositiveSets.from_csr(np.arange(WARM_ROWS + 1), positive_ids[:WARM_ROWS])
    sample_negatives(segment, ids[:WARM_ROWS], warm, seed=0, unique_candidates=True)
    return _timed(lambda: sample_negatives(segment, ids, positives, seed=0, unique_candidates=True).neg_ids,
                  folder, save)


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
    return _timed(lambda: sample_negatives(segment, ids, positives, candidate_scores=scores,
                                           positive_scores=positive_scores, seed=0, unique_candidates=True).neg_ids,
                  folder, f"ours-{kind}")
