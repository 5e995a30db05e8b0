"""The dual encoder: backbone -> pooling -> optional ANCE head -> optional L2 normalisation.

ANCE's `RobertaDot_NLL_LN` takes the first token's last hidden state and feeds it
through `embeddingHead` (Linear) and `norm` (LayerNorm); the head here keeps
those attribute names so that ANCE's released checkpoints load unchanged.
Sentence-transformers models such as all-MiniLM-L6-v2 use mean pooling and
L2-normalise instead; `EncoderSpec` says which recipe a checkpoint uses.

`forward` is `encode`, so a `DistributedDataParallel` wrapper sees every call.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

Kind = Literal["query", "passage"]
KINDS: tuple[Kind, ...] = ("query", "passage")
# The ANCE head of a model that does not ship one starts from this seed, so that
# the same (model, spec) always gives the same untrained head, and the same
# embedding-cache key (`loading.encoder_fingerprint`) stays honest.
HEAD_INIT_SEED = 0


@dataclass(frozen=True)
class EncoderSpec:
    """How embeddings are made from a backbone; saved as `encoder.json` in every checkpoint."""

    pooling: Literal["cls", "mean"] = "cls"
    normalize: bool = False
    ance_head: bool = False
    head_dim: int | None = None
    similarity: Literal["dot", "cosine"] = "dot"
    shared_weights: bool = True
    query_max_len: int = 32
    passage_max_len: int = 128

    def __post_init__(self) -> None:
        if self.pooling not in ("cls", "mean"):
            raise ValueError(f"pooling 'cls' or 'mean', found {self.pooling!r}")
        if self.similarity not in ("dot", "cosine"):
            raise ValueError(f"similarity 'dot' or 'cosine', found {self.similarity!r}")
        if self.head_dim is not None and not self.ance_head:
            raise ValueError("head_dim needs ance_head: true")
        if self.similarity == "cosine" and not self.normalize:
            # The index and the evaluation rank by inner product: cosine needs unit vectors everywhere.
            raise ValueError("similarity 'cosine' needs normalize: true")
        for name in ("query_max_len", "passage_max_len"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} >= 2 (room for the special tokens), found {getattr(self, name)}")

    def max_len(self, kind: Kind) -> int:
        return self.query_max_len if kind == "query" else self.passage_max_len

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EncoderSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown encoder spec fields {unknown}")
        return cls(**data)

    def identity(self) -> str:
        """The fields that change embedding values (not the truncation lengths: caches key those separately)."""
        fields = self.to_dict()
        fields.pop("query_max_len")
        fields.pop("passage_max_len")
        return json.dumps(fields, sort_keys=True)


class AnceHead(nn.Module):
    """ANCE's projection: Linear then LayerNorm (attribute names as in RobertaDot_NLL_LN)."""

    def __init__(self, hidden_size: int, dim: int, init_std: float = 0.02):
        super().__init__()
        self.embeddingHead = nn.Linear(hidden_size, dim)
        self.norm = nn.LayerNorm(dim)
        generator = torch.Generator().manual_seed(HEAD_INIT_SEED)
        with torch.no_grad():
            # HF's `_init_weights` for Linear, but from a fixed seed (see HEAD_INIT_SEED).
            self.embeddingHead.weight.copy_(torch.randn(dim, hidden_size, generator=generator) * init_std)
            self.embeddingHead.bias.zero_()

    def forward(self, pooled: Tensor) -> Tensor:
        return self.norm(self.embeddingHead(pooled))


class Tower(nn.Module):
    """One side of the dual encoder: a HF backbone and its optional head."""

    def __init__(self, backbone: nn.Module, head: AnceHead | None):
        super().__init__()
        self.backbone = backbone
        self.head = head


def pool(hidden: Tensor, attention_mask: Tensor, how: str) -> Tensor:
    """cls: the first token (right padding, so it is always real); mean: masked average."""
    if how == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    # Same clamp as sentence-transformers, so a (theoretical) empty row gives zeros, not NaN.
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class DualEncoder(nn.Module):
    """Query and passage encoder (one shared tower, as in ANCE, or two).

    `fingerprint` identifies the weights + spec for the embedding cache. It is
    set by `load_encoder`/`save_encoder` and reads None once any parameter has
    been modified in place since (an optimizer step), so a trained-but-unsaved
    encoder can never reuse embeddings cached for its starting weights.
    """

    def __init__(
        self,
        spec: EncoderSpec,
        tokenizer: Any,
        passage_tower: Tower,
        query_tower: Tower | None = None,
        source: str = "",
    ):
        super().__init__()
        if spec.shared_weights and query_tower is not None:
            raise ValueError("shared_weights: true takes one tower")
        if not spec.shared_weights and query_tower is None:
            raise ValueError("shared_weights: false needs a query tower")
        self.spec = spec
        self.tokenizer = tokenizer
        # Right padding keeps token 0 real for cls pooling.
        self.tokenizer.padding_side = "right"
        self.passage_tower = passage_tower
        if query_tower is not None:
            self.separate_query_tower = query_tower
        self.source = source
        self._fingerprint: str | None = None
        self._fingerprint_version = -1

    # ------------------------------------------------------------ properties

    @property
    def query_tower(self) -> Tower:
        return self.passage_tower if self.spec.shared_weights else self.separate_query_tower

    def tower(self, kind: Kind) -> Tower:
        if kind not in KINDS:
            raise ValueError(f"kind 'query' or 'passage', found {kind!r}")
        return self.query_tower if kind == "query" else self.passage_tower

    @property
    def dim(self) -> int:
        if self.spec.ance_head:
            return self.passage_tower.head.embeddingHead.out_features  # type: ignore[union-attr]
        return int(self.passage_tower.backbone.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _param_version(self) -> int:
        # Every in-place update (optimizer step, load_state_dict, copy_) bumps a tensor's version counter.
        return sum(p._version for p in self.parameters())

    @property
    def fingerprint(self) -> str | None:
        if self._fingerprint is None or self._param_version() != self._fingerprint_version:
            return None
        return self._fingerprint

    def set_fingerprint(self, fingerprint: str | None) -> None:
        self._fingerprint = fingerprint
        self._fingerprint_version = self._param_version()

    # ------------------------------------------------------------ API

    def tokenize(self, texts: list[str], kind: Kind, max_length: int | None = None) -> dict[str, Tensor]:
        """Padded to the batch's longest text, truncated to that kind's max length."""
        return self.tokenizer(
            list(texts),
            padding="longest",
            truncation=True,
            max_length=max_length or self.spec.max_len(kind),
            return_tensors="pt",
            return_token_type_ids=False,
        )

    def encode(self, input_ids: Tensor, attention_mask: Tensor, kind: Kind = "passage") -> Tensor:
        """(B, L) token ids -> (B, D) embeddings."""
        tower = self.tower(kind)
        hidden = tower.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        emb = pool(hidden, attention_mask, self.spec.pooling)
        if tower.head is not None:
            emb = tower.head(emb)
        if self.spec.normalize:
            emb = nn.functional.normalize(emb, p=2, dim=-1)
        return emb

    def forward(self, input_ids: Tensor, attention_mask: Tensor, kind: Kind = "passage") -> Tensor:
        return self.encode(input_ids, attention_mask, kind)

    def encode_texts(self, texts: list[str], kind: Kind) -> Tensor:
        """Convenience for small inputs (tests, a handful of queries); bulk work goes through `ance_core.encode`."""
        batch = self.tokenize(texts, kind)
        device = self.device
        return self.encode(batch["input_ids"].to(device), batch["attention_mask"].to(device), kind)

    # The scores are inner products, as in the index and the evaluation; a cosine spec normalises in
    # `encode` (EncoderSpec refuses one that does not), so the same product is the cosine.

    def score(self, q: Tensor, p: Tensor) -> Tensor:
        """(Bq, D) x (Bp, D) -> (Bq, Bp) similarity matrix: every query against every passage."""
        return q @ p.transpose(0, 1)

    def score_pairs(self, q: Tensor, p: Tensor) -> Tensor:
        """(B, D) x (B, D) -> (B,): query i against passage i."""
        return (q * p).sum(-1)
