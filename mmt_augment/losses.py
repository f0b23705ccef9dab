"""Losses and label rules for mixed long-tailed batches.

* :class:`MixedLabels` / :func:`mixed_cross_entropy`: the loss-side form of MMT targets
  ``(head_labels, tail_labels, lam)``, for label spaces too large for ``(B, num_classes)`` targets.
* :func:`logit_adjusted_cross_entropy` and :func:`logit_adjustment`: logit adjustment (Balanced
  Softmax for ``tau = 1``); composed with MMT it needs the prior of the mixed targets,
  :func:`mmt_augment.weighting.mixed_class_prior`.
* :func:`class_balanced_weights` and :func:`class_weighted_cross_entropy`: deferred re-weighting.
* :func:`remix_labels`: the Remix label rule.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F

from mmt_augment import kernels
from mmt_augment._checks import check_label_range, check_real, is_integer, sum_safe_scale
from mmt_augment._fastpath import is_compiling, on_host

__all__ = ["MixedLabels", "class_balanced_weights", "class_weighted_cross_entropy",
           "logit_adjusted_cross_entropy", "logit_adjustment", "mixed_cross_entropy", "remix_labels"]

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


def mixed_cross_entropy(logits: torch.Tensor, head_labels: torch.Tensor, tail_labels: torch.Tensor,
                        lam: Union[torch.Tensor, float], *, reduction: str = "mean",
                        label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of a mixed batch without dense targets.

    ``loss_b = lam_b * CE(logits_b, head_b) + (1 - lam_b) * CE(logits_b, tail_b)``, the
    cross-entropy against the mixed one-hot targets. Call it as ``mixed_cross_entropy(logits,
    *mixed_labels)`` with :meth:`mmt_augment.MMTMix.mix`'s or :meth:`MixedLabels.from_kornia`'s labels.

    Args:
        logits: ``(B, C)`` unnormalised floating scores.
        head_labels: ``(B,)`` integer class indices or ``(B, C)`` floating soft labels.
        tail_labels: same forms as ``head_labels``.
        lam: head share per row: a ``(B,)`` or ``(B, 1)`` tensor (read as ``(B,)``), or one share
            for every row as a 0-d tensor or a real number in ``[0, 1]``. Any other shape is
            refused, as it would broadcast to ``(B, B)`` losses.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        label_smoothing: passed to :func:`torch.nn.functional.cross_entropy`.

    Returns:
        The reduced loss, or ``(B,)`` losses for ``reduction="none"``.

    Raises:
        TypeError: for non-tensor logits or labels, a wrong dtype, or a non-real ``lam``.
        ValueError: for an unknown ``reduction``, a shape that does not fit ``(B, C)`` logits, a
            ``lam`` outside ``[0, 1]`` (a tensor's values are read on the CPU only), a tensor on
            another device than ``logits``, or (on the CPU) an index label outside ``[0, C)``.
    """
    _check_reduction(reduction)
    _check_logits(logits)
    _check_targets("head_labels", head_labels, logits)
    _check_targets("tail_labels", tail_labels, logits)
    _check_index_range(logits, head_labels=head_labels, tail_labels=tail_labels)
    lam = _check_lam(lam, logits)
    head_loss = F.cross_entropy(logits, head_labels, reduction="none", label_smoothing=label_smoothing)
    tail_loss = F.cross_entropy(logits, tail_labels, reduction="none", label_smoothing=label_smoothing)
    if isinstance(lam, torch.Tensor):
        lam = lam.to(head_loss.dtype)
    loss = torch.lerp(tail_loss, head_loss, lam)
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_logits(logits: object) -> None:
    """``logits`` must be a ``(B, C)`` floating tensor."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a (B, C) tensor, got {type(logits).__name__}")
    if logits.ndim != 2:
        raise ValueError(f"logits must be a (B, C) tensor, got shape {tuple(logits.shape)}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be floating point, got dtype {logits.dtype}")


def _check_targets(name: str, targets: object, logits: torch.Tensor) -> None:
    """``targets`` must be ``(B,)`` integer class indices or ``(B, C)`` floating soft targets."""
    batch_size, num_classes = logits.shape
    forms = f"({batch_size},) class indices or ({batch_size}, {num_classes}) soft labels"
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of {forms}, got {type(targets).__name__}")
    if targets.ndim == 0 or targets.shape[0] != batch_size:
        raise ValueError(f"{name} must have one entry per logits row ({batch_size}), got shape {tuple(targets.shape)}")
    if targets.ndim == 1:
        if not is_integer(targets):
            raise TypeError(f"{name} of shape (B,) must hold integer class indices, got dtype {targets.dtype}")
    elif targets.shape == (batch_size, num_classes):
        if not targets.is_floating_point():
            raise TypeError(f"{name} of shape (B, C) must be floating point soft labels, got dtype {targets.dtype}")
    else:
        raise ValueError(f"{name} must be {forms} for logits of shape {tuple(logits.shape)}, got shape {tuple(targets.shape)}")
    if targets.device != logits.device:
        raise ValueError(f"{name} must be on the logits' device ({logits.device}), got {targets.device}")


def _check_index_range(logits: torch.Tensor, **targets: torch.Tensor) -> None:
    """Index targets must lie in ``[0, C)`` (else -100, ``ignore_index``, would silently drop a row).

    Checked on the CPU only: elsewhere it would sync.
    """
    if logits.is_cpu and not is_compiling():
        check_label_range(logits.shape[1], **targets)


def _check_lam(lam: object, logits: torch.Tensor) -> Union[torch.Tensor, float]:
    """``lam`` as ``(B,)`` or 0-d tensor, or a float in ``[0, 1]``; ``(B, 1)`` is read as ``(B,)``."""
    batch_size = logits.shape[0]
    if not isinstance(lam, torch.Tensor):
        return check_real(lam, "lam", low=0.0, high=1.0)
    if lam.shape == (batch_size, 1):
        lam = lam.reshape(batch_size)
    elif lam.ndim != 0 and lam.shape != (batch_size,):
        raise ValueError(f"lam must have one entry per logits row ({batch_size}): a tensor of shape "
                         f"({batch_size},) or ({batch_size}, 1), or one share for every row; "
                         f"got shape {tuple(lam.shape)}")
    if lam.device != logits.device:
        raise ValueError(f"lam must be on the logits' device ({logits.device}), got {lam.device}")
    return _check_shares("lam", lam)


def _check_shares(name: str, lam: torch.Tensor) -> torch.Tensor:
    """A real tensor of head shares in ``[0, 1]`` (values read on the host only: elsewhere it would sync)."""
    if lam.dtype == torch.bool or lam.is_complex():
        raise TypeError(f"{name} must be a real tensor of head shares, got {lam.dtype}")
    if lam.numel() and on_host(lam.detach()) and not (0 <= (bounds := torch.aminmax(lam.detach()))[0] and bounds[1] <= 1):
        raise ValueError(f"{name} must lie in [0, 1], got values in [{bounds[0].item()}, {bounds[1].item()}]")
    return lam


def _as_class_vector(name: str, values: object) -> torch.Tensor:
    """A 1-D float64 CPU tensor of per-class values after checking shape, finiteness and sign."""
    if isinstance(values, torch.Tensor):
        vector = values.detach().to("cpu", torch.float64)
    else:
        try:
            vector = torch.as_tensor(np.asarray(values, dtype=np.float64))
        except (TypeError, ValueError, OverflowError) as error:  # as read_array words it for the weightings
            raise ValueError(f"{name} must be a 1-D sequence of numbers, got {type(values).__name__} "
                             f"that cannot be read as an array ({error})") from None
    if vector.ndim != 1 or vector.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D vector with one entry per class, got shape {tuple(vector.shape)}")
    if not torch.isfinite(vector).all():
        raise ValueError(f"{name} must be finite, got {vector.tolist()[:8]}")
    if (vector < 0).any() or not (vector > 0).any():
        raise ValueError(f"{name} must be >= 0 and not all zero, got {vector.tolist()[:8]}")
    return vector


#: The normalised prior :func:`logit_adjustment` gives a class whose prior is 0 by default.
EMPTY_CLASS_PRIOR = 1e-12


def logit_adjustment(class_prior: object, *, tau: float = 1.0, eps: float = EMPTY_CLASS_PRIOR) -> torch.Tensor:
    """The logit adjustment ``tau * log(prior)`` (prior normalised to sum to 1), validated once.

    Train on ``F.cross_entropy(logits + adjustment, targets)`` and predict with the plain logits:
    :func:`logit_adjusted_cross_entropy` with the adjustment computed once, for a GPU loop
    (validating a prior every step would read values back from the GPU).

    An empty class (normalised prior 0) gets ``tau * log(eps)`` instead of ``-inf``, so
    ``logit_adjustment(mixed_class_prior(counts, ...))`` works on data with empty classes; the
    prior is not renormalised (only a floor).

    Args:
        class_prior: ``(C,)`` non-negative class frequencies of the targets the model trains
            on, not all zero.
        tau: adjustment strength, >= 0.
        eps: the normalised prior of a class whose prior is 0, in ``(0, 1]``.

    Returns:
        ``(C,)`` float32 tensor on the CPU.

    Raises:
        TypeError, ValueError: for a prior that is not ``(C,)``, finite, non-negative and not
            all zero, a negative or non-real ``tau``, or ``eps`` outside ``(0, 1]``.

    Example:
        >>> logit_adjustment([3, 1])
        tensor([-0.2877, -1.3863])
        >>> logit_adjustment([3, 1, 0])  # the empty class gets log(1e-12)
        tensor([ -0.2877,  -1.3863, -27.6310])
    """
    tau = check_real(tau, "tau", low=0.0, high=math.inf)
    eps = check_real(eps, "eps", low=0.0, high=1.0, low_open=True)
    prior = _as_class_vector("class_prior", class_prior)
    total = prior.sum()
    if not torch.isfinite(total):
        prior = prior * sum_safe_scale(len(prior))  # finite values whose sum overflows
        total = prior.sum()
    normalised = prior / total
    if not (normalised > 0).all():
        normalised = torch.where(normalised > 0, normalised, eps)
    return (tau * torch.log(normalised)).to(torch.float32)


def logit_adjusted_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, class_prior: object, *,
                                 tau: float = 1.0, weight: Optional[torch.Tensor] = None,
                                 reduction: str = "mean", eps: float = EMPTY_CLASS_PRIOR) -> torch.Tensor:
    """Logit-adjusted cross-entropy: ``CE(logits + tau * log(prior), targets)``.

    Menon et al. (2021); with ``tau = 1`` Balanced Softmax (Ren et al., 2020). Training against
    the prior-shifted logits removes the label prior from the learned scores, so rare classes are
    no longer out-voted; evaluate on the plain ``logits``. In a GPU loop use :func:`logit_adjustment`.

    Args:
        logits: ``(B, C)`` unnormalised scores.
        targets: ``(B,)`` class indices or ``(B, C)`` soft targets (e.g. from
            :class:`mmt_augment.MMTMix`).
        class_prior: ``(C,)`` non-negative class frequencies of the targets the model trains
            on: the training set's class counts, or composed with MMT
            :func:`mmt_augment.weighting.mixed_class_prior`. An empty class gets ``eps``.
        tau: adjustment strength, >= 0 (0 is plain cross-entropy).
        weight: optional ``(C,)`` class weights, as in :func:`~torch.nn.functional.cross_entropy`.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        eps: the normalised prior of a class whose prior is 0, in ``(0, 1]``.

    Returns:
        The reduced loss, or ``(B,)`` losses for ``reduction="none"``.

    Raises:
        TypeError: for a non-tensor ``logits``, ``targets`` or ``weight``, a wrong dtype, or a
            non-real ``tau``.
        ValueError: for a shape that does not fit ``(B, C)`` logits, a prior that is not ``(C,)``,
            finite, non-negative and not all zero, a negative ``tau``, ``eps`` outside ``(0, 1]``
            or an unknown ``reduction``.

    Example:
        >>> logits, labels = torch.randn(4, 3), torch.tensor([0, 0, 1, 2])
        >>> loss = logit_adjusted_cross_entropy(logits, labels, [100, 10, 1])
    """
    _check_logits(logits)
    _check_targets("targets", targets, logits)
    _check_index_range(logits, targets=targets)
    _check_reduction(reduction)
    if weight is not None:
        _check_weight(weight, logits)
    adjustment = logit_adjustment(class_prior, tau=tau, eps=eps)
    if adjustment.numel() != logits.shape[1]:
        raise ValueError(f"class_prior must have one entry per logits column ({logits.shape[1]}), "
                         f"got {adjustment.numel()}")
    adjustment = adjustment.to(device=logits.device, dtype=logits.dtype)
    return F.cross_entropy(logits + adjustment, targets, weight=weight, reduction=reduction)


def class_balanced_weights(class_counts: object, beta: float = 0.9999) -> torch.Tensor:
    """Effective-number class weights ``(1 - beta) / (1 - beta ** n_c)``, summing to ``C``.

    The class-balanced weights of Cui et al. (2019), which LDAM-DRW switches on late in training:
    rare classes weigh more, but less than ``1 / n_c``. Counts may be fractional; an empty class
    gets weight 0.

    Args:
        class_counts: ``(C,)`` non-negative per-class counts, not all zero.
        beta: in ``[0, 1)``; 0 gives equal weights, towards 1 the weights approach ``1 / n_c``.

    Returns:
        ``(C,)`` float32 tensor on the CPU, for ``weight=`` of :func:`class_weighted_cross_entropy`.

    Raises:
        TypeError: for a non-real ``beta`` or non-numeric counts.
        ValueError: for counts that are not 1-D, finite, >= 0 and not all zero, or ``beta``
            outside ``[0, 1)``.

    Example:
        >>> class_balanced_weights([5000, 500, 50])
        tensor([0.0341, 0.2752, 2.6907])
    """
    counts = _as_class_vector("class_counts", class_counts)
    beta = check_real(beta, "beta", low=0.0, high=1.0, high_open=True)
    present = counts > 0
    # 1 - beta ** n through expm1/log1p stays accurate for beta close to 1.
    effective = -torch.expm1(counts[present] * math.log(beta)) if beta > 0 else torch.ones_like(counts[present])
    weights = torch.zeros_like(counts)
    weights[present] = (1.0 - beta) / effective if beta > 0 else effective
    result = (weights * len(counts) / weights.sum()).to(torch.float32)
    if not torch.isfinite(result).all():
        # Only counts far below 1 get here: 1 - beta ** n underflows to 0 (or the sum overflows).
        raise ValueError(f"class_counts are too small for beta={beta}: a class weight (1 - beta) / "
                         f"(1 - beta ** n) overflows, got {counts.tolist()[:8]}")
    return result


def _check_weight(weight: object, logits: torch.Tensor) -> None:
    classes = logits.shape[1]
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        what = weight.dtype if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise TypeError(f"weight must be a ({classes},) floating-point tensor of class weights, got {what}")
    if weight.shape != (classes,):
        raise ValueError(f"weight must be a ({classes},) tensor of class weights, got {tuple(weight.shape)}")
    if weight.device != logits.device:
        raise ValueError(f"weight must be on the logits' device ({logits.device}), got {weight.device}")


def class_weighted_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor, *,
                                 reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy with per-class weights, the same for index and soft targets.

    ``loss_b = -sum_c t_bc w_c log p_bc``; the mean divides by the total weight of the targets,
    as :func:`torch.nn.functional.cross_entropy` does for class indices (torch divides soft
    targets by the batch size instead, so a one-hot batch would lose differently as indices).

    Args:
        logits: ``(B, C)`` scores.
        targets: ``(B,)`` class indices or ``(B, C)`` soft targets.
        weight: ``(C,)`` class weights on the logits' device.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The reduced loss, or ``(B,)`` losses for ``reduction="none"``.

    Raises:
        TypeError: for a non-tensor ``logits``, ``targets`` or ``weight``, or a wrong dtype.
        ValueError: for an unknown ``reduction``, a shape that does not fit ``(B, C)`` logits, a
            tensor on another device than ``logits``, or (on the CPU) an index target outside
            ``[0, C)``.
    """
    _check_reduction(reduction)
    _check_logits(logits)
    _check_targets("targets", targets, logits)
    _check_weight(weight, logits)
    _check_index_range(logits, targets=targets)
    if targets.ndim == 1:
        return F.cross_entropy(logits, targets, weight=weight, reduction=reduction)
    weighted = targets * weight.to(targets.dtype)
    losses = -(weighted * F.log_softmax(logits, dim=-1)).sum(-1)
    if reduction == "mean":
        return losses.sum() / weighted.sum()
    return losses.sum() if reduction == "sum" else losses


def remix_labels(mixed: MixedLabels, class_counts: object, *, kappa: float = 3.0,
                 tau: float = 0.5) -> MixedLabels:
    """Apply the Remix label rule (Chou et al., 2020) to the labels of a mixed batch.

    Only the label weight changes. For a row with head share ``lam``, head class ``i`` and tail
    class ``j``: ``lam -> 0`` when ``n_i / n_j >= kappa`` and ``lam < tau``; ``lam -> 1`` when
    ``n_j / n_i >= kappa`` and ``1 - lam < tau``; else unchanged. That is, the label goes wholly
    to the rarer class when the other is ``kappa`` times as frequent and holds less than ``tau``.

    Args:
        mixed: the :class:`MixedLabels` of a mixed batch: ``(B,)`` integer class indices and a
            ``(B,)`` ``lam``, all on one device.
        class_counts: ``(C,)`` training-set class counts ``n_c`` (all classes that occur > 0).
        kappa: frequency ratio, >= 1 (Remix: 3).
        tau: share threshold, in ``(0, 1]`` (Remix: 0.5).

    Returns:
        A new :class:`MixedLabels` with the same labels and the adjusted ``lam``.

    Raises:
        TypeError, ValueError: for soft labels, labels and ``lam`` of different shapes or devices, bad
            counts (negative or all zero), out-of-range ``kappa``/``tau``, or (on the CPU) a ``lam`` outside
            ``[0, 1]`` or a label outside ``[0, C)``; on an accelerator such a label fails inside torch.

    Example:
        >>> mixed = MixedLabels(torch.tensor([0, 0, 2]), torch.tensor([2, 1, 2]), torch.tensor([0.3, 0.3, 0.3]))
        >>> remix_labels(mixed, [300, 200, 10]).lam  # row 0: 30:1 and head share < 0.5
        tensor([0.0000, 0.3000, 0.3000])
    """
    if not isinstance(mixed, MixedLabels):
        raise TypeError(f"mixed must be a MixedLabels, got {type(mixed).__name__}")
    for name, tensor in zip(MixedLabels._fields, mixed):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"mixed.{name} must be a tensor, got {type(tensor).__name__}")
    head, tail, lam = mixed
    if head.ndim != 1 or tail.ndim != 1 or not is_integer(head) or not is_integer(tail):
        raise ValueError(f"remix_labels needs (B,) class indices, got head/tail labels of shape "
                         f"{tuple(head.shape)} dtype {head.dtype} and {tuple(tail.shape)} dtype {tail.dtype}")
    if tail.shape != head.shape or lam.shape != head.shape:
        raise ValueError(f"mixed.tail_labels and mixed.lam must have the shape of mixed.head_labels "
                         f"{tuple(head.shape)}, got {tuple(tail.shape)} and {tuple(lam.shape)}")
    if tail.device != head.device or lam.device != head.device:
        raise ValueError(f"mixed.tail_labels and mixed.lam must be on the device of mixed.head_labels "
                         f"({head.device}), got {tail.device} and {lam.device}")
    kappa = check_real(kappa, "kappa", low=1.0, high=math.inf)
    tau = check_real(tau, "tau", low=0.0, high=1.0, low_open=True)
    _check_shares("mixed.lam", lam)
    counts = _as_class_vector("class_counts", class_counts)
    if head.is_cpu and not is_compiling():
        # A label of -1 would otherwise read the last class's count.
        check_label_range(len(counts), **{"mixed.head_labels": head, "mixed.tail_labels": tail})
    counts = counts.to(lam.device)
    # index_select, unlike indexing, refuses a negative label where the range is not checked.
    head_counts, tail_counts = counts.index_select(0, head.long()), counts.index_select(0, tail.long())
    to_tail = (head_counts >= kappa * tail_counts) & (lam < tau)
    to_head = (tail_counts >= kappa * head_counts) & (1 - lam < tau)
    new_lam = torch.where(to_tail, torch.zeros_like(lam), torch.where(to_head, torch.ones_like(lam), lam))
    return MixedLabels(head, tail, new_lam)
