"""DualEncoder: pooling, ANCE head, normalisation, scores, tokenisation, fingerprint staleness."""

from __future__ import annotations

import pytest
import torch

from ance_core.config.schema import ModelConfig
from ance_core.model import EncoderSpec, load_encoder


def _hidden(encoder, batch):
    tower = encoder.passage_tower
    return tower.backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state


@torch.no_grad()
def test_cls_pooling_takes_the_first_token(tiny_model_dir, tiny_texts):
    encoder = load_encoder(str(tiny_model_dir), ModelConfig(pooling="cls", normalize=False))
    batch = encoder.tokenize(tiny_texts[:4], "passage")
    got = encoder.encode(batch["input_ids"], batch["attention_mask"], "passage")
    torch.testing.assert_close(got, _hidden(encoder, batch)[:, 0])


@torch.no_grad()
def test_mean_pooling_ignores_padding(tiny_model_dir, tiny_texts):
    encoder = load_encoder(str(tiny_model_dir), ModelConfig(pooling="mean", normalize=False))
    texts = [tiny_texts[4], tiny_texts[3]]  # a short and a long text: the short one is padded
    batch = encoder.tokenize(texts, "passage")
    assert batch["attention_mask"][0].sum() < batch["attention_mask"].shape[1]
    got = encoder.encode(batch["input_ids"], batch["attention_mask"], "passage")
    # Encoding the short text alone (no padding) must give the same vector.
    alone = encoder.tokenize(texts[:1], "passage")
    ref = _hidden(encoder, alone)[0].mean(0)
    torch.testing.assert_close(got[0], ref, atol=1e-5, rtol=1e-4)


@torch.no_grad()
def test_ance_head_is_linear_then_layernorm(tiny_model_dir, tiny_texts):
    encoder = load_encoder(str(tiny_model_dir), ModelConfig(ance_head=True, head_dim=24))
    assert encoder.dim == 24
    batch = encoder.tokenize(tiny_texts[:3], "query")
    got = encoder.encode(batch["input_ids"], batch["attention_mask"], "query")
    head = encoder.passage_tower.head
    expected = head.norm(head.embeddingHead(_hidden(encoder, batch)[:, 0]))
    torch.testing.assert_close(got, expected)
    assert got.shape == (3, 24)
    # LayerNorm output: zero mean, unit variance per row (weights start at 1/0).
    torch.testing.assert_close(got.mean(-1), torch.zeros(3), atol=1e-5, rtol=0)


@torch.no_grad()
def test_normalize_gives_unit_vectors_and_cosine_score(tiny_bert_dir, tiny_texts):
    encoder = load_encoder(str(tiny_bert_dir), ModelConfig(normalize=True))
    emb = encoder.encode_texts(tiny_texts[:5], "passage")
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(5))
    # cosine normalises whatever the model's own default, so that the index's inner product is the cosine too
    cosine = load_encoder(str(tiny_bert_dir), ModelConfig(similarity="cosine"))
    assert cosine.spec.normalize
    raw = load_encoder(str(tiny_bert_dir), ModelConfig(normalize=False))
    q, p = raw.encode_texts(tiny_texts[:2], "query"), raw.encode_texts(tiny_texts[2:5], "passage")
    expected = torch.nn.functional.cosine_similarity(q[:, None], p[None], dim=-1)
    q, p = cosine.encode_texts(tiny_texts[:2], "query"), cosine.encode_texts(tiny_texts[2:5], "passage")
    torch.testing.assert_close(cosine.score(q, p), expected)
    assert cosine.score(q, p).shape == (2, 3)
    with pytest.raises(ValueError, match="similarity 'cosine' needs normalize: true"):
        EncoderSpec(similarity="cosine", normalize=False)


@torch.no_grad()
def test_score_is_dot_product_matrix_and_pairs_its_diagonal(tiny_bert_dir, tiny_texts):
    encoder = load_encoder(str(tiny_bert_dir))
    q = encoder.encode_texts(tiny_texts[:3], "query")
    p = encoder.encode_texts(tiny_texts[3:6], "passage")
    torch.testing.assert_close(encoder.score(q, p), q @ p.T)
    torch.testing.assert_close(encoder.score_pairs(q, p), torch.diagonal(q @ p.T))


def test_tokenize_truncates_to_the_kind_max_length(tiny_model_dir, tiny_texts):
    encoder = load_encoder(str(tiny_model_dir), ModelConfig(query_max_len=5, passage_max_len=9))
    longest = max(tiny_texts, key=len)
    assert encoder.tokenize([longest], "query")["input_ids"].shape == (1, 5)
    assert encoder.tokenize([longest], "passage")["input_ids"].shape == (1, 9)
    # The last kept token is the separator: truncation keeps the special tokens.
    ids = encoder.tokenize([longest], "query")["input_ids"][0]
    assert ids[-1].item() == encoder.tokenizer.sep_token_id


def test_separate_towers_encode_queries_with_the_query_tower(tiny_bert_dir, tiny_texts):
    encoder = load_encoder(str(tiny_bert_dir), ModelConfig(shared_weights=False))
    assert encoder.query_tower is not encoder.passage_tower
    with torch.no_grad():
        for p in encoder.query_tower.parameters():
            p.add_(0.01)
        q = encoder.encode_texts(tiny_texts[:2], "query")
        p = encoder.encode_texts(tiny_texts[:2], "passage")
    assert not torch.allclose(q, p)


def test_every_parameter_gets_a_gradient(tiny_model_dir, tiny_texts):
    """No unused parameters (the HF pooler is dropped): DDP with find_unused_parameters=False works."""
    encoder = load_encoder(str(tiny_model_dir), ModelConfig(ance_head=True))
    encoder.train()
    q = encoder.encode_texts(tiny_texts[:2], "query")
    p = encoder.encode_texts(tiny_texts[2:4], "passage")
    encoder.score(q, p).sum().backward()
    unused = [n for n, p in encoder.named_parameters() if p.grad is None]
    assert unused == []


def test_fingerprint_goes_stale_after_an_optimizer_step(tiny_bert_dir, tiny_texts):
    encoder = load_encoder(str(tiny_bert_dir))
    assert encoder.fingerprint is not None
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=1e-3)
    encoder.encode_texts(tiny_texts[:2], "passage").sum().backward()
    optimizer.step()
    assert encoder.fingerprint is None


def test_spec_rejects_inconsistent_fields():
    with pytest.raises(ValueError, match="head_dim needs ance_head"):
        EncoderSpec(head_dim=16)
    with pytest.raises(ValueError, match="pooling"):
        EncoderSpec(pooling="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown encoder spec fields"):
        EncoderSpec.from_dict({"pooling": "cls", "temperature": 1})
