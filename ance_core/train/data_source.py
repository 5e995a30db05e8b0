"""The experiment's data for training: its DataSource and the train queries that can be trained on."""

from __future__ import annotations

import numpy as np

from ance_core.config import Experiment
from ance_core.data import Collection, DataSource, Qrels, Queries
from ance_core.data.subset import subset_source
from ance_core.errors import InputError


def data_source(experiment: Experiment) -> DataSource:
    """`data.dataset`, or its `data.subset` (built and cached under outputs.root on first use)."""
    return subset_source(experiment)


def train_qrels_queries(
    queries: Queries, qrels: Qrels, collection: Collection, fraction: float, seed: int
) -> tuple[list[str], list[list[int]]]:
    """(qids, positive collection rows) of the queries with a positive in the collection, a seeded fraction."""
    pairs = [(q, pid) for q, qid in enumerate(queries.ids.ids) for pid in qrels.relevant(qid)]
    rows = collection.ids.rows(pid for _, pid in pairs)
    by_query: dict[int, list[int]] = {}
    for (q, _), row in zip(pairs, rows.tolist()):
        if row >= 0:
            by_query.setdefault(q, []).append(row)
    qids = [queries.ids[q] for q in by_query]
    positives = list(by_query.values())
    if not qids:
        raise InputError.single(qrels.path, "qrels", "train queries with a relevant passage in the collection", "none")
    if fraction < 1.0:
        keep = np.sort(np.random.default_rng([seed, 0x51465243]).permutation(len(qids))[: max(1, round(fraction * len(qids)))])
        qids = [qids[i] for i in keep]
        positives = [positives[i] for i in keep]
    return qids, positives
