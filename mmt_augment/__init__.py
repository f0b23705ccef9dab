"""mmt-augment: MMT (Mixed Mutual Transfer) mixing augmentation for long-tailed data.

Each training sample blends a head sample (drawn instance-uniformly, so the long-tailed
distribution is kept) with a tail sample (drawn by a differential sampler that reverses it).
"""

from mmt_augment import functional, weighting
from mmt_augment.long_tailed import ShotSplits, class_counts, make_long_tailed, shot_splits
from mmt_augment.losses import (
    MixedLabels,
    class_balanced_weights,
    class_weighted_cross_entropy,
    logit_adjusted_cross_entropy,
    logit_adjustment,
    mixed_cross_entropy,
    remix_labels,
)
from mmt_augment.params import mean_head_share
from mmt_augment.samplers import DifferentialBatchSampler, MMTBatchSampler, UniformBatchSampler
from mmt_augment.transforms import MMTMix
from mmt_augment.weighting import class_probabilities, mixed_class_prior

__version__ = "0.2.0"


def __getattr__(name: str) -> object:
    # RandomMMT subclasses a kornia class: import kornia only when it is first used.
    if name == "RandomMMT":
        try:
            from mmt_augment.kornia_augmentation import RandomMMT
        except ModuleNotFoundError as error:
            if error.name is None or not error.name.startswith("kornia"):
                raise
            raise ImportError("RandomMMT needs kornia, which is not installed: "
                              "pip install 'mmt-augment[kornia]' (or kornia)") from error

        globals()["RandomMMT"] = RandomMMT
        return RandomMMT
    raise AttributeError(f"module 'mmt_augment' has no attribute {name!r}")

__all__ = ["DifferentialBatchSampler", "MMTBatchSampler", "MMTMix", "MixedLabels", "RandomMMT", "ShotSplits",
           "UniformBatchSampler", "class_balanced_weights", "class_weighted_cross_entropy", "class_counts",
           "class_probabilities", "functional", "logit_adjusted_cross_entropy", "logit_adjustment",
           "make_long_tailed", "mean_head_share", "mixed_class_prior", "mixed_cross_entropy", "remix_labels",
           "shot_splits", "weighting"]
