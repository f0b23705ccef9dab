"""Long-tailed dataset utilities: subsets, class counts and many/medium/few-shot groups.

``make_long_tailed`` follows the convention of the LDAM-DRW, BBN and CMO code, so accuracies
measured on its subsets compare with published ones. All functions accept labels as a Python
sequence, a NumPy array or a torch tensor and never modify them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from mmt_augment._checks import LabelsLike, as_label_array, check_int, check_real

__all__ = ["ShotSplits", "class_counts", "make_long_tailed", "shot_splits"]

_PROFILES = ("exp", "step")


def class_counts(labels: LabelsLike, num_classes: int | None = None) -> torch.Tensor:
    """Count the samples of each class.

    Args:
        labels: 1-D sequence, NumPy array or tensor of non-negative integer class indices.
        num_classes: length of the result (empty classes count 0); ``None``: ``max(labels) + 1``.

    Returns:
        ``(num_classes,)`` int64 CPU tensor; entry ``c`` is the number of samples of class ``c``.

    Raises:
        TypeError: if ``labels`` are not integers or ``num_classes`` is not an int.
        ValueError: if ``labels`` are empty, not 1-D or negative, or if ``num_classes`` < 1 or
            does not exceed the largest label.

    Example:
        >>> class_counts([0, 2, 2, 1, 2])
        tensor([1, 1, 3])
        >>> class_counts([0, 2, 2], num_classes=4)
        tensor([1, 0, 2, 0])
    """
    array = as_label_array(labels)
    largest = int(array.max())
    if num_classes is None:
        num_classes = largest + 1
    else:
        num_classes = check_int(num_classes, "num_classes", minimum=1)
        if largest >= num_classes:
            raise ValueError(f"num_classes must exceed every label, got num_classes={num_classes} but labels "
                             f"contain class {largest}")
    counts = np.bincount(array, minlength=num_classes)
    return torch.from_numpy(counts.astype(np.int64, copy=False))


class ShotSplits(NamedTuple):
    """Class ids of the many-, medium- and few-shot groups (int64 tensors, ascending)."""

    many: torch.Tensor
    medium: torch.Tensor
    few: torch.Tensor


def shot_splits(counts: LabelsLike, many: int = 100, few: int = 20) -> ShotSplits:
    """Split classes into the many/medium/few-shot groups used in the long-tailed literature.

    With the defaults (OLTR, Liu et al. 2019): many-shot classes have more than 100 training
    samples, medium-shot classes 20 to 100, few-shot classes fewer than 20 (0 included).

    Args:
        counts: 1-D sequence, array or tensor of per-class training-sample counts, e.g. from
            :func:`class_counts`.
        many: a class with ``count > many`` is many-shot.
        few: a class with ``count < few`` is few-shot; the rest are medium-shot.

    Returns:
        :class:`ShotSplits` ``(many, medium, few)``: ascending int64 tensors of class ids that
        partition ``range(len(counts))``.

    Raises:
        TypeError: if ``counts`` are not integers or ``many``/``few`` are not ints.
        ValueError: if ``counts`` are empty, not 1-D or negative, or if ``few > many`` or
            either threshold is negative.

    Example:
        >>> splits = shot_splits([500, 100, 20, 19, 3])
        >>> splits.many, splits.medium, splits.few
        (tensor([0]), tensor([1, 2]), tensor([3, 4]))
    """
    array = as_label_array(counts, name="counts", what="sample counts")
    many = check_int(many, "many", minimum=0)
    few = check_int(few, "few", minimum=0)
    if few > many:
        raise ValueError(f"few must be <= many, got few={few} and many={many}")
    counts_tensor = torch.from_numpy(array.astype(np.int64))
    return ShotSplits(many=torch.nonzero(counts_tensor > many).flatten(),
                      medium=torch.nonzero((counts_tensor >= few) & (counts_tensor <= many)).flatten(),
                      few=torch.nonzero(counts_tensor < few).flatten())


def _class_quotas(largest_count: int, num_classes: int, imbalance_ratio: float, profile: str) -> list[int]:
    """Samples kept per class, written exactly as in the LDAM-DRW/CMO reference code."""
    imbalance_factor = 1.0 / imbalance_ratio
    if profile == "exp":
        return [int(largest_count * imbalance_factor ** (class_id / (num_classes - 1.0)))
                for class_id in range(num_classes)]
    head = num_classes // 2
    return [int(largest_count)] * head + [int(largest_count * imbalance_factor)] * (num_classes - head)


def make_long_tailed(labels: LabelsLike, imbalance_ratio: float, *, profile: str = "exp",
                     seed: int = 0) -> np.ndarray:
    """Pick a long-tailed subset of a dataset, following the LDAM-DRW/BBN/CMO convention.

    With ``C = max(labels) + 1`` classes and ``n_max`` the size of the largest class:

    - ``profile="exp"``: class ``c`` keeps ``int(n_max * (1 / imbalance_ratio) ** (c / (C - 1)))``
      samples (CIFAR-10 at ratio 100: the example below);
    - ``profile="step"``: the first ``C // 2`` classes keep ``n_max`` samples, the others
      ``int(n_max * (1 / imbalance_ratio))``.

    As in the reference code, one ``numpy.random.RandomState(seed)`` shuffles the ascending
    indices of each class in class order and the first quota are kept (all, if fewer).

    Args:
        labels: 1-D sequence, NumPy array or tensor of the full dataset's class indices (e.g.
            ``dataset.targets``); at least two classes.
        imbalance_ratio: ``n_max / n_min`` of the result, >= 1.
        profile: ``"exp"`` or ``"step"``.
        seed: seed of the ``RandomState``, in ``[0, 2**32)``.

    Returns:
        int64 NumPy array of indices into ``labels`` (class 0's chosen samples, then class 1's,
        ..., the reference code's order), for ``torch.utils.data.Subset(dataset, indices)``.

    Raises:
        TypeError: if ``labels`` are not integers, ``imbalance_ratio`` is not a real number or
            ``seed`` is not an int.
        ValueError: if ``labels`` are empty, not 1-D, negative or of one class, ``imbalance_ratio``
            is below 1 or not finite, ``profile`` is unknown, or ``seed`` is outside ``[0, 2**32)``.

    Example:
        >>> labels = np.repeat(np.arange(10), 5000)  # CIFAR-10 train labels, balanced
        >>> indices = make_long_tailed(labels, 100)
        >>> class_counts(labels[indices]).tolist()
        [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    """
    array = as_label_array(labels)
    imbalance_ratio = check_real(imbalance_ratio, "imbalance_ratio")
    if imbalance_ratio < 1:
        raise ValueError(f"imbalance_ratio must be >= 1, got {imbalance_ratio}")
    if not isinstance(profile, str) or profile not in _PROFILES:
        raise ValueError(f"profile must be one of {_PROFILES}, got {profile!r}")
    seed = check_int(seed, "seed", minimum=0)
    if seed >= 2**32:
        raise ValueError(f"seed must be < 2**32 (numpy.random.RandomState), got {seed}")

    counts = np.bincount(array)
    num_classes = counts.size
    if num_classes < 2:
        raise ValueError(f"labels must contain at least two classes, got only class {num_classes - 1}")
    quotas = _class_quotas(int(counts.max()), num_classes, imbalance_ratio, profile)

    # A stable sort lists each class's indices in ascending order, as np.where(labels == c) does.
    indices_by_class = np.argsort(array, kind="stable")
    class_ends = np.cumsum(counts)
    rng = np.random.RandomState(seed)
    chosen = []
    # One shuffle per class, in class order, so the RandomState stream matches the reference.
    for class_id, quota in enumerate(quotas):
        class_indices = indices_by_class[class_ends[class_id] - counts[class_id] : class_ends[class_id]]
        class_indices = class_indices.astype(np.int64)  # a copy: the shuffle must not touch the sort
        rng.shuffle(class_indices)
        chosen.append(class_indices[:quota])
    return np.concatenate(chosen)
