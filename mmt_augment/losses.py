"""Losses and label rules for mixed long-tailed batches.

* :class:`MixedLabels` / :func:`mixed_cross_entropy`: the loss-side form of MMT targets, for
  label spaces too large for a ``(B, num_classes)`` tensor. A mixed batch carries
  ``(head_labels, tail_labels, lam)`` per row; the loss ``lam * CE(logits, head) + (1 - lam) *
  CE(logits, tail)`` equals cross-entropy against ``lam * one_hot(head) + (1 - lam) * one_hot(tail)``.
* :func:`logit_adjusted_cross_entropy`: cross-entropy on ``logits + tau * log(prior)`` (logit
  adjustment; Balanced Softmax for ``tau = 1``), for index or soft targets.
* :func:`logit_adjustment`: the same adjustment computed once, for a GPU training loop.
* :func:`class_balanced_weights`: effective-number class weights for deferred re-weighting, and
  :func:`class_weighted_cross_entropy`, which weighs index and soft targets alike.
* :func:`remix_labels`: the Remix label rule, which hands a mixed row's label wholly to the
  rarer class when the classes are far apart in frequency.

Composed with MMT, a prior-based loss needs the class distribution of the mixed targets, not
the training set's: see :func:`mmt_augment.weighting.mixed_class_prior`.
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple, Optional

import numpy as np
import torch
import torch.nn.functional as F

from mmt_augment import kernels

__all__ = [
    "MixedLabels",
    "class_balanced_weights",
    "class_weighted_cross_entropy",
    "logit_adjusted_cross_entropy",
    "logit_adjustment",
    "mixed_cross_entropy",
    "remix_labels",
]

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

    @classmethod
    def from_kornia(cls, labels: torch.Tensor) -> MixedLabels:
        """Read kornia's ``(B, 3)`` mix labels ``(head, tail, tail weight w)`` (as
        :class:`mmt_augment.RandomMMT` and kornia's ``RandomMixUpV2`` return them): ``lam = 1 - w``.

        Raises:
            ValueError: if ``labels`` is not a ``(B, 3)`` tensor.
        """
        if not isinstance(labels, torch.Tensor) or labels.ndim != 2 or labels.shape[1] != 3:
            got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise ValueError(f"labels must be kornia's (B, 3) mix labels (head, tail, tail weight), got {got}")
        return cls(labels[:, 0].long(), labels[:, 1].long(), 1.0 - labels[:, 2])

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
    ``(B, 3)`` label tensor from :class:`mmt_augment.RandomMMT` through :meth:`MixedLabels.from_kornia`.

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


def _as_class_vector(name: str, values: object) -> torch.Tensor:
    """A 1-D float64 CPU tensor of per-class values after checking shape and finiteness."""
    if isinstance(values, torch.Tensor):
        vector = values.detach().to("cpu", torch.float64)
    else:
        try:
            vector = torch.as_tensor(np.asarray(values, dtype=np.float64))
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a 1-D sequence of numbers, got {type(values).__name__}") from None
    if vector.ndim != 1 or vector.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D vector with one entry per class, got shape {tuple(vector.shape)}")
    if not torch.isfinite(vector).all():
        raise ValueError(f"{name} must be finite, got {vector.tolist()[:8]}")
    return vector


def _check_real(name: str, value: object, *, low: float, high: float, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    number = float(value)
    inside = (number > low if low_open else number >= low) and number <= high
    if not (math.isfinite(number) and inside):
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {value!r}")
    return number


def logit_adjustment(class_prior: object, *, tau: float = 1.0) -> torch.Tensor:
    """The logit adjustment ``tau * log(prior)`` (prior normalised to sum to 1), validated once.

    Add it to the logits in training, ``F.cross_entropy(logits + adjustment, targets)``, and
    predict with the plain logits: this is :func:`logit_adjusted_cross_entropy` with the
    adjustment computed once, the form for a GPU training loop (move it to the device once;
    validating a prior every step would read values back from the GPU).

    Args:
        class_prior: ``(C,)`` positive class frequencies of the targets the model trains on.
        tau: adjustment strength, >= 0.

    Returns:
        ``(C,)`` float32 tensor on the CPU.

    Raises:
        TypeError, ValueError: for a prior that is not ``(C,)``, finite and positive, or a
            negative or non-real ``tau``.

    Example:
        >>> logit_adjustment([3, 1])
        tensor([-0.2877, -1.3863])
    """
    tau = _check_real("tau", tau, low=0.0, high=math.inf)
    prior = _as_class_vector("class_prior", class_prior)
    if not (prior > 0).all():
        raise ValueError(
            "class_prior must be positive for every class (a class with prior 0 would get a logit "
            f"of -inf), got {prior.tolist()[:8]}"
        )
    return (tau * torch.log(prior / prior.sum())).to(torch.float32)


def logit_adjusted_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    class_prior: object,
    *,
    tau: float = 1.0,
    weight: Optional[torch.Tensor] = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Logit-adjusted cross-entropy: ``CE(logits + tau * log(prior), targets)``.

    The logit adjustment loss of Menon et al. (2021); with ``tau = 1`` it equals Balanced
    Softmax (Ren et al., 2020). Training against the prior-shifted logits and predicting with
    the plain ``logits`` removes the label prior from the learned scores, so rare classes are
    no longer out-voted. Use it only in training; evaluate on ``logits``. It validates and moves
    the prior on every call; in a GPU loop compute :func:`logit_adjustment` once instead.

    Args:
        logits: ``(B, C)`` unnormalised scores.
        targets: ``(B,)`` class indices or ``(B, C)`` soft targets (e.g. from
            :class:`mmt_augment.MMTMix`), as :func:`torch.nn.functional.cross_entropy` takes.
        class_prior: ``(C,)`` positive class frequencies of the targets the model trains on
            (normalised here). For plain training: the training set's class counts. Composed
            with MMT: :func:`mmt_augment.weighting.mixed_class_prior`, since the tail stream
            has already re-balanced the targets.
        tau: adjustment strength, >= 0 (0 is plain cross-entropy).
        weight: optional ``(C,)`` class weights, as in :func:`~torch.nn.functional.cross_entropy`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The reduced loss, or ``(B,)`` losses for ``reduction="none"``.

    Raises:
        TypeError: for a non-tensor ``logits`` or a non-real ``tau``.
        ValueError: for a prior that is not ``(C,)``, finite and positive, a negative ``tau``
            or an unknown ``reduction``.

    Example:
        >>> logits, labels = torch.randn(4, 3), torch.tensor([0, 0, 1, 2])
        >>> loss = logit_adjusted_cross_entropy(logits, labels, [100, 10, 1])
    """
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise (ValueError if isinstance(logits, torch.Tensor) else TypeError)(
            f"logits must be a (B, C) tensor, got {got}"
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    adjustment = logit_adjustment(class_prior, tau=tau)
    if adjustment.numel() != logits.shape[1]:
        raise ValueError(
            f"class_prior must have one entry per logits column ({logits.shape[1]}), got {adjustment.numel()}"
        )
    adjustment = adjustment.to(device=logits.device, dtype=logits.dtype)
    return F.cross_entropy(logits + adjustment, targets, weight=weight, reduction=reduction)


def class_balanced_weights(class_counts: object, beta: float = 0.9999) -> torch.Tensor:
    """Effective-number class weights ``(1 - beta) / (1 - beta ** n_c)``, summing to ``C``.

    The class-balanced weights of Cui et al. (2019), which LDAM-DRW switches on late in
    training (deferred re-weighting): rare classes weigh more, but less than ``1 / n_c``.
    Counts may be fractional (an effective count such as ``N * prior``). A class with count 0
    gets weight 0, and the rest are scaled so the weights sum to the number of classes ``C``.

    Args:
        class_counts: ``(C,)`` non-negative per-class counts, not all zero.
        beta: in ``[0, 1)``; 0 gives equal weights, towards 1 the weights approach ``1 / n_c``.

    Returns:
        ``(C,)`` float32 tensor on the CPU; pass it as ``weight=`` to
        :func:`torch.nn.functional.cross_entropy` (``.to(device)`` first). With soft targets
        each target column is then weighted by its class's weight.

    Raises:
        TypeError: for a non-real ``beta`` or non-numeric counts.
        ValueError: for counts that are not 1-D, finite, >= 0 and not all zero, or ``beta``
            outside ``[0, 1)``.

    Example:
        >>> class_balanced_weights([5000, 500, 50])
        tensor([0.0341, 0.2752, 2.6907])
    """
    counts = _as_class_vector("class_counts", class_counts)
    if (counts < 0).any() or not (counts > 0).any():
        raise ValueError(f"class_counts must be >= 0 and not all zero, got {counts.tolist()[:8]}")
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
        raise TypeError(f"beta must be a real number in [0, 1), got {type(beta).__name__} {beta!r}")
    beta = float(beta)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")
    present = counts > 0
    # 1 - beta ** n through expm1/log1p stays accurate for beta close to 1.
    effective = -torch.expm1(counts[present] * math.log(beta)) if beta > 0 else torch.ones_like(counts[present])
    weights = torch.zeros_like(counts)
    weights[present] = (1.0 - beta) / effective if beta > 0 else effective
    return (weights * len(counts) / weights.sum()).to(torch.float32)


def class_weighted_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy with per-class weights, the same for index and soft targets.

    ``loss_b = -sum_c t_bc w_c log p_bc``; the mean divides by the total weight of the targets,
    ``sum_b sum_c t_bc w_c``, as :func:`torch.nn.functional.cross_entropy` does for class
    indices. (torch divides soft targets by the batch size instead, so the same one-hot batch
    would give another loss as indices and as probabilities; here both give the same.) Use it
    with :func:`class_balanced_weights` for deferred re-weighting on mixed targets.

    Args:
        logits: ``(B, C)`` scores.
        targets: ``(B,)`` class indices or ``(B, C)`` soft targets.
        weight: ``(C,)`` class weights on the logits' device.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The reduced loss, or ``(B,)`` losses for ``reduction="none"``.

    Raises:
        ValueError: for an unknown ``reduction`` or a ``weight`` that is not ``(C,)``.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not isinstance(weight, torch.Tensor) or weight.shape != (logits.shape[-1],):
        got = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"weight must be a ({logits.shape[-1]},) tensor of class weights, got {got}")
    if targets.ndim == 1:
        return F.cross_entropy(logits, targets, weight=weight, reduction=reduction)
    weighted = targets * weight.to(targets.dtype)
    losses = -(weighted * F.log_softmax(logits, dim=-1)).sum(-1)
    if reduction == "mean":
        return losses.sum() / weighted.sum()
    return losses.sum() if reduction == "sum" else losses


def remix_labels(
    mixed: MixedLabels, class_counts: object, *, kappa: float = 3.0, tau: float = 0.5
) -> MixedLabels:
    """Apply the Remix label rule (Chou et al., 2020) to the labels of a mixed batch.

    Images stay as mixed; only the label weight changes. For a row with head share ``lam``,
    head class ``i`` and tail class ``j``:

    * ``lam -> 0`` (all to the tail) when ``n_i / n_j >= kappa`` and ``lam < tau``;
    * ``lam -> 1`` (all to the head) when ``n_j / n_i >= kappa`` and ``1 - lam < tau``;
    * ``lam`` unchanged otherwise.

    That is, when one class is at least ``kappa`` times as frequent as the other and holds
    less than ``tau`` of the pixels, the label goes wholly to the rarer class. Use it with
    :meth:`mmt_augment.MMTMix.mix` (any mode) and :func:`mixed_cross_entropy` or
    :meth:`MixedLabels.to_dense`.

    Args:
        mixed: the :class:`MixedLabels` of a mixed batch, with ``(B,)`` class indices.
        class_counts: ``(C,)`` training-set class counts ``n_c`` (all classes that occur > 0).
        kappa: frequency ratio, >= 1 (Remix: 3).
        tau: share threshold, in ``(0, 1]`` (Remix: 0.5).

    Returns:
        A new :class:`MixedLabels` with the same labels and the adjusted ``lam``.

    Raises:
        TypeError, ValueError: for soft labels, bad counts or out-of-range ``kappa``/``tau``.

    Example:
        >>> mixed = MixedLabels(torch.tensor([0, 0, 2]), torch.tensor([2, 1, 2]), torch.tensor([0.3, 0.3, 0.3]))
        >>> remix_labels(mixed, [300, 200, 10]).lam  # row 0: 30:1 and head share < 0.5
        tensor([0.0000, 0.3000, 0.3000])
    """
    if not isinstance(mixed, MixedLabels):
        raise TypeError(f"mixed must be a MixedLabels, got {type(mixed).__name__}")
    head, tail, lam = mixed
    if head.ndim != 1 or tail.ndim != 1 or head.is_floating_point() or tail.is_floating_point():
        raise ValueError(
            f"remix_labels needs (B,) class indices, got head/tail labels of shape {tuple(head.shape)} "
            f"dtype {head.dtype} and {tuple(tail.shape)} dtype {tail.dtype}"
        )
    kappa = _check_real("kappa", kappa, low=1.0, high=math.inf)
    tau = _check_real("tau", tau, low=0.0, high=1.0, low_open=True)
    counts = _as_class_vector("class_counts", class_counts)
    if (counts < 0).any():
        raise ValueError(f"class_counts must be >= 0, got {counts.tolist()[:8]}")
    counts = counts.to(lam.device)
    head_counts, tail_counts = counts[head.long()], counts[tail.long()]
    to_tail = (head_counts >= kappa * tail_counts) & (lam < tau)
    to_head = (tail_counts >= kappa * head_counts) & (1 - lam < tau)
    new_lam = torch.where(to_tail, torch.zeros_like(lam), torch.where(to_head, torch.ones_like(lam), lam))
    return MixedLabels(head, tail, new_lam)
