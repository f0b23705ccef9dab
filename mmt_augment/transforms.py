"""``MMTMix``: the MMT batch transform, used like torchvision's ``v2.CutMix`` / ``v2.MixUp``.

The module draws parameters with :func:`mmt_augment.params.sample_mix_params` and applies the
pure kernels of :mod:`mmt_augment.kernels`; it adds argument checks and the call forms.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import torch
from torch.utils._pytree import tree_flatten, tree_unflatten
from torchvision import tv_tensors

from mmt_augment import _checks, kernels
from mmt_augment.losses import MixedLabels
from mmt_augment.params import BatchParams, MixParams, sample_batch_params, sample_mix_params

__all__ = ["MMTMix"]

LabelsGetter = Union[str, Callable[[Any], torch.Tensor]]


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    # tv_tensors subclasses re-wrap results of some ops; compute on plain tensors.
    return tensor.as_subclass(torch.Tensor) if type(tensor) is not torch.Tensor else tensor


def _keep_memory_format(output: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    if like.is_contiguous(memory_format=torch.channels_last) and not like.is_contiguous():
        return output.contiguous(memory_format=torch.channels_last)
    return output


def _is_compiling() -> bool:
    return torch.compiler.is_compiling()


class MMTMix(torch.nn.Module):
    """Blend each head image with a tail image and mix their labels by the head's share.

    MMT (Mixed Mutual Transfer) pairs a batch drawn instance-uniformly (the head) with a batch
    drawn by a sampler that reverses the long-tailed distribution (the tail), see
    :class:`mmt_augment.MMTBatchSampler`. Row ``b`` of the output is

    * ``mode="cutmix"``: the head image with a box pasted from the tail image,
      ``lam = 1 - box area / image area`` after the box is clipped to the image;
    * ``mode="mixup"``: ``lam * head + (1 - lam) * tail``;

    with ``lam ~ Beta(alpha, alpha)``, and its target is ``lam * head_label + (1 - lam) *
    tail_label``. A batch (``per_sample=False``) or each row (``per_sample=True``) is mixed with
    probability ``p``; a row that is not mixed is the head image with its own label.

    The defaults (MixUp, ``p=1``, a fresh ``lam`` per row) are the variant that trained best in
    the project's CIFAR-10-LT benchmarks (see the README); ``mode="cutmix", p=0.5,
    per_sample=False`` is the CMO-style alternative.

    Call forms:

    * ``mmt(head_images, head_labels, tail_images, tail_labels)``;
    * ``mmt(paired_images, paired_labels)`` with ``2B`` rows, the first ``B`` head and the last
      ``B`` tail (what a ``DataLoader`` with :class:`mmt_augment.MMTBatchSampler` yields);
    * ``mmt((paired_images, paired_labels))`` or a dict with a ``"labels"`` key, or any
      structure together with a callable ``labels_getter``: paired form, same structure back.

    Args:
        num_classes: number of classes; required when labels are class indices ``(B,)``.
        mode: ``"mixup"`` (default) or ``"cutmix"``.
        alpha: concentration of the Beta(alpha, alpha) distribution of ``lam``; > 0.
        p: probability that a batch (or row) is mixed, in ``[0, 1]``; default 1.
        per_sample: draw ``lam``, box and decision per row (default) instead of per batch.
        labels_getter: ``"default"`` or a callable returning the labels from the paired input.
        generator: optional ``torch.Generator``; a fixed seed gives bit-identical output.
        validate_labels: check that index labels lie in ``[0, num_classes)``. ``None`` (default)
            checks only labels on the CPU and never under ``torch.compile``, since reading
            values back from an accelerator synchronises it; ``True`` always checks; ``False``
            never does (an out-of-range label then fails inside torch).

    Inputs:
        Images ``(B, C, H, W)`` (plain tensors or ``tv_tensors.Image``) of dtype uint8, float16,
        bfloat16, float32 or float64, any device and memory format; labels ``(B,)`` integer
        class indices or ``(B, num_classes)`` soft labels.

    Returns:
        ``(images, targets)``: ``B`` images with the input's dtype, device and memory format,
        and ``(B, num_classes)`` floating targets whose rows sum to 1 (float32, or float64 for
        float64 images or labels). Inputs are never modified.

    Raises:
        TypeError, ValueError: for arguments or inputs of the wrong type, shape, dtype or device.

    Example:
        >>> mmt = MMTMix(num_classes=10, generator=torch.Generator().manual_seed(0))
        >>> head, tail = torch.rand(8, 3, 32, 32), torch.rand(8, 3, 32, 32)
        >>> images, targets = mmt(head, torch.randint(10, (8,)), tail, torch.randint(10, (8,)))
        >>> images.shape, targets.shape
        (torch.Size([8, 3, 32, 32]), torch.Size([8, 10]))
    """

    def __init__(
        self,
        *,
        num_classes: Optional[int] = None,
        mode: str = "mixup",
        alpha: float = 1.0,
        p: float = 1.0,
        per_sample: bool = True,
        labels_getter: LabelsGetter = "default",
        generator: Optional[torch.Generator] = None,
        validate_labels: Optional[bool] = None,
    ) -> None:
        super().__init__()
        self.num_classes = _checks.check_num_classes(num_classes)
        self.mode = _checks.check_mode(mode)
        self.alpha = _checks.check_alpha(alpha)
        self.p = _checks.check_probability("p", p)
        self.per_sample = _checks.check_flag("per_sample", per_sample)
        if labels_getter != "default" and not callable(labels_getter):
            raise TypeError(f"labels_getter must be 'default' or a callable, got {labels_getter!r}")
        self.labels_getter = labels_getter
        self.generator = _checks.check_generator(generator)
        if validate_labels is not None:
            _checks.check_flag("validate_labels", validate_labels)
        self.validate_labels = validate_labels

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, mode={self.mode!r}, alpha={self.alpha}, p={self.p}, "
            f"per_sample={self.per_sample}"
        )

    # -- parameters ---------------------------------------------------------------------------

    def make_params(self, head_images: torch.Tensor) -> Union[BatchParams, MixParams]:
        """Draw the parameters for one call on a head batch of shape ``(B, C, H, W)``.

        Per-batch parameters for CPU images are drawn on the host as Python numbers
        (:class:`~mmt_augment.params.BatchParams`, the fastest CPU form); everything else as
        ``(B,)`` tensors on the images' device (:class:`~mmt_augment.params.MixParams`), which
        never reads values back, so it neither synchronises a GPU nor breaks ``torch.compile``.
        """
        batch_size, _, height, width = head_images.shape
        on_host = (
            not self.per_sample
            and head_images.device.type == "cpu"
            and (self.generator is None or self.generator.device.type == "cpu")
            and not _is_compiling()
        )
        if on_host:
            return sample_batch_params(
                height, width, mode=self.mode, alpha=self.alpha, p=self.p, generator=self.generator
            )
        return sample_mix_params(
            batch_size,
            height,
            width,
            mode=self.mode,
            alpha=self.alpha,
            p=self.p,
            per_sample=self.per_sample,
            generator=self.generator,
            device=head_images.device,
        )

    @staticmethod
    def apply_params(
        head_images: torch.Tensor, tail_images: torch.Tensor, params: Union[BatchParams, MixParams]
    ) -> torch.Tensor:
        """Blend the image batches with parameters from :meth:`make_params` (a pure function)."""
        if isinstance(params, BatchParams):
            if not params.apply:
                return head_images.clone()
            if params.box is not None:
                return kernels.paste_box(head_images, tail_images, params.box)
            return kernels.mixup(head_images, tail_images, params.lam)
        if params.boxes is not None:
            return kernels.cutmix(head_images, tail_images, params.boxes)
        return kernels.mixup(head_images, tail_images, params.lam)

    # -- public calls -------------------------------------------------------------------------

    def mix(
        self,
        head_images: torch.Tensor,
        head_labels: torch.Tensor,
        tail_images: torch.Tensor,
        tail_labels: torch.Tensor,
    ) -> tuple[torch.Tensor, MixedLabels]:
        """Mix a head batch with a tail batch and return the labels in loss-side form.

        No ``(B, num_classes)`` tensor is built, so this suits very many classes; pair it
        with :func:`mmt_augment.mixed_cross_entropy` (``num_classes`` may stay ``None``).

        Returns:
            ``(images, MixedLabels(head_labels, tail_labels, lam))`` with ``lam`` float32 ``(B,)``.
        """
        self._check_inputs(head_images, head_labels, tail_images, tail_labels, require_num_classes=False)
        images, params = self._mix_images(head_images, tail_images)
        lam = params.lam
        if isinstance(lam, float):
            lam = torch.full((images.shape[0],), lam, device=images.device)
        return images, MixedLabels(head_labels, tail_labels, lam.contiguous())

    def forward(self, *inputs: Any) -> Any:
        head_images, head_labels, tail_images, tail_labels, rebuild = self._unpack(inputs)
        num_classes = self._check_inputs(head_images, head_labels, tail_images, tail_labels, require_num_classes=True)
        images, params = self._mix_images(head_images, tail_images)
        targets = self._mix_targets(_plain(head_labels), _plain(tail_labels), params.lam, num_classes, images.dtype)
        return rebuild(images, targets)

    # -- internals ----------------------------------------------------------------------------

    def _check_inputs(
        self, head_images: Any, head_labels: Any, tail_images: Any, tail_labels: Any, *, require_num_classes: bool
    ) -> Optional[int]:
        """Check every input before any work; return the number of classes the labels imply."""
        _checks.check_images("head_images", head_images)
        _checks.check_images("tail_images", tail_images)
        _checks.check_same_layout(head_images, tail_images)
        batch_size, device = head_images.shape[0], head_images.device
        num_classes = _checks.check_labels(
            "head_labels", head_labels, batch_size, self.num_classes, device, require_num_classes=require_num_classes
        )
        _checks.check_labels(
            "tail_labels", tail_labels, batch_size, num_classes, device, require_num_classes=require_num_classes
        )
        if head_labels.ndim != tail_labels.ndim:
            raise ValueError(
                "head_labels and tail_labels must both be class indices (B,) or both soft labels "
                f"(B, C), got shapes {tuple(head_labels.shape)} and {tuple(tail_labels.shape)}"
            )
        if head_labels.ndim == 1 and num_classes is not None and self._should_validate(head_labels):
            _checks.check_label_range("head_labels", head_labels, num_classes)
            _checks.check_label_range("tail_labels", tail_labels, num_classes)
        return num_classes

    def _mix_images(
        self, head_images: torch.Tensor, tail_images: torch.Tensor
    ) -> tuple[torch.Tensor, Union[BatchParams, MixParams]]:
        head, tail = _plain(head_images), _plain(tail_images)
        params = self.make_params(head)
        images = _keep_memory_format(self.apply_params(head, tail, params), head)
        if isinstance(head_images, tv_tensors.TVTensor):
            images = tv_tensors.wrap(images, like=head_images)
        return images, params

    @staticmethod
    def _mix_targets(
        head_labels: torch.Tensor,
        tail_labels: torch.Tensor,
        lam: Union[float, torch.Tensor],
        num_classes: int,
        image_dtype: torch.dtype,
    ) -> torch.Tensor:
        if head_labels.ndim == 2:
            dtype = torch.promote_types(torch.promote_types(head_labels.dtype, tail_labels.dtype), torch.float32)
            return kernels.mix_soft_labels(head_labels.to(dtype), tail_labels.to(dtype), lam)
        dtype = torch.float64 if image_dtype == torch.float64 else torch.float32
        return kernels.mix_index_labels(head_labels.long(), tail_labels.long(), lam, num_classes, dtype)

    def _should_validate(self, labels: torch.Tensor) -> bool:
        if self.validate_labels is None:
            return labels.device.type == "cpu" and not _is_compiling()
        return self.validate_labels

    def _unpack(self, inputs: tuple[Any, ...]):
        """Split the call into (head, head labels, tail, tail labels) and a function rebuilding the output."""
        if self.labels_getter != "default":
            return self._unpack_structure(inputs[0] if len(inputs) == 1 else inputs, self.labels_getter)
        if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)) and len(inputs[0]) in (2, 4):
            container = type(inputs[0])
            *parts, rebuild = self._unpack(tuple(inputs[0]))
            return (*parts, lambda images, targets: container(rebuild(images, targets)))
        if len(inputs) == 1 and isinstance(inputs[0], dict):
            return self._unpack_structure(inputs[0], _labels_from_dict)
        if len(inputs) == 4:
            return (*inputs, lambda images, targets: (images, targets))
        if len(inputs) == 2:
            return self._unpack_paired(*inputs)
        raise TypeError(
            "MMTMix takes (head_images, head_labels, tail_images, tail_labels) or "
            f"(paired_images, paired_labels); got {len(inputs)} positional inputs"
        )

    @staticmethod
    def _unpack_paired(paired_images: Any, paired_labels: Any):
        _checks.check_images("paired_images", paired_images)
        if not isinstance(paired_labels, torch.Tensor):
            raise TypeError(f"paired_labels must be a torch.Tensor, got {type(paired_labels).__name__}")
        if paired_labels.ndim == 0 or paired_labels.shape[0] != paired_images.shape[0]:
            raise ValueError(
                f"paired_labels must have one label per image ({paired_images.shape[0]}), "
                f"got shape {tuple(paired_labels.shape)}"
            )
        half = _checks.check_even_rows("paired_images", paired_images.shape[0])
        return (
            paired_images[:half],
            paired_labels[:half],
            paired_images[half:],
            paired_labels[half:],
            lambda images, targets: (images, targets),
        )

    def _unpack_structure(self, structure: Any, labels_getter: Callable[[Any], torch.Tensor]):
        labels = labels_getter(structure)
        leaves, spec = tree_flatten(structure)
        label_index = next((i for i, leaf in enumerate(leaves) if leaf is labels), None)
        image_index = next(
            (i for i, leaf in enumerate(leaves) if i != label_index and isinstance(leaf, torch.Tensor) and leaf.ndim == 4),
            None,
        )
        if label_index is None or image_index is None:
            raise ValueError(
                "labels_getter must return a tensor that is a leaf of the input, and the input must "
                "hold a 4-D image tensor besides it"
            )
        *parts, rebuild_pair = self._unpack_paired(leaves[image_index], labels)

        def rebuild(images: torch.Tensor, targets: torch.Tensor) -> Any:
            out = list(leaves)
            out[image_index], out[label_index] = rebuild_pair(images, targets)
            return tree_unflatten(out, spec)

        return (*parts, rebuild)


def _labels_from_dict(sample: dict) -> torch.Tensor:
    keys = [key for key in sample if isinstance(key, str) and key.lower() == "labels"]
    if len(keys) != 1:
        raise ValueError(f"a dict input needs exactly one 'labels' key, got keys {list(sample)}")
    return sample[keys[0]]
