"""Rank-segment samplers: which ranked candidates become a query's negatives (the study).

    from ance_core.sampling import PositiveSets, sample_negatives, refresh_seed
    result = sample_negatives(segment, candidate_ids, PositiveSets.from_csr(offsets, pos_ids),
                              seed=refresh_seed(experiment_seed, refresh))

See docs/SAMPLING.md for what ranks mean under each counting and how `legacy`
reproduces the original study's code.
"""

from ance_core.sampling.positives import PositiveSets
from ance_core.sampling.sample import SampledNegatives, refresh_seed, sample_negatives
from ance_core.sampling.segments import STUDY_STRATEGIES, in_windows, study_segment

__all__ = [
    "STUDY_STRATEGIES",
    "PositiveSets",
    "SampledNegatives",
    "in_windows",
    "refresh_seed",
    "sample_negatives",
    "study_segment",
]
