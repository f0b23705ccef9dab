"""RandomMMT: the kornia mix augmentation built on the same kernels as MMTMix."""

import pytest
import torch

# Before the package's imports: RandomMMT itself needs kornia.
K = pytest.importorskip("kornia.augmentation", reason="RandomMMT needs kornia (the [kornia] extra)")

from mmt_augment import MixedLabels, MMTMix, RandomMMT, mixed_cross_entropy  # noqa: E402
from mmt_augment import functional as MF  # noqa: E402
from mmt_augment.modes import apply  # noqa: E402

MixAugmentationBaseV2 = K.MixAugmentationBaseV2


def paired_batch(batch_size=4, size=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(2 * batch_size, 3, size, size, generator=generator)
    labels = torch.arange(2 * batch_size)
    return images, labels


def test_is_a_kornia_mix_augmentation():
    assert isinstance(RandomMMT(), MixAugmentationBaseV2)


@pytest.mark.parametrize("mode", ["cutmix", "mixup", "resizemix", ("cutmix", "mixup")])
@pytest.mark.parametrize("same_on_batch", [True, False])
def test_equals_the_shared_mix_with_the_same_draws(mode, same_on_batch):
    images, labels = paired_batch()
    aug = RandomMMT(mode=mode, p=0.7, same_on_batch=same_on_batch, generator=torch.Generator().manual_seed(5))
    mixed, kornia_labels = aug(images, labels)
    params = MF.sample_mix_params(4, 8, 8, mode=mode, alpha=1.0, p=0.7, per_sample=not same_on_batch,
                                  generator=torch.Generator().manual_seed(5))
    assert torch.equal(mixed, apply(images[:4], images[4:], params))
    torch.testing.assert_close(kornia_labels[:, 2], 1 - params.lam)


def test_per_row_draws_match_mmtmix_per_sample():
    images, labels = paired_batch()
    _, kornia_labels = RandomMMT(p=0.7, same_on_batch=False, generator=torch.Generator().manual_seed(9))(images, labels)
    reference = MMTMix(p=0.7, per_sample=True, generator=torch.Generator().manual_seed(9))
    _, mixed = reference.mix(images[:4], labels[:4], images[4:], labels[4:])
    torch.testing.assert_close(kornia_labels[:, 2], 1 - mixed.lam)


@pytest.mark.parametrize("mode", ["cutmix", "mixup", "resizemix"])
def test_label_format_is_head_tail_and_tail_weight(mode):
    images, labels = paired_batch()
    mixed, kornia_labels = RandomMMT(mode=mode, p=1.0, generator=torch.Generator().manual_seed(0))(images, labels)
    assert kornia_labels.shape == (4, 3) and kornia_labels.dtype == torch.float32
    assert torch.equal(kornia_labels[:, 0], labels[:4].float())
    assert torch.equal(kornia_labels[:, 1], labels[4:].float())
    if mode == "mixup":
        # kornia's RandomMixUpV2 convention: image = (1 - w) * input + w * paired input.
        tail_weight = kornia_labels[:, 2].view(-1, 1, 1, 1)
        torch.testing.assert_close(mixed, (1 - tail_weight) * images[:4] + tail_weight * images[4:])
    else:
        # w is the share of pixels that came from the tail image.
        from_tail = (mixed != images[:4]).float().mean(dim=(1, 2, 3))
        assert bool((kornia_labels[:, 2] >= from_tail - 1e-6).all())


def test_images_only_call_returns_images():
    images, _ = paired_batch()
    out = RandomMMT(p=1.0)(images)
    assert isinstance(out, torch.Tensor) and out.shape == (4, 3, 8, 8)


def test_p_zero_returns_the_head_half():
    images, labels = paired_batch()
    mixed, kornia_labels = RandomMMT(p=0.0, same_on_batch=False)(images, labels)
    assert torch.equal(mixed, images[:4])
    assert torch.equal(kornia_labels[:, 2], torch.zeros(4))


def test_loss_from_kornia_labels():
    images, labels = paired_batch()
    _, kornia_labels = RandomMMT(p=1.0, mode="mixup")(images, labels)
    logits = torch.randn(4, 8)
    loss = mixed_cross_entropy(logits, *MixedLabels.from_kornia(kornia_labels))
    tail_weight = kornia_labels[:, 2]  # the loss kornia documents for RandomMixUpV2
    expected = ((1 - tail_weight) * torch.nn.functional.cross_entropy(logits, labels[:4], reduction="none")
                + tail_weight * torch.nn.functional.cross_entropy(logits, labels[4:], reduction="none")).mean()
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


def test_runs_last_in_augmentation_sequential_after_other_augmentations():
    images, labels = paired_batch(size=16)
    mmt = RandomMMT(p=1.0, generator=torch.Generator().manual_seed(3))
    pipeline = K.AugmentationSequential(K.RandomHorizontalFlip(p=1.0), K.RandomGrayscale(p=1.0), mmt)
    out = pipeline(images)
    assert out.shape == (4, 3, 16, 16)
    flipped = K.RandomGrayscale(p=1.0)(images.flip(-1))
    mix_labels = mmt.labels_for(labels)
    tail_weight = mix_labels[:, 2].view(-1, 1, 1, 1)
    torch.testing.assert_close(out, (1 - tail_weight) * flipped[:4] + tail_weight * flipped[4:])
    assert torch.equal(mix_labels[:, 1], labels[4:].float())


def test_data_keys_input_and_class_like_kornia_mix_augmentations():
    images, labels = paired_batch()
    aug = RandomMMT(p=1.0, data_keys=["input", "class"], generator=torch.Generator().manual_seed(1))
    mixed, kornia_labels = aug(images, labels)
    assert mixed.shape == (4, 3, 8, 8) and kornia_labels.shape == (4, 3)
    only_images = RandomMMT(p=1.0, generator=torch.Generator().manual_seed(1))(images, data_keys=["input"])
    assert torch.equal(only_images, mixed)


@pytest.mark.parametrize("key", ["mask", "bbox_xyxy", "keypoints"])
def test_other_data_keys_raise_a_clear_error(key):
    with pytest.raises(ValueError, match="halves|2B paired rows into B"):
        RandomMMT(data_keys=["input", key])
    with pytest.raises(ValueError, match="2B paired rows into B"):
        RandomMMT()(torch.rand(4, 3, 8, 8), torch.rand(4, 1, 8, 8), data_keys=["input", key])


def test_keepdim_is_not_accepted_silently():
    with pytest.raises(TypeError):
        RandomMMT(keepdim=True)


def test_uses_only_public_kornia_paths():
    import inspect

    import mmt_augment.kornia_augmentation as module

    source = inspect.getsource(module)
    assert "kornia.augmentation._" not in source and "from kornia._" not in source


def test_importing_mmt_augment_does_not_import_kornia():
    import subprocess
    import sys

    code = "import sys, mmt_augment; assert 'kornia' not in sys.modules; mmt_augment.RandomMMT; assert 'kornia' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_replayed_params_must_fit_the_batch_they_mix():
    images, labels = paired_batch(4, size=8)
    aug = RandomMMT(mode="cutmix", generator=torch.Generator().manual_seed(1))
    aug(images, labels)
    drawn = aug._params
    smaller, _ = paired_batch(4, size=6)
    with pytest.raises(ValueError, match=r"params were drawn for 8x8 images, got 6x6"):
        aug(smaller, labels, params=drawn)
    one_row = {key: value[:1] if key in ("lam", "apply", "mode", "boxes") else value for key, value in drawn.items()}
    with pytest.raises(ValueError, match=r"params.lam must have shape \(4,\), one entry per row of the 4 images"):
        aug(images, labels, params=one_row)
    more, more_labels = paired_batch(6, size=8)
    with pytest.raises(ValueError, match=r"params.lam must have shape \(6,\), one entry per row of the 6 images"):
        aug(more, more_labels, params=drawn)


def test_kornias_own_mix_parameters_are_refused_with_a_clear_error():
    images, labels = paired_batch(4)
    kornia_params = K.RandomMixUpV2(p=1.0).forward_parameters(images.shape)
    with pytest.raises(ValueError, match="params must be RandomMMT's parameters for mode 'mixup'"):
        RandomMMT()(images, labels, params=kornia_params)


def test_a_failed_pipeline_call_leaves_no_parameters_for_labels_for():
    images, labels = paired_batch(4)
    aug = RandomMMT()
    pipeline = K.AugmentationSequential(K.RandomHorizontalFlip(), aug)
    pipeline(images)
    assert aug.labels_for(labels).shape == (4, 3)
    with pytest.raises(ValueError, match="paired_images"):
        pipeline(images[:3])  # an odd batch: refused while the pipeline draws parameters
    with pytest.raises(ValueError, match="parameters of a successful call"):
        aug.labels_for(labels)

    class Failing(K.RandomHorizontalFlip):
        def apply_transform(self, *args, **kwargs):
            raise RuntimeError("an earlier augmentation fails")

    pipeline(images)
    with pytest.raises(RuntimeError, match="earlier augmentation"):
        K.AugmentationSequential(Failing(p=1.0), aug)(images)
    with pytest.raises(ValueError, match="parameters of a successful call"):
        aug.labels_for(labels)


@pytest.mark.parametrize("params", [[1], {"lam": 1}, "lam"])
def test_labels_for_refuses_parameters_that_are_not_randommmts(params):
    images, labels = paired_batch(4)
    with pytest.raises(ValueError, match="params must be RandomMMT's parameters"):
        RandomMMT().labels_for(labels, params=params)


@pytest.mark.parametrize("mode", ["cutmix", "mixup"])
def test_a_replay_without_the_shape_it_was_drawn_for_is_refused(mode):
    images, _ = paired_batch(4, size=32)
    aug = RandomMMT(mode)
    aug(images)
    params = {key: value for key, value in aug._params.items() if key != "forward_input_shape"}
    small, _ = paired_batch(4, size=16)
    with pytest.raises(ValueError, match=r"params must be RandomMMT's parameters .*, with tensors \['forward_input_shape'\]"):
        aug(small, params=params)


def test_labels_for_needs_only_lam_of_given_parameters():
    images, labels = paired_batch(4)
    aug = RandomMMT("cutmix")
    _, expected = aug(images, labels)
    assert torch.equal(aug.labels_for(labels, params={"lam": aug._params["lam"]}), expected)


def test_labels_for_refuses_kornias_own_mix_parameters():
    images, labels = paired_batch(4)
    own = K.RandomMixUpV2(p=1.0)
    own(images, labels)
    with pytest.raises(ValueError, match="kornia's own mix parameters"):
        RandomMMT().labels_for(labels, params=own._params)


def test_negative_class_ids_are_refused():
    images, labels = paired_batch(4)
    labels = labels.clone()
    labels[2] = -1
    aug = RandomMMT()
    with pytest.raises(ValueError, match="paired_labels must be class indices >= 0, got -1"):
        aug(images, labels)
    aug(images)
    with pytest.raises(ValueError, match="paired_labels must be class indices >= 0, got -1"):
        aug.labels_for(labels)


def test_class_ids_beyond_what_float32_labels_hold_are_refused():
    images = torch.rand(4, 3, 8, 8)
    labels = torch.tensor([0, 2**24 + 1, 3, 4])
    with pytest.raises(ValueError, match=r"class id 16777217, which torch.float32 labels cannot hold exactly"):
        RandomMMT()(images, labels)
    _, exact = RandomMMT()(images.double(), labels)  # float64 labels hold it
    assert exact[1, 0].item() == 2**24 + 1


def test_labels_for_refers_only_to_a_successful_call():
    images, labels = paired_batch(4)
    aug = RandomMMT()
    with pytest.raises(ValueError):
        aug(images, labels[:3])  # fails: the labels do not fit
    with pytest.raises(ValueError, match="parameters of a successful call"):
        aug.labels_for(labels)
    aug(images)
    assert aug.labels_for(labels).shape == (4, 3)
    with pytest.raises(TypeError, match="paired_labels must be a torch.Tensor of \\(2B,\\) class indices, got list"):
        aug.labels_for(labels.tolist())
