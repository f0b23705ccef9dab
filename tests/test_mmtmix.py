"""Behaviour of the MMTMix transform: call forms, outputs, determinism and bad input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision import tv_tensors

from mmt_augment import MMTMix, mixed_cross_entropy

DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64]
MODES = ["cutmix", "mixup"]


def make_batch(batch_size=6, channels=3, size=(8, 10), dtype=torch.float32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    head = torch.rand(batch_size, channels, *size, generator=generator)
    tail = torch.rand(batch_size, channels, *size, generator=generator)
    if dtype == torch.uint8:
        head, tail = (head * 255).to(dtype), (tail * 255).to(dtype)
    else:
        head, tail = head.to(dtype), tail.to(dtype)
    head_labels = torch.randint(0, 5, (batch_size,), generator=generator)
    tail_labels = torch.randint(5, 10, (batch_size,), generator=generator)
    return head, head_labels, tail, tail_labels


def seeded(seed=0, **kwargs):
    return MMTMix(num_classes=10, generator=torch.Generator().manual_seed(seed), **kwargs)


# -- outputs ----------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    per_sample=st.booleans(),
    dtype=st.sampled_from(DTYPES),
    channels_last=st.booleans(),
    batch_size=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_output_keeps_shape_dtype_and_memory_format(mode, per_sample, dtype, channels_last, batch_size, seed):
    head, head_labels, tail, tail_labels = make_batch(batch_size, dtype=dtype, seed=seed)
    if channels_last:
        head = head.contiguous(memory_format=torch.channels_last)
        tail = tail.contiguous(memory_format=torch.channels_last)
    images, targets = seeded(seed, mode=mode, per_sample=per_sample, p=0.7)(head, head_labels, tail, tail_labels)
    assert images.shape == head.shape and images.dtype == dtype and images.device == head.device
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    assert images.is_contiguous(memory_format=memory_format)
    assert targets.shape == (batch_size, 10) and targets.is_floating_point()
    torch.testing.assert_close(targets.sum(1), torch.ones(batch_size, dtype=targets.dtype))


@settings(max_examples=40, deadline=None)
@given(per_sample=st.booleans(), seed=st.integers(0, 2**16), size=st.tuples(st.integers(1, 16), st.integers(1, 16)))
def test_cutmix_lam_equals_the_head_pixel_share(per_sample, seed, size):
    batch_size = 5
    head = torch.zeros(batch_size, 1, *size)
    tail = torch.ones(batch_size, 1, *size)
    mmt = seeded(seed, mode="cutmix", per_sample=per_sample, p=0.8)
    images, mixed = mmt.mix(head, torch.zeros(batch_size, dtype=torch.long), tail, torch.ones(batch_size, dtype=torch.long))
    head_share = 1.0 - images.mean(dim=(1, 2, 3))
    torch.testing.assert_close(mixed.lam, head_share, rtol=0, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(mode=st.sampled_from(MODES), per_sample=st.booleans(), seed=st.integers(0, 2**16))
def test_targets_weight_head_label_by_lam(mode, per_sample, seed):
    head, _, tail, _ = make_batch(4, seed=seed)
    head_labels, tail_labels = torch.tensor([0, 1, 2, 3]), torch.tensor([9, 8, 7, 6])
    images, mixed = seeded(seed, mode=mode, per_sample=per_sample, p=0.6).mix(head, head_labels, tail, tail_labels)
    _, targets = seeded(seed, mode=mode, per_sample=per_sample, p=0.6)(head, head_labels, tail, tail_labels)
    rows = torch.arange(4)
    torch.testing.assert_close(targets[rows, head_labels], mixed.lam)
    torch.testing.assert_close(targets[rows, tail_labels], 1 - mixed.lam)


def test_mixup_rows_equal_lam_blend():
    head, head_labels, tail, tail_labels = make_batch(5, dtype=torch.float64)
    images, mixed = seeded(1, mode="mixup", per_sample=True, p=1.0).mix(head, head_labels, tail, tail_labels)
    lam = mixed.lam.to(torch.float64).view(-1, 1, 1, 1)
    torch.testing.assert_close(images, lam * head + (1 - lam) * tail)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("per_sample", [False, True])
def test_p_zero_is_the_identity(mode, per_sample):
    head, head_labels, tail, tail_labels = make_batch()
    images, targets = seeded(mode=mode, per_sample=per_sample, p=0.0)(head, head_labels, tail, tail_labels)
    assert torch.equal(images, head)
    assert torch.equal(targets, torch.nn.functional.one_hot(head_labels, 10).float())


@pytest.mark.parametrize("mode", MODES)
def test_p_one_mixes_every_row(mode):
    head, head_labels, tail, tail_labels = make_batch(32)
    _, mixed = seeded(mode=mode, per_sample=True, p=1.0).mix(head, head_labels, tail, tail_labels)
    # An applied CutMix row can still draw an empty box (lam close to 1), so count rows with a tail share.
    assert int((mixed.lam < 1).sum()) >= 30


def test_per_sample_rows_draw_their_own_lam_and_decision():
    head, head_labels, tail, tail_labels = make_batch(64)
    _, mixed = seeded(mode="mixup", per_sample=True, p=0.5).mix(head, head_labels, tail, tail_labels)
    mixed_rows = mixed.lam < 1
    assert 10 < int(mixed_rows.sum()) < 54  # Binomial(64, 0.5): far outside this is a bug
    assert mixed.lam[mixed_rows].unique().numel() == int(mixed_rows.sum())


def test_per_batch_rows_share_lam_and_box():
    head, head_labels, tail, tail_labels = make_batch(16, size=(16, 16))
    for seed in range(10):
        images, mixed = seeded(seed, mode="cutmix", p=1.0, per_sample=False).mix(head, head_labels, tail, tail_labels)
        assert mixed.lam.unique().numel() == 1
        pasted = images == tail
        assert bool((pasted == pasted[:1]).all())


def test_batch_mix_rate_matches_p():
    head, head_labels, tail, tail_labels = make_batch(2)
    mmt = seeded(2, mode="mixup", p=0.25, per_sample=False)
    mixed_batches = sum(bool(mmt.mix(head, head_labels, tail, tail_labels)[1].lam[0] < 1) for _ in range(2000))
    # Binomial(2000, 0.25): sd 19.4; allow 4 sd.
    assert abs(mixed_batches - 500) < 78


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("per_sample", [False, True])
def test_same_seed_gives_bit_identical_results(mode, per_sample):
    head, head_labels, tail, tail_labels = make_batch()
    first = [seeded(7, mode=mode, per_sample=per_sample)(head, head_labels, tail, tail_labels) for _ in range(2)]
    a, b = first
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    mmt = seeded(7, mode=mode, per_sample=per_sample, p=1.0)
    outputs = [mmt(head, head_labels, tail, tail_labels)[1] for _ in range(5)]
    assert any(not torch.equal(outputs[0], other) for other in outputs[1:])  # the stream advances


def test_paired_form_equals_explicit_form():
    head, head_labels, tail, tail_labels = make_batch()
    explicit = seeded(3, per_sample=True, p=0.9)(head, head_labels, tail, tail_labels)
    paired = seeded(3, per_sample=True, p=0.9)(torch.cat([head, tail]), torch.cat([head_labels, tail_labels]))
    assert torch.equal(explicit[0], paired[0]) and torch.equal(explicit[1], paired[1])


def test_tuple_and_dict_inputs_come_back_in_the_same_structure():
    head, head_labels, tail, tail_labels = make_batch()
    images, labels = torch.cat([head, tail]), torch.cat([head_labels, tail_labels])
    out = seeded(3, p=1.0)((images, labels))
    assert isinstance(out, tuple) and out[0].shape == head.shape and out[1].shape == (6, 10)
    out = seeded(3, p=1.0)({"image": images, "labels": labels, "meta": "x"})
    assert out["image"].shape == head.shape and out["labels"].shape == (6, 10) and out["meta"] == "x"


def test_callable_labels_getter_finds_labels_in_any_structure():
    head, head_labels, tail, tail_labels = make_batch()
    sample = {"pixels": torch.cat([head, tail]), "target": torch.cat([head_labels, tail_labels])}
    mmt = MMTMix(num_classes=10, p=1.0, labels_getter=lambda s: s["target"])
    out = mmt(sample)
    assert out["pixels"].shape == head.shape and out["target"].shape == (6, 10)


@pytest.mark.parametrize("mode", MODES)
def test_soft_labels_are_mixed_by_lam_without_num_classes(mode):
    head, _, tail, _ = make_batch(4)
    generator = torch.Generator().manual_seed(1)
    head_soft, tail_soft = torch.softmax(torch.rand(4, 7, generator=generator), 1), torch.eye(7)[[6, 5, 4, 3]]
    _, targets = MMTMix(mode=mode, p=0.7, generator=torch.Generator().manual_seed(2))(head, head_soft, tail, tail_soft)
    _, mixed = MMTMix(mode=mode, p=0.7, generator=torch.Generator().manual_seed(2)).mix(head, head_soft, tail,
                                                                                       tail_soft)
    lam = mixed.lam.unsqueeze(1)
    assert bool((lam < 1).any())  # some rows are mixed, so the tail's labels must show
    torch.testing.assert_close(targets, lam * head_soft + (1 - lam) * tail_soft)


def test_tv_tensor_image_input_gives_the_same_pixels_as_a_tv_tensor_image():
    head, head_labels, tail, tail_labels = make_batch()
    images, targets = seeded(p=1.0)(tv_tensors.Image(head), head_labels, tv_tensors.Image(tail), tail_labels)
    plain_images, plain_targets = seeded(p=1.0)(head, head_labels, tail, tail_labels)
    assert isinstance(images, tv_tensors.Image)
    assert torch.equal(images.as_subclass(torch.Tensor), plain_images) and torch.equal(targets, plain_targets)


def test_float64_images_give_float64_targets_with_the_float64_shares():
    head, head_labels, tail, tail_labels = make_batch(dtype=torch.float64)
    _, targets = seeded(1)(head, head_labels, tail, tail_labels)
    _, mixed = seeded(1).mix(head, head_labels, tail, tail_labels)
    assert targets.dtype == torch.float64
    assert torch.equal(targets, mixed.to_dense(10, dtype=torch.float64))


@pytest.mark.parametrize("mode", [*MODES, "resizemix", ("cutmix", "mixup"), ("mixup", "resizemix", "cutmix")])
@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("p", [1.0, 0.6])
def test_inputs_are_never_modified(mode, per_sample, p):
    # Mode tuples write their later modes into their own intermediate, never into an input.
    head, head_labels, tail, tail_labels = make_batch(batch_size=16)
    copies = [t.clone() for t in (head, head_labels, tail, tail_labels)]
    seeded(mode=mode, per_sample=per_sample, p=p)(head, head_labels, tail, tail_labels)
    for original, copy in zip((head, head_labels, tail, tail_labels), copies):
        assert torch.equal(original, copy)


@pytest.mark.parametrize("mode", MODES)
def test_a_nan_pixel_reaches_only_the_output_pixels_it_mixes_into(mode):
    head, head_labels, tail, tail_labels = make_batch(16, size=(8, 8))
    head[:, 0, 0, 0] = float("nan")
    tail[:, 1, 7, 7] = float("nan")
    images, targets = seeded(3, mode=mode, per_sample=True, p=1.0)(head, head_labels, tail, tail_labels)
    drawn = seeded(3, mode=mode, per_sample=True, p=1.0).make_params(head)
    if mode == "mixup":  # every pixel blends both rows
        expected = head.isnan() | tail.isnan()
    else:  # a pixel comes from the tail inside the box, from the head outside
        inside = torch.zeros(16, 1, 8, 8, dtype=torch.bool)
        for row, (x1, y1, x2, y2) in enumerate(drawn.boxes.tolist()):
            inside[row, :, y1:y2, x1:x2] = True
        expected = torch.where(inside, tail.isnan(), head.isnan())
    assert torch.equal(images.isnan(), expected)
    assert bool(torch.isfinite(targets).all())


def test_mixup_gradients_are_lam_for_the_head_and_one_minus_lam_for_the_tail():
    head, head_labels, tail, tail_labels = make_batch(4, dtype=torch.float64)
    head.requires_grad_(True)
    tail.requires_grad_(True)
    images, mixed = seeded(mode="mixup", p=1.0).mix(head, head_labels, tail, tail_labels)
    images.sum().backward()
    lam = mixed.lam.double().view(-1, 1, 1, 1).expand_as(head)
    torch.testing.assert_close(head.grad, lam)
    torch.testing.assert_close(tail.grad, 1 - lam)


def test_mix_and_mixed_cross_entropy_equal_dense_cross_entropy():
    head, head_labels, tail, tail_labels = make_batch(8)
    logits = torch.randn(8, 10)
    _, dense = seeded(4, per_sample=True, p=0.8)(head, head_labels, tail, tail_labels)
    _, mixed = seeded(4, per_sample=True, p=0.8).mix(head, head_labels, tail, tail_labels)
    expected = torch.nn.functional.cross_entropy(logits, dense)
    torch.testing.assert_close(mixed_cross_entropy(logits, *mixed), expected)
    torch.testing.assert_close(mixed.to_dense(10), dense)


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"alpha": 0.0}, ValueError, "alpha"),
        ({"alpha": -1.0}, ValueError, "alpha"),
        ({"alpha": float("nan")}, ValueError, "alpha"),
        ({"alpha": "1"}, TypeError, "alpha"),
        ({"p": 1.5}, ValueError, "p must be in"),
        ({"p": -0.1}, ValueError, "p must be in"),
        ({"p": None}, TypeError, "p must be"),
        ({"mode": "cutout"}, ValueError, "mode"),
        ({"num_classes": 0}, ValueError, "num_classes"),
        ({"num_classes": 2.5}, TypeError, "num_classes"),
        ({"per_sample": 1}, TypeError, "per_sample"),
        ({"generator": 3}, TypeError, "generator"),
        ({"labels_getter": 3}, TypeError, "labels_getter"),
    ],
)
def test_bad_constructor_arguments_raise_naming_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        MMTMix(**kwargs)


def call_errors():
    head, head_labels, tail, tail_labels = make_batch()
    return [
        ("non-tensor images", (head.numpy(), head_labels, tail, tail_labels), TypeError, "head_images must be a torch.Tensor"),
        ("3-D images", (head[0], head_labels, tail, tail_labels), ValueError, "head_images must be 4-D"),
        ("shape mismatch", (head, head_labels, tail[:, :, :4], tail_labels), ValueError, "tail_images must have the shape"),
        ("dtype mismatch", (head, head_labels, tail.double(), tail_labels), TypeError, "tail_images must have the dtype"),
        ("int32 images", (head.int(), head_labels, tail.int(), tail_labels), TypeError, "head_images must have dtype"),
        ("label count", (head, head_labels[:4], tail, tail_labels), ValueError, "head_labels must have one label per image"),
        ("tail label count", (head, head_labels, tail, tail_labels[:2]), ValueError, "tail_labels must have one label per image"),
        ("label too large", (head, head_labels, tail, torch.full_like(tail_labels, 10)), ValueError, r"tail_labels must lie in \[0, num_classes=10\), got 10"),
        ("negative label", (head, head_labels - 5, tail, tail_labels), ValueError, "head_labels must lie in"),
        ("float index labels", (head, head_labels.float(), tail, tail_labels), TypeError, "integer class indices"),
        ("soft width", (head, torch.rand(6, 4), tail, torch.rand(6, 4)), ValueError, "num_classes=10 columns, got 4"),
        ("3-D labels", (head, torch.zeros(6, 2, 2), tail, tail_labels), ValueError, "head_labels must have shape"),
        ("non-tensor labels", (head, [0] * 6, tail, tail_labels), TypeError, "head_labels must be a torch.Tensor"),
        ("mixed label kinds", (head, torch.rand(6, 10), tail, tail_labels), ValueError, "both be class indices"),
    ]


@pytest.mark.parametrize("case", call_errors(), ids=lambda case: case[0])
def test_bad_call_inputs_raise_naming_the_argument(case):
    _, args, error, match = case
    with pytest.raises(error, match=match):
        MMTMix(num_classes=10)(*args)


def test_index_labels_without_num_classes_raise():
    head, head_labels, tail, tail_labels = make_batch()
    with pytest.raises(ValueError, match="num_classes is required"):
        MMTMix()(head, head_labels, tail, tail_labels)


def test_paired_batch_with_odd_rows_raises():
    head, head_labels, tail, tail_labels = make_batch(3)
    with pytest.raises(ValueError, match="even number of rows.*got 5"):
        MMTMix(num_classes=10)(torch.cat([head, tail])[:5], torch.cat([head_labels, tail_labels])[:5])


def test_paired_labels_count_mismatch_raises():
    head, head_labels, tail, tail_labels = make_batch(3)
    with pytest.raises(ValueError, match="paired_labels must have one label per image"):
        MMTMix(num_classes=10)(torch.cat([head, tail]), head_labels)


def test_wrong_number_of_inputs_raises():
    head, head_labels, tail, _ = make_batch(3)
    with pytest.raises(TypeError, match="got 3 positional inputs"):
        MMTMix(num_classes=10)(head, head_labels, tail)


def test_label_range_validation_can_be_switched_off():
    head, head_labels, tail, tail_labels = make_batch()
    mmt = MMTMix(num_classes=10, validate_labels=False)
    with pytest.raises(RuntimeError):  # scatter itself rejects it: no silent wrong answer
        mmt(head, head_labels, tail, torch.full_like(tail_labels, 10))


def test_device_mismatches_raise_naming_the_argument():
    head, head_labels, tail, tail_labels = make_batch(2)
    with pytest.raises(ValueError, match="tail_images must be on the device of head_images"):
        MMTMix(num_classes=10)(head, head_labels, tail.to("meta"), tail_labels)
    with pytest.raises(ValueError, match="head_labels must be on the images' device"):
        MMTMix(num_classes=10)(head, head_labels.to("meta"), tail, tail_labels)


@pytest.mark.parametrize("per_sample", [False, True])
def test_empty_batch_gives_empty_outputs(per_sample):
    empty = torch.rand(0, 3, 8, 8)
    no_labels = torch.zeros(0, dtype=torch.long)
    images, targets = MMTMix(num_classes=10, per_sample=per_sample)(empty, no_labels, empty, no_labels)
    assert images.shape == (0, 3, 8, 8) and targets.shape == (0, 10)


def test_a_rejected_call_draws_nothing_from_the_generator():
    head, head_labels, tail, tail_labels = make_batch()
    mmt = seeded(11, p=0.9)
    with pytest.raises(ValueError, match="tail_labels must lie in"):
        mmt(head, head_labels, tail, torch.full_like(tail_labels, 99))
    after_error = mmt(head, head_labels, tail, tail_labels)
    fresh = seeded(11, p=0.9)(head, head_labels, tail, tail_labels)
    assert torch.equal(after_error[0], fresh[0]) and torch.equal(after_error[1], fresh[1])


@pytest.mark.parametrize(("dtype", "bad"), [
    (dtype, bad)
    for dtype in (torch.int64, torch.int32, torch.int16, torch.uint8)
    for bad in (None, ("head_labels", 10), ("tail_labels", 12), ("head_labels", -1))
    if not (dtype == torch.uint8 and bad is not None and bad[1] < 0)  # uint8 holds no negative label
])
def test_labels_out_of_range_are_found_in_any_integer_dtype_and_layout(dtype, bad):
    head, _, tail, _ = make_batch()
    batch = head.shape[0]
    labels = {"head_labels": torch.arange(batch, dtype=torch.int64) % 10,
              "tail_labels": (torch.arange(2 * batch, dtype=torch.int64) % 10)[::2]}  # strided
    if bad is not None:
        labels[bad[0]] = labels[bad[0]].clone()
        labels[bad[0]][batch // 2] = bad[1]
    head_labels, tail_labels = labels["head_labels"].to(dtype), labels["tail_labels"].to(dtype)
    mmt = MMTMix(num_classes=10, per_sample=True)
    if bad is None:
        assert mmt(head, head_labels, tail, tail_labels)[1].shape == (batch, 10)
        return
    with pytest.raises(ValueError, match=rf"{bad[0]} must lie in \[0, num_classes=10\), got {bad[1]}"):
        mmt(head, head_labels, tail, tail_labels)
    with pytest.raises(ValueError, match=rf"{bad[0]} must lie in"):
        mmt.mix(head, head_labels, tail, tail_labels)


def test_labels_are_checked_under_torch_compile_when_asked():
    # validate_labels=True always checks, also inside a compiled function (a lookup whose result
    # is unused would be dropped by the compiler, so the check must not rely on one there).
    head, head_labels, tail, tail_labels = make_batch()
    mmt = MMTMix(num_classes=10, validate_labels=True)
    compiled = torch.compile(lambda *inputs: mmt.mix(*inputs), backend="aot_eager")
    with pytest.raises(ValueError, match=r"tail_labels must lie in \[0, num_classes=10\), got 40"):
        compiled(head, head_labels, tail, torch.full_like(tail_labels, 40))


def test_labels_are_checked_for_very_many_classes_without_a_row_per_class():
    head, head_labels, tail, tail_labels = make_batch()
    mmt = MMTMix(num_classes=2**40)  # a scratch row of 2 ** 40 classes would not fit in memory
    images, mixed = mmt.mix(head, head_labels + 2**40 - 10, tail, tail_labels)
    assert images.shape == head.shape and int(mixed.head_labels.max()) < 2**40
    with pytest.raises(ValueError, match=r"head_labels must lie in \[0, num_classes=1099511627776\), got 1099511627776"):
        mmt.mix(head, torch.full_like(head_labels, 2**40), tail, tail_labels)


@pytest.mark.parametrize("kwargs", [{"p": 10**400}, {"mode": "resizemix", "resize_scale": (0.1, 10**400)},
                                    {"alpha": 10**400}])
def test_an_int_too_large_for_a_float_is_a_value_error_naming_the_argument(kwargs):
    name = next(iter(kwargs)) if "resize_scale" not in kwargs else "resize_scale"
    with pytest.raises(ValueError, match=name):
        MMTMix(**kwargs)


def test_errors_of_a_paired_call_name_the_paired_labels():
    images = torch.rand(4, 3, 4, 4)
    with pytest.raises(ValueError, match=r"paired_labels must lie in \[0, num_classes=3\), got 5"):
        MMTMix(num_classes=3)(images, torch.tensor([0, 1, 5, 2]))
    with pytest.raises(TypeError, match="paired_labels of shape"):
        MMTMix(num_classes=3)(images, torch.tensor([0.0, 1.0, 1.0, 2.0]))
