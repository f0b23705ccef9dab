"""``MMTMix``: the MMT batch transform, used like torchvision's ``v2.CutMix`` / ``v2.MixUp``.

The module checks the inputs once, draws the parameters in :meth:`MMTMix.make_params` and applies
them with :func:`mmt_augment.modes.apply`, the mode table's one apply point; it adds the call
forms and the targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from torch.utils._pytree import tree_flatten, tree_unflatten
from torchvision import tv_tensors

from mmt_augment import _checks, _fastpath, kernels, modes
from mmt_augment.losses import MixedLabels
from mmt_augment.modes import MODES, HostBatchParams, MixParams
from mmt_augment.params import sample_batch_on_host, sample_mix_params

__all__ = ["MMTMix"]

LabelsGetter = Union[str, Callable[[Any], torch.Tensor]]


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    # tv_tensors subclasses re-wrap results of some ops; compute on plain tensors.
    return tensor.as_subclass(torch.Tensor) if type(tensor) is not torch.Tensor else tensor


def _keep_memory_format(output: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    if like.is_contiguous(memory_format=torch.channels_last) and not like.is_contiguous():
        return output.contiguous(memory_format=torch.channels_last)
    return output


def _rewrap(images: torch.Tensor, like: Any) -> torch.Tensor:
    """Give ``images`` the tv_tensors type of ``like`` (``tv_tensors.Image`` in, ``Image`` out)."""
    if isinstance(like, tv_tensors.TVTensor) and not isinstance(images, type(like)):
        return tv_tensors.wrap(images, like=like)
    return images


class MMTMix(torch.nn.Module):
    """Blend each head image with a tail image and mix their labels by the head's share.

    A two-argument call ``mmt(images, labels)`` reads its ``2B`` rows as ``B`` head rows then
    ``B`` tail rows and **returns half as many rows**: it is meant for the paired batches of
    :class:`mmt_augment.MMTBatchSampler`. Unlike torchvision's ``v2.CutMix``/``v2.MixUp``, which
    mix a batch with a shifted copy of itself, MMT mixes two *different* streams: an ordinary
    batch passed this way is silently halved and mixed with itself.

    MMT (Mixed Mutual Transfer) pairs a batch drawn instance-uniformly (the head) with a batch
    drawn by a sampler that reverses the long-tailed distribution (the tail). Row ``b`` of the
    output mixes head row ``b`` with tail row ``b`` by a mode of :mod:`mmt_augment.modes`
    (``"mixup"``, ``"cutmix"``, ``"resizemix"``) or, for a tuple of modes, one chosen per row or
    per batch with probabilities ``mode_probs``. The target is ``lam * head_label + (1 - lam) *
    tail_label`` with ``lam`` the head's true share. A batch (``per_sample=False``) or each row is
    mixed with probability ``p``; a row not mixed is the head image, bit for bit, with its label.

    The defaults (MixUp, ``p=1``, a fresh ``lam`` per row) trained best in the project's
    CIFAR-10-LT benchmarks (the results page of the docs); ``mode="cutmix", p=0.5, per_sample=False`` is the
    CMO-style alternative.

    Call forms: ``mmt(head_images, head_labels, tail_images, tail_labels)``; ``mmt(paired_images,
    paired_labels)`` with ``2B`` rows, the first ``B`` head; ``mmt((paired_images, paired_labels))``,
    a dict with a ``"labels"`` key, or any structure with a callable ``labels_getter``: paired form,
    same structure back.

    Randomness: parameters come from ``generator`` (else the images' device's global RNG), the
    same draws eagerly and under ``torch.compile``. In ``DataLoader`` workers a seeded transform
    gives each worker its own stream, seeded from the generator's seed and the worker's seed.

    Args:
        num_classes: number of classes; required when labels are class indices ``(B,)``.
        mode: a mode name (``"mixup"``, default; ``"cutmix"``; ``"resizemix"``) or a tuple of them.
        mode_probs: for a tuple of modes, the weight of each (non-negative, normalised); default equal.
        alpha: concentration of the Beta(alpha, alpha) distribution of ``lam``; in ``[1e-3, 1e38]``.
        p: probability that a batch (or row) is mixed, in ``[0, 1]``; default 1.
        per_sample: draw mode, ``lam``, box and decision per row (default) instead of per batch.
        resize_scale: ResizeMix's side-scale range ``(low, high)``, ``0 < low <= high <= 1``.
        labels_getter: ``"default"`` or a callable returning the labels from the paired input.
        generator: optional ``torch.Generator``; a fixed seed gives bit-identical output.
        validate_labels: check that index labels lie in ``[0, num_classes)``: ``None`` (default)
            only on the CPU outside ``torch.compile`` (a read-back synchronises an accelerator),
            ``True`` always, ``False`` never (an out-of-range label then fails inside torch).

    Inputs:
        Images ``(B, C, H, W)`` with ``H, W >= 1`` (plain tensors or ``tv_tensors.Image``) of
        dtype uint8, float16, bfloat16, float32 or float64, any device and memory format; labels
        ``(B,)`` integer class indices or ``(B, num_classes)`` soft labels.

    Returns:
        ``(images, targets)``: ``B`` images with the input's type, dtype, device and memory
        format, and ``(B, num_classes)`` floating targets whose rows sum to 1 (float32, or
        float64 for float64 images or labels). Inputs are never modified.

    Raises:
        TypeError, ValueError: for arguments or inputs of the wrong type, shape, dtype or device.

    Example:
        >>> mmt = MMTMix(num_classes=10, generator=torch.Generator().manual_seed(0))
        >>> head, tail = torch.rand(8, 3, 32, 32), torch.rand(8, 3, 32, 32)
        >>> images, targets = mmt(head, torch.randint(10, (8,)), tail, torch.randint(10, (8,)))
        >>> images.shape, targets.shape
        (torch.Size([8, 3, 32, 32]), torch.Size([8, 10]))
    """

    def __init__(self, *, num_classes: Optional[int] = None, mode: Union[str, Sequence[str]] = "mixup",
                 mode_probs: Optional[Sequence[float]] = None, alpha: float = 1.0, p: float = 1.0,
                 per_sample: bool = True, resize_scale: tuple[float, float] = (0.1, 0.8),
                 labels_getter: LabelsGetter = "default", generator: Optional[torch.Generator] = None,
                 validate_labels: Optional[bool] = None) -> None:
        super().__init__()
        self.num_classes = _checks.check_num_classes(num_classes)
        self.mode = _checks.check_mode(mode)
        self.mode_probs = _checks.check_mode_probs(mode_probs, self.mode)
        self.alpha = _checks.check_alpha(alpha)
        self.p = _checks.check_probability("p", p)
        self.per_sample = _checks.check_flag("per_sample", per_sample)
        self.resize_scale = _checks.check_resize_scale(resize_scale)
        if labels_getter != "default" and not callable(labels_getter):
            raise TypeError(f"labels_getter must be 'default' or a callable, got {labels_getter!r}")
        self.labels_getter = labels_getter
        self.generator = _checks.check_generator(generator)
        if validate_labels is not None:
            _checks.check_flag("validate_labels", validate_labels)
        self.validate_labels = validate_labels
        self._worker_seed: Optional[int] = None

    def extra_repr(self) -> str:
        probs = f", mode_probs={self.mode_probs}" if self.mode_probs is not None else ""
        return (f"num_classes={self.num_classes}, mode={self.mode!r}{probs}, alpha={self.alpha}, p={self.p}, "
                f"per_sample={self.per_sample}")

    # -- parameters ---------------------------------------------------------------------------

    def make_params(self, head_images: torch.Tensor) -> Union[MixParams, HostBatchParams]:
        """Draw the parameters for one call on a head batch of shape ``(B, C, H, W)``.

        The one draw point of every call: :class:`~mmt_augment.modes.MixParams`, ``(B,)`` tensors
        on the images' device from one draw, with nothing read back (no GPU sync, no graph
        break). On the CPU (eager, outside autograd, a CPU generator), per-batch CutMix, and MixUp of
        uint8, float32 or float64 images, draw the same parameters as Python numbers (an internal
        form, ``modes.HostBatchParams``, at a fraction of the cost); :meth:`apply_params` takes either.
        """
        batch_size, _, height, width = head_images.shape
        if self._batch_on_host(head_images):
            assert isinstance(self.mode, str)  # a mode tuple has no per-batch CPU form
            return sample_batch_on_host(height, width, mode=self.mode, alpha=self.alpha, p=self.p,
                                        generator=self._stream())
        return sample_mix_params(batch_size, height, width, mode=self.mode, mode_probs=self.mode_probs,
                                 alpha=self.alpha, p=self.p, per_sample=self.per_sample,
                                 resize_scale=self.resize_scale, generator=self._stream(),
                                 device=head_images.device)

    def _batch_on_host(self, head_images: torch.Tensor) -> bool:
        # Per-batch parameters as Python numbers: a mode with that CPU form, for this dtype, a
        # CPU generator (its draws are read back) and images the CPU forms may take.
        if self.per_sample or not isinstance(self.mode, str) or head_images.shape[0] == 0:
            return False
        form = MODES[self.mode].batch_on_host
        generator_on_cpu = self.generator is None or self.generator.device.type == "cpu"
        return (form is not None and head_images.dtype in form.dtypes and generator_on_cpu
                and _fastpath.on_host(head_images))

    @staticmethod
    def apply_params(head_images: torch.Tensor, tail_images: torch.Tensor,
                     params: Union[MixParams, HostBatchParams]) -> torch.Tensor:
        """Blend the image batches with parameters from :meth:`make_params` (a pure function;
        :func:`mmt_augment.modes.apply`)."""
        return modes.apply(head_images, tail_images, params)

    # -- public calls -------------------------------------------------------------------------

    def mix(self, head_images: torch.Tensor, head_labels: torch.Tensor, tail_images: torch.Tensor,
            tail_labels: torch.Tensor) -> tuple[torch.Tensor, MixedLabels]:
        """Mix a head batch with a tail batch and return the labels in loss-side form.

        No ``(B, num_classes)`` tensor is built, so this suits very many classes; pair it
        with :func:`mmt_augment.mixed_cross_entropy` (``num_classes`` may stay ``None``).

        Returns:
            ``(images, MixedLabels(head_labels, tail_labels, lam))`` with ``lam`` float32 ``(B,)``.
        """
        head_images, head_labels, tail_images, tail_labels, _ = _checks.check_mix_inputs(
            head_images, head_labels, tail_images, tail_labels, num_classes=self.num_classes,
            require_num_classes=False, validate_labels=self.validate_labels)
        if head_labels.ndim == 1:  # class indices as int64, what the losses and scatters take
            head_labels, tail_labels = _plain(head_labels).long(), _plain(tail_labels).long()
        images, lam = self._mix_images(head_images, tail_images, head_images)
        if isinstance(lam, float):
            lam = torch.full((images.shape[0],), lam, device=images.device)
        return images, MixedLabels(head_labels, tail_labels, lam.contiguous())

    def forward(self, *inputs: Any) -> Any:
        call, like, rebuild = self._unpack(inputs)
        head_images, head_labels, tail_images, tail_labels, num_classes = _checks.check_mix_inputs(
            *call, num_classes=self.num_classes, require_num_classes=True, validate_labels=self.validate_labels)
        assert num_classes is not None  # required above: index labels need it, soft labels carry it
        images, lam = self._mix_images(head_images, tail_images, like)
        targets = self._mix_targets(_plain(head_labels), _plain(tail_labels), lam, num_classes, images.dtype)
        return rebuild(images, targets)

    # -- internals ----------------------------------------------------------------------------

    def _stream(self) -> Optional[torch.Generator]:
        """The generator to draw from: in a DataLoader worker, one of the worker's own."""
        if self.generator is None:
            return None
        info = torch.utils.data.get_worker_info()
        if info is None:
            return self.generator
        if self._worker_seed != info.seed:
            # Each worker holds its own copy of this module, so reseeding changes only that worker's.
            state = np.random.SeedSequence([self.generator.initial_seed(), info.seed]).generate_state(2, np.uint32)
            self.generator = torch.Generator(self.generator.device).manual_seed(int(state[0]) << 32 | int(state[1]))
            self._worker_seed = info.seed
        return self.generator

    def _mix_images(self, head_images: torch.Tensor, tail_images: torch.Tensor,
                    like: Any) -> tuple[torch.Tensor, Union[torch.Tensor, float]]:
        """The mixed images and the head share ``lam`` (one float for per-batch CPU parameters)."""
        head, tail = _plain(head_images), _plain(tail_images)
        params = self.make_params(head)
        images = self.apply_params(head, tail, params)
        return _rewrap(_keep_memory_format(images, head), like), params.lam

    @staticmethod
    def _mix_targets(head_labels: torch.Tensor, tail_labels: torch.Tensor, lam: Union[torch.Tensor, float],
                     num_classes: int, image_dtype: torch.dtype) -> torch.Tensor:
        floor = torch.float64 if image_dtype == torch.float64 else torch.float32
        if head_labels.ndim == 2:
            dtype = torch.promote_types(torch.promote_types(head_labels.dtype, tail_labels.dtype), floor)
            return kernels.mix_soft_labels(head_labels.to(dtype), tail_labels.to(dtype), lam)
        return kernels.mix_index_labels(head_labels.long(), tail_labels.long(), lam, num_classes, floor)

    def _unpack(self, inputs: tuple[Any, ...]):
        """The call's tensors (``(paired_images, paired_labels)`` or the four of the explicit
        form), the image input whose type the output takes, and a function rebuilding the output."""
        getter = self.labels_getter
        if not isinstance(getter, str):
            return self._unpack_structure(inputs[0] if len(inputs) == 1 else inputs, getter)
        if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)) and len(inputs[0]) in (2, 4):
            container = type(inputs[0])
            *parts, rebuild = self._unpack(tuple(inputs[0]))
            return (*parts, lambda images, targets: container(rebuild(images, targets)))
        if len(inputs) == 1 and isinstance(inputs[0], dict):
            return self._unpack_structure(inputs[0], _labels_from_dict)
        if len(inputs) in (2, 4):
            return inputs, inputs[0], lambda images, targets: (images, targets)
        raise TypeError("MMTMix takes (head_images, head_labels, tail_images, tail_labels) or "
                        f"(paired_images, paired_labels); got {len(inputs)} positional inputs")

    def _unpack_structure(self, structure: Any, labels_getter: Callable[[Any], torch.Tensor]):
        labels = labels_getter(structure)
        leaves, spec = tree_flatten(structure)
        label_index = next((i for i, leaf in enumerate(leaves) if leaf is labels), None)
        image_index = next((i for i, leaf in enumerate(leaves)
                            if i != label_index and isinstance(leaf, torch.Tensor) and leaf.ndim == 4), None)
        if label_index is None or image_index is None:
            raise ValueError("labels_getter must return a tensor that is a leaf of the input, "
                             "and the input must hold a 4-D image tensor besides it")
        def rebuild(images: torch.Tensor, targets: torch.Tensor) -> Any:
            out = list(leaves)
            out[image_index], out[label_index] = images, targets
            return tree_unflatten(out, spec)

        return (leaves[image_index], labels), leaves[image_index], rebuild


def _labels_from_dict(sample: dict) -> torch.Tensor:
    keys = [key for key in sample if isinstance(key, str) and key.lower() == "labels"]
    if len(keys) != 1:
        raise ValueError(f"a dict input needs exactly one 'labels' key, got keys {list(sample)}")
    return sample[keys[0]]
