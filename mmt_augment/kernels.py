"""Pure tensor kernels of MMT: blend a head batch with a tail batch and mix their labels.

The random parameters (``lam``, ``boxes``) come in as arguments, so every result is a pure
function of (head, tail, params); nothing loops over rows or reads a tensor back to the host.
The kernels are differentiable and run under ``torch.compile`` and in CUDA graphs (``cutmix_``
writes its result into the head batch), except ``keep_rows_`` and :func:`cutmix_bits`, the CPU
forms of the mode table.

Conventions: images are ``(B, C, H, W)``; ``lam`` is the head's share of each output row, a
``(B,)`` tensor; a box is ``(x1, y1, x2, y2)`` in pixels, half-open (columns ``x1 <= x < x2``,
rows ``y1 <= y < y2``), and ``boxes`` is a ``(B, 4)`` integer tensor of them.
"""

from __future__ import annotations

from typing import Optional, Union

import torch

__all__ = ["box_area_lam", "box_masks", "cutmix", "cutmix_", "cutmix_bits", "keep_rows", "keep_rows_",
           "mix_index_labels", "mix_soft_labels", "mixup", "paste_box", "resize_paste"]


def _check_rows(rows: torch.Tensor, batch_size: int) -> None:
    # A 0/1 integer mask would index rows instead of selecting them: refused by every form alike.
    if not isinstance(rows, torch.Tensor) or rows.dtype != torch.bool or rows.shape != (batch_size,):
        what = f"{rows.dtype} of shape {tuple(rows.shape)}" if isinstance(rows, torch.Tensor) else type(rows).__name__
        raise (ValueError if getattr(rows, "dtype", None) == torch.bool else TypeError)(  # a bool mask's shape
            f"rows must be a bool tensor of shape ({batch_size},), got {what}")


def mixup(head_images: torch.Tensor, tail_images: torch.Tensor, lam: Union[torch.Tensor, float],
          rows: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Interpolate each head row towards its tail row: ``lam * head + (1 - lam) * tail``.

    One ``torch.lerp(tail, head, lam)``. With ``rows``, every other row is the head **bit for
    bit**, even where the tail holds inf or NaN (``lerp`` with weight 1 would still multiply them
    by 0). Integer images (``uint8``) are blended in float32 and rounded back.

    Args:
        head_images: ``(B, C, H, W)`` head batch.
        tail_images: ``(B, C, H, W)`` tail batch, same dtype and device.
        lam: ``(B,)`` head share per row, in ``[0, 1]``, or one number for every row.
        rows: optional ``(B,)`` bool, the rows to blend (default: all).

    Returns:
        ``(B, C, H, W)`` blend with the dtype and memory format of ``head_images``.

    Raises:
        TypeError: if ``rows`` is not a ``(B,)`` bool tensor.
    """
    if rows is not None:
        _check_rows(rows, head_images.shape[0])
    blended = _lerp(head_images, tail_images, lam)
    return blended if rows is None else keep_rows(blended, head_images, rows)


def _lerp(head_images: torch.Tensor, tail_images: torch.Tensor, lam: Union[torch.Tensor, float]) -> torch.Tensor:
    compute_dtype = head_images.dtype if head_images.is_floating_point() else torch.float32
    weight = lam.to(compute_dtype).view(-1, 1, 1, 1) if isinstance(lam, torch.Tensor) else float(lam)
    if head_images.is_floating_point():
        return torch.lerp(tail_images, head_images, weight)
    blended = torch.lerp(tail_images.to(torch.float32), head_images.to(torch.float32), weight)
    return blended.round_().to(head_images.dtype)


def keep_rows(blended: torch.Tensor, head_images: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``blended`` where ``rows`` is True, else the head row, copied exactly (one ``torch.where``).

    Raises:
        TypeError: if ``rows`` is not a ``(B,)`` bool tensor.
    """
    _check_rows(rows, blended.shape[0])
    return torch.where(rows.to(blended.device).view(-1, 1, 1, 1), blended, head_images)


def keep_rows_(blended: torch.Tensor, head_images: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """In-place :func:`keep_rows`: copies the head rows where ``rows`` is False into ``blended``
    and returns it. Not for autograd or ``torch.compile`` (its row count depends on ``rows``).

    Raises:
        TypeError: if ``rows`` is not a ``(B,)`` bool tensor.
    """
    _check_rows(rows, blended.shape[0])
    kept = (~rows.to(blended.device)).nonzero().squeeze(1)
    if kept.numel():
        blended.index_copy_(0, kept, head_images.index_select(0, kept))
    return blended


def _box_edges(boxes: torch.Tensor, length: int, dtype: torch.dtype, *, all_ones: bool = False) -> torch.Tensor:
    # (B, 2, L) tensor in ``dtype`` of 1 (all bits set with ``all_ones``) where [b, 0, x] has
    # x1 <= x < x2 and [b, 1, y] has y1 <= y < y2, else 0.
    coords = torch.arange(length, device=boxes.device)
    low, high = boxes[:, :2].unsqueeze(-1), boxes[:, 2:].unsqueeze(-1)  # (B, 2, 1): (x, y)
    inside = ((coords >= low) & (coords < high)).to(dtype)
    return inside.neg_() if all_ones else inside


def box_masks(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Rasterise boxes into boolean masks: ``mask[b, 0, y, x] = x1 <= x < x2 and y1 <= y < y2``.

    Args:
        boxes: ``(B, 4)`` integer ``(x1, y1, x2, y2)`` per row.
        height: image height H.
        width: image width W.

    Returns:
        ``(B, 1, H, W)`` bool tensor on the device of ``boxes``.
    """
    # The outer product as a multiplication of bytes: it vectorises on the CPU, boolean ``&`` does not.
    inside = _box_edges(boxes, max(height, width), torch.uint8)
    return (inside[:, 1, :height].unsqueeze(2) * inside[:, 0, :width].unsqueeze(1)).unsqueeze(1).bool()


def _boxes_on_device_of(boxes: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    # ``boxes.to(images.device)``, skipped on the CPU, where that no-op call costs more than the check.
    return boxes if boxes.is_cpu and images.is_cpu else boxes.to(images.device)


def cutmix(head_images: torch.Tensor, tail_images: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Paste each row's box from the tail image into the head image.

    ``out = where(mask(box), tail, head)``: pixels are copied, never blended, so a pixel outside
    the box is the head's bit for bit; an empty box (``x1 == x2``) leaves the head row unchanged.

    Args:
        head_images: ``(B, C, H, W)`` head batch.
        tail_images: ``(B, C, H, W)`` tail batch, same dtype and device.
        boxes: ``(B, 4)`` integer boxes ``(x1, y1, x2, y2)``, clipped to the image.

    Returns:
        ``(B, C, H, W)`` tensor with the dtype of ``head_images``.
    """
    height, width = head_images.shape[-2:]
    return torch.where(box_masks(_boxes_on_device_of(boxes, head_images), height, width), tail_images, head_images)


def cutmix_(head_images: torch.Tensor, tail_images: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """In-place :func:`cutmix`: the result is written into ``head_images``, which is returned.

    The result is computed before anything is written, so the tail may share memory with the head.

    Args:
        head_images: ``(B, C, H, W)`` batch to paste into; modified.
        tail_images: ``(B, C, H, W)`` tail batch of the same shape and dtype.
        boxes: ``(B, 4)`` integer boxes ``(x1, y1, x2, y2)``, clipped to the image.

    Returns:
        ``head_images``.

    Raises:
        ValueError: if ``tail_images`` differs from ``head_images`` in shape or dtype.
    """
    if tail_images.shape != head_images.shape or tail_images.dtype != head_images.dtype:
        raise ValueError("cutmix_ needs tail_images of the shape and dtype of head_images "
                         f"{tuple(head_images.shape)} {head_images.dtype}, got {tuple(tail_images.shape)} "
                         f"{tail_images.dtype}")
    return head_images.copy_(cutmix(head_images, tail_images, boxes))


_BITS_OF_SIZE = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def cutmix_bits(head_images: torch.Tensor, tail_images: torch.Tensor, boxes: torch.Tensor, *,
                in_place: bool = False) -> torch.Tensor:
    """:func:`cutmix` computed on the pixels' bits: ``head ^ ((head ^ tail) & mask)``.

    The same bits in three passes that vectorise on the CPU where ``torch.where`` with a
    broadcast mask does not: the faster form for batches that fit the caches. Autograd and
    ``torch.func`` cannot follow the integer view (see :func:`mmt_augment._fastpath.on_host`).

    Args:
        head_images: ``(B, C, H, W)`` head batch.
        tail_images: ``(B, C, H, W)`` tail batch, same shape, dtype and device.
        boxes: ``(B, 4)`` integer boxes on the images' device.
        in_place: write the result into ``head_images`` (which must not share memory with
            ``tail_images``) and return it.

    Returns:
        ``(B, C, H, W)`` tensor with the dtype of ``head_images``.
    """
    height, width = head_images.shape[-2:]
    bits = _BITS_OF_SIZE[head_images.element_size()]
    head_bits, tail_bits = head_images.view(bits), tail_images.view(bits)
    edges = _box_edges(boxes, max(height, width), bits, all_ones=True)
    rows, columns = edges[:, 1, :height].unsqueeze(2), edges[:, 0, :width].unsqueeze(1)  # (B, H, 1), (B, 1, W)
    if in_place:
        # head ^ ((head ^ tail) & m) is tail ^ ((head ^ tail) & ~m): three passes over the head
        # itself, with ~m = ~rows | ~columns the only (B, 1, H, W) buffer.
        outer = torch.bitwise_or(rows.bitwise_not(), columns.bitwise_not()).unsqueeze(1)
        head_bits.bitwise_xor_(tail_bits).bitwise_and_(outer).bitwise_xor_(tail_bits)
        return head_images
    selected = torch.bitwise_xor(head_bits, tail_bits)
    selected.bitwise_and_(torch.bitwise_and(rows, columns).unsqueeze(1))
    return selected.bitwise_xor_(head_bits).view(head_images.dtype)


def paste_box(head_images: torch.Tensor, tail_images: torch.Tensor, box: tuple[int, int, int, int]) -> torch.Tensor:
    """Paste one box, shared by every row, from the tail batch into a copy of the head batch.

    The same result as :func:`cutmix` with every row given ``box``, as a copy plus a strided slice
    copy: the fastest form for a box of Python integers on the CPU.

    Args:
        head_images: ``(B, C, H, W)`` head batch.
        tail_images: ``(B, C, H, W)`` tail batch.
        box: ``(x1, y1, x2, y2)`` as Python integers, clipped to the image.

    Returns:
        ``(B, C, H, W)`` tensor; the inputs are not modified.
    """
    x1, y1, x2, y2 = box
    out = head_images.clone()
    if x2 > x1 and y2 > y1:
        # narrow() avoids the indexing machinery of out[..., y1:y2, x1:x2], costly on small batches.
        window = out.narrow(-1, x1, x2 - x1).narrow(-2, y1, y2 - y1)
        window.copy_(tail_images.narrow(-1, x1, x2 - x1).narrow(-2, y1, y2 - y1))
    return out


def _resize_weights(low: torch.Tensor, high: torch.Tensor, size: int) -> torch.Tensor:
    # (B, size, size) matrix shrinking a length-``size`` signal into [low, high) of a canvas of
    # that length (0 elsewhere) with the triangle filter of F.interpolate(..., antialias=True).
    coords = torch.arange(size, device=low.device, dtype=torch.float32)
    length = (high - low).clamp(min=1).to(torch.float32).view(-1, 1, 1)
    scale = size / length  # input pixels per output pixel
    support = scale.clamp(min=1.0)
    centre = (coords.view(1, -1, 1) - low.view(-1, 1, 1).to(torch.float32) + 0.5) * scale
    weights = (1.0 - (coords.view(1, 1, -1) + 0.5 - centre).abs() / support).clamp(min=0.0)
    weights = weights / weights.sum(-1, keepdim=True).clamp(min=1e-12)
    inside = (coords.view(1, -1, 1) >= low.view(-1, 1, 1)) & (coords.view(1, -1, 1) < high.view(-1, 1, 1))
    return weights * inside


def resize_paste(head_images: torch.Tensor, tail_images: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Paste each whole tail image, resized to its row's box, into the head image (ResizeMix).

    Row ``b`` is the head image with its box replaced by the tail image resized to the box by
    antialiased bilinear interpolation. Rows differ in size, so the resize is two batched matrix
    products with per-row matrices ``(B, H, H)`` and ``(B, W, W)``: no loop, no data-dependent
    shapes. Pixels outside the box are the head's bit for bit.

    Args:
        head_images: ``(B, C, H, W)`` head batch.
        tail_images: ``(B, C, H, W)`` tail batch, same dtype and device.
        boxes: ``(B, 4)`` integer boxes inside the image.

    Returns:
        ``(B, C, H, W)`` tensor with the dtype of ``head_images`` (uint8 is resized in float32
        and rounded).
    """
    height, width = head_images.shape[-2:]
    boxes = _boxes_on_device_of(boxes, head_images)
    compute_dtype = torch.float64 if head_images.dtype == torch.float64 else torch.float32
    rows_matrix = _resize_weights(boxes[:, 1], boxes[:, 3], height).to(compute_dtype)
    cols_matrix = _resize_weights(boxes[:, 0], boxes[:, 2], width).to(compute_dtype)
    tail = tail_images.to(compute_dtype)
    resized = rows_matrix.unsqueeze(1) @ tail @ cols_matrix.unsqueeze(1).transpose(-1, -2)
    if head_images.is_floating_point():
        resized = resized.to(head_images.dtype)
    else:
        resized = resized.round_().clamp_(0, 255).to(head_images.dtype)
    return torch.where(box_masks(boxes, height, width), resized, head_images)


def box_area_lam(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Head share left by each box: ``lam = 1 - (x2 - x1) * (y2 - y1) / (H * W)``.

    Args:
        boxes: ``(B, 4)`` integer boxes clipped to the image.
        height: image height H.
        width: image width W.

    Returns:
        ``(B,)`` float32 tensor in ``[0, 1]``.
    """
    pasted = (boxes[:, 2:] - boxes[:, :2]).prod(1).to(torch.float32)
    return 1.0 - pasted / float(height * width)


def mix_index_labels(head_labels: torch.Tensor, tail_labels: torch.Tensor, lam: Union[torch.Tensor, float],
                     num_classes: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Soft targets from class indices: ``lam * one_hot(head) + (1 - lam) * one_hot(tail)``.

    Two scatters into a zero tensor, no one-hot intermediates; a class shared by head and tail gets 1.

    Args:
        head_labels: ``(B,)`` integer class indices in ``[0, num_classes)``.
        tail_labels: ``(B,)`` integer class indices in ``[0, num_classes)``.
        lam: ``(B,)`` head share per row, or one Python float for every row.
        num_classes: number of classes C.
        dtype: floating dtype of the result.

    Returns:
        ``(B, C)`` targets whose rows sum to 1.
    """
    batch_size = head_labels.shape[0]
    targets = torch.zeros(batch_size, num_classes, dtype=dtype, device=head_labels.device)
    if isinstance(lam, float):
        # Scalar values: no (B, 1) tensors to build; "add" keeps a shared class at 1.
        targets.scatter_(1, head_labels.unsqueeze(1), lam)
        return targets.scatter_(1, tail_labels.unsqueeze(1), 1.0 - lam, reduce="add")
    lam = lam.to(dtype).unsqueeze(1)
    targets.scatter_add_(1, head_labels.unsqueeze(1), lam)
    return targets.scatter_add_(1, tail_labels.unsqueeze(1), 1.0 - lam)


def mix_soft_labels(head_targets: torch.Tensor, tail_targets: torch.Tensor,
                    lam: Union[torch.Tensor, float]) -> torch.Tensor:
    """Mix probability rows: ``lam * head + (1 - lam) * tail``.

    Args:
        head_targets: ``(B, C)`` floating head targets.
        tail_targets: ``(B, C)`` floating tail targets, same dtype.
        lam: ``(B,)`` head share per row, or one Python float for every row.

    Returns:
        ``(B, C)`` mixed targets (rows sum to 1 when the inputs' rows do).
    """
    weight = lam if isinstance(lam, float) else lam.to(head_targets.dtype).unsqueeze(1)
    return torch.lerp(tail_targets, head_targets, weight)
