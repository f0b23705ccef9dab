"""Functional interface: the pure MMT kernels and the parameter samplers, side by side.

Kernels (no randomness, no state; differentiable in both images):
:func:`mixup`, :func:`cutmix` (and its in-place form :func:`cutmix_`), :func:`paste_box`,
:func:`resize_paste`, :func:`keep_rows`, :func:`box_masks`, :func:`box_area_lam`,
:func:`mix_index_labels`, :func:`mix_soft_labels`.

Parameter sampling (explicit ``torch.Generator``, ``(B,)`` tensors on any device, the same
draws eagerly and under ``torch.compile``): :func:`sample_mix_params` (everything one call
needs, for any mode or tuple of modes), :func:`sample_lam`, :func:`sample_apply`,
:func:`sample_boxes`, and :func:`draw_uniforms` (the one random draw behind them);
:func:`sample_batch_params_on_host` and :func:`sample_row_params_on_host`, the same per-batch
draw read as Python numbers and the same per-row draw as NumPy arrays (the CPU fast paths,
equal bit for bit). The box rules: :func:`cutmix_boxes`, :func:`resize_boxes`.

Example:
    >>> import torch
    >>> from mmt_augment import functional as MF
    >>> g = torch.Generator().manual_seed(0)
    >>> head, tail = torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32)
    >>> params = MF.sample_mix_params(4, 32, 32, mode="cutmix", alpha=1.0, p=1.0, per_sample=True, generator=g)
    >>> images = MF.cutmix(head, tail, params.boxes)
    >>> targets = MF.mix_index_labels(torch.tensor([0, 1, 2, 3]), torch.tensor([9, 9, 9, 9]), params.lam, 10)
"""

from mmt_augment.kernels import (
    box_area_lam,
    box_masks,
    cutmix,
    cutmix_,
    keep_rows,
    mix_index_labels,
    mix_soft_labels,
    mixup,
    paste_box,
    resize_paste,
)
from mmt_augment.losses import mixed_cross_entropy, remix_labels
from mmt_augment.modes import cutmix_boxes, resize_boxes
from mmt_augment.params import (
    HostBatchParams,
    HostRowParams,
    MixParams,
    draw_uniforms,
    sample_apply,
    sample_batch_params_on_host,
    sample_boxes,
    sample_lam,
    sample_mix_params,
    sample_row_params_on_host,
)

__all__ = [
    "HostBatchParams",
    "HostRowParams",
    "MixParams",
    "box_area_lam",
    "box_masks",
    "cutmix",
    "cutmix_",
    "cutmix_boxes",
    "draw_uniforms",
    "keep_rows",
    "mix_index_labels",
    "mix_soft_labels",
    "mixed_cross_entropy",
    "mixup",
    "paste_box",
    "remix_labels",
    "resize_boxes",
    "resize_paste",
    "sample_apply",
    "sample_batch_params_on_host",
    "sample_boxes",
    "sample_lam",
    "sample_mix_params",
    "sample_row_params_on_host",
]
