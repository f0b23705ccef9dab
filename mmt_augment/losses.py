"""Loss-side form of MMT targets, for label spaces too large for a ``(B, num_classes)`` tensor.

Instead of dense soft targets, a mixed batch can carry ``(head_labels, tail_labels, lam)``
per row; the loss is then ``lam * CE(logits, head) + (1 - lam) * CE(logits, tail)``, which
equals cross-entropy against the dense targets ``lam * one_hot(head) + (1 - lam) * one_hot(tail)``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from mmt_augment import kernels

__all__ = ["MixedLabels", "mixed_cross_entropy"]

_REDUCTIONS = ("mean", "sum", "none")


class MixedLabels(NamedTuple):
    """Labels of a mixed batch: each row is ``lam`` head and ``1 - lam`` tail.

    Attributes:
        head_labels: ``(B,)`` class indices or ``(B, C)`` soft labels of the head rows.
        tail_labels: labels of the tail rows, same form as ``head_labels``.
        lam: ``(B,)`` float head share per row (1 for a row that was not mixed).
    """

    head_labels: torch.Tensor
    tail_labels: torch.Tensor
    lam: torch.Tensor

    def to_dense(self, num_classes: int | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Dense ``(B, C)`` targets ``lam * head + (1 - lam) * tail``.

        Args:
            num_classes: number of classes; required for index labels.
            dtype: floating dtype of the result for index labels.
        """
        if self.head_labels.ndim == 2:
            return kernels.mix_soft_labels(self.head_labels, self.tail_labels, self.lam)
        if num_classes is None:
            raise ValueError("num_classes is required to densify index labels; got None")
        return kernels.mix_index_labels(self.head_labels, self.tail_labels, self.lam, num_classes, dtype)


def mixed_cross_entropy(
    logits: torch.Tensor,
    head_labels: torch.Tensor,
    tail_labels: torch.Tensor,
    lam: torch.Tensor,
    *,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Cross-entropy of a mixed batch without dense targets.

    ``loss_b = lam_b * CE(logits_b, head_b) + (1 - lam_b) * CE(logits_b, tail_b)``, reduced
    over the batch. Call it as ``mixed_cross_entropy(logits, *mixed_labels)`` with the
    :class:`MixedLabels` from :meth:`mmt_augment.MMTMix.mix`, or pass the columns of a kornia
    ``(B, 3)`` label tensor from :class:`mmt_augment.RandomMMT` (cast the label columns to long).

    Args:
        logits: ``(B, C)`` unnormalised scores.
        head_labels: ``(B,)`` class indices or ``(B, C)`` soft labels.
        tail_labels: same form as ``head_labels``.
        lam: ``(B,)`` head share per row.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        label_smoothing: passed to :func:`torch.nn.functional.cross_entropy`.

    Returns:
        The reduced loss, or ``(B,)`` losses for ``reduction="none"``.

    Raises:
        ValueError: for an unknown ``reduction`` or mismatched batch sizes.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a (B, C) tensor, got {shape}")
    batch_size = logits.shape[0]
    for name, tensor in (("head_labels", head_labels), ("tail_labels", tail_labels), ("lam", lam)):
        if not isinstance(tensor, torch.Tensor) or tensor.ndim == 0 or tensor.shape[0] != batch_size:
            got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise ValueError(f"{name} must have one entry per logits row ({batch_size}), got {got}")
    head_loss = F.cross_entropy(logits, head_labels, reduction="none", label_smoothing=label_smoothing)
    tail_loss = F.cross_entropy(logits, tail_labels, reduction="none", label_smoothing=label_smoothing)
    lam = lam.to(head_loss.dtype)
    loss = torch.lerp(tail_loss, head_loss, lam)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
