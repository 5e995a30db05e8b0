"""Top-K inner-product search: our blocked exact search on CPU, faiss flat/IVF/HNSW, faiss on GPUs."""

from ance_core.index.blocked import BlockedParams, blocked_search
from ance_core.index.faiss_index import FaissParams, faiss_gpus, faiss_search
from ance_core.index.search import SearchResult, choose_engine, search

__all__ = [
    "BlockedParams",
    "FaissParams",
    "SearchResult",
    "blocked_search",
    "choose_engine",
    "faiss_gpus",
    "faiss_search",
    "search",
]
