"""mixed_cross_entropy: the loss-side form of MMT targets."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmt_augment import MixedLabels, mixed_cross_entropy


def test_equals_cross_entropy_against_dense_targets():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 50, generator=generator)
    head, tail = torch.randint(50, (16,), generator=generator), torch.randint(50, (16,), generator=generator)
    lam = torch.rand(16, generator=generator)
    dense = MixedLabels(head, tail, lam).to_dense(50)
    for reduction in ("mean", "sum", "none"):
        torch.testing.assert_close(
            mixed_cross_entropy(logits, head, tail, lam, reduction=reduction),
            F.cross_entropy(logits, dense, reduction=reduction),
        )


def test_lam_one_is_plain_cross_entropy_on_the_head():
    logits = torch.randn(4, 3)
    head, tail = torch.tensor([0, 1, 2, 0]), torch.tensor([2, 2, 2, 2])
    torch.testing.assert_close(mixed_cross_entropy(logits, head, tail, torch.ones(4)), F.cross_entropy(logits, head))


def test_gradient_flows_to_logits():
    logits = torch.randn(4, 3, requires_grad=True)
    mixed_cross_entropy(logits, torch.tensor([0, 1, 2, 0]), torch.tensor([1, 1, 1, 1]), torch.full((4,), 0.5)).backward()
    assert logits.grad is not None and float(logits.grad.abs().sum()) > 0


def test_bad_reduction_and_shapes_raise():
    logits = torch.randn(4, 3)
    labels = torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="reduction"):
        mixed_cross_entropy(logits, labels, labels, torch.ones(4), reduction="avg")
    with pytest.raises(ValueError, match="lam must have one entry per logits row"):
        mixed_cross_entropy(logits, labels, labels, torch.ones(3))
    with pytest.raises(ValueError, match="logits must be a"):
        mixed_cross_entropy(torch.randn(4), labels, labels, torch.ones(4))


def test_to_dense_needs_num_classes_for_index_labels():
    with pytest.raises(ValueError, match="num_classes"):
        MixedLabels(torch.tensor([0]), torch.tensor([1]), torch.tensor([0.5])).to_dense()


# -- long-tail losses -------------------------------------------------------------------------

from mmt_augment import (  # noqa: E402
    class_balanced_weights,
    class_weighted_cross_entropy,
    logit_adjusted_cross_entropy,
    logit_adjustment,
    mixed_class_prior,
    remix_labels,
)


def test_logit_adjustment_shifts_logits_by_tau_log_prior():
    logits, labels = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    prior = torch.tensor([0.7, 0.2, 0.1])
    expected = F.cross_entropy(logits + 2.0 * prior.log(), labels)
    torch.testing.assert_close(logit_adjusted_cross_entropy(logits, labels, [70, 20, 10], tau=2.0), expected)
    torch.testing.assert_close(F.cross_entropy(logits + logit_adjustment([7, 2, 1], tau=2.0), labels), expected)
    soft = F.one_hot(labels, 3).float()
    torch.testing.assert_close(logit_adjusted_cross_entropy(logits, soft, prior, tau=2.0), expected)


def test_logit_adjustment_rejects_bad_priors():
    with pytest.raises(ValueError, match="class_prior must be >= 0 and not all zero"):
        logit_adjustment([1.0, -0.5])
    with pytest.raises(ValueError, match="class_prior must be >= 0 and not all zero"):
        logit_adjustment([0.0, 0.0])
    with pytest.raises(ValueError, match=r"eps must be in \(0.0, 1.0\]"):
        logit_adjustment([1.0, 0.0], eps=0.0)
    with pytest.raises(ValueError, match="one entry per logits column"):
        logit_adjusted_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), [1.0, 1.0])
    with pytest.raises(ValueError, match="tau"):
        logit_adjustment([1.0, 1.0], tau=-1)


def test_class_balanced_weights_follow_the_effective_number():
    weights = class_balanced_weights([100, 10, 1], beta=0.99)
    raw = torch.tensor([(1 - 0.99) / (1 - 0.99**n) for n in (100, 10, 1)], dtype=torch.float64)
    torch.testing.assert_close(weights, (raw * 3 / raw.sum()).float())
    assert class_balanced_weights([5, 5], beta=0.0).tolist() == [1.0, 1.0]
    assert class_balanced_weights([3, 0, 1]).tolist()[1] == 0.0  # an empty class gets no weight
    with pytest.raises(ValueError, match="beta"):
        class_balanced_weights([1, 2], beta=1.0)


def test_class_weighted_cross_entropy_weighs_soft_and_index_targets_alike():
    logits, labels = torch.randn(8, 4), torch.tensor([0, 1, 2, 3, 0, 0, 1, 3])
    weights = torch.tensor([0.2, 1.0, 2.0, 0.8])
    hard = class_weighted_cross_entropy(logits, labels, weights)
    torch.testing.assert_close(hard, F.cross_entropy(logits, labels, weight=weights))
    torch.testing.assert_close(class_weighted_cross_entropy(logits, F.one_hot(labels, 4).float(), weights), hard)
    soft = torch.softmax(torch.randn(8, 4), dim=1)
    per_row = -(soft * weights * F.log_softmax(logits, dim=1)).sum(1)
    torch.testing.assert_close(class_weighted_cross_entropy(logits, soft, weights), per_row.sum() / (soft * weights).sum())


def test_remix_hands_the_label_to_the_rarer_class():
    head, tail = torch.tensor([0, 0, 2, 1]), torch.tensor([2, 2, 0, 0])
    lam = torch.tensor([0.3, 0.7, 0.8, 0.3])
    counts = [300, 200, 10]
    out = remix_labels(MixedLabels(head, tail, lam), counts).lam
    # row 0: head 30x the tail and head share 0.3 < 0.5 -> all to the tail; row 1: head share 0.7 -> kept;
    # row 2: tail 30x the head, tail share 0.2 < 0.5 -> all to the head; row 3: ratio 200/300 < 3 -> kept.
    torch.testing.assert_close(out, torch.tensor([0.0, 0.7, 1.0, 0.3]))
    with pytest.raises(ValueError, match="class indices"):
        remix_labels(MixedLabels(torch.rand(4, 3), torch.rand(4, 3), lam), counts)


def test_mixed_class_prior_mixes_head_and_tail_by_the_head_share():
    counts = np.array([100, 10, 1])
    head = counts / counts.sum()
    tail = counts**-0.5 / (counts**-0.5).sum()
    np.testing.assert_allclose(mixed_class_prior(counts, 0.5, head_share=0.25), 0.25 * head + 0.75 * tail)
    np.testing.assert_allclose(mixed_class_prior(counts, 0.5, head_share=1.0), head)
    with pytest.raises(ValueError, match="head_share"):
        mixed_class_prior(counts, 0.5, head_share=1.5)


# -- issue 18: hostile inputs ------------------------------------------------------------------


def test_mixed_cross_entropy_reads_lam_of_shape_b_1_as_b():
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 4, generator=generator)
    head, tail = torch.randint(4, (6,), generator=generator), torch.randint(4, (6,), generator=generator)
    lam = torch.rand(6, generator=generator)
    for reduction in ("mean", "sum", "none"):
        expected = mixed_cross_entropy(logits, head, tail, lam, reduction=reduction)
        assert torch.equal(mixed_cross_entropy(logits, head, tail, lam[:, None], reduction=reduction), expected)


def test_mixed_cross_entropy_takes_one_share_for_every_row():
    logits, head, tail = torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1]), torch.tensor([2, 2, 0, 1, 1])
    expected = mixed_cross_entropy(logits, head, tail, torch.full((5,), 0.3), reduction="none")
    assert torch.equal(mixed_cross_entropy(logits, head, tail, 0.3, reduction="none"), expected)
    assert torch.equal(mixed_cross_entropy(logits, head, tail, torch.tensor(0.3), reduction="none"), expected)
    with pytest.raises(ValueError, match=r"lam must be in \[0.0, 1.0\], got 1.5"):
        mixed_cross_entropy(logits, head, tail, 1.5)
    with pytest.raises(TypeError, match="lam must be a real number, got str"):
        mixed_cross_entropy(logits, head, tail, "0.3")


@pytest.mark.parametrize("shape", [(4, 2), (1, 4), (4, 1, 1), (5,), (2, 2)])
def test_mixed_cross_entropy_refuses_lam_of_other_shapes(shape):
    labels = torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match=r"lam must have one entry per logits row \(4\).*got shape"):
        mixed_cross_entropy(torch.randn(4, 3), labels, labels, torch.full(shape, 0.5))


@pytest.mark.parametrize(
    "name, labels, error, pattern",
    [
        ("head_labels", torch.zeros(4, 4), ValueError, r"head_labels must be \(4,\) class indices or \(4, 3\) soft"),
        ("tail_labels", torch.zeros(4, 3, 1), ValueError, r"tail_labels must be \(4,\) class indices or \(4, 3\)"),
        ("head_labels", torch.zeros(4), TypeError, r"head_labels of shape \(B,\) must hold integer class indices"),
        ("tail_labels", torch.zeros(4, 3, dtype=torch.long), TypeError, "tail_labels of shape .* must be floating"),
        ("head_labels", [0, 1, 2, 0], TypeError, "head_labels must be a tensor"),
        ("tail_labels", torch.tensor([0, 1, 3, 0]), ValueError, r"tail_labels must lie in \[0, num_classes=3\), got 3"),
        ("head_labels", torch.tensor([0, -100, 1, 0]), ValueError, r"head_labels must lie in \[0, num_classes=3\)"),
    ],
)
def test_mixed_cross_entropy_checks_the_labels_fully(name, labels, error, pattern):
    kwargs = {"head_labels": torch.zeros(4, dtype=torch.long), "tail_labels": torch.zeros(4, dtype=torch.long)}
    kwargs[name] = labels
    with pytest.raises(error, match=pattern):
        mixed_cross_entropy(torch.randn(4, 3), kwargs["head_labels"], kwargs["tail_labels"], torch.ones(4))


def test_mixed_cross_entropy_refuses_non_tensor_logits_with_a_type_error():
    with pytest.raises(TypeError, match=r"logits must be a \(B, C\) tensor, got list"):
        mixed_cross_entropy([[0.0, 1.0]], torch.tensor([0]), torch.tensor([1]), torch.ones(1))


def test_logit_adjustment_gives_an_empty_class_the_floor_and_keeps_the_others():
    adjustment = logit_adjustment([3.0, 1.0, 0.0], tau=2.0)
    assert torch.equal(adjustment[:2], logit_adjustment([3.0, 1.0], tau=2.0))  # the prior is not renormalised
    assert adjustment[2] == torch.tensor(2.0 * math.log(1e-12), dtype=torch.float32)
    assert logit_adjustment([3.0, 0.0], eps=1e-4)[1] == torch.tensor(math.log(1e-4), dtype=torch.float32)


def test_logit_adjusted_cross_entropy_takes_a_prior_with_an_empty_class():
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])
    expected = F.cross_entropy(logits + logit_adjustment([5.0, 2.0, 0.0], eps=1e-6), labels)
    assert torch.equal(logit_adjusted_cross_entropy(logits, labels, [5.0, 2.0, 0.0], eps=1e-6), expected)


def test_logit_adjustment_of_a_prior_whose_sum_overflows_is_finite():
    adjustment = logit_adjustment([1e308, 1e308, 5e307])
    torch.testing.assert_close(adjustment, torch.tensor([0.4, 0.4, 0.2]).log(), rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    "logits, targets, error, pattern",
    [
        ([[0.0, 1.0]], torch.tensor([0]), TypeError, r"logits must be a \(B, C\) tensor, got list"),
        (torch.randn(2, 3, 1), torch.tensor([0, 1]), ValueError, r"logits must be a \(B, C\) tensor, got shape"),
        (torch.randn(2, 3), torch.rand(2, 4), ValueError, r"targets must be \(2,\) class indices or \(2, 3\) soft"),
        (torch.randn(2, 3), torch.rand(3, 3), ValueError, r"targets must have one entry per logits row \(2\)"),
        (torch.randn(2, 3), torch.rand(2), TypeError, "targets of shape .* must hold integer class indices"),
        (torch.randn(2, 3), [0, 1], TypeError, "targets must be a tensor"),
        (torch.randn(2, 3), torch.tensor([0, -100]), ValueError, r"targets must lie in \[0, num_classes=3\)"),
    ],
)
def test_class_weighted_cross_entropy_checks_logits_and_targets(logits, targets, error, pattern):
    with pytest.raises(error, match=pattern):
        class_weighted_cross_entropy(logits, targets, torch.ones(3))


def test_class_weighted_cross_entropy_checks_the_weight():
    logits, labels = torch.randn(2, 3), torch.tensor([0, 1])
    with pytest.raises(TypeError, match=r"weight must be a \(3,\) floating-point tensor of class weights, got list"):
        class_weighted_cross_entropy(logits, labels, [1.0, 1.0, 1.0])
    with pytest.raises(TypeError, match=r"weight must be a \(3,\) floating-point tensor .*, got torch.int64"):
        class_weighted_cross_entropy(logits, labels, torch.ones(3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"weight must be a \(3,\) tensor of class weights, got \(2,\)"):
        class_weighted_cross_entropy(logits, labels, torch.ones(2))


def test_logit_adjusted_cross_entropy_checks_the_weight():
    logits, labels = torch.randn(2, 3), torch.tensor([0, 1])
    with pytest.raises(ValueError, match=r"weight must be a \(3,\) tensor of class weights, got \(4,\)"):
        logit_adjusted_cross_entropy(logits, labels, [1, 1, 1], weight=torch.ones(4))
    with pytest.raises(TypeError, match=r"weight must be a \(3,\) floating-point tensor"):
        logit_adjusted_cross_entropy(logits, labels, [1, 1, 1], weight=torch.ones(3, dtype=torch.int64))


def test_a_ragged_prior_is_a_value_error_as_in_the_weightings():
    from mmt_augment import class_probabilities

    for call in (lambda values: logit_adjustment(values), lambda values: class_probabilities(values)):
        with pytest.raises(ValueError, match="cannot be read as an array"):
            call([[1, 2], [3]])


def test_logit_adjusted_cross_entropy_checks_the_targets():
    with pytest.raises(ValueError, match=r"targets must be \(2,\) class indices or \(2, 3\) soft"):
        logit_adjusted_cross_entropy(torch.randn(2, 3), torch.rand(2, 4), [1, 1, 1])


@pytest.mark.parametrize("head", [torch.tensor([0, -1]), torch.tensor([0, 3])])
def test_remix_refuses_labels_outside_the_counts(head):
    mixed = MixedLabels(head, torch.tensor([1, 0]), torch.tensor([0.3, 0.3]))
    with pytest.raises(ValueError, match=r"mixed.head_labels must lie in \[0, num_classes=3\)"):
        remix_labels(mixed, [300, 200, 10])


@pytest.mark.parametrize(
    "head, tail, lam",
    [
        (torch.tensor([0, 1, 2]), torch.tensor([1, 0]), torch.tensor([0.3, 0.3, 0.3])),
        (torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([0.3, 0.3, 0.3])),
        (torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([[0.3], [0.3]])),
        (torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor(0.3)),
    ],
)
def test_remix_refuses_labels_and_lam_of_different_shapes(head, tail, lam):
    with pytest.raises(ValueError, match="mixed.tail_labels and mixed.lam must have the shape of mixed.head_labels"):
        remix_labels(MixedLabels(head, tail, lam), [300, 200, 10])


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("values", [[0.3, 1.5], [-0.1, 0.5], [0.3, float("nan")]])
def test_mixed_cross_entropy_refuses_tensor_lam_outside_0_1(values, requires_grad):
    labels = torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match=r"lam must lie in \[0, 1\], got values in"):
        mixed_cross_entropy(torch.randn(2, 3), labels, labels, torch.tensor(values, requires_grad=requires_grad))


def test_mixed_cross_entropy_refuses_a_bool_lam_and_reads_integer_shares():
    logits, labels = torch.randn(2, 3), torch.tensor([0, 1])
    with pytest.raises(TypeError, match="lam must be a real tensor of head shares, got torch.bool"):
        mixed_cross_entropy(logits, labels, labels.flip(0), torch.tensor([True, False]))
    expected = mixed_cross_entropy(logits, labels, labels.flip(0), torch.tensor([1.0, 0.0]))
    assert torch.equal(mixed_cross_entropy(logits, labels, labels.flip(0), torch.tensor([1, 0])), expected)


@pytest.mark.parametrize("values", [[0.3, 1.5], [0.3, float("nan")]])
def test_remix_refuses_lam_outside_0_1(values):
    mixed = MixedLabels(torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor(values))
    with pytest.raises(ValueError, match=r"mixed.lam must lie in \[0, 1\]"):
        remix_labels(mixed, [300, 200, 10])


@pytest.mark.parametrize("counts", [[0, 0, 0], [300, -1, 10]])
def test_remix_refuses_counts_all_zero_or_negative(counts):
    mixed = MixedLabels(torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([0.3, 0.3]))
    with pytest.raises(ValueError, match="class_counts must be >= 0 and not all zero"):
        remix_labels(mixed, counts)


def test_remix_refuses_fields_that_are_not_tensors():
    with pytest.raises(TypeError, match="mixed.lam must be a tensor, got float"):
        remix_labels(MixedLabels(torch.tensor([0]), torch.tensor([1]), 0.3), [300, 200])


def test_class_balanced_weights_refuse_counts_whose_weight_overflows():
    with pytest.raises(ValueError, match="class_counts are too small for beta=0.9999"):
        class_balanced_weights([1e-320, 5.0], beta=0.9999)


@pytest.mark.parametrize("call", [lambda counts: logit_adjustment(counts), lambda counts: class_balanced_weights(counts),
                                  lambda counts: remix_labels(MixedLabels(torch.tensor([0]), torch.tensor([1]),
                                                                          torch.tensor([0.3])), counts)])
def test_counts_too_large_for_a_float_are_named(call):
    with pytest.raises(ValueError, match=r"must be a 1-D sequence of numbers, got list .*too large"):
        call([10**400, 5])
