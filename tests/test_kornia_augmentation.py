"""RandomMMT: the kornia mix augmentation built on the same kernels as MMTMix."""

import pytest
import torch
from kornia.augmentation._2d.mix.base import MixAugmentationBaseV2

from mmt_augment import MMTMix, RandomMMT, mixed_cross_entropy
from mmt_augment import functional as MF


def paired_batch(batch_size=4, size=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(2 * batch_size, 3, size, size, generator=generator)
    labels = torch.arange(2 * batch_size)
    return images, labels


def test_is_a_kornia_mix_augmentation():
    assert isinstance(RandomMMT(), MixAugmentationBaseV2)


@pytest.mark.parametrize("mode", ["cutmix", "mixup"])
@pytest.mark.parametrize("same_on_batch", [True, False])
def test_equals_the_functional_kernels_with_the_same_draws(mode, same_on_batch):
    images, labels = paired_batch()
    aug = RandomMMT(mode=mode, p=0.7, same_on_batch=same_on_batch, generator=torch.Generator().manual_seed(5))
    mixed, kornia_labels = aug(images, labels)
    params = MF.sample_mix_params(4, 8, 8, mode=mode, alpha=1.0, p=0.7, per_sample=not same_on_batch,
                                  generator=torch.Generator().manual_seed(5))
    head, tail = images[:4], images[4:]
    expected = MF.cutmix(head, tail, params.boxes) if mode == "cutmix" else MF.mixup(head, tail, params.lam)
    assert torch.equal(mixed, expected)
    torch.testing.assert_close(kornia_labels[:, 2], params.lam)


def test_per_row_draws_match_mmtmix_per_sample():
    images, labels = paired_batch()
    _, kornia_labels = RandomMMT(p=0.7, same_on_batch=False, generator=torch.Generator().manual_seed(9))(images, labels)
    reference = MMTMix(p=0.7, per_sample=True, generator=torch.Generator().manual_seed(9))
    _, mixed = reference.mix(images[:4], labels[:4], images[4:], labels[4:])
    torch.testing.assert_close(kornia_labels[:, 2], mixed.lam)


def test_label_format_is_head_tail_lam():
    images, labels = paired_batch()
    mixed, kornia_labels = RandomMMT(mode="mixup", p=1.0, generator=torch.Generator().manual_seed(0))(images, labels)
    assert kornia_labels.shape == (4, 3) and kornia_labels.dtype == torch.float32
    assert torch.equal(kornia_labels[:, 0], labels[:4].float())
    assert torch.equal(kornia_labels[:, 1], labels[4:].float())
    lam = kornia_labels[:, 2].view(-1, 1, 1, 1)
    torch.testing.assert_close(mixed, lam * images[:4] + (1 - lam) * images[4:])


def test_images_only_call_returns_images():
    images, _ = paired_batch()
    out = RandomMMT(p=1.0)(images)
    assert isinstance(out, torch.Tensor) and out.shape == (4, 3, 8, 8)


def test_p_zero_returns_the_head_half():
    images, labels = paired_batch()
    mixed, kornia_labels = RandomMMT(p=0.0, same_on_batch=False)(images, labels)
    assert torch.equal(mixed, images[:4])
    assert torch.equal(kornia_labels[:, 2], torch.ones(4))


def test_loss_from_kornia_labels():
    images, labels = paired_batch()
    _, kornia_labels = RandomMMT(p=1.0, mode="mixup")(images, labels)
    logits = torch.randn(4, 8)
    loss = mixed_cross_entropy(logits, kornia_labels[:, 0].long(), kornia_labels[:, 1].long(), kornia_labels[:, 2])
    lam = kornia_labels[:, 2]
    expected = (lam * torch.nn.functional.cross_entropy(logits, labels[:4], reduction="none")
                + (1 - lam) * torch.nn.functional.cross_entropy(logits, labels[4:], reduction="none")).mean()
    torch.testing.assert_close(loss, expected)


def test_replays_given_params():
    images, labels = paired_batch()
    aug = RandomMMT(p=1.0, same_on_batch=False)
    first = aug(images, labels)
    again = aug(images, labels, params=aug._params)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [({"alpha": 0}, ValueError, "alpha"), ({"p": 2}, ValueError, "p must be in"), ({"mode": "x"}, ValueError, "mode")],
)
def test_bad_arguments_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        RandomMMT(**kwargs)


def test_odd_paired_batch_raises():
    with pytest.raises(ValueError, match="even number of rows"):
        RandomMMT()(torch.rand(5, 3, 8, 8))


def test_soft_labels_are_rejected_for_kornia_format():
    with pytest.raises(ValueError, match="class indices"):
        RandomMMT()(torch.rand(4, 3, 8, 8), torch.rand(4, 10))
