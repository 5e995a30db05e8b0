"""Token cache: exact ids, reuse without rebuilding, invalidation, atomic builds."""

from __future__ import annotations

import numpy as np
import pytest

from ance_core.data import tokcache
from ance_core.data.tokcache import (
    content_digest,
    open_token_cache,
    token_cache,
    token_dtype,
    tokenize_texts,
    tokenizer_fingerprint,
)
from ance_core.errors import InputError
from ance_core.model import load_encoder
from helpers.tiny_models import write_tiny_collection


def _long_texts(texts: list[str]) -> list[str]:
    """Texts long enough for the cut-at-a-space shortcut, with runs of spaces and tabs-free oddities."""
    joined = "  ".join(texts)
    return [joined, joined.replace(" ", "   "), "x" * 500 + " tail", "word " * 300, "short"]


@pytest.fixture
def tokenizer(tiny_model_dir):
    return load_encoder(str(tiny_model_dir)).tokenizer


@pytest.mark.parametrize("max_len", [8, 16, 64])
def test_ids_equal_the_hf_tokenizer_call(tokenizer, tiny_texts, max_len):
    texts = tiny_texts + _long_texts(tiny_texts)
    got = tokenize_texts(tokenizer, texts, max_len)
    expected = tokenizer(texts, truncation=True, max_length=max_len)["input_ids"]
    assert [got.row(i).tolist() for i in range(len(texts))] == expected
    assert got.tokens.dtype == np.uint16


def test_ids_equal_the_hf_tokenizer_on_debian_passages(debian_corpus_dir):
    from ance_core.data import iter_collection

    texts = []
    for _, _, text in iter_collection(debian_corpus_dir / "collection.tsv.gz"):
        texts.append(text)
        if len(texts) == 400:
            break
    texts.sort(key=len)
    texts = texts[-100:]  # the longest: they take the cut path
    minilm = load_encoder("minilm").tokenizer
    got = tokenize_texts(minilm, texts, 128)
    expected = minilm(texts, truncation=True, max_length=128)["input_ids"]
    assert [got.row(i).tolist() for i in range(len(texts))] == expected


def test_padded_batches_pad_to_their_own_longest(tokenizer, tiny_texts):
    tok = tokenize_texts(tokenizer, tiny_texts, 32)
    rows = np.array([4, 9])  # "text editor", "a small shell": both short
    ids, mask = tok.padded(rows)
    assert ids.shape == (2, int(tok.lengths[rows].max()))
    assert mask.sum(1).tolist() == tok.lengths[rows].tolist()
    assert (ids[mask == 0] == tokenizer.pad_token_id).all()
    assert ids[0, : tok.lengths[4]].tolist() == tok.row(4).tolist()


def test_token_dtype_widens_for_large_vocabularies():
    assert token_dtype(30522) == np.uint16
    assert token_dtype(65536) == np.uint16
    assert token_dtype(250002) == np.int32  # XLM-R


def test_cache_is_reused_not_rebuilt(tokenizer, tmp_path, monkeypatch):
    path = write_tiny_collection(tmp_path / "data", gz=True)
    first = token_cache(tokenizer, path, tmp_path / "cache", 16)
    assert first.ids.ids[:2] == ["100", "101"] and len(first) == 16
    expected = tokenizer(tokcache_texts(path), truncation=True, max_length=16)["input_ids"]
    assert [first.row(i).tolist() for i in range(len(first))] == expected

    def no_build(*args, **kwargs):
        raise AssertionError("the cache was rebuilt")

    monkeypatch.setattr(tokcache, "_build", no_build)
    again = token_cache(tokenizer, path, tmp_path / "cache", 16)
    assert again.path == first.path
    assert np.array_equal(np.asarray(again.tokens), np.asarray(first.tokens))


def tokcache_texts(path):
    from ance_core.data import iter_collection

    return [text for _, _, text in iter_collection(path)]


def test_cache_is_invalidated_by_content_max_len_and_tokenizer(tiny_bert_dir, tiny_roberta_dir, tmp_path):
    bert = load_encoder(str(tiny_bert_dir)).tokenizer
    path = write_tiny_collection(tmp_path / "data")
    base = token_cache(bert, path, tmp_path / "cache", 16)
    assert token_cache(bert, path, tmp_path / "cache", 32).path != base.path
    roberta = load_encoder(str(tiny_roberta_dir)).tokenizer
    assert tokenizer_fingerprint(roberta) != tokenizer_fingerprint(bert)
    assert token_cache(roberta, path, tmp_path / "cache", 16).path != base.path
    write_tiny_collection(tmp_path / "data", ["a different first passage"] + [f"p {i}" for i in range(3)])
    changed = token_cache(bert, path, tmp_path / "cache", 16)
    assert changed.path != base.path and len(changed) == 4
    assert changed.row(0).tolist() == bert(["a different first passage"], truncation=True, max_length=16)["input_ids"][0]


def test_fingerprint_ignores_the_tokenizers_truncation_state(tokenizer, tiny_texts):
    before = tokenizer_fingerprint(tokenizer)
    tokenizer(tiny_texts, truncation=True, max_length=7, padding="longest")  # leaves state on the backend
    assert tokenizer_fingerprint(tokenizer) == before


def test_a_killed_build_leaves_no_cache_that_looks_complete(tokenizer, tmp_path, monkeypatch):
    path = write_tiny_collection(tmp_path / "data")
    monkeypatch.setattr(tokcache, "CHUNK_ROWS", 4)
    real = tokcache._encode_ids
    calls = {"n": 0}

    def dies_on_the_third_chunk(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(tokcache, "_encode_ids", dies_on_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        token_cache(tokenizer, path, tmp_path / "cache", 16)
    key = tokcache.cache_key(tokenizer, path, 16, tmp_path / "cache" / "digests")
    directory = tokcache._cache_dir(tmp_path / "cache", key)
    assert open_token_cache(directory, key) is None and not directory.exists()
    monkeypatch.setattr(tokcache, "_encode_ids", real)
    assert len(token_cache(tokenizer, path, tmp_path / "cache", 16)) == 16


def test_duplicate_ids_are_an_input_error(tokenizer, tmp_path):
    path = tmp_path / "collection.tsv"
    path.write_text("1\tfirst\n2\tsecond\n1\tagain\n")
    with pytest.raises(InputError, match="line 3.*first at line 1"):
        token_cache(tokenizer, path, tmp_path / "cache", 16)


def test_content_digest_is_memoised_and_follows_changes(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("1\tone\n")
    first = content_digest(path, tmp_path / "memo")
    assert len(list((tmp_path / "memo").iterdir())) == 1
    assert content_digest(path, tmp_path / "memo") == first
    path.write_text("1\ttwo\n")
    assert content_digest(path, tmp_path / "memo") != first
