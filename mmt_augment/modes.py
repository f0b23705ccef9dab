"""The mixing modes, as one table: how each draws its parameters, applies them and defines ``lam``.

Each entry of :data:`MODES` is a :class:`MixMode`. :class:`mmt_augment.MMTMix`,
:class:`mmt_augment.RandomMMT`, :func:`mmt_augment.functional.sample_mix_params` and the
argument checks all read this table, so a new mode is one kernel in
:mod:`mmt_augment.kernels` plus one entry here.

* ``"mixup"``: ``lam * head + (1 - lam) * tail`` with ``lam ~ Beta(alpha, alpha)``; ``lam`` is
  the head's share.
* ``"cutmix"``: the head with a box of the tail pasted in, sides ``sqrt(1 - lam)`` of the
  image's, centred on a uniform pixel and clipped to the image; the head's true share is
  ``1 - box area / (H W)`` after clipping.
* ``"resizemix"``: the head with the **whole** tail image shrunk by ``s ~ U(0.1, 0.8)`` per side
  (antialiased bilinear) and pasted at a uniform position; the head's share is
  ``1 - pasted area / (H W)``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Optional

import numpy as np
import torch

from mmt_augment import kernels

__all__ = ["MODES", "MixMode", "cutmix_box_on_host", "cutmix_boxes", "cutmix_draw_on_host", "resize_boxes"]

Draw = Callable[..., tuple[torch.Tensor, Optional[torch.Tensor]]]
Apply = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor],
                  Optional[torch.Tensor]], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class MixMode:
    """One mixing mode.

    Attributes:
        name: the mode's name (``MMTMix(mode=name)``).
        columns: uniforms per row its ``draw`` needs (beyond the shared ``lam``).
        box: whether its parameters are a pasted box (the rows it mixes copy pixels, never blend).
        draw: ``draw(target_lam, draws, height, width, *, resize_scale) -> (lam, boxes)``: from
            the row's ``Beta(alpha, alpha)`` draw and its ``(num, columns)`` uniforms, the head's
            true share and (box modes) the ``(num, 4)`` boxes; tensor arithmetic only.
        apply: ``apply(out, head, tail, lam, boxes, rows) -> out``: mix the rows this mode owns
            into ``out`` (the result so far, which starts as the head batch; it may be written in
            place unless it is ``head``, the caller's batch). Box modes get
            ``boxes`` with empty boxes for the rows they do not own; blending modes get ``rows``
            (``None``: every row).
    """

    name: str
    columns: int
    box: bool
    draw: Draw
    apply: Apply


def _sqrt_rounded(values: torch.Tensor) -> torch.Tensor:
    """float32 square roots rounded correctly, so a seed draws the same boxes on every machine.

    torch's float32 ``sqrt`` is not correctly rounded on every CPU: on an AVX512 build it differed
    from the correctly rounded root in 20% of 2e7 uniform draws (measured), which moves CutMix box
    edges between machines. The root of a float32 computed in float64 and rounded to float32 is
    the correctly rounded one (53 >= 2 * 24 + 2 bits, so the double rounding is innocuous); MPS
    has no float64 and keeps its own. float64 (and wider) values keep their dtype.
    """
    if values.dtype == torch.float64 or values.device.type == "mps":
        return values.sqrt()
    return values.double().sqrt_().to(values.dtype)


def cutmix_boxes(lam: torch.Tensor, centres: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """CutMix boxes: sides ``floor(W sqrt(1 - lam))`` by ``floor(H sqrt(1 - lam))``, centred on a
    pixel drawn uniformly from the image, clipped to it (as torchvision's and timm's CutMix).

    Args:
        lam: ``(B,)`` target head shares.
        centres: ``(B, 2)`` uniforms in [0, 1) for the centre's (x, y).
        height: image height H.
        width: image width W.

    Returns:
        ``(B, 4)`` int64 boxes ``(x1, y1, x2, y2)``; their area can be below ``(1 - lam) H W``
        after clipping, so the head's true share is :func:`mmt_augment.kernels.box_area_lam`.
    """
    if lam.dtype == centres.dtype == torch.float32 and kernels.host_readable(lam, centres):
        return torch.from_numpy(_cutmix_boxes_on_host(lam.numpy(), centres.numpy(), height, width))
    # (x, y) pairs at once, against an image-size tensor filled on the device from Python
    # numbers: a torch.tensor([W, H], device=cuda) would be a blocking host-to-device copy.
    size = torch.full((2,), float(width), device=lam.device)
    size[1] = float(height)
    side = _sqrt_rounded((1.0 - lam).clamp_(min=0.0)).unsqueeze(1)
    cut = (side * size).long()  # (B, 2): box width, height
    low = (centres * size).long() - cut // 2
    limit = size.long()
    return torch.cat([low.clamp(min=0).minimum(limit), (low + cut).clamp(min=0).minimum(limit)], dim=1)


def _cutmix_boxes_on_host(lam: np.ndarray, centres: np.ndarray, height: int, width: int) -> np.ndarray:
    # cutmix_boxes for float32 NumPy arrays, op for op in float32 (bit for bit the tensor rule; a
    # test compares them): a dozen NumPy ops on (B,) arrays take a third of the time of the same
    # tensor ops.
    with np.errstate(invalid="ignore"):  # a NaN share or centre casts to garbage silently, as in torch
        return _finite_cutmix_boxes_on_host(lam, centres, height, width)


def cutmix_draw_on_host(lam: np.ndarray, centres: np.ndarray, height: int,
                        width: int) -> tuple[np.ndarray, np.ndarray]:
    """CutMix's draw for finite float32 NumPy draws: the head's true shares and the boxes.

    What the ``"cutmix"`` entry of :data:`MODES` computes from the same draws, in the same
    float32 arithmetic (bit for bit; tests compare them), for the CPU fast path of per-sample
    parameters (:func:`mmt_augment.params.sample_row_params_on_host`).

    Args:
        lam: ``(B,)`` float32 target head shares in [0, 1].
        centres: ``(B, 2)`` float32 uniforms in [0, 1) for the centres' (x, y).
        height: image height H (``H * W > 0``).
        width: image width W.

    Returns:
        ``(lam, boxes)``: ``(B,)`` float32 shares after clipping and ``(B, 4)`` int64 boxes.
    """
    boxes = _finite_cutmix_boxes_on_host(lam, centres, height, width)
    return kernels.box_area_lam_on_host(boxes, height, width), boxes


def _finite_cutmix_boxes_on_host(lam: np.ndarray, centres: np.ndarray, height: int, width: int) -> np.ndarray:
    # The box rule for finite shares and centres (the draws), which need no errstate.
    f32 = np.float32
    size, limits = _host_sizes(height, width)
    side = np.sqrt(np.maximum(f32(1.0) - lam, f32(0.0)))  # NumPy's float32 sqrt is correctly rounded
    cut = (side[:, None] * size).astype(np.int64)  # (B, 2): box width, height
    boxes = np.empty((len(lam), 4), dtype=np.int64)
    low = np.subtract((centres * size).astype(np.int64), cut >> 1, out=boxes[:, :2])  # cut >= 0: cut // 2
    np.add(low, cut, out=boxes[:, 2:])
    np.maximum(boxes, 0, out=boxes)  # np.clip costs more than both of these on small arrays
    return np.minimum(boxes, limits, out=boxes)


@functools.lru_cache(maxsize=16)
def _host_sizes(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    # (W, H) as float32 and (W, H, W, H) as int64, read-only: shared by every call. The limits
    # are the float32 sizes truncated, as the tensor rule's (W itself up to 2 ** 24).
    size = np.array([width, height], dtype=np.float32)
    limits = np.tile(size.astype(np.int64), 2)
    size.flags.writeable = limits.flags.writeable = False
    return size, limits


def cutmix_box_on_host(lam: float, centre_x: float, centre_y: float, height: int,
                       width: int) -> tuple[tuple[int, int, int, int], float]:
    """:func:`cutmix_boxes` for one row of Python numbers, in float32 arithmetic like the tensors.

    Every step rounds like the float32 tensor ops (IEEE float32 through NumPy scalars, the square
    root correctly rounded like :func:`cutmix_boxes`), so the
    box and the head share equal the tensor rule's bit for bit (a test checks this); the CPU
    per-batch fast path of :class:`mmt_augment.MMTMix` uses it to skip a dozen tiny tensor ops.

    Returns:
        ``((x1, y1, x2, y2), lam)``: the box and the head's true share (a float32 value).
    """
    f32 = np.float32
    # The correctly rounded float32 root, as the tensors' (see _sqrt_rounded).
    side = f32(math.sqrt(float(max(f32(1.0) - f32(lam), f32(0.0)))))
    cut_w, cut_h = int(side * f32(width)), int(side * f32(height))
    x_low = int(f32(centre_x) * f32(width)) - cut_w // 2
    y_low = int(f32(centre_y) * f32(height)) - cut_h // 2
    width_limit, height_limit = int(f32(width)), int(f32(height))  # as the tensor rule's (see _host_sizes)
    x1, x2 = (min(max(value, 0), width_limit) for value in (x_low, x_low + cut_w))
    y1, y2 = (min(max(value, 0), height_limit) for value in (y_low, y_low + cut_h))
    share = f32(1.0) - f32((x2 - x1) * (y2 - y1)) / f32(height * width)
    return (x1, y1, x2, y2), float(share)


def resize_boxes(draws: torch.Tensor, height: int, width: int, scale: tuple[float, float]) -> torch.Tensor:
    """ResizeMix boxes: the whole tail image shrunk by ``s ~ U(scale)`` per side, placed uniformly.

    The pasted image is ``max(1, floor(s H))`` by ``max(1, floor(s W))`` pixels and lies wholly
    inside the head image, its top-left corner drawn uniformly among the positions that allow it.

    Args:
        draws: ``(B, 3)`` uniforms in [0, 1) for (scale, x, y).
        height: image height H.
        width: image width W.
        scale: ``(low, high)`` range of the side scale ``s``, ``0 < low <= high <= 1``.

    Returns:
        ``(B, 4)`` int64 boxes ``(x1, y1, x2, y2)``.
    """
    low, high = scale
    side = low + (high - low) * draws[:, 0]
    box_h = (side * height).long().clamp(1, height)
    box_w = (side * width).long().clamp(1, width)
    x1 = (draws[:, 1] * (width - box_w + 1)).long()
    y1 = (draws[:, 2] * (height - box_h + 1)).long()
    return torch.stack([x1, y1, x1 + box_w, y1 + box_h], dim=1)


def _draw_mixup(target_lam, draws, height, width, *, resize_scale):
    return target_lam.contiguous(), None  # the draw may be a column of the block of uniforms


def _apply_mixup(out, head, tail, lam, boxes, rows):
    blended = kernels.mixup(head, tail, lam)
    if rows is None:
        return blended
    return kernels.keep_rows(blended, out, rows)


def _draw_cutmix(target_lam, draws, height, width, *, resize_scale):
    boxes = cutmix_boxes(target_lam, draws, height, width)
    return kernels.box_area_lam(boxes, height, width), boxes


def _apply_cutmix(out, head, tail, lam, boxes, rows):
    if out is head:  # the caller's batch: never written
        return kernels.cutmix(out, tail, boxes)
    return kernels.cutmix_(out, tail, boxes)  # the result of an earlier mode of this call


def _draw_resizemix(target_lam, draws, height, width, *, resize_scale):
    boxes = resize_boxes(draws, height, width, resize_scale)
    return kernels.box_area_lam(boxes, height, width), boxes


def _apply_resizemix(out, head, tail, lam, boxes, rows):
    return kernels.resize_paste(out, tail, boxes)


#: The mixing modes by name.
MODES: dict[str, MixMode] = {
    "mixup": MixMode("mixup", columns=0, box=False, draw=_draw_mixup, apply=_apply_mixup),
    "cutmix": MixMode("cutmix", columns=2, box=True, draw=_draw_cutmix, apply=_apply_cutmix),
    "resizemix": MixMode("resizemix", columns=3, box=True, draw=_draw_resizemix, apply=_apply_resizemix),
}
