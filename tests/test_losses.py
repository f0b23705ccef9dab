"""mixed_cross_entropy: the loss-side form of MMT targets."""

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
