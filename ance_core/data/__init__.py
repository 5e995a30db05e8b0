"""Data: MS MARCO-layout readers, built-in data sets, subsets, download, token cache."""

from ance_core.data.layout import DataSource, resolve_dataset
from ance_core.data.readers import (
    Collection,
    IdIndex,
    Qrels,
    Queries,
    check_qrels,
    iter_collection,
    load_collection,
    load_qrels,
    load_queries,
)

__all__ = [
    "Collection",
    "DataSource",
    "IdIndex",
    "Qrels",
    "Queries",
    "check_qrels",
    "iter_collection",
    "load_collection",
    "load_qrels",
    "load_queries",
    "resolve_dataset",
]
