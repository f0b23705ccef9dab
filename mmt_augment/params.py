"""Random parameters of MMT: the head share ``lam``, the CutMix boxes and the mix decision.

Sampling is kept apart from the kernels (:mod:`mmt_augment.kernels`) so that a transform's
result is a pure function of (inputs, params). Every sampler takes an explicit
``torch.Generator``; with ``generator=None`` it draws from the global RNG of ``device``,
which keeps the draws on the accelerator (no host round trip, CUDA-graph and
``torch.compile`` friendly). With a generator the draws happen on the generator's device and
are moved to ``device`` with a non-blocking copy.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional

import torch

from mmt_augment.kernels import box_area_lam

__all__ = [
    "BatchParams",
    "MixParams",
    "sample_apply",
    "sample_batch_params",
    "sample_boxes",
    "sample_lam",
    "sample_mix_params",
]


class MixParams(NamedTuple):
    """Parameters of one MMT call, one entry per output row.

    Attributes:
        lam: ``(B,)`` float32, the head's true share of each output row: 1 for a row that is
            not mixed, ``1 - box area / image area`` for CutMix after the box is clipped.
        apply: ``(B,)`` bool, whether the row is mixed.
        boxes: ``(B, 4)`` int64 ``(x1, y1, x2, y2)`` for CutMix (empty for rows not mixed),
            ``None`` for MixUp.
    """

    lam: torch.Tensor
    apply: torch.Tensor
    boxes: Optional[torch.Tensor]


class BatchParams(NamedTuple):
    """Host-side parameters shared by a whole batch (``per_sample=False``), as Python numbers.

    Attributes:
        lam: the head's true share of every row (1.0 when the batch is not mixed).
        apply: whether the batch is mixed.
        box: ``(x1, y1, x2, y2)`` for CutMix (``(0, 0, 0, 0)`` when not mixed), ``None`` for MixUp.
    """

    lam: float
    apply: bool
    box: Optional[tuple[int, int, int, int]]


def _draw_device(generator: Optional[torch.Generator], device: Optional[torch.device]) -> Optional[torch.device]:
    # A generator can only fill tensors on its own device.
    return generator.device if generator is not None else device


def sample_lam(
    num: int,
    alpha: float,
    *,
    generator: Optional[torch.Generator] = None,
    device: Optional[torch.device] = None,
) -> torch.Tensor:
    """Draw ``num`` head shares ``lam ~ Beta(alpha, alpha)``.

    Drawn as the first coordinate of a Dirichlet(alpha, alpha) sample, which stays finite for
    small ``alpha`` where the ratio of two Gamma draws can become 0/0.

    Args:
        num: number of draws.
        alpha: Beta concentration, > 0.
        generator: optional generator; draws happen on its device.
        device: device of the result.

    Returns:
        ``(num,)`` float32 tensor in ``[0, 1]``.
    """
    draw_device = _draw_device(generator, device)
    if alpha == 1.0:
        # Beta(1, 1) is the uniform distribution; one cheap draw instead of two Gamma draws.
        lam = torch.rand(num, generator=generator, device=draw_device)
    else:
        concentration = torch.full((num, 2), float(alpha), device=draw_device)
        lam = torch._sample_dirichlet(concentration, generator=generator)[:, 0]
    return lam.to(device, non_blocking=True) if device is not None else lam


def sample_apply(
    num: int,
    p: float,
    *,
    generator: Optional[torch.Generator] = None,
    device: Optional[torch.device] = None,
) -> torch.Tensor:
    """Draw ``num`` independent mix decisions, each True with probability ``p``.

    Returns:
        ``(num,)`` bool tensor.
    """
    uniform = torch.rand(num, generator=generator, device=_draw_device(generator, device))
    apply = uniform < p
    return apply.to(device, non_blocking=True) if device is not None else apply


def _box_from_draws(lam: torch.Tensor, centre_draws: torch.Tensor, height: int, width: int) -> torch.Tensor:
    # centre_draws: (B, 2) uniforms in [0, 1) for (x, y). Only Python scalars meet the tensors:
    # building a size tensor with torch.tensor(..., device=cuda) would be a blocking copy.
    side = (1.0 - lam).clamp(min=0.0).sqrt()
    cut_w, cut_h = (side * width).long(), (side * height).long()
    x_low = (centre_draws[:, 0] * width).long() - cut_w // 2
    y_low = (centre_draws[:, 1] * height).long() - cut_h // 2
    x1, x2 = x_low.clamp(0, width), (x_low + cut_w).clamp(0, width)
    y1, y2 = y_low.clamp(0, height), (y_low + cut_h).clamp(0, height)
    return torch.stack([x1, y1, x2, y2], dim=1)


def sample_boxes(
    lam: torch.Tensor,
    height: int,
    width: int,
    *,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Draw one CutMix box per ``lam``, covering about ``1 - lam`` of the image.

    The box has sides ``floor(W * sqrt(1 - lam))`` by ``floor(H * sqrt(1 - lam))``, is centred
    on a pixel drawn uniformly from the image and is clipped to it, so its area (and the head
    share, see :func:`mmt_augment.kernels.box_area_lam`) can differ from ``lam``.

    Args:
        lam: ``(B,)`` target head shares.
        height: image height H.
        width: image width W.
        generator: optional generator; centres are drawn on its device.

    Returns:
        ``(B, 4)`` int64 boxes ``(x1, y1, x2, y2)`` on the device of ``lam``.
    """
    num = lam.shape[0]
    uniform = torch.rand(num, 2, generator=generator, device=_draw_device(generator, lam.device))
    return _box_from_draws(lam, uniform.to(lam.device, non_blocking=True), height, width)


def sample_mix_params(
    batch_size: int,
    height: int,
    width: int,
    *,
    mode: str,
    alpha: float,
    p: float,
    per_sample: bool,
    generator: Optional[torch.Generator] = None,
    device: Optional[torch.device] = None,
) -> MixParams:
    """Draw everything one MMT call needs.

    With ``per_sample=False`` one ``lam``, one box and one decision are drawn and shared by all
    rows (like torchvision's ``CutMix``); with ``per_sample=True`` each row draws its own.

    Args:
        batch_size: number of output rows B.
        height: image height H.
        width: image width W.
        mode: ``"cutmix"`` or ``"mixup"``.
        alpha: Beta concentration of ``lam``.
        p: probability that a batch (or row) is mixed.
        per_sample: draw per row instead of per batch.
        generator: optional generator.
        device: device of the returned tensors.

    Returns:
        :class:`MixParams` with ``(B,)``-shaped ``lam`` and ``apply``.
    """
    num = batch_size if per_sample else 1
    lam = sample_lam(num, alpha, generator=generator, device=device)
    apply = sample_apply(num, p, generator=generator, device=device)
    boxes = None
    if mode == "cutmix":
        boxes = sample_boxes(lam, height, width, generator=generator)
        boxes = boxes * apply.unsqueeze(1)  # a row that is not mixed gets the empty box (0, 0, 0, 0)
        lam = box_area_lam(boxes, height, width)
    else:
        lam = torch.where(apply, lam, torch.ones_like(lam))
    if not per_sample:
        lam = lam.expand(batch_size)
        apply = apply.expand(batch_size)
        boxes = boxes.expand(batch_size, 4) if boxes is not None else None
    return MixParams(lam=lam, apply=apply, boxes=boxes)


def sample_batch_params(
    height: int,
    width: int,
    *,
    mode: str,
    alpha: float,
    p: float,
    generator: Optional[torch.Generator] = None,
) -> BatchParams:
    """Draw one batch-wide ``lam``, decision and box on the host, as Python numbers.

    Same distribution and box rule as :func:`sample_mix_params` with ``per_sample=False``, with
    a handful of tiny draws instead of a dozen tensor ops; it reads the draws back to Python,
    so it is meant for CPU generators (the fast path of :class:`mmt_augment.MMTMix` on CPU).

    Args:
        height: image height H.
        width: image width W.
        mode: ``"cutmix"`` or ``"mixup"``.
        alpha: Beta concentration of ``lam``.
        p: probability that the batch is mixed.
        generator: optional CPU generator.

    Returns:
        :class:`BatchParams`.
    """
    if alpha == 1.0:  # Beta(1, 1) is uniform: one draw of four numbers covers everything
        apply_draw, x_draw, y_draw, lam = torch.rand(4, generator=generator).tolist()
    else:
        apply_draw, x_draw, y_draw = torch.rand(3, generator=generator).tolist()
        lam = float(sample_lam(1, alpha, generator=generator)[0])
    if apply_draw >= p:
        return BatchParams(lam=1.0, apply=False, box=(0, 0, 0, 0) if mode == "cutmix" else None)
    if mode != "cutmix":
        return BatchParams(lam=lam, apply=True, box=None)
    # The rule of _box_from_draws in plain Python: a dozen tensor ops on 1-element tensors would
    # cost more than the whole paste at small image sizes.
    cut_w, cut_h = int(width * math.sqrt(1.0 - lam)), int(height * math.sqrt(1.0 - lam))
    x_low, y_low = int(x_draw * width) - cut_w // 2, int(y_draw * height) - cut_h // 2
    x1, x2 = (min(max(value, 0), width) for value in (x_low, x_low + cut_w))
    y1, y2 = (min(max(value, 0), height) for value in (y_low, y_low + cut_h))
    return BatchParams(lam=1.0 - (x2 - x1) * (y2 - y1) / (height * width), apply=True, box=(x1, y1, x2, y2))
