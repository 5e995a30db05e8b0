"""Rank windows: what "rank" means under each counting, and the study's four strategies.

A segment's `windows` are half-open rank windows, e.g. [[0,20],[180,200]]. Its
*slots* are the ranks those windows cover, in order (slot 0 = rank 0, ...,
slot 19 = rank 19, slot 20 = rank 180, ...); the samplers choose slots.

Two countings (the `counting` field of a segment):

* `positive_free` (ours): rank r is the r-th entry of the candidate list after
  removing the query's positives, faiss's -1 padding and repeats of an id
  already seen higher in the list. Every window rank that exists in that list
  is a candidate, and a window always yields n negatives when the list is long
  enough.
* `legacy` (the original study's code): rank r is the r-th entry of the raw
  candidate list, positives included. Entries of the windows that hold a
  positive, padding or an id already taken are skipped, so a window may yield
  fewer than n.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ance_core.config.schema import RandomSegment, TopSegment

Counting = Literal["positive_free", "legacy"]

# How many ranks past the last window a positive-free pass reads first. A row
# whose first `end + margin` entries hold more than `margin` positives, repeats
# or gaps is read again in full, so the margin only trades speed, never results.
PREFIX_MARGIN_MIN = 8


def window_ranks(windows: list[tuple[int, int]]) -> np.ndarray:
    """The ranks the windows cover, ascending: slot k holds rank window_ranks(...)[k]."""
    if not windows:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.arange(start, end, dtype=np.int64) for start, end in windows])


def window_columns(windows: list[tuple[int, int]], top_k: int) -> np.ndarray:
    """Raw columns of a K-wide candidate matrix the windows cover (legacy counting)."""
    ranks = window_ranks(windows)
    return ranks[ranks < top_k]


def in_windows(ranks: np.ndarray, windows: list[tuple[int, int]]) -> np.ndarray:
    """Elementwise: does each rank lie in one of the half-open windows?"""
    ranks = np.asarray(ranks)
    inside = np.zeros(ranks.shape, dtype=bool)
    for start, end in windows:
        inside |= (ranks >= start) & (ranks < end)
    return inside


def positive_free_prefix(windows: list[tuple[int, int]], top_k: int) -> int:
    """Candidate columns read on the first positive-free pass (see PREFIX_MARGIN_MIN)."""
    end = max(e for _, e in windows)
    return min(top_k, end + max(PREFIX_MARGIN_MIN, end // 8))


STUDY_STRATEGIES = ("top20", "bottom20", "top20+bottom20", "random20")


def study_segment(
    name: str, counting: Counting = "positive_free", *, top_k: int = 200, n: int = 20
) -> TopSegment | RandomSegment:
    """The segment spec of one of the study's four strategies.

    Positive-free: top20 = [0,20), bottom20 = [180,200), top20+bottom20 = both
    (n=40), random20 = random 20 of [0,200).

    Legacy reproduces what the study's `GenerateNegativePassageID` did:
    top mode read the first n+1 raw entries (`top_ann_pid[:n+1]`) and kept the
    first n non-positives, hence [0,21); bottom read `top_ann_pid[-n:]`, hence
    [180,200) with fewer than 20 when the positive sits there; top+bottom read
    both slices and stopped at 40, hence [0,21)+[180,200) taking the first 40
    (21 + 19 when no positive is among them); random shuffled all K entries and
    took the first n non-positives, i.e. a uniform n of the non-positives.
    """
    bottom = (top_k - n, top_k)
    top = (0, n + 1) if counting == "legacy" else (0, n)
    if name == "top20":
        return TopSegment(windows=[top], n=n, counting=counting)
    if name == "bottom20":
        return TopSegment(windows=[bottom], n=n, counting=counting)
    if name == "top20+bottom20":
        return TopSegment(windows=[top, bottom], n=2 * n, counting=counting)
    if name == "random20":
        return RandomSegment(windows=[(0, top_k)], n=n, counting=counting)
    raise ValueError(f"study strategy one of {', '.join(STUDY_STRATEGIES)}, found {name!r}")
