"""Ranking losses over query/passage embeddings (closed registry: `train.loss.kind`).

* `pairwise_nll` — ANCE's `rdot_nll`: for every (query, positive, negative) triple,
  a softmax over the two scores [s(q, pos), s(q, neg)]; the loss is the negative
  log-probability of the positive, averaged over triples.
* `infonce` — one positive, k hard negatives and (optionally) every other passage
  in the batch, softmax with a temperature; the label is the query's own positive.

Scores come from a `Scorer` — the `DualEncoder` itself (`score`: every query
against every passage, `score_pairs`: query i against passage i) — so the
losses use the encoder's similarity (dot, or cosine) and never assume one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from ance_core.config.schema import Loss, PairwiseNllLoss


class Scorer(Protocol):
    def score(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor: ...

    def score_pairs(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor: ...


class DotScorer:
    """Dot-product similarity (ANCE's), for callers without an encoder at hand."""

    @staticmethod
    def score(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return q @ p.T

    @staticmethod
    def score_pairs(q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return (q * p).sum(-1)


def pairwise_nll(q: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, scorer: Scorer = DotScorer) -> torch.Tensor:
    """ANCE's rdot_nll. q, pos: (B, d); neg: (B, k, d) — every negative forms its own triple."""
    batch, k, dim = neg.shape
    s_pos = scorer.score_pairs(q, pos)  # (B,)
    s_neg = scorer.score_pairs(q.repeat_interleave(k, 0), neg.reshape(batch * k, dim)).view(batch, k)
    logits = torch.stack([s_pos.unsqueeze(1).expand(batch, k), s_neg], dim=-1)  # (B, k, 2)
    return -F.log_softmax(logits.float(), dim=-1)[..., 0].mean()


def infonce(
    q: torch.Tensor,
    pos: torch.Tensor,
    neg: torch.Tensor,
    scorer: Scorer = DotScorer,
    *,
    temperature: float = 0.05,
    in_batch: bool = True,
) -> torch.Tensor:
    """q, pos: (B, d); neg: (B, k, d). Candidates: own positive + own negatives (+ everyone's)."""
    batch, k, dim = neg.shape
    if in_batch:
        passages = torch.cat([pos, neg.reshape(batch * k, dim)])  # (B + B*k, d): positives first
        logits = scorer.score(q, passages)
        labels = torch.arange(batch, device=q.device)
    else:
        s_pos = scorer.score_pairs(q, pos).unsqueeze(1)
        s_neg = scorer.score_pairs(q.repeat_interleave(k, 0), neg.reshape(batch * k, dim)).view(batch, k)
        logits = torch.cat([s_pos, s_neg], dim=1)
        labels = torch.zeros(batch, dtype=torch.long, device=q.device)
    return F.cross_entropy(logits.float() / temperature, labels)


@dataclass(frozen=True)
class LossFn:
    """A configured loss: `negatives` is how many hard negatives one training example carries."""

    config: Loss

    @property
    def negatives(self) -> int:
        return self.config.negatives_per_example

    def __call__(self, q: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, scorer: Scorer = DotScorer) -> torch.Tensor:
        if isinstance(self.config, PairwiseNllLoss):
            return pairwise_nll(q, pos, neg, scorer)
        return infonce(q, pos, neg, scorer, temperature=self.config.temperature, in_batch=self.config.in_batch)


def build_loss(config: Loss) -> LossFn:
    return LossFn(config)
