"""Class weightings of the differential (tail) sampler, as pure NumPy maths.

:func:`class_probabilities` turns per-class counts into the tail sampler's class
distribution; :func:`mixed_class_prior` gives the class distribution of the *targets* an MMT
run trains on (head and tail mixed by the head's mean share), the prior that a prior-based loss
(logit adjustment, Balanced Softmax, deferred re-weighting) needs when it is composed with MMT.
:func:`alias_table` and :func:`draw_from_classes` draw classes in O(1) per sample.

Nothing here touches torch or global random state.

Example:
    >>> counts = np.array([100, 10, 1])
    >>> class_probabilities(counts, "balanced").round(3).tolist()
    [0.333, 0.333, 0.333]
    >>> mixed_class_prior(counts, 0.5, head_share=0.5).round(3).tolist()
    [0.486, 0.157, 0.358]
"""

from __future__ import annotations

import numbers

import numpy as np

from mmt_augment._checks import Weighting, check_weighting

__all__ = ["alias_table", "class_probabilities", "draw_from_classes", "mixed_class_prior"]


def _mirrored_counts(counts: np.ndarray) -> np.ndarray:
    """Give each non-empty class the count found at the mirrored rank of the sorted counts.

    With the non-empty counts sorted in decreasing order, the class at rank ``r`` of ``K``
    receives the count at rank ``K - 1 - r``: the largest class gets the smallest count and so
    on. Classes with equal counts receive the mean of their mirrored counts, so the result
    depends only on the counts, not on the class ids. Empty classes get 0.
    """
    nonempty = np.flatnonzero(counts)
    order = nonempty[np.argsort(-counts[nonempty], kind="stable")]
    sorted_counts = counts[order]
    mirrored = sorted_counts[::-1].astype(np.float64)
    _, tie_group, tie_sizes = np.unique(sorted_counts, return_inverse=True, return_counts=True)
    tie_means = np.bincount(tie_group, weights=mirrored) / tie_sizes
    result = np.zeros(len(counts), dtype=np.float64)
    result[order] = tie_means[tie_group]
    return result


def _as_counts(class_counts: object) -> np.ndarray:
    """``class_counts`` as a float64 array after checking it is 1-D, finite, >= 0, not all 0."""
    counts = np.asarray(class_counts)
    if counts.ndim != 1 or counts.size == 0 or counts.dtype == np.bool_ or not np.issubdtype(counts.dtype, np.number):
        raise ValueError(
            f"class_counts must be a non-empty 1-D array of per-class counts, got shape {counts.shape} "
            f"and dtype {counts.dtype}"
        )
    counts = counts.astype(np.float64)
    if not np.all(np.isfinite(counts)) or np.any(counts < 0) or counts.sum() <= 0:
        raise ValueError(f"class_counts must be finite, >= 0 and not all zero, got {counts.tolist()[:8]}")
    return counts


def class_probabilities(class_counts: object, weighting: Weighting = 0.5) -> np.ndarray:
    """The tail sampler's class distribution for per-class counts; empty classes get 0.

    ``"inverse"``: p_c ∝ 1/n_c. ``"reverse"``: p_c ∝ the mirrored count (the largest class
    gets the smallest count and so on). ``"balanced"``: p_c ∝ 1. A float gamma: p_c ∝
    n_c^(-gamma) (0.5, the default of the samplers, is the square-root weighting).

    Args:
        class_counts: ``(C,)`` non-negative per-class counts (a sequence, array or CPU tensor).
        weighting: as :class:`mmt_augment.DifferentialBatchSampler`'s ``weighting``.

    Returns:
        ``(C,)`` float64 probabilities summing to 1.

    Raises:
        ValueError: for counts that are not 1-D, finite, non-negative and not all zero, or an
            unknown weighting name.
        TypeError: for a weighting that is neither a name nor a real number.
    """
    return _probabilities(_as_counts(class_counts), check_weighting(weighting))


def _probabilities(counts: np.ndarray, weighting: Weighting) -> np.ndarray:
    nonempty = counts > 0
    if weighting == "inverse":
        weights = np.where(nonempty, 1.0 / np.maximum(counts, 1), 0.0)
    elif weighting == "reverse":
        weights = _mirrored_counts(counts)
    elif weighting == "balanced":
        weights = nonempty.astype(np.float64)
    else:
        # In log space, shifted so the largest weight is 1: no overflow or underflow to all-zero
        # however large |gamma| is.
        log_weights = -float(weighting) * np.log(counts[nonempty].astype(np.float64))
        weights = np.zeros(len(counts), dtype=np.float64)
        weights[nonempty] = np.exp(log_weights - log_weights.max())
    return weights / weights.sum()


def alias_table(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table for ``probabilities``, built without a Python loop.

    Bucket ``k`` of ``K`` is picked with probability ``1/K``; it returns ``k`` with probability
    ``keep[k]`` and ``alias[k]`` otherwise. Classes with ``K * p < 1`` (donors) give their
    deficit ``1 - K * p`` to classes with ``K * p >= 1`` (receivers). Laying the donors'
    deficits end to end on a line and the receivers' surpluses ``K * p - 1`` likewise, a donor
    aliases the receiver whose surplus interval contains the start of its deficit. A receiver
    that is handed more than its surplus (its last donor straddles the boundary) keeps
    ``1 - overshoot`` and aliases the next receiver, which is Vose's sweep in closed form.

    Returns:
        ``(thresholds, alias)``: ``thresholds[k] = k + keep[k]`` (float64) so a draw
        ``x = K * u`` keeps bucket ``k = floor(x)`` iff ``x < thresholds[k]``; ``alias`` int64.
    """
    num = len(probabilities)
    fills = probabilities * num
    # The tolerance keeps rounding (fills of 1 - 1e-16) from leaving no receiver at all.
    is_donor = fills < 1.0 - 1e-12
    donors = np.flatnonzero(is_donor)
    receivers = np.flatnonzero(~is_donor)
    keep = fills.copy()
    alias = np.arange(num, dtype=np.int64)

    deficit_bounds = np.concatenate(([0.0], np.cumsum(1.0 - fills[donors])))
    deficit_starts = deficit_bounds[:-1]
    surplus_ends = np.cumsum(fills[receivers] - 1.0)
    receiver_of_donor = np.searchsorted(surplus_ends, deficit_starts, side="right")
    receiver_of_donor = np.minimum(receiver_of_donor, len(receivers) - 1)
    alias[donors] = receivers[receiver_of_donor]

    # How far along the deficit line the donors handed to receivers 0..t reach.
    donors_up_to = np.searchsorted(receiver_of_donor, np.arange(len(receivers)), side="right")
    reach = deficit_bounds[donors_up_to]
    overshoot = np.maximum(reach - surplus_ends, 0.0)
    overshoot[-1] = 0.0  # only rounding can leave an overshoot after the last receiver
    keep[receivers] = 1.0 - overshoot
    passes_on = overshoot[:-1] > 0
    alias[receivers[:-1][passes_on]] = receivers[1:][passes_on]

    np.clip(keep, 0.0, 1.0, out=keep)
    return np.arange(num, dtype=np.float64) + keep, alias


def draw_from_classes(
    rng: np.random.Generator,
    num: int,
    thresholds: np.ndarray,
    alias: np.ndarray,
    class_starts: np.ndarray,
    class_sizes: np.ndarray,
    indices_by_class: np.ndarray,
) -> np.ndarray:
    """Draw ``num`` dataset indices: a class from the alias table, then an instance uniformly.

    ``indices_by_class`` lists the dataset indices grouped by class; class ``c`` occupies
    ``[class_starts[c], class_starts[c] + class_sizes[c])``. The instance is
    ``class_starts[c] + floor(u * n_c)`` with ``u`` uniform in ``[0, 1)`` (float64, so exact for
    classes far beyond 2**24 samples; ``u * n_c < n_c`` holds in IEEE arithmetic).

    Returns:
        ``(num,)`` int64 array of dataset indices.
    """
    uniforms = rng.random((2, num))
    bucket_points = uniforms[0]
    bucket_points *= len(thresholds)
    buckets = bucket_points.astype(np.int64)
    classes = np.where(bucket_points < thresholds[buckets], buckets, alias[buckets])
    offsets = uniforms[1]
    offsets *= class_sizes[classes]
    positions = offsets.astype(np.int64)
    positions += class_starts[classes]
    return indices_by_class[positions]


def mixed_class_prior(
    class_counts: object, weighting: Weighting = 0.5, *, head_share: float = 0.5
) -> np.ndarray:
    """Class distribution of the soft targets an MMT run trains on.

    A mixed row's target is ``lam * one_hot(head) + (1 - lam) * one_hot(tail)`` with the head
    drawn instance-uniformly (class ``c`` with probability ``n_c / N``) and the tail from
    :func:`class_probabilities` of ``weighting``. Averaged over rows, class ``c`` receives
    ``head_share * n_c / N + (1 - head_share) * q_c`` of the target mass, with ``head_share``
    the mean of ``lam``. A prior-based long-tail loss composed with MMT must use this prior,
    not the training set's frequencies: the tail stream has already re-balanced the targets,
    and correcting for the training-set prior on top over-corrects.

    Args:
        class_counts: ``(C,)`` non-negative per-class counts of the training set.
        weighting: the tail sampler's weighting (``"inverse"``, ``"reverse"``, ``"balanced"``
            or a float gamma), as given to :class:`mmt_augment.MMTBatchSampler`.
        head_share: the mean head share ``E[lam]`` of a training row, in ``[0, 1]``: 0.5 for
            ``MMTMix``'s symmetric Beta(alpha, alpha) with ``p=1``; ``1 - p / 2`` for a mixing
            probability ``p`` (rows not mixed are all head); 1 gives the training-set prior.

    Returns:
        ``(C,)`` float64 probabilities summing to 1.

    Raises:
        ValueError: for counts that are not a non-empty 1-D array of non-negative numbers with
            a positive sum, or ``head_share`` outside ``[0, 1]``.
        TypeError: for a non-real ``head_share``.
    """
    counts = _as_counts(class_counts)
    weighting = check_weighting(weighting)
    if isinstance(head_share, bool) or not isinstance(head_share, numbers.Real):
        raise TypeError(f"head_share must be a real number in [0, 1], got {type(head_share).__name__} {head_share!r}")
    if not 0.0 <= head_share <= 1.0:
        raise ValueError(f"head_share must be in [0, 1], got {head_share!r}")
    head = counts / counts.sum()
    tail = _probabilities(counts, weighting)
    return head_share * head + (1.0 - head_share) * tail
