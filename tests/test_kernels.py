"""Properties of the pure kernels and the parameter samplers."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmt_augment import functional as MF
from mmt_augment import kernels

FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


@st.composite
def boxes_for(draw, batch_size, height, width):
    rows = []
    for _ in range(batch_size):
        x1 = draw(st.integers(0, width))
        x2 = draw(st.integers(x1, width))
        y1 = draw(st.integers(0, height))
        y2 = draw(st.integers(y1, height))
        rows.append([x1, y1, x2, y2])
    return torch.tensor(rows, dtype=torch.int64)


@st.composite
def cutmix_case(draw):
    batch_size = draw(st.integers(1, 5))
    height = draw(st.integers(1, 12))
    width = draw(st.integers(1, 12))
    boxes = draw(boxes_for(batch_size, height, width))
    return batch_size, height, width, boxes


@settings(max_examples=60, deadline=None)
@given(cutmix_case())
def test_cutmix_copies_tail_inside_the_box_and_head_outside(case):
    batch_size, height, width, boxes = case
    head = torch.rand(batch_size, 2, height, width)
    tail = torch.rand(batch_size, 2, height, width) + 10.0  # disjoint value ranges
    out = MF.cutmix(head, tail, boxes)
    for b, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        inside = torch.zeros(height, width, dtype=torch.bool)
        inside[y1:y2, x1:x2] = True
        assert torch.equal(out[b][:, inside], tail[b][:, inside])
        assert torch.equal(out[b][:, ~inside], head[b][:, ~inside])


@settings(max_examples=60, deadline=None)
@given(cutmix_case())
def test_box_area_lam_equals_the_share_of_head_pixels(case):
    batch_size, height, width, boxes = case
    head = torch.zeros(batch_size, 1, height, width)
    tail = torch.ones(batch_size, 1, height, width)
    out = MF.cutmix(head, tail, boxes)
    head_share = 1.0 - out.mean(dim=(1, 2, 3))
    torch.testing.assert_close(MF.box_area_lam(boxes, height, width), head_share, rtol=0, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(cutmix_case())
def test_paste_box_matches_cutmix_for_a_shared_box(case):
    batch_size, height, width, boxes = case
    head, tail = torch.rand(batch_size, 3, height, width), torch.rand(batch_size, 3, height, width)
    box = tuple(boxes[0].tolist())
    shared = boxes[:1].expand(batch_size, 4)
    assert torch.equal(MF.paste_box(head, tail, box), MF.cutmix(head, tail, shared))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6))
def test_mixup_is_the_convex_combination(lams):
    lam = torch.tensor(lams, dtype=torch.float64)
    head = torch.rand(len(lams), 3, 5, 4, dtype=torch.float64)
    tail = torch.rand(len(lams), 3, 5, 4, dtype=torch.float64)
    expected = lam.view(-1, 1, 1, 1) * head + (1 - lam.view(-1, 1, 1, 1)) * tail
    torch.testing.assert_close(MF.mixup(head, tail, lam), expected)


def test_mixup_with_lam_one_returns_the_head_exactly():
    head, tail = torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8)
    assert torch.equal(MF.mixup(head, tail, torch.ones(4)), head)
    assert torch.equal(MF.mixup(head, tail, torch.zeros(4)), tail)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES + [torch.uint8])
def test_kernels_keep_dtype(dtype):
    head = (torch.rand(3, 3, 6, 6) * 255).to(dtype)
    tail = (torch.rand(3, 3, 6, 6) * 255).to(dtype)
    boxes = torch.tensor([[0, 0, 3, 3], [1, 1, 6, 6], [0, 0, 0, 0]])
    assert MF.cutmix(head, tail, boxes).dtype == dtype
    assert MF.mixup(head, tail, torch.tensor([0.2, 0.5, 1.0])).dtype == dtype


def test_uint8_mixup_rounds_to_nearest():
    head = torch.full((1, 1, 2, 2), 10, dtype=torch.uint8)
    tail = torch.full((1, 1, 2, 2), 13, dtype=torch.uint8)
    out = MF.mixup(head, tail, torch.tensor([0.5]))  # 11.5 rounds half to even: 12
    assert torch.equal(out, torch.full((1, 1, 2, 2), 12, dtype=torch.uint8))


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 8),
    st.integers(1, 20),
    st.lists(st.floats(0.0, 1.0), min_size=8, max_size=8),
    st.data(),
)
def test_mix_index_labels_rows_sum_to_one_with_lam_on_the_head(batch_size, num_classes, lams, data):
    head = torch.tensor(data.draw(st.lists(st.integers(0, num_classes - 1), min_size=batch_size, max_size=batch_size)))
    tail = torch.tensor(data.draw(st.lists(st.integers(0, num_classes - 1), min_size=batch_size, max_size=batch_size)))
    lam = torch.tensor(lams[:batch_size])
    targets = MF.mix_index_labels(head, tail, lam, num_classes)
    torch.testing.assert_close(targets.sum(1), torch.ones(batch_size))
    expected = lam[:, None] * torch.nn.functional.one_hot(head, num_classes) + (1 - lam[:, None]) * torch.nn.functional.one_hot(
        tail, num_classes
    )
    torch.testing.assert_close(targets, expected)


def test_mix_index_labels_accepts_a_python_float_lam():
    head, tail = torch.tensor([0, 1, 2]), torch.tensor([2, 1, 0])
    dense = MF.mix_index_labels(head, tail, torch.full((3,), 0.25), 3)
    assert torch.equal(MF.mix_index_labels(head, tail, 0.25, 3), dense)


def test_mix_soft_labels_interpolates_rows():
    head = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    tail = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    out = MF.mix_soft_labels(head, tail, torch.tensor([0.75, 0.0]))
    torch.testing.assert_close(out, torch.tensor([[0.75, 0.25], [1.0, 0.0]]))


def test_kernels_are_differentiable_in_both_images():
    head = torch.rand(2, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    tail = torch.rand(2, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    boxes = torch.tensor([[1, 0, 4, 3], [0, 2, 5, 5]])
    lam = torch.tensor([0.3, 0.8], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda h, t: MF.cutmix(h, t, boxes), (head, tail))
    assert torch.autograd.gradcheck(lambda h, t: MF.mixup(h, t, lam), (head, tail))
    assert torch.autograd.gradcheck(lambda h, t: MF.paste_box(h, t, (1, 1, 3, 4)), (head, tail))


def test_kernels_do_not_modify_inputs():
    head, tail = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    head_copy, tail_copy = head.clone(), tail.clone()
    MF.cutmix(head, tail, torch.tensor([[0, 0, 4, 4], [2, 2, 8, 8]]))
    MF.paste_box(head, tail, (0, 0, 4, 4))
    MF.mixup(head, tail, torch.tensor([0.5, 0.1]))
    assert torch.equal(head, head_copy) and torch.equal(tail, tail_copy)


# -- parameter sampling ---------------------------------------------------------------------


def test_sample_lam_follows_beta_moments():
    generator = torch.Generator().manual_seed(0)
    for alpha in (0.2, 1.0, 4.0):
        lam = MF.sample_lam(20000, alpha, generator=generator)
        variance = 1.0 / (4 * (2 * alpha + 1))  # Beta(a, a): mean 1/2, var 1 / (4 (2a + 1))
        # 20k draws: the standard error of the mean is below 0.004; allow 5 of them.
        assert abs(lam.mean().item() - 0.5) < 0.02
        assert abs(lam.var().item() - variance) < 0.15 * variance
        assert bool(((lam >= 0) & (lam <= 1)).all())


def test_sample_lam_stays_finite_for_tiny_alpha():
    lam = MF.sample_lam(5000, 0.01, generator=torch.Generator().manual_seed(1))
    assert bool(torch.isfinite(lam).all())


def test_sample_boxes_cover_about_one_minus_lam_and_stay_inside():
    generator = torch.Generator().manual_seed(0)
    lam = torch.rand(5000, generator=generator)
    boxes = MF.sample_boxes(lam, 32, 48, generator=generator)
    x1, y1, x2, y2 = boxes.unbind(1)
    assert bool(((0 <= x1) & (x1 <= x2) & (x2 <= 48) & (0 <= y1) & (y1 <= y2) & (y2 <= 32)).all())
    # Before clipping a box covers floor(W sqrt(1-lam)) * floor(H sqrt(1-lam)) <= (1 - lam) H W.
    assert bool((MF.box_area_lam(boxes, 32, 48) >= lam - 1e-6).all())


@pytest.mark.parametrize("mode", ["cutmix", "mixup"])
@pytest.mark.parametrize("per_sample", [False, True])
def test_sample_mix_params_shapes_and_unmixed_rows(mode, per_sample):
    params = MF.sample_mix_params(
        64, 16, 16, mode=mode, alpha=1.0, p=0.5, per_sample=per_sample, generator=torch.Generator().manual_seed(3)
    )
    assert params.lam.shape == (64,) and params.apply.shape == (64,)
    assert bool((params.lam[~params.apply] == 1).all())
    if mode == "cutmix":
        assert params.boxes.shape == (64, 4)
        assert bool((params.boxes[~params.apply] == 0).all())
        torch.testing.assert_close(params.lam, MF.box_area_lam(params.boxes, 16, 16))
    else:
        assert params.boxes is None
    if not per_sample:
        assert params.lam.unique().numel() == 1 and params.apply.unique().numel() == 1


def test_per_batch_params_use_the_box_rule():
    generator = torch.Generator().manual_seed(5)
    for _ in range(200):
        params = MF.sample_mix_params(3, 20, 30, mode="cutmix", alpha=1.0, p=1.0, per_sample=False, generator=generator)
        x1, y1, x2, y2 = params.boxes[0].tolist()
        assert 0 <= x1 <= x2 <= 30 and 0 <= y1 <= y2 <= 20
        assert math.isclose(float(params.lam[0]), 1 - (x2 - x1) * (y2 - y1) / 600, rel_tol=1e-6)
        assert bool((params.boxes == params.boxes[:1]).all())


def test_per_batch_params_respect_p():
    generator = torch.Generator().manual_seed(0)
    applied = [bool(MF.sample_mix_params(4, 8, 8, mode="mixup", p=0.3, per_sample=False, generator=generator).apply[0])
               for _ in range(4000)]
    # Binomial(4000, 0.3): standard deviation 29; allow 4 of them.
    assert abs(sum(applied) - 1200) < 116


@pytest.mark.parametrize("dtype", FLOAT_DTYPES + [torch.uint8])
@pytest.mark.parametrize("channels_last", [False, True])
def test_cutmix_keeps_every_dtype_and_layout_exactly(dtype, channels_last):
    generator = torch.Generator().manual_seed(0)
    head = (torch.rand(6, 3, 9, 7, generator=generator) * 200).to(dtype)
    tail = (torch.rand(6, 3, 9, 7, generator=generator) * 200).to(dtype)
    if channels_last:
        head, tail = head.contiguous(memory_format=torch.channels_last), tail.contiguous(memory_format=torch.channels_last)
    boxes = torch.tensor([[0, 0, 7, 9], [1, 2, 5, 6], [0, 0, 0, 0], [3, 3, 4, 9], [6, 8, 7, 9], [2, 0, 2, 9]])
    expected = torch.where(MF.box_masks(boxes, 9, 7), tail, head)
    with torch.no_grad():
        out = MF.cutmix(head, tail, boxes)
    assert torch.equal(out, expected)
    assert out.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


@pytest.mark.parametrize("requires_grad", [False, True])
def test_cutmix_never_leaks_non_finite_tail_pixels_outside_the_box(requires_grad):
    head = torch.rand(2, 1, 4, 4, requires_grad=requires_grad)
    tail = torch.full((2, 1, 4, 4), float("nan"))
    tail[1] = float("inf")
    out = MF.cutmix(head, tail, torch.tensor([[0, 0, 2, 2], [2, 2, 4, 4]]))
    outside = ~MF.box_masks(torch.tensor([[0, 0, 2, 2], [2, 2, 4, 4]]), 4, 4)
    assert torch.equal(out[outside], head.detach()[outside])
    assert bool(out[0, 0, :2, :2].isnan().all()) and bool(out[1, 0, 2:, 2:].isinf().all())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.uint8])
@pytest.mark.parametrize("size", [(5, 8, 6), (3, 1000, 1000)])  # below and above the bitwise path's 8 MiB
@pytest.mark.parametrize("in_place", [False, True])
def test_cutmix_on_the_bits_selects_like_where_for_mixed_layouts_and_non_finite_values(dtype, size, in_place):
    # The CPU form selects on the pixels' bits; it must agree with torch.where bit for bit.
    batch, height, width = size
    generator = torch.Generator().manual_seed(1)
    head = (torch.rand(batch, 3, height, width, generator=generator) * 200).to(dtype)
    head = head.contiguous(memory_format=torch.channels_last)
    tail = (torch.rand(batch, 3, height, width, generator=generator) * 200).to(dtype)
    if dtype.is_floating_point:
        tail[0, 1, 0, 0], tail[2] = float("nan"), float("-inf")
    boxes = MF.sample_boxes(torch.rand(batch, generator=generator), height, width, generator=generator)
    expected = torch.where(MF.box_masks(boxes, height, width), tail, head)
    out = kernels.cutmix_bits(head, tail, boxes, in_place=in_place)
    bits = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[out.element_size()]
    assert out.dtype == dtype and torch.equal(out.view(bits), expected.view(bits))
    assert (out is head) == in_place


def test_cutmix_keeps_torch_where_semantics():
    # Mixed dtypes promote, a single image broadcasts over the boxes and forward-mode AD carries a
    # tangent, exactly as torch.where does.
    generator = torch.Generator().manual_seed(2)
    head, tail = torch.rand(2, 3, 6, 6, generator=generator), torch.rand(2, 3, 6, 6, generator=generator)
    boxes = torch.tensor([[0, 0, 3, 3], [1, 1, 6, 6]])
    mask = MF.box_masks(boxes, 6, 6)
    mixed = MF.cutmix(head.half(), tail.bfloat16(), boxes)
    assert mixed.dtype == torch.float32 and torch.equal(mixed, torch.where(mask, tail.bfloat16(), head.half()))
    assert torch.equal(MF.cutmix(head[:1], tail[:1], boxes), torch.where(mask, tail[:1], head[:1]))
    ones = torch.ones_like(head)
    _, tangent = torch.func.jvp(lambda a, b: MF.cutmix(a, b, boxes), (head, tail), (ones, 2 * ones))
    assert torch.equal(tangent, torch.where(mask, 2 * ones, ones))


def test_box_masks_of_plain_boxes_work_inside_torch_func_transforms():
    # Inside a transform even a tensor captured from outside cannot be read as a NumPy array.
    boxes = torch.tensor([[0, 0, 3, 3], [1, 1, 6, 6]])
    images = torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(1))
    mask = MF.box_masks(boxes, 6, 6)
    _, tangent = torch.func.jvp(lambda x: x * MF.box_masks(boxes, 6, 6), (images,), (torch.ones_like(images),))
    assert torch.equal(tangent, mask.expand_as(images).to(images.dtype))
    gradient = torch.func.grad(lambda x: (x * MF.cutmix(x, 2 * x, boxes)).sum())(images)
    assert torch.equal(gradient, torch.where(mask, 4 * images, 2 * images))


def test_cutmix_on_the_cpu_reads_boxes_beyond_the_image_as_clipped():
    generator = torch.Generator().manual_seed(3)
    head, tail = torch.rand(3, 2, 5, 7, generator=generator), torch.rand(3, 2, 5, 7, generator=generator)
    boxes = torch.tensor([[-3, -1, 4, 9], [2, 3, 20, 5], [6, -4, 2, 3]])  # the last is empty (x2 < x1)
    expected = torch.where(MF.box_masks(boxes, 5, 7), tail, head)
    assert torch.equal(MF.cutmix(head, tail, boxes), expected)
    assert torch.equal(MF.cutmix(head, tail, boxes.clamp(min=0).minimum(torch.tensor([7, 5, 7, 5]))), expected)


@pytest.mark.parametrize("width", [8, 300])
def test_cutmix_takes_boxes_of_any_real_dtype_alike(width):
    generator = torch.Generator().manual_seed(6)
    head, tail = torch.rand(3, 2, 5, width, generator=generator), torch.rand(3, 2, 5, width, generator=generator)
    boxes = torch.tensor([[1, 1, 4, 3], [0, 2, width, 5], [2, 0, 2, 5]])
    expected = MF.cutmix(head, tail, boxes)
    for dtype in (torch.float32, torch.float64, torch.int32, torch.int16):
        assert torch.equal(MF.cutmix(head, tail, boxes.to(dtype)), expected), dtype
        assert torch.equal(MF.box_masks(boxes.to(dtype), 5, width), MF.box_masks(boxes, 5, width)), dtype


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.float32, torch.float64])  # 1, 2, 4, 8 bytes
@pytest.mark.parametrize("size", [(5, 7), (1, 300), (33, 256), (256, 1)])
@pytest.mark.parametrize("box_dtype", [torch.int64, torch.int32])
def test_box_masks_and_cutmix_follow_the_box_definition_for_any_integer_boxes(dtype, size, box_dtype):
    # Boxes reaching past the image, empty, reversed or far out of range select what the
    # definition x1 <= x < x2, y1 <= y < y2 does, in every form of CutMix.
    height, width = size
    generator = torch.Generator().manual_seed(11)
    low = torch.randint(-2 * max(size), 2 * max(size), (40, 2), generator=generator)
    boxes = torch.cat([low, low + torch.randint(-3, 2 * max(size), (40, 2), generator=generator)], 1)
    extreme = torch.iinfo(box_dtype)
    boxes[:4] = torch.tensor([[extreme.min, extreme.min, extreme.max, extreme.max], [0, 0, width, height],
                              [width, height, extreme.max, extreme.max], [-1, -1, 0, 0]])
    boxes = boxes.to(box_dtype)
    columns, rows = torch.arange(width), torch.arange(height)
    expected = ((rows.view(1, -1, 1) >= boxes[:, 1, None, None]) & (rows.view(1, -1, 1) < boxes[:, 3, None, None])
                & (columns.view(1, 1, -1) >= boxes[:, 0, None, None]) & (columns.view(1, 1, -1) < boxes[:, 2, None, None]))
    assert torch.equal(MF.box_masks(boxes, height, width), expected.unsqueeze(1))
    head = (torch.rand(40, 3, height, width, generator=generator) * 200).to(dtype)
    tail = (torch.rand(40, 3, height, width, generator=generator) * 200).to(dtype)
    assert torch.equal(MF.cutmix(head, tail, boxes), torch.where(expected.unsqueeze(1), tail, head))
    assert torch.equal(MF.cutmix_(head.clone(), tail, boxes), torch.where(expected.unsqueeze(1), tail, head))
    assert torch.equal(kernels.cutmix_bits(head, tail, boxes), torch.where(expected.unsqueeze(1), tail, head))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.uint8])
@pytest.mark.parametrize("channels_last", [False, True])
def test_cutmix_in_place_writes_what_cutmix_returns_into_the_head_batch(dtype, channels_last):
    generator = torch.Generator().manual_seed(4)
    head = (torch.rand(6, 3, 9, 7, generator=generator) * 200).to(dtype)
    tail = (torch.rand(6, 3, 9, 7, generator=generator) * 200).to(dtype)
    if dtype.is_floating_point:
        tail[1, 0, 2, 3], tail[4] = float("nan"), float("-inf")
        head[2, 1] = -0.0
    if channels_last:
        head = head.contiguous(memory_format=torch.channels_last)
    boxes = MF.sample_boxes(torch.rand(6, generator=generator), 9, 7, generator=generator)
    boxes[0] = torch.tensor([0, 0, 0, 0])  # an empty box leaves its row alone
    expected, tail_before = MF.cutmix(head, tail, boxes), tail.clone()
    out = MF.cutmix_(head, tail, boxes)
    bits = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[head.element_size()]
    assert out is head and torch.equal(head.view(bits), expected.view(bits))
    assert torch.equal(tail.view(bits), tail_before.view(bits))  # the tail is only read


def test_cutmix_in_place_pasting_a_batch_into_itself_leaves_it_unchanged():
    head = torch.rand(3, 2, 5, 5)
    before = head.clone()
    assert torch.equal(MF.cutmix_(head, head, torch.tensor([[0, 0, 3, 3], [1, 1, 5, 5], [2, 0, 4, 5]])), before)


def test_cutmix_in_place_keeps_the_gradients_of_cutmix():
    boxes = torch.tensor([[0, 0, 3, 3], [1, 2, 5, 4]])
    head, tail = torch.rand(2, 3, 5, 5, requires_grad=True), torch.rand(2, 3, 5, 5, requires_grad=True)
    weights = torch.rand(2, 3, 5, 5)
    expected = torch.autograd.grad((MF.cutmix(head * 2, tail, boxes) * weights).sum(), (head, tail))
    got = torch.autograd.grad((MF.cutmix_(head * 2, tail, boxes) * weights).sum(), (head, tail))
    assert all(torch.equal(a, b) for a, b in zip(expected, got))


def test_cutmix_in_place_refuses_a_tail_of_another_shape_or_dtype():
    head, boxes = torch.rand(2, 3, 4, 4), torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="shape and dtype"):
        MF.cutmix_(head, torch.rand(2, 3, 4, 4).double(), boxes)
    with pytest.raises(ValueError, match="shape and dtype"):
        MF.cutmix_(head, torch.rand(1, 3, 4, 4), boxes)


@pytest.mark.parametrize("size", [(2, 0, 8), (2, 8, 0), (0, 8, 8)])
def test_cutmix_of_empty_images_is_empty(size):
    batch, height, width = size
    head, tail = torch.rand(batch, 3, height, width), torch.rand(batch, 3, height, width)
    boxes = torch.zeros(batch, 4, dtype=torch.long)
    assert MF.cutmix(head, tail, boxes).shape == head.shape
    assert MF.cutmix_(head, tail, boxes).shape == head.shape


def test_cutmix_in_place_writes_into_the_batch_itself():
    generator = torch.Generator().manual_seed(6)
    head, tail = torch.rand(3, 3, 700, 700, generator=generator), torch.rand(3, 3, 700, 700, generator=generator)
    boxes = MF.sample_boxes(torch.rand(3, generator=generator), 700, 700, generator=generator)
    expected = MF.cutmix(head, tail, boxes)
    storage = head.untyped_storage().data_ptr()
    out = MF.cutmix_(head, tail, boxes)
    assert out is head and head.untyped_storage().data_ptr() == storage and torch.equal(head, expected)


def test_cutmix_in_place_reads_a_tail_that_overlaps_the_batch():
    base = torch.rand(5, 3, 6, 6)
    head, tail = base[:4], base[1:]  # rows shifted by one: the same memory, read while written
    boxes = torch.tensor([[0, 0, 3, 3], [1, 1, 6, 6], [0, 2, 6, 4], [2, 0, 4, 6]])
    expected = MF.cutmix(head.clone(), tail.clone(), boxes)
    assert torch.equal(MF.cutmix_(head, tail, boxes), expected)


def test_cutmix_in_place_reads_a_tail_over_the_same_memory_through_another_storage():
    # Two storage objects over one NumPy buffer: the rows overlap though the storages differ.
    buffer = torch.rand(5, 3, 6, 6).numpy()
    head, tail = torch.from_numpy(buffer[:4]), torch.from_numpy(buffer[1:])
    assert head.untyped_storage().data_ptr() != tail.untyped_storage().data_ptr()
    boxes = torch.tensor([[0, 0, 3, 3], [1, 1, 6, 6], [0, 2, 6, 4], [2, 0, 4, 6]])
    expected = MF.cutmix(head.clone(), tail.clone(), boxes)
    assert torch.equal(MF.cutmix_(head, tail, boxes), expected)


@pytest.mark.parametrize(("rows", "error"), [
    (torch.tensor([1, 0, 1, 0]), TypeError), (torch.tensor([1.0, 0.0, 1.0, 0.0]), TypeError),
    ([True, False, True, False], TypeError), (torch.tensor([True, False]), ValueError),
    (torch.ones(4, 1, dtype=torch.bool), ValueError)])
def test_mixup_and_keep_rows_take_only_a_bool_mask_of_rows(rows, error):
    # A 0/1 integer mask would index rows instead of selecting them; a bool mask of another shape is a
    # wrong value (ValueError), anything else a wrong type.
    head, tail = torch.rand(4, 3, 5, 5), torch.rand(4, 3, 5, 5)
    for call in (lambda: MF.mixup(head, tail, 0.5, rows), lambda: MF.keep_rows(tail, head, rows),
                 lambda: kernels.keep_rows_(tail.clone(), head, rows)):
        with pytest.raises(error, match=r"rows must be a bool tensor of shape \(4,\)"):
            call()


def test_keep_rows_in_place_copies_the_head_rows_into_the_blend():
    head, blended = torch.rand(4, 3, 5, 5), torch.rand(4, 3, 5, 5)
    rows = torch.tensor([True, False, False, True])
    expected = MF.keep_rows(blended, head, rows)
    assert kernels.keep_rows_(blended, head, rows) is blended and torch.equal(blended, expected)


def test_cutmix_in_place_under_forward_mode_ad_and_torch_func():
    boxes = torch.tensor([[0, 0, 3, 3], [1, 1, 6, 6]])
    head, tail = torch.rand(2, 3, 6, 6), torch.rand(2, 3, 6, 6)
    ones, outside = torch.ones_like(head), (~MF.box_masks(boxes, 6, 6)).float().expand_as(head)
    out, tangent = torch.func.jvp(lambda a, b: MF.cutmix_(a * 1, b, boxes), (head, tail), (ones, 2 * ones))
    assert torch.equal(out, MF.cutmix(head, tail, boxes)) and torch.equal(tangent, 2 - outside)
    assert torch.equal(torch.func.grad(lambda a: MF.cutmix_(a * 1, tail, boxes).sum())(head), outside)
    with torch.autograd.forward_ad.dual_level():
        dual = torch.autograd.forward_ad.make_dual(head.clone(), ones)
        out = MF.cutmix_(dual, tail, boxes)
        assert torch.equal(torch.autograd.forward_ad.unpack_dual(out).tangent, outside)
