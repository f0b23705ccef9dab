"""The mode table: what each mode draws and applies, the box rules, the CPU forms beside the tensor
forms, and the one draw and apply point every call goes through."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision import tv_tensors

from mmt_augment import MMTMix, _fastpath, kernels, modes, params, transforms
from mmt_augment import functional as MF
from mmt_augment.modes import MODES, cutmix_box_on_host, cutmix_boxes

ALL_MODES = list(MODES) + [("cutmix", "mixup"), ("mixup", "resizemix", "cutmix")]
DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64]


def batch(batch_size=8, size=(12, 10), dtype=torch.float32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    head = torch.rand(batch_size, 3, *size, generator=generator)
    tail = torch.rand(batch_size, 3, *size, generator=generator) + 2.0  # disjoint from the head's values
    if dtype == torch.uint8:
        head, tail = (head * 60).to(dtype), (tail * 60).to(dtype)
    else:
        head, tail = head.to(dtype), tail.to(dtype)
    return head, torch.zeros(batch_size, dtype=torch.long), tail, torch.ones(batch_size, dtype=torch.long)


def seeded(seed=0, **kwargs):
    return MMTMix(num_classes=2, generator=torch.Generator().manual_seed(seed), **kwargs)


def same_bits(first, second):
    """Equal dtype, shape and bits (NaN payloads and signed zeros included)."""
    bits = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[first.element_size()]
    return first.dtype == second.dtype and torch.equal(first.view(bits), second.view(bits))


@pytest.fixture
def tensor_forms_only(monkeypatch):
    """Every call takes the tensor forms, as on an accelerator or under autograd."""
    monkeypatch.setattr(_fastpath, "on_host", lambda *tensors: False)


# -- the table -----------------------------------------------------------------------------------


def test_every_mode_in_the_table_is_accepted_everywhere():
    pytest.importorskip("kornia", reason="RandomMMT needs kornia (the [kornia] extra)")
    from mmt_augment import RandomMMT

    head, head_labels, tail, tail_labels = batch()
    for name in MODES:
        MMTMix(num_classes=2, mode=name)(head, head_labels, tail, tail_labels)
        RandomMMT(mode=name)(torch.cat([head, tail]))
        MF.sample_mix_params(8, 12, 10, mode=name)


def test_an_unknown_mode_is_rejected_not_treated_as_mixup():
    with pytest.raises(ValueError, match="mode must be one of"):
        MMTMix(mode="fmix")
    with pytest.raises(ValueError, match="every mode must be one of"):
        MMTMix(mode=("cutmix", "fmix"))


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("per_sample", [False, True])
def test_lam_is_the_share_of_head_pixels_for_every_mode(mode, per_sample):
    batch_size, height, width = 64, 12, 10
    head, tail = torch.zeros(batch_size, 1, height, width), torch.ones(batch_size, 1, height, width)
    labels = torch.zeros(batch_size, dtype=torch.long)
    images, mixed = seeded(3, mode=mode, per_sample=per_sample, p=0.8).mix(head, labels, tail, labels + 1)
    # With a zero head and a one tail, every mode's output row averages to its tail share.
    torch.testing.assert_close(mixed.lam, 1.0 - images.mean(dim=(1, 2, 3)), rtol=0, atol=1e-5)


def test_a_tuple_of_modes_chooses_a_mode_per_row_with_mode_probs():
    drawn = MF.sample_mix_params(20000, 8, 8, mode=("cutmix", "mixup"), mode_probs=(0.25, 0.75), p=1.0,
                                 generator=torch.Generator().manual_seed(0))
    share = drawn.mode.float().mean().item()  # mode 1 is mixup
    assert abs(share - 0.75) < 0.015  # 20k Bernoulli(0.75) draws: standard error 0.003
    cutmix_rows = drawn.mode == 0
    assert bool((drawn.boxes[~cutmix_rows] == 0).all())
    torch.testing.assert_close(drawn.lam[cutmix_rows], MF.box_area_lam(drawn.boxes[cutmix_rows], 8, 8))


def test_a_tuple_of_modes_per_batch_uses_one_mode_per_call():
    head, head_labels, tail, tail_labels = batch(16, size=(16, 16))
    seen = set()
    for seed in range(30):
        mmt = seeded(seed, mode=("cutmix", "mixup"), per_sample=False)
        images, mixed = mmt.mix(head, head_labels, tail, tail_labels)
        blended = bool(((images > 1.0) & (images < 2.0)).any())  # only MixUp makes values between the ranges
        seen.add(blended)
        assert mixed.lam.unique().numel() == 1
    assert seen == {True, False}


def test_mode_probs_need_a_tuple_and_one_weight_per_mode():
    with pytest.raises(ValueError, match="mode_probs needs a tuple of modes"):
        MMTMix(mode="mixup", mode_probs=(1.0,))
    with pytest.raises(ValueError, match="one entry per mode"):
        MMTMix(mode=("cutmix", "mixup"), mode_probs=(1.0,))
    with pytest.raises(ValueError, match="not all be 0"):
        MMTMix(mode=("cutmix", "mixup"), mode_probs=(0, 0))
    with pytest.raises(TypeError, match="mode_probs must hold real numbers"):
        MMTMix(mode=("cutmix", "mixup"), mode_probs=("a", 1))


@settings(max_examples=30, deadline=None)
@given(mode=st.sampled_from(ALL_MODES), per_sample=st.booleans(), dtype=st.sampled_from(DTYPES),
       channels_last=st.booleans(), seed=st.integers(0, 2**16))
def test_every_mode_keeps_dtype_and_layout_and_its_targets_sum_to_one(mode, per_sample, dtype, channels_last, seed):
    head, head_labels, tail, tail_labels = batch(5, dtype=dtype, seed=seed)
    if channels_last:
        head, tail = head.contiguous(memory_format=torch.channels_last), tail.contiguous(memory_format=torch.channels_last)
    images, targets = seeded(seed, mode=mode, per_sample=per_sample, p=0.7)(head, head_labels, tail, tail_labels)
    assert images.shape == head.shape and images.dtype == dtype
    assert images.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    torch.testing.assert_close(targets.sum(1), torch.ones(5, dtype=targets.dtype))


# -- the box rules -------------------------------------------------------------------------------


def _reference_boxes(lam, centres, height, width):
    # The definition in NumPy float32, whose square root is correctly rounded on every CPU.
    f32 = np.float32
    side = np.sqrt(np.maximum(f32(1.0) - lam, f32(0.0)))
    size = np.array([width, height], dtype=f32)
    cut = (side[:, None] * size).astype(np.int64)
    low = (centres * size).astype(np.int64) - cut // 2
    limit = size.astype(np.int64)
    return np.concatenate([np.clip(low, 0, limit), np.clip(low + cut, 0, limit)], axis=1)


def test_cutmix_boxes_equal_a_correctly_rounded_numpy_reference_on_any_cpu():
    # torch's float32 sqrt is not correctly rounded on every CPU (AVX512 builds differ in about
    # 20% of draws), which would move box edges between machines for one seed.
    generator = torch.Generator().manual_seed(3)
    lam = torch.cat([torch.rand(20_000, generator=generator), 1e-6 * torch.rand(20_000, generator=generator)])
    centres = torch.rand(len(lam), 2, generator=generator)
    boxes = cutmix_boxes(lam, centres, 37, 29).numpy()
    np.testing.assert_array_equal(boxes, _reference_boxes(lam.numpy(), centres.numpy(), 37, 29))


def test_cutmix_boxes_keep_float64_shares_exact():
    lam = torch.tensor([0.3, 1e-12], dtype=torch.float64)  # 1 - 1e-12 is not a float32
    boxes = cutmix_boxes(lam, torch.full((2, 2), 0.5, dtype=torch.float64), 1_000_000, 1_000_000)
    assert boxes[1].tolist() == [1, 1, 1_000_000, 1_000_000]  # side 999_999; a float32 root (1.0) gives 0, 0


def test_the_per_batch_box_rule_on_python_numbers_equals_the_tensor_rule_at_the_edges():
    lam = torch.tensor([0.0, 1.0, 1e-7, 1.0 - 2**-24, 0.5, 0.25, 2.0, 0.999])
    centres = torch.tensor([[0.0, 0.0], [0.5, 0.5], [1.0 - 2**-24, 0.0], [0.3, 1.0 - 2**-24]] * 2)
    for height, width in [(1, 1), (32, 32), (224, 160), (4097, 4099), (3, 2**24 + 3)]:
        boxes = cutmix_boxes(lam, centres, height, width)
        shares = MF.box_area_lam(boxes, height, width)
        for row in range(len(lam)):
            box, share = cutmix_box_on_host(float(lam[row]), *centres[row].tolist(), height, width)
            assert box == tuple(boxes[row].tolist()), (height, width, row)
            assert share == float(shares[row]), (height, width, row)  # bit for bit


def test_box_area_lam_rounds_the_area_like_float32_division():
    # 4097 * 4099 is not a float32: the image area is rounded once, as float32 arithmetic does.
    boxes = torch.tensor([[0, 0, 4099, 4097], [10, 20, 30, 40], [0, 0, 0, 0], [5, 5, 4000, 4000]])
    f32 = np.float32
    areas = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).numpy().astype(f32)
    expected = f32(1.0) - areas / f32(4097 * 4099)
    assert torch.equal(MF.box_area_lam(boxes, 4097, 4099), torch.from_numpy(expected))


def test_resizemix_scale_stays_in_its_range_and_box_inside_the_image():
    drawn = MF.sample_mix_params(5000, 40, 30, mode="resizemix", resize_scale=(0.2, 0.5),
                                 generator=torch.Generator().manual_seed(0))
    x1, y1, x2, y2 = drawn.boxes.unbind(1)
    assert bool(((x1 >= 0) & (y1 >= 0) & (x2 <= 30) & (y2 <= 40)).all())
    heights, widths = (y2 - y1).float(), (x2 - x1).float()
    assert heights.min() >= math.floor(0.2 * 40) and heights.max() <= 0.5 * 40
    assert widths.min() >= math.floor(0.2 * 30) and widths.max() <= 0.5 * 30
    assert abs(heights.mean().item() / 40 - 0.35) < 0.03  # s ~ U(0.2, 0.5) has mean 0.35


@pytest.mark.parametrize("bad", [(0.0, 0.5), (0.6, 0.5), (0.1, 1.5), "0.1", (0.1,)])
def test_bad_resize_scale_raises(bad):
    with pytest.raises((TypeError, ValueError), match="resize_scale"):
        MMTMix(mode="resizemix", resize_scale=bad)


def test_the_box_rules_raise_no_numpy_warnings(recwarn):
    cutmix_boxes(torch.tensor([float("nan"), 0.5]), torch.full((2, 2), 0.5), 8, 8)
    assert MF.box_area_lam(torch.zeros(2, 4, dtype=torch.int64), 0, 8).shape == (2,)
    assert not [warning for warning in recwarn if issubclass(warning.category, RuntimeWarning)]


# -- what each mode applies ----------------------------------------------------------------------


def _reference_cutmix(head, tail, boxes):
    # The definition, row by row: the head with the box's pixels taken from the tail.
    out = head.clone()
    for row, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        out[row, :, y1:y2, x1:x2] = tail[row, :, y1:y2, x1:x2]
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])
def test_cutmix_pastes_the_drawn_boxes_of_the_tail_by_definition(dtype, per_sample, channels_last):
    head, head_labels, tail, tail_labels = batch(16, size=(13, 11), dtype=dtype, seed=5)
    if dtype.is_floating_point:
        tail[3, 1, 2, 2], tail[5] = float("nan"), float("inf")  # outside the box the head stays exact
    if channels_last:
        head, tail = head.contiguous(memory_format=torch.channels_last), tail.contiguous(memory_format=torch.channels_last)
    for seed in range(5):
        mmt = seeded(seed, mode="cutmix", p=0.6, per_sample=per_sample)
        images, mixed = mmt.mix(head, head_labels, tail, tail_labels)
        drawn = MF.sample_mix_params(16, 13, 11, mode="cutmix", p=0.6, per_sample=per_sample,
                                     generator=torch.Generator().manual_seed(seed))
        assert same_bits(images, _reference_cutmix(head, tail, drawn.boxes))
        assert torch.equal(mixed.lam, drawn.lam)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.uint8])
def test_resizemix_pastes_the_whole_tail_resized_with_antialias(dtype):
    head, head_labels, tail, tail_labels = batch(6, size=(32, 32), dtype=dtype, seed=1)
    images, mixed = seeded(4, mode="resizemix").mix(head, head_labels, tail, tail_labels)
    drawn = MF.sample_mix_params(6, 32, 32, mode="resizemix", generator=torch.Generator().manual_seed(4))
    for row, (x1, y1, x2, y2) in enumerate(drawn.boxes.tolist()):
        expected = F.interpolate(tail[row:row + 1].float(), size=(y2 - y1, x2 - x1), mode="bilinear",
                                 antialias=True, align_corners=False)[0]
        if dtype == torch.uint8:
            expected = expected.round().clamp(0, 255)
        torch.testing.assert_close(images[row, :, y1:y2, x1:x2].to(expected.dtype), expected.to(expected.dtype),
                                   rtol=0, atol=1.0 if dtype == torch.uint8 else 1e-4)
        outside = torch.ones(32, 32, dtype=torch.bool)
        outside[y1:y2, x1:x2] = False
        assert torch.equal(images[row][:, outside], head[row][:, outside])
        assert math.isclose(float(mixed.lam[row]), 1 - (y2 - y1) * (x2 - x1) / 1024, rel_tol=1e-6)


@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_an_unmixed_mixup_row_is_the_head_exactly_even_with_non_finite_tails(per_sample, requires_grad):
    head, head_labels, tail, tail_labels = batch(64)
    head.requires_grad_(requires_grad)
    tail = tail.clone()
    tail[::2] = float("inf")
    tail[1::2] = float("nan")
    for seed in range(4):
        images, mixed = seeded(seed, mode="mixup", p=0.5, per_sample=per_sample).mix(head, head_labels, tail, tail_labels)
        unmixed = mixed.lam == 1
        assert int(unmixed.sum()) > 0 or not per_sample
        assert torch.equal(images[unmixed].detach(), head[unmixed].detach())


@pytest.mark.parametrize("mode", ["resizemix", ("cutmix", "mixup"), ("mixup", "resizemix")])
def test_every_mode_passes_gradcheck(mode):
    generator = torch.Generator().manual_seed(0)
    head = torch.rand(4, 2, 6, 5, dtype=torch.float64, generator=generator, requires_grad=True)
    tail = torch.rand(4, 2, 6, 5, dtype=torch.float64, generator=generator, requires_grad=True)
    drawn = MF.sample_mix_params(4, 6, 5, mode=mode, p=0.8, resize_scale=(0.4, 0.9),
                                 generator=torch.Generator().manual_seed(2))
    assert torch.autograd.gradcheck(lambda h, t: modes.apply(h, t, drawn), (head, tail))


# -- the CPU forms: the tensor forms' bits, where they may run ----------------------------------


@pytest.mark.parametrize("mode", ["cutmix", "mixup"])
@pytest.mark.parametrize("alpha", [1.0, 0.3, 2.0])
@pytest.mark.parametrize("p", [1.0, 0.7, 0.35])
def test_per_batch_parameters_on_python_numbers_are_the_tensor_draw_bit_for_bit(mode, alpha, p):
    for seed in range(60):
        size = (7 + seed % 29, 5 + seed % 31)
        host_generator, tensor_generator = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
        host = params.sample_batch_on_host(*size, mode=mode, alpha=alpha, p=p, generator=host_generator)
        drawn = MF.sample_mix_params(3, *size, mode=mode, alpha=alpha, p=p, per_sample=False,
                                     generator=tensor_generator)
        assert host.apply == bool(drawn.apply[0])
        assert host.lam == float(drawn.lam[0])  # bit for bit
        if mode == "cutmix":
            assert host.box == tuple(drawn.boxes[0].tolist())
        assert torch.equal(host_generator.get_state(), tensor_generator.get_state())  # the same draws consumed


def test_per_batch_parameters_on_python_numbers_exist_only_for_modes_with_that_form():
    with pytest.raises(ValueError, match="mode 'resizemix' has no per-batch CPU form"):
        params.sample_batch_on_host(8, 8, mode="resizemix")


def test_per_batch_parameters_are_drawn_on_the_cpu_whatever_the_default_device():
    torch.manual_seed(3)
    expected = params.sample_batch_on_host(8, 8, mode="cutmix")
    torch.manual_seed(3)
    with torch.device("meta"):
        assert params.sample_batch_on_host(8, 8, mode="cutmix") == expected


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [1.0, 0.6])
def test_the_cpu_forms_give_the_tensor_forms_bits(monkeypatch, mode, per_sample, dtype, p):
    head, _, tail, _ = batch(16, dtype=dtype)
    head_labels, tail_labels = torch.arange(16) % 5, torch.arange(16) % 3 + 2
    if dtype.is_floating_point:
        tail[3, 1, 2, 2], tail[5] = float("nan"), float("inf")  # unmixed rows and box edges keep the head's
        head[2, 0] = -0.0
    calls = []
    for seed in range(4):
        mmt = MMTMix(num_classes=5, mode=mode, p=p, per_sample=per_sample, generator=torch.Generator().manual_seed(seed))
        images, targets = mmt(head, head_labels, tail, tail_labels)
        with monkeypatch.context() as patch:
            patch.setattr(_fastpath, "on_host", lambda *tensors: calls.append(1) and False)
            mmt.generator.manual_seed(seed)
            tensor_images, tensor_targets = mmt(head, head_labels, tail, tail_labels)
        assert same_bits(images, tensor_images) and same_bits(targets, tensor_targets)
    assert calls  # the predicate decided


def _spy(monkeypatch, owner, name, calls):
    original = getattr(owner, name)
    monkeypatch.setattr(owner, name, lambda *args, **kwargs: calls.append(name) or original(*args, **kwargs))


def test_the_cpu_forms_run_on_plain_cpu_tensors(monkeypatch):
    calls = []
    for owner, name in ((kernels, "cutmix_bits"), (kernels, "keep_rows_"), (kernels, "paste_box")):
        _spy(monkeypatch, owner, name, calls)
    head, head_labels, tail, tail_labels = batch(8)
    seeded(mode="cutmix")(head, head_labels, tail, tail_labels)
    seeded(mode="mixup", p=0.5)(head, head_labels, tail, tail_labels)
    seeded(mode="cutmix", per_sample=False)(head, head_labels, tail, tail_labels)
    seeded(mode=("mixup", "cutmix"))(head, head_labels, tail, tail_labels)  # pastes into its own blend
    assert calls == ["cutmix_bits", "keep_rows_", "paste_box", "keep_rows_", "cutmix_bits"]


def test_the_cpu_forms_step_aside_for_autograd_torch_func_and_large_batches(monkeypatch):
    calls = []
    for owner, name in ((kernels, "cutmix_bits"), (kernels, "keep_rows_"), (transforms, "sample_batch_on_host")):
        _spy(monkeypatch, owner, name, calls)
    head, head_labels, tail, tail_labels = batch(4)
    for per_sample in (True, False):
        mmt = seeded(mode="cutmix", per_sample=per_sample)
        images, _ = mmt(head.clone().requires_grad_(), head_labels, tail, tail_labels)
        assert images.requires_grad
        torch.func.grad(lambda h, mmt=mmt: mmt(h, head_labels, tail, tail_labels)[0].sum())(head)
        seeded(mode="mixup", p=0.5, per_sample=per_sample)(head.clone().requires_grad_(), head_labels, tail,
                                                          tail_labels)
    large_head, large_labels, large_tail, _ = batch(3, size=(700, 700))
    seeded(mode="cutmix")(large_head, large_labels, large_tail, large_labels + 1)  # 17 MB: torch.where is faster
    assert calls == []
    with torch.no_grad():  # a tensor that requires grad, outside autograd, takes the CPU forms
        seeded(mode="cutmix")(head.clone().requires_grad_(), head_labels, tail, tail_labels)
    assert calls == ["cutmix_bits"]


def test_per_batch_float16_mixup_keeps_the_tensor_weight(monkeypatch):
    # A Python-float weight rounds differently from a float16 tensor weight: no per-batch CPU form.
    calls = []
    _spy(monkeypatch, transforms, "sample_batch_on_host", calls)
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        head, head_labels, tail, tail_labels = batch(4, dtype=dtype)
        seeded(mode="mixup", per_sample=False)(head, head_labels, tail, tail_labels)
    assert calls == ["sample_batch_on_host"]  # float32 only


def test_make_params_is_the_one_draw_point_on_every_path():
    # A subclass that changes the draw is honoured by every call, on the CPU forms too.
    class LeftHalf(MMTMix):
        def make_params(self, head_images):
            drawn = super().make_params(head_images)
            if isinstance(drawn, modes.HostBatchParams):
                return drawn._replace(apply=True, lam=0.5, box=(0, 0, head_images.shape[-1] // 2, head_images.shape[-2]))
            return drawn

    head, head_labels, tail, tail_labels = batch(4, size=(6, 8))
    images, targets = LeftHalf(num_classes=2, mode="cutmix", per_sample=False, p=0.0)(head, head_labels, tail,
                                                                                     tail_labels)
    assert torch.equal(images[..., :4], tail[..., :4]) and torch.equal(images[..., 4:], head[..., 4:])
    assert torch.equal(targets, torch.full((4, 2), 0.5))


def test_apply_params_takes_every_parameter_form():
    head, head_labels, tail, tail_labels = batch(4)
    for per_sample in (True, False):
        mmt = seeded(2, mode="cutmix", per_sample=per_sample, p=0.7)
        drawn = mmt.make_params(head)
        assert isinstance(drawn, modes.MixParams if per_sample else modes.HostBatchParams)
        images = mmt.apply_params(head, tail, drawn)
        assert same_bits(images, seeded(2, mode="cutmix", per_sample=per_sample, p=0.7)(
            head, head_labels, tail, tail_labels)[0])


@pytest.mark.parametrize("per_sample", [True, False])
def test_parameters_replayed_on_images_they_do_not_fit_are_refused(per_sample):
    head, head_labels, tail, tail_labels = batch(4, size=(16, 16))
    mmt = seeded(mode="cutmix", per_sample=per_sample)
    drawn = mmt.make_params(head)
    small_head, _, small_tail, _ = batch(4, size=(12, 10))
    with pytest.raises(ValueError, match="params were drawn for 16x16 images, got 12x10"):
        mmt.apply_params(small_head, small_tail, drawn)
    if per_sample:
        more_head, _, more_tail, _ = batch(6, size=(16, 16))
        with pytest.raises(ValueError, match=r"params.lam must have shape \(6,\), one entry per row of the 6"):
            mmt.apply_params(more_head, more_tail, drawn)
        one_row = drawn._replace(lam=drawn.lam[:1], apply=drawn.apply[:1], mode=drawn.mode[:1], boxes=drawn.boxes[:1])
        with pytest.raises(ValueError, match=r"params.lam must have shape \(4,\)"):  # no broadcast of one row
            mmt.apply_params(head, tail, one_row)
        with pytest.raises(ValueError, match="params.apply must be a bool tensor, got torch.int64"):
            mmt.apply_params(head, tail, drawn._replace(apply=drawn.apply.long()))


def test_a_row_marked_unmixed_stays_the_head_whatever_its_box():
    head, _, tail, _ = batch(2, size=(8, 8))
    boxes = torch.tensor([[0, 0, 8, 8], [0, 0, 8, 8]])
    drawn = modes.MixParams(lam=torch.tensor([0.0, 1.0]), apply=torch.tensor([True, False]),
                            mode=torch.zeros(2, dtype=torch.int64), boxes=boxes, modes=("cutmix",))
    images = modes.apply(head, tail, drawn)
    assert torch.equal(images[0], tail[0]) and torch.equal(images[1], head[1])


# -- compile and torch.func ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["cutmix", "mixup", ("cutmix", "mixup")])
@pytest.mark.parametrize("per_sample", [False, True])
def test_a_seed_gives_the_same_result_eager_and_compiled(mode, per_sample):
    head, head_labels, tail, tail_labels = batch()
    mmt = MMTMix(num_classes=2, mode=mode, per_sample=per_sample, p=0.6, alpha=0.5)
    compiled = torch.compile(mmt, fullgraph=True)
    for seed in range(3):
        torch.manual_seed(seed)
        eager_images, eager_targets = mmt(head, head_labels, tail, tail_labels)
        torch.manual_seed(seed)
        compiled_images, compiled_targets = compiled(head, head_labels, tail, tail_labels)
        assert torch.equal(eager_targets, compiled_targets)  # the same draws, bit for bit
        # Inductor may fuse lerp into other arithmetic: equal up to float rounding.
        torch.testing.assert_close(eager_images, compiled_images, rtol=1e-6, atol=1e-6)


def test_a_generator_works_under_torch_compile_with_the_eager_draws():
    head, head_labels, tail, tail_labels = batch()
    eager = seeded(7, mode="cutmix", per_sample=False)
    compiled = torch.compile(seeded(7, mode="cutmix", per_sample=False))
    for _ in range(3):
        expected, got = eager(head, head_labels, tail, tail_labels), compiled(head, head_labels, tail, tail_labels)
        assert torch.equal(expected[0], got[0]) and torch.equal(expected[1], got[1])


@pytest.mark.parametrize("mode", ["cutmix", "mixup"])
@pytest.mark.parametrize("per_sample", [True, False])
def test_mmtmix_runs_under_torch_func_transforms_with_the_eager_draws(mode, per_sample):
    # The mix stays linear in (head, tail) for the drawn parameters.
    head, head_labels, tail, tail_labels = batch(6, dtype=torch.float64)
    expected = seeded(4, mode=mode, per_sample=per_sample)(head, head_labels, tail, tail_labels)[0]
    mmt = seeded(4, mode=mode, per_sample=per_sample)
    primal, tangent = torch.func.jvp(lambda h, t: mmt(h, head_labels, t, tail_labels)[0], (head, tail),
                                     (torch.ones_like(head), torch.zeros_like(tail)))
    assert same_bits(primal, expected)
    weights = seeded(4, mode=mode, per_sample=per_sample)(torch.ones_like(head), head_labels,
                                                          torch.zeros_like(tail), tail_labels)[0]
    torch.testing.assert_close(tangent, weights, rtol=0, atol=1e-12)
    gradient = torch.func.grad(lambda h: seeded(4, mode=mode, per_sample=per_sample)(
        h, head_labels, tail, tail_labels)[0].sum())(head)
    torch.testing.assert_close(gradient, weights, rtol=0, atol=1e-12)


# -- draws and inputs ----------------------------------------------------------------------------


def test_tiny_alpha_puts_lam_at_zero_and_one():
    lam = MF.sample_lam(20000, 1e-3, generator=torch.Generator().manual_seed(0))
    middle = ((lam > 0.05) & (lam < 0.95)).float().mean().item()
    # Beta(a, a) puts about 2 a log(19) = 0.6% of its mass in (0.05, 0.95) for a = 1e-3.
    assert middle < 0.02
    assert abs((lam > 0.5).float().mean().item() - 0.5) < 0.02  # symmetric


def test_alpha_below_the_documented_minimum_is_rejected():
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0.001"):
        MMTMix(alpha=1e-4)


def _collate_lams(num_workers, seed):
    mmt = MMTMix(num_classes=2, per_sample=False, generator=torch.Generator().manual_seed(seed))
    data = [(torch.rand(3, 4, 4), torch.tensor(i % 2)) for i in range(16)]

    def collate(items):
        images = torch.stack([image for image, _ in items])
        labels = torch.stack([label for _, label in items])
        _, mixed = mmt.mix(images[:2], labels[:2], images[2:], labels[2:])
        return mixed.lam[0]

    torch.manual_seed(123)
    loader = torch.utils.data.DataLoader(data, batch_size=4, num_workers=num_workers, collate_fn=collate)
    return [float(lam) for lam in loader]


def test_a_seeded_transform_as_collate_fn_gives_each_worker_its_own_stream():
    lams = _collate_lams(2, seed=0)
    # Batches alternate between the two workers: 0, 2 from one and 1, 3 from the other.
    assert lams[0] != lams[1] and lams[2] != lams[3]
    assert lams == _collate_lams(2, seed=0)  # still reproducible
    assert lams != _collate_lams(2, seed=1)


@pytest.mark.parametrize("size", [(0, 8), (8, 0)])
def test_zero_size_images_are_rejected(size):
    head = torch.rand(4, 3, *size)
    labels = torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="height and width >= 1"):
        MMTMix(num_classes=2)(head, labels, head, labels)


def test_tv_tensor_images_stay_tv_tensors_in_every_call_form():
    head, head_labels, tail, tail_labels = batch(4)
    paired = tv_tensors.Image(torch.cat([head, tail]))
    labels = torch.cat([head_labels, tail_labels])
    expected = seeded(1)(torch.cat([head, tail]), labels)[0]
    for call in (lambda: seeded(1)(paired, labels)[0], lambda: seeded(1)((paired, labels))[0],
                 lambda: seeded(1)({"image": paired, "labels": labels})["image"],
                 lambda: seeded(1)(tv_tensors.Image(head), head_labels, tv_tensors.Image(tail), tail_labels)[0]):
        images = call()
        assert isinstance(images, tv_tensors.Image) and torch.equal(images.as_subclass(torch.Tensor), expected)


def test_float64_images_with_float32_soft_labels_give_float64_targets():
    head, _, tail, _ = batch(4, dtype=torch.float64)
    soft = torch.tensor([[0.25, 0.75]] * 4, dtype=torch.float32)
    _, targets = MMTMix()(head, soft, tail, soft.flip(1))
    assert targets.dtype == torch.float64
    lam = targets[:, 0].sub(0.75).div(-0.5)  # 0.25 lam + 0.75 (1 - lam)
    torch.testing.assert_close(targets[:, 1], 0.75 * lam + 0.25 * (1 - lam))


@pytest.mark.parametrize("lam", [1, 0, True])
def test_functional_mixup_takes_an_int_lam(lam):
    head, _, tail, _ = batch(2)
    out = MF.mixup(head, tail, lam)
    assert torch.equal(out, head if lam else tail)


def test_odd_batch_error_says_the_call_halves_the_batch():
    with pytest.raises(ValueError, match="returns half"):
        MMTMix(num_classes=2)(torch.rand(5, 3, 4, 4), torch.zeros(5, dtype=torch.long))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int32])
def test_mix_returns_int64_class_indices_for_any_integer_labels(dtype):
    head, head_labels, tail, tail_labels = batch(4)
    _, mixed = MMTMix(num_classes=2).mix(head, head_labels.to(dtype), tail, tail_labels.to(dtype))
    assert mixed.head_labels.dtype == torch.int64 and mixed.tail_labels.dtype == torch.int64
    assert mixed.to_dense(2).shape == (4, 2)


def test_the_0_2_per_batch_cpu_names_still_work_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="sample_batch_params_on_host is deprecated"):
        draw = MF.sample_batch_params_on_host
    with pytest.warns(DeprecationWarning, match="HostBatchParams is deprecated"):
        kind = MF.HostBatchParams
    assert isinstance(draw(8, 8, mode="cutmix", generator=torch.Generator().manual_seed(0)), kind)
    with pytest.raises(AttributeError, match="sample_row_params_on_host"):
        MF.sample_row_params_on_host  # noqa: B018  (unreleased, removed)
