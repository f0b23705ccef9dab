"""Specification of the batch samplers (single process; sharding is in test_distributed.py).

Statistical tests use fixed seeds, so they are deterministic; their tolerances are stated as
z-scores: a per-class count ``k`` of ``n`` draws with probability ``p`` must satisfy
``|k - n p| < 5 sqrt(n p (1 - p))`` (a correct sampler fails one class with probability
below 6e-7), and a chi-square statistic with ``df`` degrees of freedom must stay below
``df + 5 sqrt(2 df)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, TensorDataset

from mmt_augment.samplers import DifferentialBatchSampler, MMTBatchSampler, UniformBatchSampler
from mmt_augment.weighting import alias_table as _alias_table

Z_TOLERANCE = 5.0


def exponential_counts(num_classes: int, n_max: int, ratio: float) -> np.ndarray:
    return (n_max * ratio ** (-np.arange(num_classes) / (num_classes - 1))).astype(np.int64)


def shuffled_labels(counts, seed: int = 0) -> np.ndarray:
    labels = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(labels)


def flat(batches) -> np.ndarray:
    return np.array([index for batch in batches for index in batch], dtype=np.int64)


def assert_frequencies_match(drawn_classes: np.ndarray, expected: np.ndarray) -> None:
    """Per-class z-score test of the drawn class counts against ``expected`` probabilities."""
    draws = len(drawn_classes)
    observed = np.bincount(drawn_classes, minlength=len(expected))
    assert len(observed) == len(expected)
    spread = np.sqrt(draws * expected * (1 - expected))
    zero = expected == 0
    assert np.all(observed[zero] == 0), "a class with probability 0 was drawn"
    z_scores = np.abs(observed[~zero] - draws * expected[~zero]) / spread[~zero]
    assert z_scores.max() < Z_TOLERANCE, f"max z-score {z_scores.max():.2f}"


LABELS = shuffled_labels(exponential_counts(10, 300, 30))  # 10 classes, 300 ... 10 samples


# --- UniformBatchSampler ----------------------------------------------------------------------


def test_uniform_visits_every_index_exactly_once_per_epoch():
    sampler = UniformBatchSampler(LABELS, 32, seed=3)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        assert np.array_equal(np.sort(flat(sampler)), np.arange(len(LABELS)))


def test_uniform_batches_are_full_except_a_short_last_one():
    sampler = UniformBatchSampler(np.zeros(103, dtype=np.int64), 10)
    sizes = [len(batch) for batch in sampler]
    assert sizes == [10] * 10 + [3]
    assert len(sampler) == 11


def test_uniform_drop_last_drops_the_short_batch():
    sampler = UniformBatchSampler(np.zeros(103, dtype=np.int64), 10, drop_last=True)
    batches = list(sampler)
    assert [len(batch) for batch in batches] == [10] * 10
    assert len(sampler) == 10
    assert len(set(flat(batches).tolist())) == 100


def test_uniform_yields_lists_of_python_ints():
    batch = next(iter(UniformBatchSampler(LABELS, 8)))
    assert isinstance(batch, list)
    assert all(type(index) is int for index in batch)


def test_uniform_order_is_determined_by_seed_and_epoch():
    first = UniformBatchSampler(LABELS, 16, seed=5)
    second = UniformBatchSampler(LABELS, 16, seed=5)
    first.set_epoch(2)
    second.set_epoch(2)
    assert list(first) == list(second)


def test_uniform_set_epoch_reshuffles():
    sampler = UniformBatchSampler(LABELS, 16, seed=5)
    epoch_zero = flat(sampler)
    sampler.set_epoch(1)
    assert not np.array_equal(flat(sampler), epoch_zero)


def test_uniform_different_seeds_give_different_orders():
    assert not np.array_equal(flat(UniformBatchSampler(LABELS, 16, seed=0)), flat(UniformBatchSampler(LABELS, 16, seed=1)))


def test_uniform_order_is_a_uniform_shuffle():
    # Over 2000 epochs, each of 6 indices lands in each of 6 positions ~2000/6 times.
    sampler = UniformBatchSampler(np.zeros(6, dtype=np.int64), 6)
    positions = np.zeros((6, 6), dtype=np.int64)
    for epoch in range(2000):
        sampler.set_epoch(epoch)
        positions[np.arange(6), next(iter(sampler))] += 1
    assert_frequencies_match(np.repeat(np.arange(36), positions.ravel()), np.full(36, 1 / 36))


@pytest.mark.parametrize("num_samples, batch_size", [(1, 1), (7, 3), (64, 8), (65, 8), (5, 100)])
def test_uniform_len_equals_number_of_batches_yielded(num_samples, batch_size):
    sampler = UniformBatchSampler(np.zeros(num_samples, dtype=np.int64), batch_size)
    assert len(sampler) == len(list(sampler)) == math.ceil(num_samples / batch_size)


def test_uniform_feeds_a_dataloader_as_batch_sampler():
    dataset = TensorDataset(torch.arange(len(LABELS)))
    sampler = UniformBatchSampler(LABELS, 32, seed=1)
    loaded = [batch[0].tolist() for batch in DataLoader(dataset, batch_sampler=sampler)]
    assert loaded == list(sampler)


# --- DifferentialBatchSampler: class probabilities -------------------------------------------


COUNTS = np.array([400, 150, 60, 0, 25, 10, 4], dtype=np.int64)  # class 3 is empty
COUNT_LABELS = shuffled_labels(COUNTS)


def expected_probabilities(counts: np.ndarray, weighting) -> np.ndarray:
    """The issue's formulas, written independently of the implementation."""
    counts = counts.astype(np.float64)
    present = counts > 0
    if weighting == "inverse":
        weights = np.divide(1.0, counts, out=np.zeros_like(counts), where=present)
    elif weighting == "balanced":
        weights = present.astype(np.float64)
    elif weighting == "reverse":  # distinct counts only: class at rank r gets the count at rank K-1-r
        classes = np.flatnonzero(present)
        by_size = classes[np.argsort(-counts[classes])]
        weights = np.zeros_like(counts)
        weights[by_size] = counts[by_size[::-1]]
    else:
        weights = np.where(present, np.power(np.where(present, counts, 1.0), -weighting), 0.0)
    return weights / weights.sum()


@pytest.mark.parametrize("weighting", ["inverse", "reverse", "balanced", 0.5, 2.0, -1.0])
def test_class_probabilities_follow_the_weighting_formula(weighting):
    sampler = DifferentialBatchSampler(COUNT_LABELS, 4, weighting=weighting)
    assert sampler.class_probabilities.dtype == torch.float64
    np.testing.assert_allclose(sampler.class_probabilities.numpy(), expected_probabilities(COUNTS, weighting), rtol=1e-12, atol=0)


def test_empty_classes_get_probability_zero():
    for weighting in ("inverse", "reverse", "balanced", 1.5):
        probabilities = DifferentialBatchSampler(COUNT_LABELS, 4, weighting=weighting).class_probabilities
        assert probabilities[3] == 0


def test_gamma_one_equals_inverse_and_gamma_zero_equals_balanced():
    def probabilities(weighting):
        return DifferentialBatchSampler(COUNT_LABELS, 4, weighting=weighting).class_probabilities
    torch.testing.assert_close(probabilities(1.0), probabilities("inverse"), rtol=1e-12, atol=0)
    torch.testing.assert_close(probabilities(0.0), probabilities("balanced"), rtol=1e-12, atol=0)


def test_gamma_minus_one_is_the_natural_distribution():
    probabilities = DifferentialBatchSampler(COUNT_LABELS, 4, weighting=-1.0).class_probabilities
    np.testing.assert_allclose(probabilities.numpy(), COUNTS / COUNTS.sum(), rtol=1e-12)


def test_large_gamma_does_not_overflow():
    probabilities = DifferentialBatchSampler(COUNT_LABELS, 4, weighting=400.0).class_probabilities
    assert torch.isfinite(probabilities).all()
    assert probabilities[6] == pytest.approx(1.0)


def test_reverse_is_close_to_inverse_for_an_exponential_profile():
    labels = shuffled_labels(exponential_counts(10, 5000, 100))  # CIFAR-10-LT, ratio 100
    reverse = DifferentialBatchSampler(labels, 4, weighting="reverse").class_probabilities
    inverse = DifferentialBatchSampler(labels, 4, weighting="inverse").class_probabilities
    # Equal up to the int() truncation of the class sizes (under 1% here).
    torch.testing.assert_close(reverse, inverse, rtol=0.01, atol=0)


def test_reverse_swaps_head_and_tail_of_a_step_profile():
    counts = np.array([500] * 5 + [5] * 5)
    probabilities = DifferentialBatchSampler(shuffled_labels(counts), 4, weighting="reverse").class_probabilities
    expected = np.array([5] * 5 + [500] * 5) / counts.sum()
    np.testing.assert_allclose(probabilities.numpy(), expected, rtol=1e-12)


def test_reverse_differs_from_inverse_for_an_uneven_step_profile():
    # Two head classes, three tail classes. Sorted: 500, 500, 5, 5, 5; mirrored: 5, 5, 5, 500, 500.
    # Tied classes share the mean of their mirrored counts: head 5, tail (5 + 500 + 500) / 3 = 335.
    counts = np.array([500, 500, 5, 5, 5])
    labels = shuffled_labels(counts)
    reverse = DifferentialBatchSampler(labels, 4, weighting="reverse").class_probabilities
    np.testing.assert_allclose(reverse.numpy(), np.array([5, 5, 335, 335, 335]) / 1015, rtol=1e-12)
    inverse = DifferentialBatchSampler(labels, 4, weighting="inverse").class_probabilities
    np.testing.assert_allclose(inverse.numpy(), np.array([1, 1, 100, 100, 100]) / 302, rtol=1e-12)


def test_reverse_gives_classes_with_equal_counts_equal_probability():
    counts = np.array([10, 10, 5])  # sorted 10, 10, 5; mirrored 5, 10, 10; the tied pair shares 7.5
    probabilities = DifferentialBatchSampler(shuffled_labels(counts), 4, weighting="reverse").class_probabilities
    np.testing.assert_allclose(probabilities.numpy(), np.array([7.5, 7.5, 10]) / 25, rtol=1e-12)


# --- DifferentialBatchSampler: draws ---------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(
        st.one_of(st.just(0.0), st.floats(min_value=1e-9, max_value=1e6, allow_nan=False)), min_size=1, max_size=300
    ).filter(lambda weights: sum(weights) > 0)
)
def test_alias_table_reproduces_any_class_distribution(weights):
    probabilities = np.array(weights) / sum(weights)
    thresholds, alias = _alias_table(probabilities)
    keep = thresholds - np.arange(len(probabilities))
    assert np.all((keep >= 0) & (keep <= 1))
    # Bucket k (probability 1/K) gives k with probability keep[k], alias[k] otherwise.
    implied = keep.copy()
    np.add.at(implied, alias, 1.0 - keep)
    np.testing.assert_allclose(implied / len(probabilities), probabilities, rtol=0, atol=1e-12)
    assert np.all(keep[probabilities == 0] == 0)



@pytest.mark.parametrize("weighting", ["inverse", "reverse", "balanced", 0.5])
def test_drawn_class_frequencies_match_the_probabilities(weighting):
    sampler = DifferentialBatchSampler(COUNT_LABELS, 100, weighting=weighting, num_batches=400, seed=11)
    drawn_classes = COUNT_LABELS[flat(sampler)]
    assert_frequencies_match(drawn_classes, expected_probabilities(COUNTS, weighting))


def test_instances_within_a_class_are_drawn_uniformly():
    labels = np.array([0, 1] * 30 + [1] * 20)  # class 0: 30 samples, class 1: 50, interleaved
    sampler = DifferentialBatchSampler(labels, 100, weighting="balanced", num_batches=600, seed=2)
    drawn = flat(sampler)
    class_zero = np.flatnonzero(labels == 0)
    per_instance = np.bincount(drawn[labels[drawn] == 0], minlength=len(labels))[class_zero]
    chi_square = ((per_instance - per_instance.mean()) ** 2 / per_instance.mean()).sum()
    degrees = len(class_zero) - 1
    assert chi_square < degrees + Z_TOLERANCE * math.sqrt(2 * degrees)
    assert per_instance.min() > 0


def test_differential_draws_a_fresh_stream_each_epoch():
    sampler = DifferentialBatchSampler(COUNT_LABELS, 16, num_batches=4)
    epoch_zero = flat(sampler)
    assert np.array_equal(flat(sampler), epoch_zero)  # same epoch: same draws
    sampler.set_epoch(1)
    assert not np.array_equal(flat(sampler), epoch_zero)


def test_differential_draws_are_determined_by_seed_and_epoch():
    first = DifferentialBatchSampler(COUNT_LABELS, 16, seed=4)
    second = DifferentialBatchSampler(COUNT_LABELS.tolist(), 16, seed=4)
    first.set_epoch(3)
    second.set_epoch(3)
    assert list(first) == list(second)
    assert not np.array_equal(flat(first), flat(DifferentialBatchSampler(COUNT_LABELS, 16, seed=5)))


def test_differential_len_defaults_to_the_uniform_sampler_length():
    assert len(DifferentialBatchSampler(LABELS, 32)) == len(UniformBatchSampler(LABELS, 32))
    sampler = DifferentialBatchSampler(LABELS, 32, num_batches=7)
    batches = list(sampler)
    assert len(sampler) == len(batches) == 7
    assert all(len(batch) == 32 and all(type(index) is int for index in batch) for batch in batches)


def test_differential_works_with_many_classes():
    # iNaturalist 2018 has 8,142 classes; with balanced weighting each is drawn 1/8142 of the time.
    num_classes = 8142
    labels = shuffled_labels(exponential_counts(num_classes, 200, 200))
    sampler = DifferentialBatchSampler(labels, 512, weighting="balanced", num_batches=400, seed=0)
    observed = np.bincount(labels[flat(sampler)], minlength=num_classes)
    expected = len(sampler) * 512 / num_classes
    chi_square = ((observed - expected) ** 2 / expected).sum()
    degrees = num_classes - 1
    assert chi_square < degrees + Z_TOLERANCE * math.sqrt(2 * degrees)


@pytest.fixture(scope="module")
def labels_beyond_2_pow_24():
    # 2**24 + 5 samples (torch.multinomial's category limit is 2**24): class 0 everywhere except
    # the last three indices, class 1.
    labels = np.zeros(2**24 + 5, dtype=np.int64)
    labels[-3:] = 1
    return labels


def test_differential_draws_beyond_2_pow_24_samples(labels_beyond_2_pow_24):
    sampler = DifferentialBatchSampler(labels_beyond_2_pow_24, 1000, weighting="balanced", num_batches=20, seed=0)
    drawn = flat(sampler)
    is_tail = labels_beyond_2_pow_24[drawn] == 1
    assert set(drawn[is_tail].tolist()) == {2**24 + 2, 2**24 + 3, 2**24 + 4}
    assert abs(is_tail.mean() - 0.5) < Z_TOLERANCE * math.sqrt(0.25 / len(drawn))
    # Class 0's instances spread over all of [0, 2**24 + 2): the mean of a uniform draw is N/2.
    head = drawn[~is_tail].astype(np.float64)
    half = (2**24 + 2) / 2
    assert abs(head.mean() - half) < Z_TOLERANCE * (2**24 / math.sqrt(12)) / math.sqrt(len(head))


def test_mmt_sampler_handles_beyond_2_pow_24_samples(labels_beyond_2_pow_24):
    sampler = MMTBatchSampler(labels_beyond_2_pow_24, 4096, weighting="balanced")
    assert len(sampler) == math.ceil((2**24 + 5) / 4096)
    batch = next(iter(sampler))
    assert len(batch) == 2 * 4096
    assert max(batch) < 2**24 + 5


# --- Curriculum ------------------------------------------------------------------------------


def test_schedule_interpolates_from_natural_to_target_distribution():
    sampler = DifferentialBatchSampler(COUNT_LABELS, 4, weighting="inverse", schedule=lambda epoch: min(1.0, epoch / 10))
    natural = COUNTS / COUNTS.sum()
    target = expected_probabilities(COUNTS, "inverse")
    np.testing.assert_allclose(sampler.class_probabilities.numpy(), natural, rtol=1e-12)
    sampler.set_epoch(4)
    np.testing.assert_allclose(sampler.class_probabilities.numpy(), 0.6 * natural + 0.4 * target, rtol=1e-12)
    sampler.set_epoch(10)
    np.testing.assert_allclose(sampler.class_probabilities.numpy(), target, rtol=1e-12)


def test_schedule_changes_the_drawn_distribution():
    sampler = DifferentialBatchSampler(
        COUNT_LABELS, 100, num_batches=300, seed=1, weighting="inverse", schedule=lambda epoch: epoch / 2
    )
    assert_frequencies_match(COUNT_LABELS[flat(sampler)], COUNTS / COUNTS.sum())
    sampler.set_epoch(1)
    expected = 0.5 * COUNTS / COUNTS.sum() + 0.5 * expected_probabilities(COUNTS, "inverse")
    assert_frequencies_match(COUNT_LABELS[flat(sampler)], expected)


def test_default_weighting_is_gamma_one_half():
    expected = expected_probabilities(COUNTS, 0.5)
    for sampler in (DifferentialBatchSampler(COUNT_LABELS, 4), MMTBatchSampler(COUNT_LABELS, 4)):
        np.testing.assert_allclose(sampler.class_probabilities.numpy(), expected, rtol=1e-12)


def test_without_schedule_the_target_holds_in_every_epoch():
    sampler = DifferentialBatchSampler(COUNT_LABELS, 4, weighting="balanced")
    sampler.set_epoch(7)
    np.testing.assert_allclose(sampler.class_probabilities.numpy(), expected_probabilities(COUNTS, "balanced"))


# --- MMTBatchSampler ---------------------------------------------------------------------------


def test_mmt_batches_hold_b_head_then_b_tail_indices():
    sampler = MMTBatchSampler(LABELS, 16, seed=0, drop_last=True)
    for batch in sampler:
        assert len(batch) == 32
        assert all(type(index) is int for index in batch)


def test_mmt_head_halves_are_the_uniform_sampler_batches():
    mmt = MMTBatchSampler(LABELS, 16, seed=9)
    uniform = UniformBatchSampler(LABELS, 16, seed=9)
    for epoch in (0, 1):
        mmt.set_epoch(epoch)
        uniform.set_epoch(epoch)
        assert [batch[: len(batch) // 2] for batch in mmt] == list(uniform)


def test_mmt_head_halves_cover_the_epoch_once():
    sampler = MMTBatchSampler(LABELS, 16, seed=1)
    heads = [batch[: len(batch) // 2] for batch in sampler]
    assert np.array_equal(np.sort(flat(heads)), np.arange(len(LABELS)))


def test_mmt_tail_halves_follow_the_weighting():
    labels = np.tile(COUNT_LABELS, 20)
    sampler = MMTBatchSampler(labels, 100, weighting="balanced", seed=3)
    tails = flat(batch[len(batch) // 2 :] for batch in sampler)
    assert_frequencies_match(labels[tails], expected_probabilities(COUNTS, "balanced"))


def test_mmt_short_last_head_batch_is_paired_with_as_many_tail_indices():
    labels = np.array([0] * 6 + [1] * 3 + [2])
    batches = list(MMTBatchSampler(labels, 4))
    assert [len(batch) for batch in batches] == [8, 8, 4]
    assert len(MMTBatchSampler(labels, 4)) == 3


def test_mmt_drop_last_drops_the_short_pair():
    labels = np.array([0] * 6 + [1] * 3 + [2])
    sampler = MMTBatchSampler(labels, 4, drop_last=True)
    assert [len(batch) for batch in sampler] == [8, 8]
    assert len(sampler) == 2


def test_mmt_exposes_tail_class_probabilities():
    sampler = MMTBatchSampler(COUNT_LABELS, 4, weighting="balanced")
    np.testing.assert_allclose(sampler.class_probabilities.numpy(), expected_probabilities(COUNTS, "balanced"))


def test_mmt_feeds_a_dataloader_with_paired_batches():
    images = torch.randn(len(LABELS), 3, 4, 4)
    dataset = TensorDataset(images, torch.as_tensor(LABELS))
    sampler = MMTBatchSampler(LABELS, 8, seed=2)
    loader = DataLoader(dataset, batch_sampler=sampler)
    (batch_images, batch_labels), indices = next(iter(loader)), next(iter(sampler))
    assert batch_images.shape == (16, 3, 4, 4)
    assert torch.equal(batch_images, images[indices])
    assert torch.equal(batch_labels, torch.as_tensor(LABELS)[indices])


# --- Inputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [list, np.asarray, torch.as_tensor, lambda x: torch.as_tensor(x, dtype=torch.int32)])
def test_labels_as_list_array_or_tensor_give_the_same_batches(make):
    reference = list(MMTBatchSampler(LABELS, 8, seed=1))
    assert list(MMTBatchSampler(make(LABELS.tolist()), 8, seed=1)) == reference


@pytest.mark.parametrize("make", [list, np.array, torch.tensor])
def test_labels_are_never_modified(make):
    labels = make(LABELS.tolist())
    for sampler in (UniformBatchSampler(labels, 8), DifferentialBatchSampler(labels, 8), MMTBatchSampler(labels, 8)):
        list(sampler)
    assert np.array_equal(np.asarray(labels), LABELS)


def test_class_probabilities_is_a_copy():
    sampler = DifferentialBatchSampler(COUNT_LABELS, 4)
    sampler.class_probabilities.zero_()
    assert sampler.class_probabilities.sum() == pytest.approx(1.0)


SAMPLERS = {
    "uniform": UniformBatchSampler,
    "differential": DifferentialBatchSampler,
    "mmt": MMTBatchSampler,
}


@pytest.mark.parametrize("sampler_class", SAMPLERS.values(), ids=SAMPLERS.keys())
@pytest.mark.parametrize(
    "labels, error, pattern",
    [
        (np.zeros((4, 2), dtype=np.int64), ValueError, r"labels must be 1-D, got shape \(4, 2\)"),
        (np.int64(3), ValueError, r"labels must be 1-D, got shape \(\)"),
        ([], ValueError, r"labels must be non-empty, got an empty list"),
        (np.array([0.0, 1.0]), TypeError, r"labels must be integer class indices, got dtype float64"),
        (torch.tensor([True, False]), TypeError, r"labels must be integer class indices, got dtype torch.bool"),
        (torch.tensor([1.0, 2.0], dtype=torch.bfloat16), TypeError, r"labels must be integer class indices, got dtype torch.bfloat16"),
        (["cat", "dog"], TypeError, r"labels must be integer class indices"),
        ([0, 2, -1, 1], ValueError, r"labels must be non-negative class indices, got -1 at position 2"),
        ([[0, 1], [2]], ValueError, r"labels must be a 1-D sequence of class indices"),
    ],
)
def test_bad_labels_raise_naming_labels(sampler_class, labels, error, pattern):
    with pytest.raises(error, match=pattern):
        sampler_class(labels, 4)


@pytest.mark.parametrize("sampler_class", SAMPLERS.values(), ids=SAMPLERS.keys())
@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"batch_size": 0}, ValueError, r"batch_size must be >= 1, got 0"),
        ({"batch_size": True}, TypeError, r"batch_size must be an int, got bool True"),
        ({"batch_size": 2.0}, TypeError, r"batch_size must be an int, got float 2.0"),
        ({"seed": -1}, ValueError, r"seed must be >= 0, got -1"),
        ({"seed": 0.5}, TypeError, r"seed must be an int, got float"),
        ({"num_replicas": 0}, ValueError, r"num_replicas must be >= 1, got 0"),
        ({"num_replicas": 2, "rank": 2}, ValueError, r"rank must be in \[0, num_replicas\) = \[0, 2\), got rank=2"),
        ({"num_replicas": 2, "rank": -1}, ValueError, r"rank must be in \[0, num_replicas\)"),
        ({"rank": "0"}, TypeError, r"rank must be an int, got str"),
    ],
)
def test_bad_common_arguments_raise_naming_the_argument(sampler_class, kwargs, error, pattern):
    arguments = {"batch_size": 4, **kwargs}
    batch_size = arguments.pop("batch_size")
    with pytest.raises(error, match=pattern):
        sampler_class(LABELS, batch_size, **arguments)


@pytest.mark.parametrize("sampler_class", [DifferentialBatchSampler, MMTBatchSampler])
@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"weighting": "inverted"}, ValueError, r"weighting must be one of \('inverse', 'reverse', 'balanced'\) or a float gamma, got 'inverted'"),
        ({"weighting": None}, TypeError, r"weighting must be a str .* or a float gamma, got NoneType None"),
        ({"weighting": True}, TypeError, r"weighting must be a str"),
        ({"weighting": float("nan")}, ValueError, r"weighting gamma must be finite, got nan"),
        ({"schedule": 0.5}, TypeError, r"schedule must be callable"),
        ({"schedule": lambda epoch: 1.5}, ValueError, r"schedule must return a float in \[0, 1\], got 1.5 for epoch 0"),
        ({"schedule": lambda epoch: "half"}, TypeError, r"schedule must return a float in \[0, 1\], got str"),
    ],
)
def test_bad_tail_arguments_raise_naming_the_argument(sampler_class, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        sampler_class(LABELS, 4, **kwargs)


@pytest.mark.parametrize("num_batches, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError)])
def test_bad_num_batches_raises_naming_it(num_batches, error):
    with pytest.raises(error, match="num_batches must be"):
        DifferentialBatchSampler(LABELS, 4, num_batches=num_batches)


@pytest.mark.parametrize("sampler_class", [UniformBatchSampler, MMTBatchSampler])
def test_bad_drop_last_raises_naming_it(sampler_class):
    with pytest.raises(TypeError, match="drop_last must be a bool, got str 'yes'"):
        sampler_class(LABELS, 4, drop_last="yes")


@pytest.mark.parametrize("sampler_class", [UniformBatchSampler, MMTBatchSampler])
def test_drop_last_without_a_full_batch_raises(sampler_class):
    with pytest.raises(ValueError, match="drop_last=True leaves no full batch: 5 samples"):
        sampler_class(np.zeros(5, dtype=np.int64), 8, drop_last=True)


def test_schedule_failing_at_a_later_epoch_raises_in_set_epoch():
    sampler = DifferentialBatchSampler(LABELS, 4, schedule=lambda epoch: epoch / 5)
    with pytest.raises(ValueError, match="for epoch 6"):
        sampler.set_epoch(6)


@pytest.mark.parametrize("epoch, error", [(-1, ValueError), (1.0, TypeError), (None, TypeError)])
def test_bad_epoch_raises_naming_it(epoch, error):
    with pytest.raises(error, match="epoch must be"):
        MMTBatchSampler(LABELS, 4).set_epoch(epoch)


# --- State ---------------------------------------------------------------------------------------


def make_sampler(kind: str, **kwargs):
    if kind == "uniform":
        return UniformBatchSampler(LABELS, 4, seed=7, **kwargs)
    if kind == "differential":
        # 2**14 // 4 = 4096 batches are drawn per chunk; 5000 batches cross a chunk boundary.
        return DifferentialBatchSampler(LABELS, 4, seed=7, num_batches=5000, **kwargs)
    return MMTBatchSampler(LABELS, 4, seed=7, **kwargs)


@pytest.mark.parametrize("kind", ["uniform", "differential", "mmt"])
@pytest.mark.parametrize("stop_fraction", [0.0, 0.3, 0.9, 1.0])
def test_resume_from_state_dict_yields_exactly_the_remaining_batches(kind, stop_fraction):
    reference = make_sampler(kind)
    reference.set_epoch(2)
    full_epoch = list(reference)
    stop = round(stop_fraction * len(full_epoch))

    interrupted = make_sampler(kind)
    interrupted.set_epoch(2)
    iterator = iter(interrupted)
    for _ in range(stop):
        next(iterator)
    state = interrupted.state_dict()
    assert state["epoch"] == 2 and state["batches_yielded"] == stop

    resumed = make_sampler(kind)
    resumed.load_state_dict(state)
    resumed.set_epoch(2)  # the training loop's usual call keeps the restored position
    assert list(resumed) == full_epoch[stop:]
    assert resumed.state_dict()["batches_yielded"] == len(full_epoch)


def test_resume_is_consumed_by_one_iteration():
    sampler = make_sampler("mmt")
    state = {**sampler.state_dict(), "batches_yielded": 2}
    sampler.load_state_dict(state)
    assert len(list(sampler)) == len(sampler) - 2
    assert len(list(sampler)) == len(sampler)


def test_set_epoch_to_a_new_epoch_discards_a_restored_position():
    sampler = make_sampler("uniform")
    sampler.load_state_dict({**sampler.state_dict(), "batches_yielded": 5})
    sampler.set_epoch(1)
    fresh = make_sampler("uniform")
    fresh.set_epoch(1)
    assert list(sampler) == list(fresh)


def test_load_state_dict_restores_the_curriculum_epoch():
    sampler = DifferentialBatchSampler(COUNT_LABELS, 4, schedule=lambda epoch: epoch / 4)
    sampler.set_epoch(2)
    restored = DifferentialBatchSampler(COUNT_LABELS, 4, schedule=lambda epoch: epoch / 4)
    restored.load_state_dict(sampler.state_dict())
    torch.testing.assert_close(restored.class_probabilities, sampler.class_probabilities)


@pytest.mark.parametrize(
    "change, error, pattern",
    [
        ({"seed": 8}, ValueError, r"state_dict\['seed'\] is 8 but this sampler has seed=7"),
        ({"num_replicas": 2}, ValueError, r"state_dict\['num_replicas'\] is 2 but this sampler has num_replicas=1"),
        ({"batches_yielded": -1}, ValueError, r"state_dict\['batches_yielded'\] must be in \[0, "),
        ({"batches_yielded": 10**6}, ValueError, r"state_dict\['batches_yielded'\] must be in \[0, "),
        ({"epoch": -2}, ValueError, r"state_dict\['epoch'\] must be >= 0"),
        ({"epoch": 1.5}, TypeError, r"state_dict\['epoch'\] must be an int"),
    ],
)
def test_load_state_dict_rejects_bad_states(change, error, pattern):
    sampler = make_sampler("mmt")
    with pytest.raises(error, match=pattern):
        sampler.load_state_dict({**sampler.state_dict(), **change})


def test_load_state_dict_rejects_missing_keys_and_non_mappings():
    sampler = make_sampler("mmt")
    with pytest.raises(ValueError, match=r"state_dict is missing keys \['batches_yielded'\]"):
        sampler.load_state_dict({key: value for key, value in sampler.state_dict().items() if key != "batches_yielded"})
    with pytest.raises(TypeError, match="state_dict must be a mapping, got list"):
        sampler.load_state_dict([1, 2])


# -- sparse label ids, failing schedules, repr ------------------------------------------------


def test_huge_sparse_label_ids_cost_only_the_classes_that_occur():
    import time
    import tracemalloc

    labels = np.array([0, 1, 50_000_000] * 20)
    tracemalloc.start()
    start = time.perf_counter()
    sampler = DifferentialBatchSampler(labels, batch_size=4, weighting="balanced", seed=0)
    batches = list(sampler)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # A dense array per label id would be 400 MB and seconds; 3 classes are a few KB.
    assert peak < 50_000_000 and seconds < 5.0
    drawn = set(labels[np.concatenate(batches)].tolist())
    assert drawn == {0, 1, 50_000_000}
    torch.testing.assert_close(sampler.class_probabilities[[0, 1, 50_000_000]], torch.full((3,), 1 / 3, dtype=torch.float64))


def test_sparse_label_ids_draw_like_compact_ones():
    sparse = np.repeat([5, 1_000_000, 7_000_000_000], [90, 9, 1])
    compact = np.repeat([0, 1, 2], [90, 9, 1])
    first = DifferentialBatchSampler(sparse, batch_size=8, num_batches=20, weighting="inverse", seed=3)
    second = DifferentialBatchSampler(compact, batch_size=8, num_batches=20, weighting="inverse", seed=3)
    assert list(first) == list(second)


@pytest.mark.parametrize("sampler_class", [DifferentialBatchSampler, MMTBatchSampler])
def test_a_schedule_that_raises_leaves_the_epoch_unchanged(sampler_class):
    def schedule(epoch):
        if epoch >= 2:
            raise RuntimeError("bad epoch")
        return 1.0

    sampler = sampler_class([0] * 8 + [1] * 2, batch_size=2, schedule=schedule)
    sampler.set_epoch(1)
    before = list(sampler)
    with pytest.raises(RuntimeError, match="bad epoch"):
        sampler.set_epoch(2)
    assert sampler.epoch == 1
    assert list(sampler) == before


@pytest.mark.parametrize("sampler_class", [UniformBatchSampler, DifferentialBatchSampler, MMTBatchSampler])
def test_samplers_have_a_readable_repr(sampler_class):
    text = repr(sampler_class([0, 0, 1], batch_size=2, seed=4))
    assert text.startswith(sampler_class.__name__ + "(") and "seed=4" in text and "batch_size=2" in text


# -- issue 18: hostile inputs to the class weightings ----------------------------------------

from mmt_augment.weighting import class_probabilities, mixed_class_prior  # noqa: E402

ALL_WEIGHTINGS = ["inverse", "reverse", "balanced", 0.5, 1.0, 2.0, -1.0, 0.0]


def test_inverse_equals_gamma_one_for_fractional_counts_below_one():
    counts = np.array([0.5, 0.25, 2.0, 0.0, 3.0])
    inverse = class_probabilities(counts, "inverse")
    np.testing.assert_allclose(inverse, class_probabilities(counts, 1.0), rtol=1e-12, atol=0)
    np.testing.assert_allclose(inverse, expected_probabilities(counts, "inverse"), rtol=1e-12, atol=0)


LARGE_COUNTS = np.array([400, 150, 60, 0, 25, 10])  # gamma * log(n_c) overflows for every class


@pytest.mark.parametrize("counts", [COUNTS, LARGE_COUNTS], ids=["with a count of 4", "all counts >= 10"])
@pytest.mark.parametrize("gamma", [1e308, 1e300, -1e308, 5e306])
def test_extreme_gamma_gives_finite_probabilities_on_the_extreme_class(counts, gamma):
    probabilities = class_probabilities(counts, gamma)
    extreme = np.flatnonzero(counts == (counts[counts > 0].min() if gamma > 0 else counts.max()))
    expected = np.zeros(len(counts))
    expected[extreme] = 1.0
    assert np.array_equal(probabilities, expected)


@pytest.mark.parametrize("gamma, extreme", [(1e308, 5), (-1e308, 0)])
def test_extreme_gamma_sampler_draws_only_the_extreme_class(gamma, extreme):
    labels = shuffled_labels(LARGE_COUNTS)
    sampler = DifferentialBatchSampler(labels, 16, weighting=gamma, num_batches=4, seed=1)
    assert set(labels[flat(sampler)].tolist()) == {extreme}


@pytest.mark.parametrize("weighting", ALL_WEIGHTINGS)
def test_counts_whose_sum_overflows_give_the_probabilities_of_their_ratios(weighting):
    huge = np.array([1e308, 1e308, 0.0, 5e307, 1e307])
    ratios = np.array([20.0, 20.0, 0.0, 10.0, 2.0])  # the same ratios, huge / 5e306
    for result, expected in (
        (class_probabilities(huge, weighting), class_probabilities(ratios, weighting)),
        (mixed_class_prior(huge, weighting), mixed_class_prior(ratios, weighting)),
    ):
        assert np.all(np.isfinite(result))
        np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("weighting", ["inverse", 1.0, 0.5])
def test_counts_whose_inverse_overflows_give_finite_probabilities(weighting):
    counts = [1e-320, 3.0, 0.0, 1e-310]
    probabilities = class_probabilities(counts, weighting)
    assert np.all(np.isfinite(probabilities)) and probabilities.sum() == pytest.approx(1.0, rel=1e-12)
    assert probabilities.argmax() == 0 and probabilities[2] == 0
    if weighting == "inverse":
        np.testing.assert_allclose(probabilities, class_probabilities(counts, 1.0), rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "probabilities",
    [np.array([0.5, np.nan]), np.array([0.5, 0.25]), np.array([1.5, -0.5]), np.array([[0.5, 0.5]]), [0.5, 0.5]],
    ids=["nan", "sum below 1", "negative", "2-D", "list"],
)
def test_alias_table_refuses_anything_but_a_distribution(probabilities):
    with pytest.raises(ValueError, match="probabilities must be a non-empty 1-D array of finite values >= 0 that sum to 1"):
        _alias_table(probabilities)


def test_ragged_class_counts_raise_naming_class_counts():
    with pytest.raises(ValueError, match="class_counts must be a non-empty 1-D array of per-class counts, got list"):
        class_probabilities([[1, 2], [3]])


# -- issue 18: a state names the sampler that saved it --------------------------------------


def test_state_dict_names_the_sampler_and_its_configuration():
    state = make_sampler("mmt").state_dict()
    assert state["sampler"] == "MMTBatchSampler"
    assert {"batch_size", "drop_last", "weighting", "labels_digest"} <= set(state)
    assert make_sampler("mmt", weighting=0.5).state_dict() == state  # the same configuration, the same state


def _labels_of_length(length: int) -> np.ndarray:
    return np.arange(length) % 3


@pytest.mark.parametrize(
    "saved, loaded, key",
    [
        (lambda: UniformBatchSampler(LABELS, 4, seed=7), lambda: MMTBatchSampler(LABELS, 4, seed=7), "sampler"),
        (lambda: MMTBatchSampler(LABELS, 4, seed=7), lambda: UniformBatchSampler(LABELS, 4, seed=7), "sampler"),
        (lambda: MMTBatchSampler(LABELS[::-1].copy(), 4, seed=7), lambda: MMTBatchSampler(LABELS, 4, seed=7),
         "labels_digest"),
        (lambda: MMTBatchSampler(LABELS, 4, seed=7, weighting="inverse"), lambda: MMTBatchSampler(LABELS, 4, seed=7),
         "weighting"),
        (lambda: DifferentialBatchSampler(LABELS, 8, num_batches=50), lambda: DifferentialBatchSampler(LABELS, 4, num_batches=50),
         "batch_size"),
        (lambda: DifferentialBatchSampler(np.sort(LABELS), 4, num_batches=50),
         lambda: DifferentialBatchSampler(LABELS, 4, num_batches=50), "labels_digest"),
        (lambda: UniformBatchSampler(_labels_of_length(40), 4, drop_last=True),
         lambda: UniformBatchSampler(_labels_of_length(40), 4), "drop_last"),
        (lambda: UniformBatchSampler(_labels_of_length(41), 4), lambda: UniformBatchSampler(_labels_of_length(42), 4),
         "num_samples"),
    ],
    ids=["uniform into mmt", "mmt into uniform", "other labels", "other weighting", "other batch size",
         "other labels, same counts", "other drop_last", "other length"],
)
def test_load_state_dict_rejects_a_differently_configured_sampler(saved, loaded, key):
    state = saved().state_dict()
    sampler = loaded()
    assert all(state[name] == sampler.state_dict()[name] for name in ("seed", "num_replicas", "num_batches"))
    with pytest.raises(ValueError, match=rf"state_dict\['{key}'\] is .* but this sampler has {key}="):
        sampler.load_state_dict(state)


@pytest.mark.parametrize(
    "kind, epoch, state",
    [
        # Saved by the code before the configuration keys existed (commit 78e8e18).
        ("mmt", 2, {"epoch": 2, "batches_yielded": 5, "seed": 7, "num_replicas": 1, "num_batches": 232}),
        ("differential", 1, {"epoch": 1, "batches_yielded": 4100, "seed": 7, "num_replicas": 1, "num_batches": 5000}),
    ],
)
def test_load_state_dict_accepts_a_state_saved_before_the_configuration_keys(kind, epoch, state):
    reference = make_sampler(kind)
    reference.set_epoch(epoch)
    full_epoch = list(reference)
    resumed = make_sampler(kind)
    resumed.load_state_dict(state)
    assert list(resumed) == full_epoch[state["batches_yielded"]:]


def test_every_rank_loads_the_state_of_rank_zero():
    state = DifferentialBatchSampler(LABELS, 4, num_replicas=2, rank=0).state_dict()
    other_rank = DifferentialBatchSampler(LABELS, 4, num_replicas=2, rank=1)
    other_rank.load_state_dict({**state, "batches_yielded": 3})
    assert other_rank.state_dict()["batches_yielded"] == 3

