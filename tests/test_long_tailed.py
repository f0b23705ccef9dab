"""Specification of the long-tailed dataset utilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mmt_augment.long_tailed import ShotSplits, class_counts, make_long_tailed, shot_splits

CIFAR10 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cifar10.npz"
CIFAR10_LT_100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


def reference_long_tailed(targets, num_classes, imb_factor, imb_type="exp", seed=0):
    """The subset of the LDAM-DRW / CMO ``IMBALANCECIFAR10`` code, transcribed as the oracle."""
    np.random.seed(seed)
    img_max = len(targets) / num_classes
    img_num_per_cls = []
    if imb_type == "exp":
        for cls_idx in range(num_classes):
            img_num_per_cls.append(int(img_max * (imb_factor ** (cls_idx / (num_classes - 1.0)))))
    else:
        for _ in range(num_classes // 2):
            img_num_per_cls.append(int(img_max))
        for _ in range(num_classes // 2):
            img_num_per_cls.append(int(img_max * imb_factor))
    targets_np = np.array(targets, dtype=np.int64)
    selected = []
    for the_class, the_img_num in zip(np.unique(targets_np), img_num_per_cls):
        idx = np.where(targets_np == the_class)[0]
        np.random.shuffle(idx)
        selected.append(idx[:the_img_num])
    return np.concatenate(selected)


def balanced_labels(num_classes: int, per_class: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(num_classes), per_class))


BALANCED = balanced_labels(10, 5000)


# --- make_long_tailed ------------------------------------------------------------------------


def test_cifar10_ratio_100_keeps_the_published_class_sizes():
    indices = make_long_tailed(BALANCED, 100)
    assert np.bincount(BALANCED[indices]).tolist() == CIFAR10_LT_100


@pytest.mark.parametrize("ratio", [1, 10, 50, 100, 200])
@pytest.mark.parametrize("profile", ["exp", "step"])
@pytest.mark.parametrize("seed", [0, 7])
def test_indices_equal_the_reference_code(ratio, profile, seed):
    expected = reference_long_tailed(BALANCED, 10, 1 / ratio, profile, seed)
    np.testing.assert_array_equal(make_long_tailed(BALANCED, ratio, profile=profile, seed=seed), expected)


@pytest.mark.skipif(not CIFAR10.exists(), reason="shared CIFAR-10 copy not available")
def test_real_cifar10_subset_equals_the_reference_code():
    labels = np.load(CIFAR10)["y_train"]
    indices = make_long_tailed(labels, 100)
    np.testing.assert_array_equal(indices, reference_long_tailed(labels, 10, 0.01))
    assert np.bincount(labels[indices]).tolist() == CIFAR10_LT_100


def test_result_is_int64_indices_grouped_by_class_in_class_order():
    indices = make_long_tailed(BALANCED, 10)
    assert indices.dtype == np.int64
    assert len(np.unique(indices)) == len(indices)
    assert np.all(np.diff(BALANCED[indices]) >= 0)


def test_step_profile_keeps_n_max_for_the_first_half_and_n_max_over_ratio_for_the_rest():
    indices = make_long_tailed(BALANCED, 100, profile="step")
    assert np.bincount(BALANCED[indices]).tolist() == [5000] * 5 + [50] * 5


def test_step_profile_with_an_odd_number_of_classes_puts_the_middle_class_in_the_tail():
    labels = balanced_labels(5, 100)
    indices = make_long_tailed(labels, 10, profile="step")
    assert np.bincount(labels[indices]).tolist() == [100, 100, 10, 10, 10]


def test_ratio_one_keeps_every_sample():
    indices = make_long_tailed(BALANCED, 1)
    assert np.array_equal(np.sort(indices), np.arange(len(BALANCED)))


def test_seed_changes_which_samples_but_not_how_many():
    first, second = make_long_tailed(BALANCED, 100, seed=0), make_long_tailed(BALANCED, 100, seed=1)
    assert not np.array_equal(first, second)
    assert np.array_equal(np.bincount(BALANCED[first]), np.bincount(BALANCED[second]))


def test_n_max_is_the_largest_class_and_small_classes_keep_what_they_have():
    labels = np.array([0] * 100 + [1] * 3 + [2] * 40)
    indices = make_long_tailed(labels, 4)  # quotas 100, 50, 25
    assert np.bincount(labels[indices]).tolist() == [100, 3, 25]


@pytest.mark.parametrize("make", [list, np.array, torch.tensor])
def test_make_long_tailed_accepts_and_never_modifies_labels(make):
    labels = make(BALANCED[:2000].tolist())
    indices = make_long_tailed(labels, 10)
    assert np.array_equal(indices, make_long_tailed(BALANCED[:2000], 10))
    assert np.array_equal(np.asarray(labels), BALANCED[:2000])


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"imbalance_ratio": 0.5}, ValueError, r"imbalance_ratio must be >= 1, got 0.5"),
        ({"imbalance_ratio": float("inf")}, ValueError, r"imbalance_ratio must be finite, got inf"),
        ({"imbalance_ratio": "100"}, TypeError, r"imbalance_ratio must be a real number, got str '100'"),
        ({"imbalance_ratio": True}, TypeError, r"imbalance_ratio must be a real number, got bool"),
        ({"profile": "linear"}, ValueError, r"profile must be one of \('exp', 'step'\), got 'linear'"),
        ({"seed": -1}, ValueError, r"seed must be >= 0, got -1"),
        ({"seed": 2**32}, ValueError, r"seed must be < 2\*\*32"),
        ({"seed": 1.0}, TypeError, r"seed must be an int, got float"),
    ],
)
def test_make_long_tailed_bad_arguments_raise_naming_the_argument(kwargs, error, pattern):
    arguments = {"imbalance_ratio": 10, **kwargs}
    ratio = arguments.pop("imbalance_ratio")
    with pytest.raises(error, match=pattern):
        make_long_tailed(BALANCED, ratio, **arguments)


@pytest.mark.parametrize(
    "labels, error, pattern",
    [
        ([], ValueError, r"labels must be non-empty, got an empty list"),
        ([0, 0, 0], ValueError, r"labels must contain at least two classes"),
        (np.array([0.0, 1.0]), TypeError, r"labels must be integer class indices, got dtype float64"),
        (np.zeros((2, 2), dtype=np.int64), ValueError, r"labels must be 1-D, got shape \(2, 2\)"),
        ([1, -4], ValueError, r"labels must be non-negative class indices, got -4 at position 1"),
    ],
)
def test_make_long_tailed_bad_labels_raise_naming_labels(labels, error, pattern):
    with pytest.raises(error, match=pattern):
        make_long_tailed(labels, 10)


# --- class_counts ----------------------------------------------------------------------------


def test_class_counts_counts_each_class_as_an_int64_tensor():
    counts = class_counts([0, 2, 2, 1, 2])
    assert counts.dtype == torch.int64
    assert counts.tolist() == [1, 1, 3]


def test_class_counts_pads_with_zeros_up_to_num_classes():
    assert class_counts(np.array([0, 2, 2]), num_classes=5).tolist() == [1, 0, 2, 0, 0]


def test_class_counts_accepts_tensors_of_any_integer_dtype():
    labels = torch.tensor([3, 3, 0], dtype=torch.uint8)
    assert class_counts(labels).tolist() == [1, 0, 0, 2]
    assert labels.tolist() == [3, 3, 0]


@pytest.mark.parametrize(
    "labels, num_classes, error, pattern",
    [
        ([0, 4], 4, ValueError, r"num_classes must exceed every label, got num_classes=4 but labels contain class 4"),
        ([0, 1], 0, ValueError, r"num_classes must be >= 1, got 0"),
        ([0, 1], 2.0, TypeError, r"num_classes must be an int, got float"),
        ([], None, ValueError, r"labels must be non-empty, got an empty list"),
        ([0.5], None, TypeError, r"labels must be integer class indices"),
    ],
)
def test_class_counts_bad_input_raises_naming_the_argument(labels, num_classes, error, pattern):
    with pytest.raises(error, match=pattern):
        class_counts(labels, num_classes)


# --- shot_splits -----------------------------------------------------------------------------


def test_shot_splits_use_more_than_100_and_fewer_than_20_by_default():
    splits = shot_splits([101, 100, 20, 19, 0, 5000])
    assert isinstance(splits, ShotSplits)
    assert splits.many.tolist() == [0, 5]
    assert splits.medium.tolist() == [1, 2]
    assert splits.few.tolist() == [3, 4]


def test_shot_splits_partition_the_classes():
    counts = class_counts(BALANCED[make_long_tailed(BALANCED, 100)])
    many, medium, few = shot_splits(counts)
    assert sorted(torch.cat([many, medium, few]).tolist()) == list(range(10))
    assert many.tolist() == [0, 1, 2, 3, 4, 5, 6, 7] and medium.tolist() == [8, 9] and few.numel() == 0


def test_shot_splits_custom_thresholds():
    splits = shot_splits(torch.tensor([50, 10, 5]), many=20, few=6)
    assert (splits.many.tolist(), splits.medium.tolist(), splits.few.tolist()) == ([0], [1], [2])
    assert splits.many.dtype == torch.int64


@pytest.mark.parametrize(
    "counts, kwargs, error, pattern",
    [
        ([10, 20], {"many": 10, "few": 20}, ValueError, r"few must be <= many, got few=20 and many=10"),
        ([10, 20], {"many": -1}, ValueError, r"many must be >= 0, got -1"),
        ([10, 20], {"few": 2.5}, TypeError, r"few must be an int, got float"),
        ([[10], [20]], {}, ValueError, r"counts must be 1-D"),
        ([10, -1], {}, ValueError, r"counts must be non-negative"),
        ([1.5], {}, TypeError, r"counts must be integer"),
        ([], {}, ValueError, r"counts must be non-empty, got an empty list"),
    ],
)
def test_shot_splits_bad_input_raises_naming_the_argument(counts, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        shot_splits(counts, **kwargs)


# --- the recommended loss recipe on a subset with empty classes (issue 18) --------------------


def test_the_recipe_prior_works_on_a_subset_with_empty_classes():
    import torch.nn.functional as F

    from mmt_augment import logit_adjustment, mixed_class_prior

    labels = balanced_labels(10, 5)
    subset = labels[make_long_tailed(labels, 100)]  # quotas 5, 2, 1, 1, 0, ...: classes 4-9 are empty
    counts = class_counts(subset, num_classes=10)
    assert counts.tolist() == [5, 2, 1, 1, 0, 0, 0, 0, 0, 0]
    adjustment = logit_adjustment(mixed_class_prior(counts, 0.5, head_share=0.5))
    assert bool(torch.isfinite(adjustment).all())
    assert bool((adjustment[4:] < adjustment[:4].min()).all())  # empty classes sit below every present one
    loss = F.cross_entropy(torch.zeros(2, 10) + adjustment, torch.tensor([0, 3]))
    assert torch.isfinite(loss)
