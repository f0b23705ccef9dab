"""Functional interface: the pure MMT kernels and the parameter samplers, side by side.

Kernels (no randomness, no state): :func:`mixup`, :func:`cutmix`, :func:`cutmix_`,
:func:`paste_box`, :func:`resize_paste`, :func:`keep_rows`, :func:`box_masks`,
:func:`box_area_lam`, :func:`mix_index_labels`, :func:`mix_soft_labels`.

Parameter sampling (explicit ``torch.Generator``, the same draws eagerly and under
``torch.compile``): :func:`sample_mix_params` (everything one call needs), :func:`sample_lam`,
:func:`sample_apply`, :func:`sample_boxes` and :func:`draw_uniforms`, the one draw behind them.
The box rules: :func:`cutmix_boxes`, :func:`resize_boxes`. Applying parameters is
:func:`mmt_augment.modes.apply`.

Example:
    >>> import torch
    >>> from mmt_augment import functional as MF
    >>> g = torch.Generator().manual_seed(0)
    >>> head, tail = torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32)
    >>> params = MF.sample_mix_params(4, 32, 32, mode="cutmix", alpha=1.0, p=1.0, per_sample=True, generator=g)
    >>> images = MF.cutmix(head, tail, params.boxes)
    >>> targets = MF.mix_index_labels(torch.tensor([0, 1, 2, 3]), torch.tensor([9, 9, 9, 9]), params.lam, 10)
"""

import warnings

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
from mmt_augment.modes import MixParams, cutmix_boxes, resize_boxes
from mmt_augment.params import draw_uniforms, sample_apply, sample_boxes, sample_lam, sample_mix_params

__all__ = ["MixParams", "box_area_lam", "box_masks", "cutmix", "cutmix_", "cutmix_boxes", "draw_uniforms",
           "keep_rows", "mix_index_labels", "mix_soft_labels", "mixed_cross_entropy", "mixup", "paste_box",
           "remix_labels", "resize_boxes", "resize_paste", "sample_apply", "sample_boxes", "sample_lam",
           "sample_mix_params"]

# Public in 0.2.0, internal since (the per-batch CPU form of the mode table): kept working with a
# DeprecationWarning until 0.4.
_DEPRECATED = {
    "HostBatchParams": ("mmt_augment.modes", "HostBatchParams"),
    "sample_batch_params_on_host": ("mmt_augment.params", "sample_batch_on_host"),
}


def __getattr__(name: str) -> object:
    if name in _DEPRECATED:
        module_name, attribute = _DEPRECATED[name]
        warnings.warn(f"mmt_augment.functional.{name} is deprecated and will be removed in 0.4: it is the "
                      "internal CPU form of MMTMix's per-batch parameters (MMTMix.make_params draws it where "
                      "it applies)", DeprecationWarning, stacklevel=2)
        import importlib

        return getattr(importlib.import_module(module_name), attribute)
    raise AttributeError(f"module 'mmt_augment.functional' has no attribute {name!r}")
