import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ance_core.index import keys as K

floats32 = st.floats(width=32, allow_nan=False)


@given(arrays(np.float32, st.integers(1, 64), elements=floats32), st.data())
@settings(max_examples=200, deadline=None)
def test_key_order_is_score_desc_then_row_asc_and_round_trips(scores, data):
    rows = np.array(data.draw(st.permutations(range(scores.size))), dtype=np.int64)
    keys = K.pack(scores, rows)
    got_scores, got_rows = K.unpack(keys)
    assert np.array_equal(got_rows, rows)
    assert np.array_equal(got_scores, scores + np.float32(0))  # bit for bit, -0.0 folded into +0.0
    order = np.argsort(keys, kind="stable")
    expected = np.lexsort((rows, -scores.astype(np.float64)))
    assert np.array_equal(order, expected)


def test_negative_zero_ties_with_positive_zero():
    keys = K.pack(np.array([-0.0, 0.0], np.float32), np.array([5, 3]))
    assert keys[1] < keys[0]  # equal scores: the smaller row first


def test_empty_slots_sort_last_and_decode_as_padding():
    keys = np.array([K.EMPTY, K.pack(np.float32(-np.inf), 7)], dtype=np.uint64)
    scores, rows = K.unpack(np.sort(keys))
    assert rows.tolist() == [7, -1]
    assert np.isneginf(scores).all()


def test_threshold_is_worst_score_or_minus_inf_while_slots_are_empty():
    full = K.pack(np.array([[3.0, 1.0, 2.0]], np.float32), np.array([[0, 1, 2]]))
    partial = np.array([[K.pack(np.float32(5.0), 0), K.EMPTY]], dtype=np.uint64)
    assert K.threshold(full).tolist() == [1.0]
    assert np.isneginf(K.threshold(partial)).all()


def test_merge_keeps_best_k_sorted_and_pads():
    a = K.pack(np.array([[1.0, 4.0]], np.float32), np.array([[0, 1]]))
    b = K.pack(np.array([[4.0, 2.0]], np.float32), np.array([[9, 2]]))
    scores, rows = K.unpack(K.merge([a, b], 3))
    assert rows.tolist() == [[1, 9, 2]] and scores.tolist() == [[4.0, 4.0, 2.0]]
    scores, rows = K.unpack(K.merge([a], 3))
    assert rows.tolist() == [[1, 0, -1]]
