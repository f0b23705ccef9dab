"""Random parameters of MMT: the head share ``lam``, the mode of each row, its box, the mix decision.

Every draw of one call comes from :func:`draw_uniforms`: a ``(num, columns)`` block of uniforms
and ``num`` Beta(alpha, alpha) draws, which each mode of :mod:`mmt_augment.modes` turns into its
parameters with tensor arithmetic only, so:

* the draws are the same eagerly and under ``torch.compile``: with ``generator=None`` the block
  is drawn by the custom op ``mmt_augment::draw_uniforms``, which the compiler keeps opaque,
  and with a ``generator`` the draw runs eagerly (a graph break: dynamo cannot trace a
  ``torch.Generator``, so ``fullgraph=True`` needs ``generator=None``);
* nothing is read back to the host, so drawing never synchronises a GPU and is CUDA-graph safe
  (with ``generator=None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import torch

from mmt_augment._checks import check_int
from mmt_augment._fastpath import is_compiling
from mmt_augment.modes import MODES, HostBatchParams, MixParams, cutmix_boxes

__all__ = ["MixParams", "draw_uniforms", "mean_head_share", "sample_apply", "sample_boxes", "sample_lam",
           "sample_mix_params"]


# -- the one draw -------------------------------------------------------------------------------


def _draw_block(num: int, columns: int, alpha: float, generator: Optional[torch.Generator],
                device: Optional[torch.device]) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The raw draw: a block of uniforms whose last ``columns`` columns are the rows' uniforms, and
    ``lam``, or ``None`` where ``lam`` is the block's first column (Beta(1, 1) is uniform)."""
    if alpha == 1.0:
        return torch.rand(num, columns + 1, generator=generator, device=device), None
    block = torch.rand(num, columns + 2, generator=generator, device=device)
    if alpha < 1.0:
        # Gamma(a) = Gamma(a + 1) * U ** (1 / a), in log space: the ratio of two Gamma(a) draws
        # underflows to 0 / 0 for small a, the difference of their logs stays finite.
        gammas = torch._standard_gamma(torch.full((num, 2), alpha + 1.0, device=device), generator=generator)
        logs = gammas.log() + block[:, :2].log() / alpha
        lam = torch.sigmoid(logs[:, 0] - logs[:, 1])
    else:
        gammas = torch._standard_gamma(torch.full((num, 2), alpha, device=device), generator=generator)
        lam = gammas[:, 0] / gammas.sum(1)
    return block, lam


def _draw(num: int, columns: int, alpha: float, generator: Optional[torch.Generator],
          device: Optional[torch.device]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(num, columns)`` uniforms in [0, 1) and ``num`` draws of Beta(alpha, alpha)."""
    block, lam = _draw_block(num, columns, alpha, generator, device)
    if lam is None:
        return block[:, 1:], block[:, 0]  # a strided view: the modes that keep it make it contiguous
    return block[:, block.shape[1] - columns:], lam


# The schema is spelled out: with postponed annotations, torch < 2.5 cannot infer it.
@torch.library.custom_op(
    "mmt_augment::draw_uniforms",
    mutates_args=(),
    schema="(int num, int columns, float alpha, Device device) -> (Tensor, Tensor)",
)
def _draw_op(num: int, columns: int, alpha: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    uniforms, lam = _draw(num, columns, alpha, None, device)
    return uniforms.clone(), lam.clone()


@_draw_op.register_fake
def _(num: int, columns: int, alpha: float, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.empty(num, columns, device=device), torch.empty(num, device=device)


@torch.compiler.disable
def _draw_with_generator(num: int, columns: int, alpha: float,
                         generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    return _draw(num, columns, alpha, generator, generator.device)


def draw_uniforms(num: int, columns: int, alpha: float, *, generator: Optional[torch.Generator] = None,
                  device: Optional[torch.device] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The one random draw of an MMT call: uniforms and Beta(alpha, alpha) head shares.

    Args:
        num: rows (output rows, or 1 for per-batch parameters).
        columns: uniforms per row.
        alpha: Beta concentration, > 0. Beta(1, 1) is one more uniform column; ``alpha < 1``
            uses Gamma draws in log space (exact at 0 and 1, finite for any ``alpha > 0``).
        generator: optional generator; the draws happen on its device and are moved to ``device``.
        device: device of the results (default: the generator's, else the CPU).

    Returns:
        ``(uniforms, lam)``: ``(num, columns)`` float32 in [0, 1) and ``(num,)`` float32 in [0, 1],
        possibly strided views of one block.
    """
    if device is None:
        device = generator.device if generator is not None else torch.device("cpu")
    if generator is not None:
        uniforms, lam = _draw_with_generator(num, columns, alpha, generator)
        if generator.device != device:
            # To the host the copy must block: a non-blocking one can still be in flight when read.
            blocking = device.type == "cpu"
            uniforms = uniforms.to(device, non_blocking=not blocking)
            lam = lam.to(device, non_blocking=not blocking)
        return uniforms, lam
    if is_compiling():
        return torch.ops.mmt_augment.draw_uniforms(num, columns, alpha, device)
    return _draw(num, columns, alpha, None, device)


# -- convenience samplers -----------------------------------------------------------------------


def sample_lam(num: int, alpha: float, *, generator: Optional[torch.Generator] = None,
               device: Optional[torch.device] = None) -> torch.Tensor:
    """Draw ``num`` head shares ``lam ~ Beta(alpha, alpha)`` (``(num,)`` float32 in [0, 1])."""
    return draw_uniforms(num, 0, alpha, generator=generator, device=device)[1].contiguous()


def sample_apply(num: int, p: float, *, generator: Optional[torch.Generator] = None,
                 device: Optional[torch.device] = None) -> torch.Tensor:
    """Draw ``num`` independent mix decisions, each True with probability ``p`` (``(num,)`` bool)."""
    return draw_uniforms(num, 1, 1.0, generator=generator, device=device)[0][:, 0] < p


def sample_boxes(lam: torch.Tensor, height: int, width: int, *,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Draw one CutMix box per ``lam`` (:func:`mmt_augment.modes.cutmix_boxes`), on ``lam``'s device."""
    centres = draw_uniforms(lam.shape[0], 2, 1.0, generator=generator, device=lam.device)[0]
    return cutmix_boxes(lam, centres, height, width)


def sample_mix_params(batch_size: int, height: int, width: int, *, mode: str | Sequence[str] = "mixup",
                      mode_probs: Optional[Sequence[float]] = None, alpha: float = 1.0, p: float = 1.0,
                      per_sample: bool = True, resize_scale: tuple[float, float] = (0.1, 0.8),
                      generator: Optional[torch.Generator] = None,
                      device: Optional[torch.device] = None) -> MixParams:
    """Draw everything one MMT call needs, from one block of uniforms.

    Arguments are not validated here (:class:`mmt_augment.MMTMix` does that).

    Args:
        batch_size: number of output rows B.
        height: image height H.
        width: image width W.
        mode: a mode name of :data:`mmt_augment.modes.MODES` or a sequence of them.
        mode_probs: probability of each mode (default: equal).
        alpha: Beta concentration of ``lam``.
        p: probability that a batch (or row) is mixed.
        per_sample: draw per row instead of one row shared by the batch (like torchvision's ``CutMix``).
        resize_scale: ResizeMix's range of the side scale.
        generator: optional generator.
        device: device of the returned tensors.

    Returns:
        :class:`MixParams` with ``(B,)``-shaped ``lam``, ``apply`` and ``mode``.
    """
    names = (mode,) if isinstance(mode, str) else tuple(mode)
    entries = [MODES[name] for name in names]
    num = batch_size if per_sample else 1
    choose = len(names) > 1
    columns = 1 + choose + sum(entry.columns for entry in entries)
    uniforms, target_lam = draw_uniforms(num, columns, alpha, generator=generator, device=device)
    apply = uniforms[:, 0] < p
    mixes_all = p >= 1.0
    mode_index = torch.zeros((), dtype=torch.int64, device=uniforms.device).expand(num)
    if not choose:
        # One mode: its parameters are every row's; unmixed rows get lam 1 and an empty box.
        mode_lam, boxes = entries[0].draw(target_lam, uniforms[:, 1:], height, width, resize_scale=resize_scale)
        if not mixes_all:
            lam = torch.where(apply, mode_lam, 1.0)
            boxes = boxes * apply.unsqueeze(1) if boxes is not None else None
        else:
            lam = mode_lam
    else:
        probs = [1.0 / len(names)] * len(names) if mode_probs is None else [float(q) for q in mode_probs]
        total, bound = sum(probs), 0.0
        for q in probs[:-1]:  # Python scalars only: no host-to-device copy
            bound += q / total
            mode_index = mode_index + (uniforms[:, 1] >= bound).long()
        lam = torch.ones(num, device=uniforms.device)
        boxes = torch.zeros(num, 4, dtype=torch.int64, device=uniforms.device) if any(e.box for e in entries) else None
        first = 2
        for index, entry in enumerate(entries):
            draws = uniforms[:, first:first + entry.columns]
            first += entry.columns
            rows = apply & (mode_index == index)
            mode_lam, mode_boxes = entry.draw(target_lam, draws, height, width, resize_scale=resize_scale)
            if mode_boxes is not None:
                assert boxes is not None  # allocated above when any mode has boxes
                boxes = torch.where(rows.unsqueeze(1), mode_boxes, boxes)
            lam = torch.where(rows, mode_lam, lam)
    if not per_sample:
        lam, apply, mode_index = lam.expand(batch_size), apply.expand(batch_size), mode_index.expand(batch_size)
        boxes = boxes.expand(batch_size, 4) if boxes is not None else None
    return MixParams(lam=lam, apply=apply, mode=mode_index, boxes=boxes, modes=names, mixes_all=mixes_all,
                     size=(height, width))


def mean_head_share(mix: Any, image_size: tuple[int, int], *, draws: int = 200_000) -> float:
    """The mean head share ``E[lam]`` of an MMT configuration: the ``head_share`` of
    :func:`mmt_augment.weighting.mixed_class_prior`.

    ``E[lam] = (1 - p) + p * sum_m q_m * E[lam | m]`` over the modes ``m`` and their
    ``mode_probs`` ``q_m``. MixUp's symmetric Beta draw gives ``E[lam | m] = 0.5`` exactly. A box
    mode's clipped area share depends on the image size, so it is estimated from ``draws`` rows of
    :func:`mmt_augment.params.sample_mix_params` with a generator seeded 0 (the same value every
    time; standard error below ``0.5 / sqrt(draws)``).

    Args:
        mix: the run's :class:`mmt_augment.MMTMix` or :class:`mmt_augment.RandomMMT`; its
            ``mode``, ``mode_probs``, ``alpha``, ``p`` and ``resize_scale`` are read.
        image_size: ``(height, width)`` of the images it mixes.
        draws: rows drawn per box mode, >= 1.

    Returns:
        ``E[lam]``, a float in ``[0, 1]``.

    Raises:
        TypeError: if ``mix`` is not an ``MMTMix`` or ``RandomMMT``, or ``image_size`` or
            ``draws`` do not hold ints.
        ValueError: if ``image_size`` is not two sizes >= 1 or ``draws < 1``.

    Example:
        >>> from mmt_augment import MMTMix
        >>> mean_head_share(MMTMix(p=0.5), (32, 32))
        0.75
        >>> round(mean_head_share(MMTMix(mode="cutmix"), (32, 32)), 2)
        0.69
    """
    if not all(hasattr(mix, name) for name in ("mode", "mode_probs", "alpha", "p", "resize_scale")):
        raise TypeError(f"mix must be an MMTMix or a RandomMMT, got {type(mix).__name__}")
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise TypeError(f"image_size must be a (height, width) tuple, got {type(image_size).__name__} {image_size!r}")
    height = check_int(image_size[0], "image_size height", minimum=1)
    width = check_int(image_size[1], "image_size width", minimum=1)
    draws = check_int(draws, "draws", minimum=1)

    names = (mix.mode,) if isinstance(mix.mode, str) else tuple(mix.mode)
    mode_probs = mix.mode_probs if mix.mode_probs is not None else (1.0 / len(names),) * len(names)
    mixed_share = 0.0
    for name, probability in zip(names, mode_probs):
        if not MODES[name].box:
            mixed_share += probability * 0.5  # the symmetric Beta draw itself: exact
            continue
        params = sample_mix_params(draws, height, width, mode=name, alpha=mix.alpha, p=1.0,
                                   resize_scale=mix.resize_scale, generator=torch.Generator().manual_seed(0))
        mixed_share += probability * float(params.lam.double().mean())
    return (1.0 - mix.p) + mix.p * mixed_share


# -- the per-batch CPU form: the same draw, read as Python numbers -------------------------------


def sample_batch_on_host(height: int, width: int, *, mode: str, alpha: float = 1.0, p: float = 1.0,
                         generator: Optional[torch.Generator] = None) -> HostBatchParams:
    """:func:`sample_mix_params` with ``per_sample=False`` for one mode with a per-batch CPU form
    (:attr:`mmt_augment.modes.MixMode.batch_on_host`), read as Python numbers.

    The same draw (the generator advances alike), then the mode's per-batch form of its rule, bit
    for bit the tensor path's at a fraction of the cost.
    """
    form = MODES[mode].batch_on_host
    if form is None:
        raise ValueError(f"mode {mode!r} has no per-batch CPU form; modes with one: "
                         f"{[name for name, entry in MODES.items() if entry.batch_on_host is not None]}")
    columns = 1 + MODES[mode].columns
    device = generator.device if generator is not None else torch.device("cpu")
    block, target_lam = _draw_block(1, columns, alpha, generator, device)
    row = block.tolist()[0]  # blocks to the host, like draw_uniforms on the CPU
    lam = row[0] if target_lam is None else float(target_lam[0])
    apply_draw, *draws = row[-columns:]
    # A float32 tensor compared with a Python float compares in float32.
    if not apply_draw < float(np.float32(p)):
        return HostBatchParams(lam=1.0, apply=False, mode=mode, box=(0, 0, 0, 0) if MODES[mode].box else None,
                               size=(height, width))
    share, box = form.draw(lam, draws, height, width)
    return HostBatchParams(lam=share, apply=True, mode=mode, box=box, size=(height, width))
