"""A slow, obviously-correct model of the samplers, one query at a time, for the tests.

It spells out the documented semantics (docs/SAMPLING.md) in plain Python so that
the vectorised code can be compared against it on random inputs.
"""

from __future__ import annotations

import math


def in_any_window(rank: int, windows) -> bool:
    return any(start <= rank < end for start, end in windows)


def candidates(row: list[int], positives: set[int], windows, counting: str) -> list[tuple[int, int]]:
    """(column, rank) of every entry the segment may choose from, in rank order."""
    chosen: list[tuple[int, int]] = []
    seen: set[int] = set()
    if counting == "positive_free":
        rank = 0
        for column, pid in enumerate(row):
            if pid < 0 or pid in positives or pid in seen:
                continue
            seen.add(pid)
            if in_any_window(rank, windows):
                chosen.append((column, rank))
            rank += 1
        return chosen
    for start, end in windows:  # legacy: raw columns of the windows, in window order
        for column in range(start, min(end, len(row))):
            pid = row[column]
            if pid < 0 or pid in positives or pid in seen:
                continue
            seen.add(pid)
            chosen.append((column, column))
    return chosen


def perc_pos_threshold(positive_score: float, fraction: float) -> float:
    if math.isnan(positive_score):
        return math.inf
    return positive_score - (1.0 - fraction) * abs(positive_score)
