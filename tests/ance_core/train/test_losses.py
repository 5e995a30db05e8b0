import math

import pytest
import torch

from ance_core.config.schema import InfoNceLoss, PairwiseNllLoss
from ance_core.train.losses import DotScorer, build_loss, infonce, pairwise_nll


def test_pairwise_nll_matches_ance_rdot_nll_by_hand():
    q = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    pos = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    neg = torch.tensor([[[1.0, 0.0]], [[0.0, 3.0]]])  # one negative each
    # ANCE: logit_matrix = cat([s_pos, s_neg]); lsm = log_softmax; loss = -lsm[:, 0], mean
    s = [(2.0, 1.0), (2.0, 6.0)]
    expected = sum(-(a - math.log(math.exp(a) + math.exp(b))) for a, b in s) / 2
    assert pairwise_nll(q, pos, neg).item() == pytest.approx(expected, rel=1e-6)


def test_pairwise_nll_with_k_negatives_is_the_mean_over_triples():
    torch.manual_seed(0)
    q, pos, neg = torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 5, 4)
    per_triple = [pairwise_nll(q[i : i + 1], pos[i : i + 1], neg[i : i + 1, j : j + 1]) for i in range(3) for j in range(5)]
    assert pairwise_nll(q, pos, neg).item() == pytest.approx(torch.stack(per_triple).mean().item(), rel=1e-6)


def test_infonce_in_batch_uses_other_queries_passages():
    torch.manual_seed(1)
    q, pos, neg = torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 2, 8)
    with_batch = infonce(q, pos, neg, temperature=0.1, in_batch=True)
    alone = infonce(q, pos, neg, temperature=0.1, in_batch=False)
    passages = torch.cat([pos, neg.reshape(8, 8)])
    logits = q @ passages.T / 0.1
    expected = torch.nn.functional.cross_entropy(logits, torch.arange(4))
    assert with_batch.item() == pytest.approx(expected.item(), rel=1e-6)
    own = torch.cat([(q * pos).sum(-1, keepdim=True), torch.einsum("bd,bkd->bk", q, neg)], 1) / 0.1
    assert alone.item() == pytest.approx(torch.nn.functional.cross_entropy(own, torch.zeros(4, dtype=torch.long)).item(), rel=1e-6)
    assert with_batch.item() > alone.item()  # more candidates, same positives: a harder softmax


def test_loss_uses_the_scorer_similarity():
    class Cosine(DotScorer):
        @staticmethod
        def score_pairs(q, p):
            return torch.nn.functional.cosine_similarity(q, p)

    q = torch.tensor([[10.0, 0.0]])
    pos = torch.tensor([[1.0, 0.0]])
    neg = torch.tensor([[[5.0, 0.1]]])
    assert pairwise_nll(q, pos, neg, DotScorer).item() > 1  # dot: the long negative wins
    assert pairwise_nll(q, pos, neg, Cosine).item() < math.log(2)  # cosine: the aligned positive wins


def test_build_loss_registry():
    assert build_loss(PairwiseNllLoss()).negatives == 1
    loss = build_loss(InfoNceLoss(negatives_per_query=3, temperature=0.5))
    assert loss.negatives == 3
    q, pos, neg = torch.randn(2, 4), torch.randn(2, 4), torch.randn(2, 3, 4)
    assert loss(q, pos, neg).item() == pytest.approx(infonce(q, pos, neg, temperature=0.5).item())


def test_gradients_push_positive_up_and_negative_down():
    q = torch.randn(2, 4)
    pos = torch.randn(2, 4, requires_grad=True)
    neg = torch.randn(2, 1, 4, requires_grad=True)
    pairwise_nll(q, pos, neg).backward()
    # d loss / d pos = -(1 - p_pos) q: along -q; d loss / d neg along +q
    assert ((pos.grad * q).sum(-1) < 0).all()
    assert ((neg.grad[:, 0] * q).sum(-1) > 0).all()
