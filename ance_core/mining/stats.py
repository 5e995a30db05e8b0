"""Per-refresh statistics of a mined ranking and its sampled negatives (`negatives-<r>.stats.json`).

All vectorised over queries. Ranks are 0-based:
* the positive's rank is its column in the raw top-K list (best positive when a
  query has several);
* negative ranks are those the sampler reports (positive-free list, or the raw
  list under `counting: legacy`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ance_core.sampling.positives import PositiveSets, positive_mask
from ance_core.sampling.sample import SampledNegatives


def _describe(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {"mean": None, "median": None}
    return {"mean": round(float(values.mean()), 3), "median": float(np.median(values))}


def ranking_stats(candidate_rows: np.ndarray, positives: PositiveSets) -> dict[str, Any]:
    """How often a positive is in the top-K, and at which rank."""
    hits = positive_mask(candidate_rows, positives) & (candidate_rows >= 0)
    found = hits.any(axis=1)
    first = hits.argmax(axis=1)[found]
    return {
        "top_k": int(candidate_rows.shape[1]),
        "positive_in_topk": round(float(found.mean()), 6) if found.size else None,
        "positive_rank": _describe(first),
    }


def negatives_stats(sampled: SampledNegatives, positives: PositiveSets, wanted: int) -> dict[str, Any]:
    """How many negatives each query got, where they sit, and how many are judged relevant (must be 0)."""
    columns = np.arange(sampled.neg_ids.shape[1])
    chosen = columns[None, :] < sampled.counts[:, None]
    ranks = sampled.neg_ranks[chosen]
    overlap = positive_mask(np.where(chosen, sampled.neg_ids, -1), positives) & chosen
    return {
        "negatives_per_query": _describe(sampled.counts.astype(np.int64)),
        "queries_short": int((sampled.counts < wanted).sum()),
        "queries_without_negatives": int((sampled.counts == 0).sum()),
        "negative_rank": {**_describe(ranks), "min": int(ranks.min()) if ranks.size else None,
                          "max": int(ranks.max()) if ranks.size else None},
        "qrels_overlap": int(overlap.sum()),
    }



def margin_stats(candidate_scores: np.ndarray, positive_scores: np.ndarray, sampled: SampledNegatives) -> dict[str, Any]:
    """The score margin between each query's best positive and its sampled negatives, in the mining model's scores.

    margin = s(q, positive) - s(q, negative) over every sampled negative (its score is the
    ranking's, at `neg_positions`). A negative that outscores the positive (margin < 0) is a
    hard negative the model gets wrong or an unjudged relevant passage (a false negative):
    `outscoring_share` is the share of them, the signal the study's report asked for.
    """
    chosen = np.arange(sampled.neg_ids.shape[1])[None, :] < sampled.counts[:, None]
    chosen &= ~np.isnan(positive_scores)[:, None]
    rows, columns = np.nonzero(chosen)
    margin = positive_scores[rows] - candidate_scores[rows, sampled.neg_positions[rows, columns]]
    if margin.size == 0:
        return {"margin_mean": None, "margin_median": None, "outscoring_share": None}
    return {"margin_mean": round(float(margin.mean()), 5), "margin_median": round(float(np.median(margin)), 5),
            "outscoring_share": round(float((margin < 0).mean()), 5)}
