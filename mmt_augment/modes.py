"""The mixing modes, as one table: how each draws its parameters, applies them and defines ``lam``.

Each entry of :data:`MODES` is a :class:`MixMode`; the transforms, the parameter draws and the
checks all read this table, and :func:`apply` is the one place where parameters meet images, so a
new mode is one kernel in :mod:`mmt_augment.kernels` plus one entry here.

* ``"mixup"``: ``lam * head + (1 - lam) * tail`` with ``lam ~ Beta(alpha, alpha)``.
* ``"cutmix"``: the head with a box of the tail pasted in, sides ``sqrt(1 - lam)`` of the
  image's, centred on a uniform pixel and clipped; ``lam`` becomes ``1 - box area / (H W)``.
* ``"resizemix"``: the head with the **whole** tail image shrunk by ``s ~ U(0.1, 0.8)`` per side
  and pasted at a uniform position; ``lam = 1 - pasted area / (H W)``.

An entry's tensor forms run everywhere (any device, autograd, ``torch.compile``, ``torch.func``).
MixUp and CutMix also keep CPU forms that give the same bits faster where
:func:`mmt_augment._fastpath.on_host` allows: per-row parameters applied on the pixels' bits or
in place, and per-batch parameters drawn and applied as Python numbers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import NamedTuple, Optional, Union

import numpy as np
import torch

from mmt_augment import _fastpath, kernels

# The CPU forms (HostBatchParams, BatchOnHost, cutmix_box_on_host) are internal: not exported.
__all__ = ["MODES", "MixMode", "MixParams", "apply", "cutmix_boxes", "resize_boxes"]

Box = tuple[int, int, int, int]
Draw = Callable[..., tuple[torch.Tensor, Optional[torch.Tensor]]]
Apply = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor],
                  Optional[torch.Tensor]], torch.Tensor]


class MixParams(NamedTuple):
    """Parameters of one MMT call, one entry per output row.

    Attributes:
        lam: ``(B,)`` float32, the head's true share of each output row (1 for a row not mixed).
        apply: ``(B,)`` bool, whether the row is mixed.
        mode: ``(B,)`` int64 index of each row's mode in ``modes``.
        boxes: ``(B, 4)`` int64 ``(x1, y1, x2, y2)``, the pasted region of rows mixed by a box
            mode (``(0, 0, 0, 0)`` for every other row); ``None`` when no mode uses a box.
        modes: the mode names, in the order ``mode`` indexes.
        mixes_all: True when every row is mixed whatever was drawn (``p == 1``).
        size: the ``(H, W)`` the parameters were drawn for (``None``: not recorded); :func:`apply`
            refuses images of another size.
    """

    lam: torch.Tensor
    apply: torch.Tensor
    mode: torch.Tensor
    boxes: Optional[torch.Tensor]
    modes: tuple[str, ...]
    mixes_all: bool = False
    size: Optional[tuple[int, int]] = None


class HostBatchParams(NamedTuple):
    """Per-batch parameters of one mode as Python numbers: the CPU form of :class:`MixParams`.

    Attributes:
        lam: the head's true share of every row (1.0 when the batch is not mixed).
        apply: whether the batch is mixed.
        mode: the batch's mode name.
        box: ``(x1, y1, x2, y2)`` for CutMix (``(0, 0, 0, 0)`` when not mixed), else ``None``.
        size: the ``(H, W)`` the parameters were drawn for (``None``: not recorded).
    """

    lam: float
    apply: bool
    mode: str
    box: Optional[Box]
    size: Optional[tuple[int, int]] = None


@dataclasses.dataclass(frozen=True)
class BatchOnHost:
    """A mode's per-batch CPU form: its draw and its kernel on Python numbers.

    Attributes:
        draw: ``draw(target_lam, draws, height, width) -> (lam, box)`` on Python floats, bit for
            bit the tensor form's (``box`` is ``None`` for blending modes).
        apply: ``apply(head, tail, lam, box) -> images``.
        dtypes: the image dtypes for which ``apply`` gives the tensor form's bits.
    """

    draw: Callable[[float, list[float], int, int], tuple[float, Optional[Box]]]
    apply: Callable[[torch.Tensor, torch.Tensor, float, Optional[Box]], torch.Tensor]
    dtypes: frozenset[torch.dtype]


@dataclasses.dataclass(frozen=True)
class MixMode:
    """One mixing mode.

    Attributes:
        name: the mode's name (``MMTMix(mode=name)``).
        columns: uniforms per row its ``draw`` needs (beyond the shared ``lam``).
        box: whether its parameters are a pasted box (the rows it mixes copy pixels, never blend).
        draw: ``draw(target_lam, draws, height, width, *, resize_scale) -> (lam, boxes)``: from
            the row's Beta draw and its ``(num, columns)`` uniforms, the head's true share and
            (box modes) the ``(num, 4)`` boxes; tensor arithmetic only.
        apply: ``apply(out, head, tail, lam, boxes, rows) -> out``: mix the rows this mode owns
            into ``out``, the result so far (written in place unless it is ``head``). Box modes
            get empty boxes for the rows they do not own; blending modes get ``rows`` (``None``: all).
        apply_on_host: the same as ``apply`` for plain CPU tensors outside autograd (``None``: none).
        batch_on_host: the per-batch CPU form (``None``: none).
    """

    name: str
    columns: int
    box: bool
    draw: Draw
    apply: Apply
    apply_on_host: Optional[Apply] = None
    batch_on_host: Optional[BatchOnHost] = None


# -- the box rules ------------------------------------------------------------------------------


def _sqrt_rounded(values: torch.Tensor) -> torch.Tensor:
    """float32 square roots rounded correctly, so a seed draws the same boxes on every machine.

    torch's float32 ``sqrt`` is not correctly rounded on every CPU (on an AVX512 build 20% of
    roots differed, measured); the float64 root rounded to float32 is (53 >= 2 * 24 + 2 bits).
    MPS has no float64 and keeps its own.
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
    # (x, y) at once; the size is filled on the device (torch.tensor([W, H]) would copy from the host).
    size = torch.full((2,), float(width), device=lam.device)
    size[1] = float(height)
    side = _sqrt_rounded((1.0 - lam).clamp_(min=0.0)).unsqueeze(1)
    cut = (side * size).long()  # (B, 2): box width, height
    low = (centres * size).long() - cut // 2
    limit = size.long()
    return torch.cat([low.clamp(min=0).minimum(limit), (low + cut).clamp(min=0).minimum(limit)], dim=1)


def cutmix_box_on_host(lam: float, centre_x: float, centre_y: float, height: int,
                       width: int) -> tuple[tuple[int, int, int, int], float]:
    """:func:`cutmix_boxes` and the head share for one row of Python numbers: CutMix's per-batch
    CPU form. Every step rounds like the float32 tensor ops (NumPy float32 scalars), so the box
    and the head share equal the tensor rule's bit for bit (a test checks this).

    Returns:
        ``((x1, y1, x2, y2), lam)``: the box and the head's true share (a float32 value).
    """
    f32 = np.float32
    # The correctly rounded float32 root, as the tensors' (see _sqrt_rounded).
    side = f32(math.sqrt(float(max(f32(1.0) - f32(lam), f32(0.0)))))
    cut_w, cut_h = int(side * f32(width)), int(side * f32(height))
    x_low = int(f32(centre_x) * f32(width)) - cut_w // 2
    y_low = int(f32(centre_y) * f32(height)) - cut_h // 2
    # The float32 sizes truncated, as the tensor rule's limits (W itself up to 2 ** 24).
    width_limit, height_limit = int(f32(width)), int(f32(height))
    x1, x2 = (min(max(value, 0), width_limit) for value in (x_low, x_low + cut_w))
    y1, y2 = (min(max(value, 0), height_limit) for value in (y_low, y_low + cut_h))
    share = f32(1.0) - f32((x2 - x1) * (y2 - y1)) / f32(height * width)
    return (x1, y1, x2, y2), float(share)


def resize_boxes(draws: torch.Tensor, height: int, width: int, scale: tuple[float, float]) -> torch.Tensor:
    """ResizeMix boxes: the whole tail image shrunk by ``s ~ U(scale)`` per side, placed uniformly.

    The pasted image is ``max(1, floor(s H))`` by ``max(1, floor(s W))`` pixels, wholly inside the
    head image at a uniformly drawn position.

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


# -- the entries --------------------------------------------------------------------------------


def _draw_mixup(target_lam, draws, height, width, *, resize_scale):
    return target_lam.contiguous(), None  # the draw may be a column of the block of uniforms


def _apply_mixup(out, head, tail, lam, boxes, rows):
    blended = kernels.mixup(head, tail, lam)
    return blended if rows is None else kernels.keep_rows(blended, out, rows)


def _apply_mixup_on_host(out, head, tail, lam, boxes, rows):
    blended = kernels.mixup(head, tail, lam)
    return blended if rows is None else kernels.keep_rows_(blended, out, rows)


def _draw_mixup_batch(target_lam, draws, height, width):
    return target_lam, None


def _apply_mixup_batch(head, tail, lam, box):
    return kernels.mixup(head, tail, lam)


def _draw_cutmix(target_lam, draws, height, width, *, resize_scale):
    boxes = cutmix_boxes(target_lam, draws, height, width)
    return kernels.box_area_lam(boxes, height, width), boxes


def _apply_cutmix(out, head, tail, lam, boxes, rows):
    return kernels.cutmix(out, tail, boxes)


def _apply_cutmix_on_host(out, head, tail, lam, boxes, rows):
    if out.numel() * out.element_size() > _fastpath.BITWISE_MAX_BYTES:
        return kernels.cutmix(out, tail, boxes)
    return kernels.cutmix_bits(out, tail, boxes, in_place=out is not head)  # ``out`` of an earlier mode: ours


def _draw_cutmix_batch(target_lam, draws, height, width):
    box, share = cutmix_box_on_host(target_lam, draws[0], draws[1], height, width)
    return share, box


def _apply_cutmix_batch(head, tail, lam, box):
    assert box is not None  # CutMix always draws a box
    return kernels.paste_box(head, tail, box)


def _draw_resizemix(target_lam, draws, height, width, *, resize_scale):
    boxes = resize_boxes(draws, height, width, resize_scale)
    return kernels.box_area_lam(boxes, height, width), boxes


def _apply_resizemix(out, head, tail, lam, boxes, rows):
    return kernels.resize_paste(out, tail, boxes)


_EXACT_WITH_A_FLOAT = frozenset({torch.uint8, torch.float32, torch.float64})
_EVERY_DTYPE = frozenset({torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64})

#: The mixing modes by name.
MODES: dict[str, MixMode] = {
    "mixup": MixMode("mixup", columns=0, box=False, draw=_draw_mixup, apply=_apply_mixup,
                     apply_on_host=_apply_mixup_on_host,
                     # float16/bfloat16 blend with a rounded tensor weight: a Python float differs.
                     batch_on_host=BatchOnHost(_draw_mixup_batch, _apply_mixup_batch, _EXACT_WITH_A_FLOAT)),
    "cutmix": MixMode("cutmix", columns=2, box=True, draw=_draw_cutmix, apply=_apply_cutmix,
                      apply_on_host=_apply_cutmix_on_host,
                      batch_on_host=BatchOnHost(_draw_cutmix_batch, _apply_cutmix_batch, _EVERY_DTYPE)),
    "resizemix": MixMode("resizemix", columns=3, box=True, draw=_draw_resizemix, apply=_apply_resizemix),
}


# -- the one apply point ------------------------------------------------------------------------


def apply(head_images: torch.Tensor, tail_images: torch.Tensor,
          params: Union[MixParams, HostBatchParams]) -> torch.Tensor:
    """Blend the image batches with the parameters of one call (a pure function of its inputs).

    Each mode of ``params.modes`` mixes the rows it owns (blending modes first, then box modes
    paste into the result); every other row is the head row bit for bit. The entries' CPU forms
    run where :func:`mmt_augment._fastpath.on_host` allows. The inputs are never modified.

    Args:
        head_images: ``(B, C, H, W)`` head batch.
        tail_images: ``(B, C, H, W)`` tail batch of the same shape, dtype and device.
        params: :class:`MixParams` for ``B`` rows (or a per-batch :class:`HostBatchParams`).

    Returns:
        ``(B, C, H, W)`` mixed images, a new tensor.

    Raises:
        ValueError: if ``params`` do not fit the images: drawn for another image size, or not
            one entry per row (a replay of another batch's parameters).
    """
    _check_fit(params, head_images)
    if isinstance(params, HostBatchParams):
        if not params.apply:
            return head_images.clone()
        form = MODES[params.mode].batch_on_host
        assert form is not None  # drawn only for modes with a per-batch CPU form
        return form.apply(head_images, tail_images, params.lam, params.box)
    host = _fastpath.on_host(head_images, tail_images)
    if len(params.modes) == 1:  # one mode: its kernel on every row it mixes
        entry = MODES[params.modes[0]]
        rows = None if params.mixes_all else params.apply
        boxes = params.boxes
        if rows is not None and entry.box:
            assert boxes is not None  # checked by _check_fit
            boxes = boxes * rows.unsqueeze(1)  # a row not mixed stays the head, whatever its box
        kernel = entry.apply_on_host if host and entry.apply_on_host is not None else entry.apply
        out = kernel(head_images, head_images, tail_images, params.lam, boxes, rows)
        return out.clone() if out is head_images else out
    order = sorted(range(len(params.modes)), key=lambda index: MODES[params.modes[index]].box)
    out = head_images
    for index in order:
        entry = MODES[params.modes[index]]
        rows = params.apply & (params.mode == index)
        boxes = params.boxes
        if entry.box:
            assert boxes is not None  # box modes always draw boxes
            boxes = boxes * rows.unsqueeze(1)  # empty boxes for the rows of other modes
        kernel = entry.apply_on_host if host and entry.apply_on_host is not None else entry.apply
        out = kernel(out, head_images, tail_images, params.lam, boxes, rows)
    return out.clone() if out is head_images else out


def _check_fit(params: Union[MixParams, HostBatchParams], images: torch.Tensor) -> None:
    # Shapes only (no values are read): parameters replayed on another batch are refused.
    if params.size is not None and tuple(params.size) != tuple(images.shape[-2:]):
        raise ValueError(f"params were drawn for {params.size[0]}x{params.size[1]} images, got "
                         f"{images.shape[-2]}x{images.shape[-1]}: the boxes and head shares would not match the pixels")
    if isinstance(params, HostBatchParams):
        return
    rows, box = images.shape[0], any(MODES[name].box for name in params.modes)
    for name, value, shape in (("lam", params.lam, (rows,)), ("apply", params.apply, (rows,)),
                               ("mode", params.mode, (rows,)), ("boxes", params.boxes, (rows, 4) if box else None)):
        if shape is None:
            continue
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"params.{name} must have shape {shape}, one entry per row of the {rows} images; "
                             f"got {got}")
    if params.apply.dtype != torch.bool:
        raise ValueError(f"params.apply must be a bool tensor, got {params.apply.dtype}")
