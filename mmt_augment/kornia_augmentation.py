"""``RandomMMT``: MMT as a kornia mix augmentation, for kornia GPU pipelines.

Built on the same parameter samplers and kernels as :class:`mmt_augment.MMTMix`; only the
calling convention and the label format follow kornia.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import torch
from kornia.augmentation._2d.mix.base import MixAugmentationBaseV2

from mmt_augment import _checks, kernels
from mmt_augment.params import sample_mix_params

__all__ = ["RandomMMT"]


class RandomMMT(MixAugmentationBaseV2):
    r"""Apply MMT to a paired batch: the first half head images, the second half tail images.

    Row ``b`` of the output blends head row ``b`` with tail row ``b`` (CutMix box or MixUp
    interpolation, ``lam ~ Beta(alpha, alpha)``), exactly as :class:`mmt_augment.MMTMix` does.
    Labels come back in kornia's mix format: a ``(B, 3)`` tensor of (head label, tail label,
    ``lam``) where ``lam`` is the **head's** share of the row (1 for a row that was not mixed),
    so no ``num_classes`` is needed. The loss is
    ``lam * CE(logits, head) + (1 - lam) * CE(logits, tail)``, which
    :func:`mmt_augment.mixed_cross_entropy` computes::

        loss = mixed_cross_entropy(logits, labels[:, 0].long(), labels[:, 1].long(), labels[:, 2])

    Args:
        mode: ``"mixup"`` (default) or ``"cutmix"``.
        alpha: concentration of the Beta(alpha, alpha) distribution of ``lam``; > 0.
        p: probability that the batch (or each row) is mixed, in ``[0, 1]``; default 1.
        same_on_batch: share one ``lam``, box and decision across the batch (as
            ``MMTMix(per_sample=False)``); ``False`` (default, as ``MMTMix``'s default
            ``per_sample=True``) draws them per row.
        generator: optional ``torch.Generator`` for reproducible draws.
        keepdim: accepted for kornia compatibility; mix augmentations always take batches.

    Inputs:
        - ``paired_images``: ``(2B, C, H, W)`` floating or uint8 tensor.
        - ``paired_labels`` (optional): ``(2B,)`` integer class indices.

    Returns:
        ``images`` ``(B, C, H, W)`` if no labels are given, else ``(images, labels)`` with
        ``labels`` of shape ``(B, 3)`` (float32, or float64 for float64 images).

    Example:
        >>> aug = RandomMMT(mode="mixup", p=1.0)
        >>> images, labels = aug(torch.rand(8, 3, 32, 32), torch.tensor([0, 0, 1, 1, 5, 6, 7, 8]))
        >>> images.shape, labels.shape
        (torch.Size([4, 3, 32, 32]), torch.Size([4, 3]))
    """

    def __init__(
        self,
        mode: str = "mixup",
        alpha: float = 1.0,
        p: float = 1.0,
        same_on_batch: bool = False,
        generator: Optional[torch.Generator] = None,
        keepdim: bool = False,
    ) -> None:
        probability = _checks.check_probability("p", p)
        same_on_batch = _checks.check_flag("same_on_batch", same_on_batch)
        super().__init__(p=probability, p_batch=1.0, same_on_batch=same_on_batch, keepdim=keepdim)
        self.mode = _checks.check_mode(mode)
        self.alpha = _checks.check_alpha(alpha)
        self.generator = _checks.check_generator(generator)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(mode={self.mode!r}, alpha={self.alpha}, p={self.p}, "
            f"same_on_batch={self.same_on_batch})"
        )

    def generate_parameters(self, batch_shape: Tuple[int, ...]) -> Dict[str, torch.Tensor]:
        """Draw parameters for a paired batch of shape ``(2B, C, H, W)`` on the module's device.

        Returns:
            ``lam`` ``(B,)``, ``apply`` ``(B,)`` and, for CutMix, ``boxes`` ``(B, 4)``.
        """
        return self._draw(batch_shape, self.device)

    def _draw(self, batch_shape: Tuple[int, ...], device: torch.device) -> Dict[str, torch.Tensor]:
        num_rows, _, height, width = batch_shape
        params = sample_mix_params(
            _checks.check_even_rows("paired_images", num_rows),
            height,
            width,
            mode=self.mode,
            alpha=self.alpha,
            p=self.p,
            per_sample=not self.same_on_batch,
            generator=self.generator,
            device=device,
        )
        out = {"lam": params.lam, "apply": params.apply}
        if params.boxes is not None:
            out["boxes"] = params.boxes
        return out

    def forward_parameters(self, batch_shape: Tuple[int, ...]) -> Dict[str, torch.Tensor]:
        params = self.generate_parameters(batch_shape)
        params["batch_prob"] = params["apply"].float()
        return params

    def apply_transform(
        self, input: torch.Tensor, params: Dict[str, torch.Tensor], flags: Optional[Dict[str, Any]] = None
    ) -> torch.Tensor:
        half = _checks.check_even_rows("paired_images", input.shape[0])
        head, tail = input[:half], input[half:]
        if "boxes" in params:
            return kernels.cutmix(head, tail, params["boxes"])
        return kernels.mixup(head, tail, params["lam"])

    def apply_transform_class(
        self, input: torch.Tensor, params: Dict[str, torch.Tensor], flags: Optional[Dict[str, Any]] = None
    ) -> torch.Tensor:
        half = input.shape[0] // 2
        lam = params["lam"]
        return torch.stack([input[:half].to(lam.dtype), input[half:].to(lam.dtype), lam], dim=1)

    def forward(  # type: ignore[override]
        self,
        paired_images: torch.Tensor,
        paired_labels: Optional[torch.Tensor] = None,
        *,
        params: Optional[Dict[str, torch.Tensor]] = None,
    ) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        _checks.check_images("paired_images", paired_images)
        half = _checks.check_even_rows("paired_images", paired_images.shape[0])
        if paired_labels is not None:
            _checks.check_labels(
                "paired_labels", paired_labels, 2 * half, None, paired_images.device, require_num_classes=False
            )
            if paired_labels.ndim != 1:
                raise ValueError(
                    "paired_labels must be (2B,) class indices for kornia's label format, "
                    f"got shape {tuple(paired_labels.shape)}"
                )
        if params is None:
            # Draw where the images live, so no host round trip is needed.
            params = self._draw(tuple(paired_images.shape), paired_images.device)
        self._params = params
        images = self.apply_transform(paired_images, params)
        if paired_labels is None:
            return images
        label_dtype = torch.float64 if paired_images.dtype == torch.float64 else torch.float32
        labels = self.apply_transform_class(paired_labels, {"lam": params["lam"].to(label_dtype)})
        return images, labels
