"""Batched per-sample CIFAR augmentation on the training device: random crop and flip.

The standard CIFAR recipe pads each image by 4 zero pixels, crops a random 32x32 window and
flips it horizontally with probability 1/2. Here the random parameters are drawn for a whole
batch at once (:func:`sample_crop_flip_params`, explicit generator) and applied by a pure,
vectorised gather (:func:`crop_flip`), so the batch never leaves the device and there is no
Python loop over samples. Works on any dtype; the benchmarks call it on uint8 batches.

Example:
    >>> import torch
    >>> images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    >>> params = sample_crop_flip_params(8, padding=4, generator=torch.Generator().manual_seed(0))
    >>> crop_flip(images, *params, padding=4).shape
    torch.Size([8, 3, 32, 32])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["crop_flip", "normalize", "sample_crop_flip_params"]


def sample_crop_flip_params(
    batch_size: int,
    *,
    padding: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw per-sample crop offsets and flip decisions.

    Returns:
        ``(offset_y, offset_x, flip)``: two ``(B,)`` int64 tensors with values in
        ``[0, 2 * padding]`` (the crop's top-left corner in the padded image) and a ``(B,)``
        bool tensor. Drawn on the generator's device, then moved to ``device``.
    """
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    gen_device = generator.device if generator is not None else torch.device("cpu")
    offsets = torch.randint(0, 2 * padding + 1, (2, batch_size), generator=generator, device=gen_device)
    flip = torch.rand(batch_size, generator=generator, device=gen_device) < 0.5
    return offsets[0].to(device), offsets[1].to(device), flip.to(device)


def crop_flip(
    images: torch.Tensor,
    offset_y: torch.Tensor,
    offset_x: torch.Tensor,
    flip: torch.Tensor,
    *,
    padding: int,
) -> torch.Tensor:
    """Crop each zero-padded image at its own offset and flip it where ``flip`` is set.

    ``out[b, c, i, j] = padded[b, c, offset_y[b] + i, offset_x[b] + j']`` with
    ``j' = W - 1 - j`` where ``flip[b]`` else ``j``, and ``padded`` the image with ``padding``
    zero pixels on every side.

    Args:
        images: ``(B, C, H, W)``.
        offset_y, offset_x: ``(B,)`` integer offsets in ``[0, 2 * padding]``.
        flip: ``(B,)`` bool.
        padding: zero padding on each side.

    Returns:
        ``(B, C, H, W)`` tensor with the input's dtype and device (contiguous).
    """
    batch_size, _, height, width = images.shape
    padded = F.pad(images, (padding, padding, padding, padding)) if padding else images
    rows = offset_y[:, None] + torch.arange(height, device=images.device)  # (B, H)
    columns = torch.arange(width, device=images.device).expand(batch_size, width)
    columns = torch.where(flip[:, None], columns.flip(1), columns) + offset_x[:, None]  # (B, W)
    batch = torch.arange(batch_size, device=images.device)[:, None, None]
    # Advanced indices separated by a slice put their broadcast shape first: (B, H, W, C).
    gathered = padded[batch, :, rows[:, :, None], columns[:, None, :]]
    return gathered.permute(0, 3, 1, 2).contiguous()


def normalize(
    images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``(images / 255 - mean) / std`` per channel for uint8 ``(B, C, H, W)`` images.

    ``mean`` and ``std`` are ``(C,)`` tensors on the images' device, on the 0..1 scale.
    """
    scale = 1.0 / (255.0 * std)
    return images.to(dtype).mul_(scale.to(dtype)[:, None, None]).sub_((mean / std).to(dtype)[:, None, None])
