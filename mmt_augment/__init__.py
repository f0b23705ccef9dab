"""mmt-augment: MMT (Mixed Mutual Transfer) mixing augmentation for long-tailed data.

Each training sample blends a head sample (drawn instance-uniformly, so the long-tailed
distribution is kept) with a tail sample (drawn by a differential sampler that reverses it).
"""

from mmt_augment import functional
from mmt_augment.kornia_augmentation import RandomMMT
from mmt_augment.long_tailed import ShotSplits, class_counts, make_long_tailed, shot_splits
from mmt_augment.losses import MixedLabels, mixed_cross_entropy
from mmt_augment.samplers import DifferentialBatchSampler, MMTBatchSampler, UniformBatchSampler
from mmt_augment.transforms import MMTMix

__version__ = "0.1.0"

__all__ = [
    "DifferentialBatchSampler",
    "MMTBatchSampler",
    "MMTMix",
    "MixedLabels",
    "RandomMMT",
    "ShotSplits",
    "UniformBatchSampler",
    "class_counts",
    "functional",
    "make_long_tailed",
    "mixed_cross_entropy",
    "shot_splits",
]
