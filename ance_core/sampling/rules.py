"""Selection rules: which of a row's available window slots become its negatives.

A row's slots are its window ranks in order (see segments.py); the first
`available[r]` of them exist for row r (a short candidate list has fewer).
Every rule returns the chosen slots as an (R, n) array, ascending (so negatives
come in rank order), padded with -1 when a row has fewer than n to give.
All rules work on every row at once; loops run over the n picks, never over rows.
"""

from __future__ import annotations

import numpy as np


def take_top(available: np.ndarray, n: int) -> np.ndarray:
    """The first n available slots."""
    slots = np.broadcast_to(np.arange(n, dtype=np.int32), (available.size, n))
    if available.min(initial=n) >= n:
        return slots  # the common case: a read-only view, nothing materialised
    return np.where(slots < available[:, None], slots, -1)


def take_bottom(available: np.ndarray, n: int) -> np.ndarray:
    """The last n available slots."""
    slots = np.maximum(available - n, 0).astype(np.int32)[:, None] + np.arange(n, dtype=np.int32)
    return np.where(slots < available[:, None], slots, -1)


def take_uniform(rng: np.random.Generator, available: np.ndarray, n: int) -> np.ndarray:
    """n slots uniformly without replacement from each row's available ones (all of them if fewer).

    Robert Floyd's algorithm, one step per pick for all rows at once: for
    j = m-n .. m-1 draw t in [0, j]; take t unless already taken, else take j.
    Every n-subset comes out equally likely, with exactly n draws per row.
    Picks are kept transposed (n, rows): the membership test then compares
    contiguous rows of memory, about 5x faster than (rows, n).
    """
    rows = np.flatnonzero(available > n)
    if rows.size == 0:
        return take_top(available, n)
    # All draws at once: step i draws t uniform in [0, j] with j = m - n + i.
    j = available[rows].astype(np.int32) - n + np.arange(n, dtype=np.int32)[:, None]
    uniform = rng.random((n, rows.size))
    uniform *= j + 1
    draws = uniform.astype(np.int32)
    del uniform
    picks = np.empty((n, rows.size), dtype=np.int32)
    for i in range(n):
        taken = (picks[:i] == draws[i]).any(axis=0)
        picks[i] = np.where(taken, j[i], draws[i])
    picks = np.ascontiguousarray(picks.T)
    picks.sort(axis=1)  # along contiguous rows: ~2x faster than sorting the (n, rows) columns
    if rows.size == available.size:  # the usual case: every row had more than n
        return picks
    chosen = np.array(take_top(available, n))  # writable copy for the rows with n or fewer
    chosen[rows] = picks
    return chosen


def take_weighted(rng: np.random.Generator, log_weights: np.ndarray, n: int) -> np.ndarray:
    """n slots without replacement, each draw ∝ exp(log_weight) among the slots left (-inf: never).

    Gumbel top-n: adding Gumbel noise (-log of a standard exponential) to the
    log-weights and keeping the n largest is exactly successive sampling without
    replacement (what torch.multinomial does in SimANS), for all rows in one pass.
    """
    rows, width = log_weights.shape
    with np.errstate(divide="ignore"):  # log(0) = -inf is a valid (if rare) draw, see below
        keys = log_weights - np.log(rng.standard_exponential(size=log_weights.shape, dtype=np.float32))
    if width > n:
        top = np.argpartition(keys, width - n, axis=1)[:, width - n :]  # the n largest, unordered
    else:
        top = np.broadcast_to(np.arange(width), (rows, width))
    # Possible slots are those with a finite log-weight; a key can be +inf (an exponential
    # draw of exactly 0, about once in 2**24), and that slot is then simply drawn first.
    chosen = np.where(np.take_along_axis(log_weights, top, axis=1) > -np.inf, top, -1)
    return _ascending(_pad_to(chosen, n), width)


def take_first_kept(keep: np.ndarray, n: int) -> np.ndarray:
    """The first n slots where `keep` (R, W) is True."""
    width = keep.shape[1]
    ranked = np.where(keep & (np.cumsum(keep, axis=1) <= n), np.arange(width), width)
    first = np.sort(ranked, axis=1)[:, :n]
    return _pad_to(np.where(first < width, first, -1), n)


def simans_log_weights(
    slot_scores: np.ndarray, positive_scores: np.ndarray, a: float, b: float
) -> np.ndarray:
    """SimANS: log p(neg) = -a·(s_neg - s_pos - b)² (+ const); rows without s_pos get equal weights."""
    gap = slot_scores - (positive_scores + b).astype(np.float32)[:, None]
    log_weights = np.float32(-a) * gap * gap
    log_weights[np.isnan(positive_scores)] = 0.0
    return log_weights


def perc_pos_keep(slot_scores: np.ndarray, positive_scores: np.ndarray, fraction: float) -> np.ndarray:
    """TopK-PercPos (NV-Retriever): keep candidates scoring at most `fraction` of the positive's score.

    For s_pos >= 0 the threshold is fraction·s_pos; written as s_pos - (1-fraction)·|s_pos|
    it stays below the positive when dot-product scores are negative. Rows without
    s_pos keep everything.
    """
    threshold = positive_scores - (1.0 - fraction) * np.abs(positive_scores)
    return np.isnan(positive_scores)[:, None] | (slot_scores <= threshold[:, None])


def _pad_to(chosen: np.ndarray, n: int) -> np.ndarray:
    if chosen.shape[1] >= n:
        return chosen
    pad = np.full((chosen.shape[0], n - chosen.shape[1]), -1, dtype=chosen.dtype)
    return np.concatenate([chosen, pad], axis=1)


def _ascending(chosen: np.ndarray, width: int) -> np.ndarray:
    """Sort each row ascending with the -1 padding moved to the end."""
    ordered = np.sort(np.where(chosen >= 0, chosen, width), axis=1)
    return np.where(ordered < width, ordered, -1)
