"""Mining: ranking + segment sampling -> negatives-<refresh>.jsonl + stats; the refresh that also evaluates dev."""

from ance_core.mining.mine import Mined, mine, negative_records, positive_scores
from ance_core.mining.refresh import EVAL_DIR, RefreshResult, refresh, sample_fraction, train_positives
from ance_core.mining.stats import margin_stats, negatives_stats, ranking_stats

__all__ = [
    "EVAL_DIR",
    "Mined",
    "RefreshResult",
    "margin_stats",
    "mine",
    "negative_records",
    "negatives_stats",
    "positive_scores",
    "ranking_stats",
    "refresh",
    "sample_fraction",
    "train_positives",
]
