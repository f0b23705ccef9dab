"""Hostile inputs to the core (issue 18): clear errors or documented results, same bits otherwise.

Covers the argument checks of ``_checks`` (``mode_probs``, ``alpha``, ``check_real``), the mean
head share of an MMT configuration, and pins the outputs of ordinary inputs of every function
that long training runs depend on (class weightings, priors, loss weights, Remix, the samplers'
batches) to the bits the code gave before the issue-18 fixes: a fix for degenerate input must
leave those unchanged.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch

from mmt_augment import (
    DifferentialBatchSampler,
    MixedLabels,
    MMTBatchSampler,
    MMTMix,
    UniformBatchSampler,
    class_balanced_weights,
    class_probabilities,
    class_weighted_cross_entropy,
    logit_adjustment,
    mixed_class_prior,
    mixed_cross_entropy,
    remix_labels,
)
from mmt_augment._checks import MAX_ALPHA, check_alpha, check_mode_probs, check_real
from mmt_augment.params import draw_uniforms, mean_head_share, sample_mix_params

# -- mode_probs and alpha -------------------------------------------------------------------


@pytest.mark.parametrize("mode_probs", [(1e308, 1e308), (1.5e308, 1e308, 0.0), (10**308, 10**308)])
def test_mode_probs_whose_sum_overflows_normalise_to_finite_probabilities(mode_probs):
    probabilities = check_mode_probs(mode_probs, ("cutmix", "mixup", "resizemix")[: len(mode_probs)])
    assert all(math.isfinite(value) for value in probabilities)
    assert math.isclose(sum(probabilities), 1.0, rel_tol=1e-12)
    expected = np.array(mode_probs, dtype=np.float64) / np.max(mode_probs)
    np.testing.assert_allclose(probabilities, expected / expected.sum(), rtol=1e-12)


def test_mmtmix_with_huge_mode_probs_mixes():
    mmt = MMTMix(num_classes=3, mode=("cutmix", "mixup"), mode_probs=(1e308, 1e308),
                 generator=torch.Generator().manual_seed(0))
    images, targets = mmt(torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0]), torch.rand(4, 3, 8, 8),
                          torch.tensor([1, 2, 0, 1]))
    assert images.shape == (4, 3, 8, 8)
    torch.testing.assert_close(targets.sum(1), torch.ones(4))


def test_mode_probs_keep_their_normalisation_bits():
    # The same arithmetic as before the overflow fix: float(sum) then one division per weight.
    for mode_probs in [(1, 2), (0.1, 0.2, 0.7), (np.float32(0.1), np.float32(0.3)), (3, 0.5)]:
        modes = ("cutmix", "mixup", "resizemix")[: len(mode_probs)]
        total = float(sum(mode_probs))
        assert check_mode_probs(mode_probs, modes) == tuple(float(value) / total for value in mode_probs)


def test_alpha_up_to_the_maximum_gives_finite_half_shares():
    _, lam = draw_uniforms(10_000, 0, MAX_ALPHA, generator=torch.Generator().manual_seed(0))
    assert bool(torch.isfinite(lam).all())
    assert bool((lam == 0.5).all())  # Beta(a, a) for huge a is 0.5 to float32 precision


@pytest.mark.parametrize("alpha", [2e38, 1.7014118e38, 3.4e38, 1e300, 10**400])
def test_alpha_above_the_maximum_is_refused(alpha):
    with pytest.raises(ValueError, match=r"alpha must be a finite number >= 0.001 and <= 1e\+38"):
        check_alpha(alpha)
    with pytest.raises(ValueError, match="alpha"):
        MMTMix(alpha=alpha)


def test_the_maximum_alpha_is_below_where_the_gamma_sum_overflows():
    # Measured: from 2**127 the two float32 Gamma draws sum to inf and every lam is 0.
    _, lam = draw_uniforms(1000, 0, 2.0**127, generator=torch.Generator().manual_seed(0))
    assert bool((lam == 0).all())
    assert MAX_ALPHA < 2.0**127


# -- one real-number check ------------------------------------------------------------------


def test_check_real_without_a_range_keeps_its_messages():
    assert check_real(3, "x") == 3.0
    with pytest.raises(ValueError, match="x must be finite, got inf"):
        check_real(math.inf, "x")
    with pytest.raises(TypeError, match="x must be a real number, got bool True"):
        check_real(True, "x")


@pytest.mark.parametrize(
    "value, kwargs, pattern",
    [
        (-1, {"low": 0.0, "high": math.inf}, r"tau must be in \[0.0, inf\], got -1"),
        (0.0, {"low": 0.0, "high": 1.0, "low_open": True}, r"tau must be in \(0.0, 1.0\], got 0.0"),
        (1.0, {"low": 0.0, "high": 1.0, "high_open": True}, r"tau must be in \[0.0, 1.0\), got 1.0"),
        (math.nan, {"low": 0.0}, r"tau must be in \[0.0, inf\], got nan"),
    ],
)
def test_check_real_with_a_range_names_the_range(value, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        check_real(value, "tau", **kwargs)


def test_check_real_reads_an_int_too_large_for_a_float_as_infinite():
    with pytest.raises(ValueError, match="x must be finite"):
        check_real(10**400, "x")
    with pytest.raises(ValueError, match=r"x must be in \[0.0, 1.0\]"):
        check_real(-(10**400), "x", low=0.0, high=1.0)


def test_losses_use_the_shared_check():
    with pytest.raises(ValueError, match=r"tau must be in \[0.0, inf\], got -1"):
        logit_adjustment([1.0, 1.0], tau=-1)
    with pytest.raises(ValueError, match=r"kappa must be in \[1.0, inf\], got 0.5"):
        remix_labels(MixedLabels(torch.tensor([0]), torch.tensor([1]), torch.tensor([0.5])), [1, 2], kappa=0.5)


# -- the mean head share of an MMT configuration -------------------------------------------


def cutmix_mean_share_reference(height: int, width: int, draws: int, seed: int) -> float:
    """E[lam] of CutMix with alpha = 1, from the box rule written out in NumPy (float64)."""
    rng = np.random.default_rng(seed)
    lam = rng.random(draws)
    side = np.sqrt(1.0 - lam)
    cut_w, cut_h = np.floor(side * width).astype(np.int64), np.floor(side * height).astype(np.int64)
    x_low = np.floor(rng.random(draws) * width).astype(np.int64) - cut_w // 2
    y_low = np.floor(rng.random(draws) * height).astype(np.int64) - cut_h // 2
    box_w = np.clip(x_low + cut_w, 0, width) - np.clip(x_low, 0, width)
    box_h = np.clip(y_low + cut_h, 0, height) - np.clip(y_low, 0, height)
    return float(np.mean(1.0 - box_w * box_h / (height * width)))


def test_mixup_head_share_is_exactly_one_minus_p_over_two():
    for p in (1.0, 0.5, 0.2, 0.0):
        assert mean_head_share(MMTMix(p=p, alpha=0.4), (32, 32)) == 1.0 - p / 2


@pytest.mark.parametrize("size", [(32, 32), (7, 5)])
def test_cutmix_head_share_matches_the_box_rule_and_is_above_one_half(size):
    share = mean_head_share(MMTMix(mode="cutmix"), size)
    reference = cutmix_mean_share_reference(*size, draws=1_000_000, seed=1)
    # Standard errors: lam's spread is below 0.2, so 0.2 / sqrt(n) for each estimate; 5 z-scores.
    tolerance = 5 * math.hypot(0.2 / math.sqrt(200_000), 0.2 / math.sqrt(1_000_000))
    assert abs(share - reference) < tolerance
    assert share > 0.6


def test_head_share_of_a_mode_tuple_matches_the_transforms_own_joint_draws():
    mmt = MMTMix(mode=("cutmix", "mixup", "resizemix"), mode_probs=(3, 1, 2), p=0.8)
    share = mean_head_share(mmt, (32, 32))
    params = sample_mix_params(400_000, 32, 32, mode=mmt.mode, mode_probs=mmt.mode_probs, p=mmt.p,
                               generator=torch.Generator().manual_seed(5))
    joint = float(params.lam.double().mean())
    tolerance = 5 * math.hypot(0.5 / math.sqrt(200_000), 0.5 / math.sqrt(400_000))
    assert abs(share - joint) < tolerance


def test_head_share_is_the_same_on_every_call():
    mmt = MMTMix(mode="resizemix")
    assert mean_head_share(mmt, (24, 24)) == mean_head_share(mmt, (24, 24))


@pytest.mark.parametrize(
    "args, kwargs, error, pattern",
    [
        (("mixup", (32, 32)), {}, TypeError, "mix must be an MMTMix or a RandomMMT, got str"),
        ((MMTMix(), 32), {}, TypeError, r"image_size must be a \(height, width\) tuple"),
        ((MMTMix(), (32, 0)), {}, ValueError, "image_size width must be >= 1"),
        ((MMTMix(), (32.0, 32)), {}, TypeError, "image_size height must be an int"),
        ((MMTMix(), (32, 32)), {"draws": 0}, ValueError, "draws must be >= 1"),
    ],
)
def test_head_share_bad_arguments_raise_naming_them(args, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        mean_head_share(*args, **kwargs)


# -- ordinary inputs keep their bits ---------------------------------------------------------


def bits(values) -> str:
    """The first 16 hex digits of the SHA-256 of the values as float64 (exact for float32)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().double().numpy()
    return hashlib.sha256(np.ascontiguousarray(values, dtype=np.float64).tobytes()).hexdigest()[:16]


def batches_bits(batches) -> str:
    return hashlib.sha256(np.array([index for batch in batches for index in batch], dtype=np.int64).tobytes()).hexdigest()[:16]


COUNTS = [400, 150, 60, 0, 25, 10, 4]
FRACTIONAL = [12.5, 3.25, 1.0, 7.75]
WEIGHTINGS = ["inverse", "reverse", "balanced", 0.5, 1.0, 2.0, -1.0, 0.0]


def ordinary_outputs() -> dict[str, str]:
    out = {}
    for weighting in WEIGHTINGS:
        out[f"class_probabilities {weighting}"] = bits(class_probabilities(COUNTS, weighting))
        out[f"class_probabilities fractional {weighting}"] = bits(class_probabilities(FRACTIONAL, weighting))
        for share in (0.5, 0.25, 1.0, np.float32(0.3)):
            out[f"mixed_class_prior {weighting} {share}"] = bits(mixed_class_prior(COUNTS, weighting, head_share=share))
    for prior, tau in (([3, 1], 1.0), ([100, 10, 1], 1.0), ([0.7, 0.2, 0.1], 2.0), ([5000, 2997, 1796, 50], 0.5)):
        out[f"logit_adjustment {prior} {tau}"] = bits(logit_adjustment(prior, tau=tau))
    for counts, beta in (([5000, 500, 50], 0.9999), ([100, 10, 1, 0], 0.99), ([12.5, 3.0], 0.0), ([5, 5], 0.5)):
        out[f"class_balanced_weights {counts} {beta}"] = bits(class_balanced_weights(counts, beta))
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 5, generator=generator)
    labels = torch.randint(5, (8,), generator=generator)
    soft = torch.softmax(torch.randn(8, 5, generator=generator), 1)
    weight = torch.rand(5, generator=generator) + 0.1
    tail = torch.randint(5, (8,), generator=torch.Generator().manual_seed(1))
    lam = torch.rand(8, generator=torch.Generator().manual_seed(2))
    for reduction in ("mean", "sum", "none"):
        out[f"class_weighted_cross_entropy index {reduction}"] = bits(
            class_weighted_cross_entropy(logits, labels, weight, reduction=reduction))
        out[f"class_weighted_cross_entropy soft {reduction}"] = bits(
            class_weighted_cross_entropy(logits, soft, weight, reduction=reduction))
        out[f"mixed_cross_entropy index {reduction}"] = bits(mixed_cross_entropy(logits, labels, tail, lam, reduction=reduction))
        out[f"mixed_cross_entropy soft {reduction}"] = bits(
            mixed_cross_entropy(logits, soft, soft.flip(0), lam, reduction=reduction))
    head, tail = torch.tensor([0, 0, 2, 1, 3, 2, 1, 0]), torch.tensor([2, 3, 0, 0, 1, 1, 3, 2])
    lam = torch.tensor([0.3, 0.7, 0.8, 0.3, 0.1, 0.95, 0.5, 0.45])
    for counts, kappa, tau in (([300, 200, 10, 40], 3.0, 0.5), ([300, 200, 10, 40], 1.5, 0.9),
                               ([12.5, 3.0, 100.0, 1.0], 3.0, 0.5)):
        out[f"remix_labels {counts} {kappa} {tau}"] = bits(
            remix_labels(MixedLabels(head, tail, lam), counts, kappa=kappa, tau=tau).lam)
    return out


def sampler_outputs() -> dict[str, str]:
    labels = np.random.default_rng(0).permutation(
        np.repeat(np.arange(10), (300 * 30.0 ** (-np.arange(10) / 9)).astype(np.int64)))
    makers = {
        "uniform": lambda **k: UniformBatchSampler(labels, 32, seed=3, **k),
        "uniform drop_last": lambda **k: UniformBatchSampler(labels, 32, seed=3, drop_last=True, **k),
        "differential": lambda **k: DifferentialBatchSampler(labels, 32, seed=3, **k),
        "differential inverse": lambda **k: DifferentialBatchSampler(
            labels, 32, weighting="inverse", num_batches=50, seed=5, **k),
        "differential reverse schedule": lambda **k: DifferentialBatchSampler(
            labels, 16, weighting="reverse", seed=5, schedule=lambda epoch: min(1.0, epoch / 3), **k),
        "mmt": lambda **k: MMTBatchSampler(labels, 32, seed=3, **k),
        "mmt balanced drop_last": lambda **k: MMTBatchSampler(
            labels, 24, weighting="balanced", drop_last=True, seed=9, **k),
    }
    out = {}
    for name, make in makers.items():
        for replicas, rank in ((1, 0), (3, 2)):
            sampler = make(num_replicas=replicas, rank=rank)
            for epoch in (0, 1, 4):
                sampler.set_epoch(epoch)
                out[f"{name} {replicas} {rank} epoch {epoch}"] = batches_bits(sampler)
    return out


# Computed by the code before the issue-18 fixes (commit 78e8e18).
ORDINARY_OUTPUT_BITS = {
    'class_probabilities inverse': '2ce57d885344e09b',
    'class_probabilities fractional inverse': '6d7e8da2d41741e1',
    'mixed_class_prior inverse 0.5': 'd2141407ca5a1bce',
    'mixed_class_prior inverse 0.25': '5241d58928e41f87',
    'mixed_class_prior inverse 1.0': 'f879bce75d794970',
    'mixed_class_prior inverse 0.30000001192092896': '33b09af555c35b5c',
    'class_probabilities reverse': 'cf9a66f44499c46e',
    'class_probabilities fractional reverse': 'c34e444f4cfd09b9',
    'mixed_class_prior reverse 0.5': '31c9bb195678aef2',
    'mixed_class_prior reverse 0.25': 'e4a79d648caf8c2e',
    'mixed_class_prior reverse 1.0': 'f879bce75d794970',
    'mixed_class_prior reverse 0.30000001192092896': 'dbe7a70c7974a15b',
    'class_probabilities balanced': 'c4fbc6087ba880d1',
    'class_probabilities fractional balanced': '5073e61eafb5e090',
    'mixed_class_prior balanced 0.5': 'd9530e9a2fac4e24',
    'mixed_class_prior balanced 0.25': 'b2ae3e40648ea07a',
    'mixed_class_prior balanced 1.0': 'f879bce75d794970',
    'mixed_class_prior balanced 0.30000001192092896': 'e2e60ad2149e6124',
    'class_probabilities 0.5': '1239488941df3b52',
    'class_probabilities fractional 0.5': 'c471595fc88cb191',
    'mixed_class_prior 0.5 0.5': '81599e392d5c447f',
    'mixed_class_prior 0.5 0.25': 'c61259c7f8420212',
    'mixed_class_prior 0.5 1.0': 'f879bce75d794970',
    'mixed_class_prior 0.5 0.30000001192092896': '456b22dc5fe730da',
    'class_probabilities 1.0': '2d41272f9b3b6562',
    'class_probabilities fractional 1.0': 'fafa9f78680a888d',
    'mixed_class_prior 1.0 0.5': '3b2515a3d6b613f8',
    'mixed_class_prior 1.0 0.25': '4956c0db5a9c5eab',
    'mixed_class_prior 1.0 1.0': 'f879bce75d794970',
    'mixed_class_prior 1.0 0.30000001192092896': '48cd8930abcd1f3d',
    'class_probabilities 2.0': 'e0c0da034e9c9b09',
    'class_probabilities fractional 2.0': 'ad45bf63e2b7d59b',
    'mixed_class_prior 2.0 0.5': '958098c94e671d1c',
    'mixed_class_prior 2.0 0.25': '330dc029fde4a69a',
    'mixed_class_prior 2.0 1.0': 'f879bce75d794970',
    'mixed_class_prior 2.0 0.30000001192092896': '83374c1be3b8ab16',
    'class_probabilities -1.0': 'c881e24dbd7cd9d9',
    'class_probabilities fractional -1.0': '4532a6a4092ee4d8',
    'mixed_class_prior -1.0 0.5': '50f666760c74f233',
    'mixed_class_prior -1.0 0.25': '31093e39d634f8b1',
    'mixed_class_prior -1.0 1.0': 'f879bce75d794970',
    'mixed_class_prior -1.0 0.30000001192092896': 'a0b7d2ded0be9f23',
    'class_probabilities 0.0': 'c4fbc6087ba880d1',
    'class_probabilities fractional 0.0': '5073e61eafb5e090',
    'mixed_class_prior 0.0 0.5': 'd9530e9a2fac4e24',
    'mixed_class_prior 0.0 0.25': 'b2ae3e40648ea07a',
    'mixed_class_prior 0.0 1.0': 'f879bce75d794970',
    'mixed_class_prior 0.0 0.30000001192092896': 'e2e60ad2149e6124',
    'logit_adjustment [3, 1] 1.0': 'f1d1e93d731dfedc',
    'logit_adjustment [100, 10, 1] 1.0': '02f12f459b36c68b',
    'logit_adjustment [0.7, 0.2, 0.1] 2.0': '0a46c4901634a7ca',
    'logit_adjustment [5000, 2997, 1796, 50] 0.5': 'd889836577f66fd7',
    'class_balanced_weights [5000, 500, 50] 0.9999': '6401be959e468252',
    'class_balanced_weights [100, 10, 1, 0] 0.99': '5512ea7115021092',
    'class_balanced_weights [12.5, 3.0] 0.0': '5f07eef034c5a21f',
    'class_balanced_weights [5, 5] 0.5': '5f07eef034c5a21f',
    'class_weighted_cross_entropy index mean': '88480eb26c55c20f',
    'class_weighted_cross_entropy soft mean': '63b83fd2e4ddbf3f',
    'mixed_cross_entropy index mean': 'd72a4bc2ff3aef9d',
    'mixed_cross_entropy soft mean': '5f4afa9dea206fc7',
    'class_weighted_cross_entropy index sum': '366b3557dcc90e12',
    'class_weighted_cross_entropy soft sum': 'c23edee3ec5f8589',
    'mixed_cross_entropy index sum': 'b28d24f496b0176f',
    'mixed_cross_entropy soft sum': '7e037bd0c132ad7a',
    'class_weighted_cross_entropy index none': '8656486392952e17',
    'class_weighted_cross_entropy soft none': '2ac547d36057c8de',
    'mixed_cross_entropy index none': '42bddd01373b9641',
    'mixed_cross_entropy soft none': 'e90344abcdf64cc2',
    'remix_labels [300, 200, 10, 40] 3.0 0.5': '1527d443263079f5',
    'remix_labels [300, 200, 10, 40] 1.5 0.9': '047c257e4ffa4b6b',
    'remix_labels [12.5, 3.0, 100.0, 1.0] 3.0 0.5': '6fbbad25266725cf',
}

SAMPLER_OUTPUT_BITS = {
    'uniform 1 0 epoch 0': '3b19e07a4edcf894',
    'uniform 1 0 epoch 1': '8cb362adeb1c2d85',
    'uniform 1 0 epoch 4': 'fd1987fb9a993680',
    'uniform 3 2 epoch 0': '645b1cca0288be44',
    'uniform 3 2 epoch 1': 'c255b626b6c53eb1',
    'uniform 3 2 epoch 4': 'b4278250307f4ce8',
    'uniform drop_last 1 0 epoch 0': '3b19e07a4edcf894',
    'uniform drop_last 1 0 epoch 1': '8cb362adeb1c2d85',
    'uniform drop_last 1 0 epoch 4': 'fd1987fb9a993680',
    'uniform drop_last 3 2 epoch 0': '1e9e1ef97543f1f0',
    'uniform drop_last 3 2 epoch 1': '4e6c1811b4b5e566',
    'uniform drop_last 3 2 epoch 4': '637c3fa68cfd3d5d',
    'differential 1 0 epoch 0': '4dde1dbe8be33b38',
    'differential 1 0 epoch 1': '6b0d0158b7f96202',
    'differential 1 0 epoch 4': '04c49b0afd7cdaba',
    'differential 3 2 epoch 0': 'd0c9a70493062ce7',
    'differential 3 2 epoch 1': '412c37b4361a5df5',
    'differential 3 2 epoch 4': 'fdece0420a2bc58a',
    'differential inverse 1 0 epoch 0': '1df1322849581e1a',
    'differential inverse 1 0 epoch 1': 'bd733a83b13c7b22',
    'differential inverse 1 0 epoch 4': 'faea496a969e2b35',
    'differential inverse 3 2 epoch 0': '02f7bb7301bc82b7',
    'differential inverse 3 2 epoch 1': '4f7f69be9a5917c6',
    'differential inverse 3 2 epoch 4': '70f45e78b7e2dc61',
    'differential reverse schedule 1 0 epoch 0': 'f7c745bfc9f36a1b',
    'differential reverse schedule 1 0 epoch 1': '9406167bca11e2ff',
    'differential reverse schedule 1 0 epoch 4': 'fc0d311131a6df65',
    'differential reverse schedule 3 2 epoch 0': '9253c14bac286e03',
    'differential reverse schedule 3 2 epoch 1': 'ba35a7a8f4a9a68a',
    'differential reverse schedule 3 2 epoch 4': 'da47f7fd697fdc08',
    'mmt 1 0 epoch 0': '18e38980af6bf978',
    'mmt 1 0 epoch 1': 'a21547cd0c63ee95',
    'mmt 1 0 epoch 4': '860b95e692631631',
    'mmt 3 2 epoch 0': '547a0ded39016261',
    'mmt 3 2 epoch 1': '732cea15c45c4f26',
    'mmt 3 2 epoch 4': '9bacfa058bc4b38d',
    'mmt balanced drop_last 1 0 epoch 0': '34ae47703d82c9b9',
    'mmt balanced drop_last 1 0 epoch 1': 'f24a52f39f1c0c7f',
    'mmt balanced drop_last 1 0 epoch 4': '01f3587053e9b234',
    'mmt balanced drop_last 3 2 epoch 0': '0ac46321f122cf91',
    'mmt balanced drop_last 3 2 epoch 1': 'b077150bd4d67068',
    'mmt balanced drop_last 3 2 epoch 4': '7d157939487c1929',
}


def test_weightings_priors_and_losses_keep_their_bits_on_ordinary_inputs():
    assert ordinary_outputs() == ORDINARY_OUTPUT_BITS


def test_samplers_keep_their_batches_on_ordinary_inputs():
    assert sampler_outputs() == SAMPLER_OUTPUT_BITS
