"""mixed_cross_entropy: the loss-side form of MMT targets."""

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
    with pytest.raises(ValueError, match="positive for every class"):
        logit_adjustment([1.0, 0.0])
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
