import numpy as np
import pytest

from ance_core.data import IdIndex
from ance_core.data.tokcache import Tokenized
from ance_core.errors import InputError
from ance_core.train.data import Position, build_examples, collate

QUERIES = IdIndex(["q0", "q1", "q2"])
PASSAGES = IdIndex([f"p{i}" for i in range(10)])


def records():
    return [
        {"qid": "q0", "pos": ["p0"], "neg": ["p1", "p2", "p3", "p4", "p5"]},
        {"qid": "q1", "pos": ["p6", "p7"], "neg": ["p8", "p9"]},
        {"qid": "q2", "pos": ["p1"], "neg": []},  # nothing to train on
    ]


def test_one_example_per_query_positive_and_chunk_of_k_negatives():
    pairs = build_examples(records(), QUERIES, PASSAGES, 1, refresh=0, source="f")
    assert len(pairs) == 5 + 2 * 2  # pairwise: a triple per (positive, negative), as ANCE
    groups = build_examples(records(), QUERIES, PASSAGES, 2, refresh=0, source="f")
    assert groups.neg_rows.tolist() == [[1, 2], [3, 4], [8, 9], [8, 9]]  # p5 falls short of a chunk of 2
    assert groups.pos_rows.tolist() == [0, 0, 6, 7] and groups.q_rows.tolist() == [0, 0, 1, 1]


def test_unknown_ids_name_the_file():
    bad = records() + [{"qid": "q1", "pos": ["p0"], "neg": ["nope"]}]
    with pytest.raises(InputError, match="unknown, e.g. 'nope'"):
        build_examples(bad, QUERIES, PASSAGES, 1, refresh=0, source="negatives-3.jsonl")


def test_take_walks_a_seeded_permutation_across_epochs():
    examples = build_examples(records(), QUERIES, PASSAGES, 1, refresh=4, source="f")  # 9 examples
    first, position = examples.take(7, Position(), 6)
    second, position = examples.take(7, position, 6)
    assert position == Position(epoch=1, offset=3)
    epoch0 = examples.order(7, 0)
    assert first.tolist() + second[:3].tolist() == epoch0.tolist()  # each example once per epoch
    assert second[3:].tolist() == examples.order(7, 1)[:3].tolist()
    again, _ = examples.take(7, Position(), 6)
    assert again.tolist() == first.tolist()  # same seed, refresh and position: same examples
    other_refresh = build_examples(records(), QUERIES, PASSAGES, 1, refresh=5, source="f")
    assert other_refresh.order(7, 0).tolist() != epoch0.tolist()


def test_collate_pads_each_side_to_its_longest_row():
    examples = build_examples(records(), QUERIES, PASSAGES, 2, refresh=0, source="f")
    q_tokens = Tokenized(np.arange(1, 10, dtype=np.uint16), np.array([0, 2, 5, 9]), pad_id=0, max_len=8)
    p_tokens = Tokenized(np.arange(1, 31, dtype=np.uint16), np.arange(0, 31, 3), pad_id=0, max_len=8)
    batch = collate(examples, np.array([0, 2]), q_tokens, p_tokens)
    assert batch.size == 2 and batch.negatives == 2
    assert batch.query["input_ids"].tolist() == [[1, 2, 0], [3, 4, 5]]  # q0, q1: padded to the longer
    assert batch.passage["input_ids"].shape == (2 + 2 * 2, 3)  # positives first, then each example's negatives
    assert batch.passage["input_ids"][:2].tolist() == [[1, 2, 3], [19, 20, 21]]  # p0, p6: the positives
    assert batch.passage["input_ids"][2].tolist() == [4, 5, 6]  # p1, example 0's first negative
