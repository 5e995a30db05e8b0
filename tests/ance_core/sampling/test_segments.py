"""Window arithmetic, the study's four strategies as specs, positive sets."""

from __future__ import annotations

import numpy as np
import pytest

from ance_core.config.schema import AnceConfig
from ance_core.sampling import STUDY_STRATEGIES, PositiveSets, in_windows, study_segment
from ance_core.sampling.positives import positive_mask
from ance_core.sampling.segments import window_columns, window_ranks


def test_study_strategies_as_positive_free_specs():
    specs = {name: study_segment(name) for name in STUDY_STRATEGIES}
    assert [(s.kind, s.windows, s.n) for s in specs.values()] == [
        ("top", [(0, 20)], 20),
        ("top", [(180, 200)], 20),
        ("top", [(0, 20), (180, 200)], 40),
        ("random", [(0, 200)], 20),
    ]
    for spec in specs.values():
        AnceConfig(top_k=200, segment=spec)  # every one fits the schema's checks


def test_study_strategies_as_legacy_specs_read_what_the_study_read():
    specs = [study_segment(name, "legacy") for name in STUDY_STRATEGIES]
    assert [s.windows for s in specs] == [[(0, 21)], [(180, 200)], [(0, 21), (180, 200)], [(0, 200)]]
    assert all(s.counting == "legacy" for s in specs)
    with pytest.raises(ValueError, match="top20"):
        study_segment("top30")


def test_window_ranks_and_columns():
    windows = [(0, 3), (7, 9)]
    assert window_ranks(windows).tolist() == [0, 1, 2, 7, 8]
    assert window_columns(windows, top_k=8).tolist() == [0, 1, 2, 7]
    assert in_windows(np.array([0, 2, 3, 6, 7, 8, 9]), windows).tolist() == [
        True, True, False, False, True, True, False,
    ]


def test_positive_sets_are_normalised_and_sliced():
    positives = PositiveSets.from_lists([[5, 3, 5], [], [9]])
    assert positives.offsets.tolist() == [0, 2, 2, 3]
    assert positives.ids.tolist() == [3, 5, 9]
    assert positives.slice(1, 3).ids.tolist() == [9]
    taken = positives.take(np.array([2, 0]))
    assert taken.offsets.tolist() == [0, 1, 3] and taken.ids.tolist() == [9, 3, 5]
    assert positives.slot(1).tolist() == [5, -2, -2]


def test_positive_mask_finds_every_positive_of_every_query():
    candidates = np.array([[3, 4, 5, 3], [9, 8, 7, 6], [1, 2, 9, 9]])
    positives = PositiveSets.from_lists([[5, 3], [], [9, 2]])
    assert positive_mask(candidates, positives).astype(int).tolist() == [
        [1, 0, 1, 1], [0, 0, 0, 0], [0, 1, 1, 1],
    ]
