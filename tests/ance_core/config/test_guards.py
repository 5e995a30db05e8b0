"""Field pairs that would make a study measure something else than it says are refused, with the message a user sees."""

import pytest

from ance_core.config.loader import validate_experiment
from ance_core.errors import InputError


def refused(data: dict) -> str:
    with pytest.raises(InputError) as err:
        validate_experiment({"name": "x", **data}, source="experiments/x.yaml")
    return str(err.value)


def test_evaluating_on_the_training_split_is_refused():
    assert refused({"eval": {"split": "train"}}) == (
        "experiments/x.yaml: eval.split: expected a split other than data.train_split 'train' "
        "(evaluating on the training queries reports training-set metrics), found 'train'"
    )
    assert "eval.split" in refused({"data": {"train_split": "dev"}})  # the default eval split, now trained on
    assert validate_experiment({"name": "x", "data": {"train_split": "dev"}, "eval": {"split": "test"}}).eval.split == "test"


def test_cosine_with_unnormalised_embeddings_is_refused():
    assert refused({"model": {"similarity": "cosine", "normalize": False}}) == (
        "experiments/x.yaml: model.normalize: expected true or null with similarity 'cosine' (the index and the "
        "evaluation rank by inner product, which is the cosine only for normalised embeddings), found false"
    )
    for normalize in (True, None):  # null: cosine makes the encoder normalise (ance_core.model.loading)
        validate_experiment({"name": "x", "model": {"similarity": "cosine", "normalize": normalize}})


def test_a_head_size_without_the_head_is_refused():
    assert refused({"model": {"head_dim": 64}}) == (
        "experiments/x.yaml: model.head_dim: expected null unless ance_head is true (it sizes the ANCE head), found 64"
    )
    assert validate_experiment({"name": "x", "model": {"ance_head": True, "head_dim": 64}}).model.head_dim == 64


def test_more_bm25_negatives_than_bm25_candidates_is_refused_before_any_job():
    assert refused({"warmup": {"bm25_depth": 10, "negatives_per_query": 12}}) == (
        "experiments/x.yaml: warmup.negatives_per_query: expected <= bm25_depth (10), found 12"
    )


def test_negatives_that_do_not_fill_whole_examples_are_refused():
    infonce3 = {"loss": {"kind": "infonce", "negatives_per_query": 3}}
    assert refused({"train": infonce3, "warmup": {"negatives_per_query": 6}}) == (
        "experiments/x.yaml: ance.segment.n: expected a multiple of train.loss.negatives_per_query (3): training "
        "takes 3 per example and would drop the remaining 2, found 20"
    )
    fitting_segment = {"segment": {"kind": "top", "windows": [[0, 21]], "n": 21}}
    assert refused({"train": infonce3, "ance": fitting_segment}) == (
        "experiments/x.yaml: warmup.negatives_per_query: expected a multiple of train.loss.negatives_per_query (3): "
        "training takes 3 per example and would drop the remaining 1, found 4"
    )
    validate_experiment({"name": "x", "train": infonce3, "ance": fitting_segment, "warmup": {"negatives_per_query": 6}})
    # without a warm-up its negatives are never drawn
    validate_experiment({"name": "x", "train": infonce3, "ance": fitting_segment, "warmup": {"enabled": False}})
    validate_experiment({"name": "x"})  # pairwise_nll: one negative per example, any count fits

