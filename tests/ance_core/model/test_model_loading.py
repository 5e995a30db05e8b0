"""Loading/saving: checkpoint round trips, ANCE's own checkpoint layout, fingerprints, MiniLM offline."""

from __future__ import annotations

import json

import pytest
import torch

from ance_core.config.schema import ModelConfig
from ance_core.errors import InputError
from ance_core.io.atomic import is_complete
from ance_core.model import encoder_fingerprint, load_encoder, minilm_path, save_encoder


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(),
        ModelConfig(pooling="mean", normalize=True),
        ModelConfig(ance_head=True, head_dim=16, shared_weights=False, similarity="cosine"),
    ],
    ids=["cls", "mean-norm", "head-two-towers"],
)
def test_save_load_round_trip_gives_identical_embeddings(tiny_model_dir, tiny_texts, tmp_path, cfg):
    encoder = load_encoder(str(tiny_model_dir), cfg)
    with torch.no_grad():  # make the towers and head differ from their starting point
        for i, p in enumerate(encoder.parameters()):
            p.add_(0.001 * (i % 7))
    saved_fp = save_encoder(encoder, tmp_path / "ckpt")
    assert is_complete(tmp_path / "ckpt", verify=True)
    assert encoder.fingerprint == saved_fp  # the in-memory weights are the saved ones
    loaded = load_encoder(str(tmp_path / "ckpt"), ModelConfig(pooling="cls"))  # a checkpoint's own spec wins
    assert loaded.spec == encoder.spec
    assert loaded.fingerprint == saved_fp == encoder_fingerprint(str(tmp_path / "ckpt"))
    with torch.no_grad():
        for kind in ("query", "passage"):
            torch.testing.assert_close(
                loaded.encode_texts(tiny_texts, kind), encoder.encode_texts(tiny_texts, kind), rtol=0, atol=0
            )


def test_checkpoint_layout(tiny_bert_dir, tmp_path):
    encoder = load_encoder(str(tiny_bert_dir), ModelConfig(ance_head=True, shared_weights=False))
    save_encoder(encoder, tmp_path / "ckpt")
    names = {p.relative_to(tmp_path / "ckpt").as_posix() for p in (tmp_path / "ckpt").rglob("*") if p.is_file()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "encoder.json", "COMPLETE",
            "query_tower/model.safetensors", "query_tower/config.json"} <= names
    meta = json.loads((tmp_path / "ckpt" / "encoder.json").read_text())
    assert meta["spec"]["ance_head"] is True and meta["dim"] == 32
    # The backbone is in HF naming, the head under ANCE's names: both HF and ANCE can read it.
    from safetensors import safe_open

    with safe_open(str(tmp_path / "ckpt" / "model.safetensors"), "pt") as handle:
        keys = set(handle.keys())
    assert {"embeddingHead.weight", "norm.weight"} <= keys
    assert "embeddings.word_embeddings.weight" in keys
    assert not any(k.startswith("pooler.") for k in keys)


def test_loads_an_ance_style_checkpoint(tiny_roberta_dir, tiny_texts, tmp_path):
    """microsoft/ANCE's RobertaDot_NLL_LN: `roberta.*` + `embeddingHead.*` + `norm.*` in pytorch_model.bin."""
    import shutil

    reference = load_encoder(str(tiny_roberta_dir), ModelConfig(ance_head=True))
    tower = reference.passage_tower
    with torch.no_grad():
        tower.head.embeddingHead.weight.normal_(generator=torch.Generator().manual_seed(3))
        tower.head.norm.bias.fill_(0.5)
    state = {f"roberta.{k}": v for k, v in tower.backbone.state_dict().items()}
    state.update(tower.head.state_dict())
    ance_dir = tmp_path / "ance-warmup"
    ance_dir.mkdir()
    torch.save(state, ance_dir / "pytorch_model.bin")
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_roberta_dir / name, ance_dir / name)
    loaded = load_encoder(str(ance_dir), ModelConfig(ance_head=True))
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode_texts(tiny_texts, "passage"), reference.encode_texts(tiny_texts, "passage"))


def test_untrained_head_is_the_same_on_every_load(tiny_bert_dir):
    a = load_encoder(str(tiny_bert_dir), ModelConfig(ance_head=True))
    torch.manual_seed(123)  # the global seed must not matter
    b = load_encoder(str(tiny_bert_dir), ModelConfig(ance_head=True))
    torch.testing.assert_close(a.passage_tower.head.state_dict(), b.passage_tower.head.state_dict())
    assert a.fingerprint == b.fingerprint


def test_fingerprint_tracks_value_changing_spec_fields_only(tiny_bert_dir):
    base = encoder_fingerprint(str(tiny_bert_dir))
    assert base == load_encoder(str(tiny_bert_dir)).fingerprint
    assert base == encoder_fingerprint(str(tiny_bert_dir), ModelConfig(passage_max_len=64, query_max_len=16))
    assert base != encoder_fingerprint(str(tiny_bert_dir), ModelConfig(pooling="mean"))
    assert base != encoder_fingerprint(str(tiny_bert_dir), ModelConfig(ance_head=True))


def test_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="existing model folder"):
        load_encoder(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="model.safetensors"):
        load_encoder(str(tmp_path / "empty"))


def test_unknown_hub_name_offline_is_an_input_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="HF hub name"):
        load_encoder("no-such-org/no-such-model-xyz")


def test_minilm_uses_its_own_pooling_and_matches_sentence_transformers():
    st = pytest.importorskip("sentence_transformers", reason="sentence-transformers is a dev dependency")
    encoder = load_encoder("minilm")
    assert (encoder.spec.pooling, encoder.spec.normalize, encoder.dim) == ("mean", True, 384)
    sentences = [
        "apt: commandline package manager",
        "This package provides the rsync utility for fast incremental file transfers over ssh.",
        "GNU C library: shared libraries",
        "",
    ]
    reference = st.SentenceTransformer(str(minilm_path()), device="cpu")
    expected = reference.encode(sentences, convert_to_tensor=True)
    with torch.no_grad():
        got = encoder.encode_texts(sentences, "passage")
    cosine = torch.nn.functional.cosine_similarity(got, expected.to(got.dtype))
    assert cosine.min().item() > 0.999, cosine
    overridden = load_encoder("minilm", ModelConfig(pooling="cls", normalize=False))
    assert (overridden.spec.pooling, overridden.spec.normalize) == ("cls", False)
