"""The original study's negative selection, as the per-query Python loop it was.

A re-implementation, for benchmarking and for checking `counting: legacy`, of
`GenerateNegativePassageID` in the study's `drivers/run_ann_data_gen.py`
(goodluck-hojae/Analysis-for-Negative_Samples-on-ANCE), itself microsoft/ANCE's
`GenerateNegativePassaageID` plus two flags. It keeps the original's per-query
work: a dict lookup of the one positive, a copy of the ranking row, list slices
of numpy scalars, `passage_embedding2id[idx]` per candidate, and the
`neg_pid in negatives` list scan that drops repeated ids.

What each study strategy set (`--topk_training 200 --negative_sample 20`):

  top20           ann_measure_topk_mrr           first 20 non-positives of top_ann_pid[:21]
  bottom20        + bottom_neg + bottom_only     non-positives of top_ann_pid[-20:]
  top20+bottom20  + bottom_neg                   first 40 of top_ann_pid[:21] + top_ann_pid[-20:]
  random20        ann_measure_topk_mrr off       shuffle all 200, first 20 non-positives

Two details of the original are kept on purpose: the positive is matched against
one id per query (its qrels loader kept the last relevant passage of each
query), and ranks are counted before the positive is dropped. One is not: in
random mode the study's function reads `count_negative_sample`, which only the
top mode sets (a NameError); like ANCE's own function we use `negative_sample`.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

# Flags the study passed for each strategy (argparse names of run_ann_data_gen.py).
STUDY_FLAGS = {
    "top20": dict(ann_measure_topk_mrr=True, bottom_neg=False, bottom_only=False),
    "bottom20": dict(ann_measure_topk_mrr=True, bottom_neg=True, bottom_only=True),
    "top20+bottom20": dict(ann_measure_topk_mrr=True, bottom_neg=True, bottom_only=False),
    "random20": dict(ann_measure_topk_mrr=False, bottom_neg=False, bottom_only=False),
}


def study_args(strategy: str, negative_sample: int = 20) -> SimpleNamespace:
    return SimpleNamespace(negative_sample=negative_sample, **STUDY_FLAGS[strategy])


def generate_negative_passage_id(
    args, query_embedding2id, passage_embedding2id, training_query_positive_id, nearest, effective_q_id
):
    """{query_id: [negative pid, ...]} and the ANN MRR@10 the original printed on the side."""
    negatives_of = {}
    mrr = 0.0
    num_queries = 0
    for query_idx in range(nearest.shape[0]):
        query_id = query_embedding2id[query_idx]
        if query_id not in effective_q_id or query_id not in training_query_positive_id:
            continue
        num_queries += 1
        pos_pid = training_query_positive_id[query_id]
        top_ann_pid = nearest[query_idx, :].copy()

        wanted = args.negative_sample
        if args.ann_measure_topk_mrr:
            selected = list(top_ann_pid[: args.negative_sample + 1])
            if args.bottom_neg:
                selected.extend(top_ann_pid[-args.negative_sample :])
                wanted = 2 * args.negative_sample
            if args.bottom_neg and args.bottom_only:
                selected = list(top_ann_pid[-args.negative_sample :])
        else:
            order = list(range(nearest.shape[1]))
            random.shuffle(order)
            selected = top_ann_pid[order]

        negatives = negatives_of[query_id] = []
        taken = 0
        rank = 0
        for idx in selected:
            neg_pid = passage_embedding2id[idx]
            rank += 1
            if neg_pid == pos_pid:
                if rank <= 10:
                    mrr += 1 / rank
                continue
            if neg_pid in negatives:
                continue
            if taken >= wanted:
                break
            negatives.append(neg_pid)
            taken += 1
    return negatives_of, mrr / max(num_queries, 1)
