"""Class weightings of the differential (tail) sampler, as pure NumPy maths.

:func:`class_probabilities` turns per-class counts into the tail sampler's class distribution;
:func:`mixed_class_prior` gives the class distribution of the *targets* an MMT run trains on, the
prior a prior-based loss needs when composed with MMT, and :func:`mean_head_share` the head's mean
share it takes. :func:`alias_table` and :func:`draw_from_classes` draw classes in O(1) per sample.
Nothing here touches global random state.

Example:
    >>> counts = np.array([100, 10, 1])
    >>> class_probabilities(counts, "balanced").round(3).tolist()
    [0.333, 0.333, 0.333]
    >>> mixed_class_prior(counts, 0.5, head_share=0.5).round(3).tolist()
    [0.486, 0.157, 0.358]
"""

from __future__ import annotations

import numpy as np

from mmt_augment._checks import Weighting, check_real, check_weighting, read_array, sum_safe_scale

__all__ = ["alias_table", "class_probabilities", "draw_from_classes", "mixed_class_prior"]


def _mirrored_counts(counts: np.ndarray) -> np.ndarray:
    """Give each non-empty class the count at the mirrored rank (``K - 1 - r``) of the sorted counts.

    Tied classes receive the mean of their mirrored counts, so the result depends only on the
    counts, not on the class ids. Empty classes get 0.
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
    """``class_counts`` as a float64 array after checking it is 1-D, finite, >= 0, not all 0.

    Counts whose sum overflows are scaled by a power of two, which keeps every ratio exact.
    """
    expected = "a non-empty 1-D array of per-class counts"
    counts = read_array(class_counts, "class_counts", expected)
    if counts.ndim != 1 or counts.size == 0 or counts.dtype == np.bool_ or not np.issubdtype(counts.dtype, np.number):
        raise ValueError(f"class_counts must be {expected}, got shape {counts.shape} and dtype {counts.dtype}")
    counts = counts.astype(np.float64)
    with np.errstate(over="ignore"):
        total = counts.sum()
    if not np.all(np.isfinite(counts)) or np.any(counts < 0) or total <= 0:
        raise ValueError(f"class_counts must be finite, >= 0 and not all zero, got {counts.tolist()[:8]}")
    if not np.isfinite(total):
        counts = counts * sum_safe_scale(len(counts))  # finite counts whose sum overflows
    return counts


def class_probabilities(class_counts: object, weighting: Weighting = 0.5) -> np.ndarray:
    """The tail sampler's class distribution for per-class counts; empty classes get 0.

    Any finite counts and gamma give finite probabilities: a gamma so large that n_c^(-gamma)
    overflows puts all the mass on the extreme classes.

    Args:
        class_counts: ``(C,)`` non-negative per-class counts (a sequence, array or CPU tensor),
            fractional too.
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
    """Normalised class weights for non-negative finite counts whose sum is finite."""
    nonempty = counts > 0
    if weighting == "inverse":
        weights = np.zeros(len(counts), dtype=np.float64)
        with np.errstate(over="ignore"):
            weights[nonempty] = 1.0 / counts[nonempty]
            total = weights.sum()
        if not np.isfinite(total):
            # Counts so small that 1 / n_c (or the sum) overflows: the log-space form of gamma = 1.
            weights = _power_weights(counts, nonempty, 1.0)
    elif weighting == "reverse":
        weights = _mirrored_counts(counts)
    elif weighting == "balanced":
        weights = nonempty.astype(np.float64)
    else:
        weights = _power_weights(counts, nonempty, float(weighting))
    return weights / weights.sum()


def _power_weights(counts: np.ndarray, nonempty: np.ndarray, gamma: float) -> np.ndarray:
    """``n_c ** -gamma`` for the non-empty classes (0 elsewhere), scaled so the largest is 1.

    In log space, so nothing overflows or underflows to all-zero however large ``|gamma|`` is.
    """
    log_counts = np.log(counts[nonempty].astype(np.float64))
    weights = np.zeros(len(counts), dtype=np.float64)
    with np.errstate(over="ignore"):
        log_weights = -gamma * log_counts
        if np.all(np.isfinite(log_weights)):
            # A difference that overflows is -inf, a weight of 0: the largest stays exp(0) = 1.
            weights[nonempty] = np.exp(log_weights - log_weights.max())
            return weights
        # gamma * log(n_c) overflows: shift the logs to the class of largest weight first, so
        # every exponent is <= 0 and none is NaN.
        reference = log_counts.min() if gamma > 0 else log_counts.max()
        weights[nonempty] = np.exp(-gamma * (log_counts - reference))
    return weights


def alias_table(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table for ``probabilities``, built without a Python loop.

    Bucket ``k`` of ``K`` is picked with probability ``1/K``; it returns ``k`` with probability
    ``keep[k]`` and ``alias[k]`` otherwise. With the donors' deficits ``1 - K * p`` laid end to
    end on a line and the receivers' surpluses ``K * p - 1`` likewise, a donor aliases the
    receiver whose surplus interval holds the start of its deficit; a receiver handed more than
    its surplus keeps ``1 - overshoot`` and aliases the next: Vose's sweep in closed form.

    Returns:
        ``(thresholds, alias)``: ``thresholds[k] = k + keep[k]`` (float64) so a draw
        ``x = K * u`` keeps bucket ``k = floor(x)`` iff ``x < thresholds[k]``; ``alias`` int64.

    Raises:
        ValueError: unless ``probabilities`` is a non-empty 1-D array of finite values >= 0
            summing to 1 (within 1e-9): a table of anything else would draw wrong classes.
    """
    if (not isinstance(probabilities, np.ndarray) or probabilities.ndim != 1 or probabilities.size == 0
            or not np.all(np.isfinite(probabilities)) or np.any(probabilities < 0)
            or not abs(float(probabilities.sum()) - 1.0) <= 1e-9):
        got = probabilities.tolist()[:8] if isinstance(probabilities, np.ndarray) else type(probabilities).__name__
        raise ValueError(f"probabilities must be a non-empty 1-D array of finite values >= 0 that sum to 1, "
                         f"got {got}")
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


def draw_from_classes(rng: np.random.Generator, num: int, thresholds: np.ndarray, alias: np.ndarray,
                      class_starts: np.ndarray, class_sizes: np.ndarray,
                      indices_by_class: np.ndarray) -> np.ndarray:
    """Draw ``num`` dataset indices: a class from the alias table, then an instance uniformly.

    ``indices_by_class`` lists the dataset indices grouped by class, class ``c`` from
    ``class_starts[c]``; the instance is ``class_starts[c] + floor(u * n_c)`` with ``u`` uniform in
    ``[0, 1)`` (float64: exact far beyond 2**24 samples, and ``u * n_c < n_c`` in IEEE arithmetic).

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


def mixed_class_prior(class_counts: object, weighting: Weighting = 0.5, *,
                      head_share: float = 0.5) -> np.ndarray:
    """Class distribution of the soft targets an MMT run trains on.

    With the head drawn instance-uniformly and the tail from :func:`class_probabilities`, class
    ``c`` receives ``head_share * n_c / N + (1 - head_share) * q_c`` of the target mass. A
    prior-based long-tail loss composed with MMT must use this prior, not the training set's:
    the tail stream has already re-balanced the targets, and correcting again over-corrects.
    An empty class gets prior 0 (:func:`mmt_augment.logit_adjustment` floors it).

    Args:
        class_counts: ``(C,)`` non-negative per-class counts of the training set.
        weighting: the tail sampler's weighting, as given to :class:`mmt_augment.MMTBatchSampler`.
        head_share: the mean head share ``E[lam]`` of a training row, in ``[0, 1]`` (1 gives the
            training-set prior): ``1 - p / 2`` for MixUp; :func:`mean_head_share` gives it for
            any ``MMTMix`` configuration.

    Returns:
        ``(C,)`` float64 probabilities summing to 1.

    Raises:
        ValueError: for counts that are not a non-empty 1-D array of non-negative numbers with
            a positive sum, or ``head_share`` outside ``[0, 1]``.
        TypeError: for a non-real ``head_share``.
    """
    counts = _as_counts(class_counts)
    weighting = check_weighting(weighting)
    # Validated only: a NumPy float32 share computes in float32 below, and its bits must not change.
    check_real(head_share, "head_share", low=0.0, high=1.0)
    head = counts / counts.sum()
    tail = _probabilities(counts, weighting)
    return head_share * head + (1.0 - head_share) * tail
