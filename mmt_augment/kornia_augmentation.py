"""``RandomMMT``: MMT as a kornia mix augmentation, for kornia GPU pipelines.

Built on the same parameter draws and mode table as :class:`mmt_augment.MMTMix`; only the
calling convention and the label format follow kornia. Importing this module imports kornia,
which :mod:`mmt_augment` does only when ``RandomMMT`` is first used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from kornia.augmentation import MixAugmentationBaseV2
from kornia.constants import DataKey

from mmt_augment import _checks, modes
from mmt_augment.modes import MODES, MixParams
from mmt_augment.params import sample_mix_params

__all__ = ["RandomMMT"]

_SUPPORTED_KEYS = (DataKey.INPUT, DataKey.CLASS)


class RandomMMT(MixAugmentationBaseV2):
    r"""Apply MMT to a paired batch: the first half head images, the second half tail images.

    Row ``b`` of the output mixes head row ``b`` with tail row ``b`` exactly as
    :class:`mmt_augment.MMTMix` does with the same draws, so ``2B`` rows come in and ``B`` go out.
    Labels come back in the format of kornia's ``RandomMixUpV2``: ``(B, 3)`` rows ``(head label,
    tail label, w)`` where ``w = 1 - lam`` is the **weight of the tail label** (0 for a row not
    mixed). The loss is ``(1 - w) * CE(logits, head) + w * CE(logits, tail)``::

        loss = mixed_cross_entropy(logits, *MixedLabels.from_kornia(labels))

    In a pipeline: kornia's ``AugmentationSequential`` runs ``RandomMMT`` on the images (put it
    last, as it halves the batch); kornia's container refuses class labels for every mix
    augmentation, so pass the labels to :meth:`labels_for` with the parameters it drew::

        pipeline = K.AugmentationSequential(K.RandomCrop((32, 32), padding=4), K.RandomHorizontalFlip(), mmt)
        images = pipeline(paired_images)
        labels = mmt.labels_for(paired_labels)

    Args:
        mode: ``"mixup"`` (default), ``"cutmix"``, ``"resizemix"`` or a tuple of them.
        alpha: concentration of the Beta(alpha, alpha) distribution of ``lam``; in ``[1e-3, 1e38]``.
        p: probability that the batch (or each row) is mixed, in ``[0, 1]``; default 1.
        same_on_batch: share one mode, ``lam``, box and decision across the batch (as
            ``MMTMix(per_sample=False)``); ``False`` (default) draws them per row.
        mode_probs: for a tuple of modes, the probability of each (default equal).
        resize_scale: ResizeMix's side-scale range, default ``(0.1, 0.8)``.
        generator: optional ``torch.Generator`` for reproducible draws.
        data_keys: the inputs of a call: ``"input"`` (the images, required) and ``"class"`` (the
            labels); masks, boxes and keypoints are refused (the tail rows have no output row).
            Default ``("input",)``, or ``("input", "class")`` when labels are passed positionally.

    Inputs:
        ``paired_images`` ``(2B, C, H, W)`` (the dtypes :class:`mmt_augment.MMTMix` takes) and,
        optionally, ``paired_labels``, ``(2B,)`` integer class indices.

    Returns:
        ``images`` ``(B, C, H, W)`` if no labels are given, else ``[images, labels]`` with
        ``labels`` of shape ``(B, 3)`` (float32, or float64 for float64 images).

    Example:
        >>> aug = RandomMMT(mode="mixup", p=1.0)
        >>> images, labels = aug(torch.rand(8, 3, 32, 32), torch.tensor([0, 0, 1, 1, 5, 6, 7, 8]))
        >>> images.shape, labels.shape
        (torch.Size([4, 3, 32, 32]), torch.Size([4, 3]))
    """

    def __init__(self, mode: Union[str, Sequence[str]] = "mixup", alpha: float = 1.0, p: float = 1.0,
                 same_on_batch: bool = False, *, mode_probs: Optional[Sequence[float]] = None,
                 resize_scale: Tuple[float, float] = (0.1, 0.8), generator: Optional[torch.Generator] = None,
                 data_keys: Optional[Sequence[Union[str, int, DataKey]]] = None) -> None:
        probability = _checks.check_probability("p", p)
        same_on_batch = _checks.check_flag("same_on_batch", same_on_batch)
        keys: Optional[List[Union[str, int, DataKey]]] = (
            list(self._check_keys(data_keys)) if data_keys is not None else None
        )
        super().__init__(p=probability, p_batch=1.0, same_on_batch=same_on_batch, keepdim=False, data_keys=keys)
        self._explicit_keys = keys is not None
        self.mode = _checks.check_mode(mode)
        self.mode_probs = _checks.check_mode_probs(mode_probs, self.mode)
        self.alpha = _checks.check_alpha(alpha)
        self.resize_scale = _checks.check_resize_scale(resize_scale)
        self.generator = _checks.check_generator(generator)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(mode={self.mode!r}, alpha={self.alpha}, p={self.p}, "
                f"same_on_batch={self.same_on_batch})")

    @staticmethod
    def _check_keys(data_keys: Sequence[Union[str, int, DataKey]]) -> List[DataKey]:
        try:
            keys = [DataKey.get(key) for key in data_keys]
        except Exception:
            raise ValueError(f"data_keys must name kornia data keys ('input', 'class'), got {data_keys!r}") from None
        unsupported = [key.name.lower() for key in keys if key not in _SUPPORTED_KEYS]
        if unsupported:
            raise ValueError(f"RandomMMT supports the data keys 'input' and 'class', got {unsupported}: "
                             "MMT mixes 2B paired rows into B, so masks, boxes and keypoints of the tail rows "
                             "have no output row to go to")
        if keys.count(DataKey.INPUT) != 1 or keys.count(DataKey.CLASS) > 1:
            raise ValueError(f"data_keys must hold 'input' once and 'class' at most once, got {data_keys!r}")
        return keys

    # -- parameters -------------------------------------------------------------------------

    def generate_parameters(self, batch_shape: Tuple[int, ...]) -> Dict[str, torch.Tensor]:
        """Draw parameters for a paired batch of shape ``(2B, C, H, W)`` on the module's device.

        Returns:
            ``lam`` ``(B,)`` (head share), ``apply`` ``(B,)``, ``mode`` ``(B,)`` and, for box
            modes, ``boxes`` ``(B, 4)``.
        """
        return self._draw(tuple(batch_shape), self.device)

    def _draw(self, batch_shape: Tuple[int, ...], device: Optional[torch.device]) -> Dict[str, torch.Tensor]:
        num_rows, _, height, width = batch_shape
        params = sample_mix_params(_checks.check_even_rows("paired_images", num_rows), height, width,
                                   mode=self.mode, mode_probs=self.mode_probs, alpha=self.alpha, p=self.p,
                                   per_sample=not self.same_on_batch, resize_scale=self.resize_scale,
                                   generator=self.generator, device=device)
        out = {"lam": params.lam, "apply": params.apply, "mode": params.mode, "batch_prob": params.apply.float(),
               # As kornia's own parameters: a replay is checked against the shape they were drawn for.
               "forward_input_shape": torch.tensor(batch_shape, dtype=torch.long)}
        if params.boxes is not None:
            out["boxes"] = params.boxes
        return out

    def _check_params(self, params: object, needed: Optional[List[str]] = None) -> None:
        """Refuse parameters that are not RandomMMT's: by default all a replay needs, including the
        shape they were drawn for (whether they fit the batch, :func:`mmt_augment.modes.apply` checks)."""
        if needed is None:
            names = (self.mode,) if isinstance(self.mode, str) else self.mode
            needed = ["lam", "apply", "mode", "forward_input_shape"] + ["boxes"] * any(MODES[n].box for n in names)
        lacking = [key for key in needed if not isinstance(params, Mapping) or not isinstance(params.get(key), torch.Tensor)]
        if lacking:
            got = f"keys {sorted(params)}" if isinstance(params, Mapping) else type(params).__name__
            raise ValueError(f"params must be RandomMMT's parameters for mode {self.mode!r}, with tensors {lacking}; "
                             f"got {got} (kornia's own mix parameters do not carry MMT's)")

    def forward_parameters(self, batch_shape: Tuple[int, ...]) -> Dict[str, torch.Tensor]:
        self._params = {}  # a pipeline draws here first: a call that fails from now on leaves no parameters
        return self.generate_parameters(batch_shape)

    def _mix_params(self, params: Dict[str, torch.Tensor], device: torch.device) -> MixParams:
        def moved(key: str) -> torch.Tensor:
            return params[key].to(device, non_blocking=True)

        modes = (self.mode,) if isinstance(self.mode, str) else self.mode
        size = tuple(params["forward_input_shape"].tolist()[-2:])  # a CPU tensor: read without a sync
        return MixParams(lam=moved("lam"), apply=moved("apply"), mode=moved("mode"),
                         boxes=moved("boxes") if "boxes" in params else None, modes=modes, size=size)

    # -- kornia's hooks -----------------------------------------------------------------------

    def apply_transform(self, input: torch.Tensor, params: Dict[str, torch.Tensor],
                        flags: Optional[Dict[str, Any]] = None) -> torch.Tensor:
        half = _checks.check_even_rows("paired_images", input.shape[0])
        return modes.apply(input[:half], input[half:], self._mix_params(params, input.device))

    def apply_transform_class(self, input: torch.Tensor, params: Dict[str, torch.Tensor],
                              flags: Optional[Dict[str, Any]] = None) -> torch.Tensor:
        half = input.shape[0] // 2
        dtype = params["lam"].dtype if params["lam"].is_floating_point() else torch.float32
        tail_weight = 1.0 - params["lam"].to(device=input.device, dtype=dtype)
        return torch.stack([input[:half].to(dtype), input[half:].to(dtype), tail_weight], dim=1)

    def labels_for(self, paired_labels: torch.Tensor,
                   params: Optional[Dict[str, torch.Tensor]] = None) -> torch.Tensor:
        """The ``(B, 3)`` labels for the last call's draws (or ``params``), e.g. after a pipeline.

        Raises:
            ValueError: when no call has succeeded since the last one began (a call that fails up
                to RandomMMT's step of a pipeline leaves no parameters to refer to), ``params`` have
                no tensor ``lam``, or the labels do not fit them.
            TypeError: when ``paired_labels`` is not a tensor.
        """
        if params is not None:
            self._check_params(params, ["lam"])  # all the labels need
        params = params if params is not None else getattr(self, "_params", None)
        if not params:
            raise ValueError("labels_for needs the parameters of a successful call: call RandomMMT (or the "
                             "pipeline) first")
        lam = params["lam"]
        self._check_labels(paired_labels, 2 * lam.shape[0], None, lam.dtype if lam.is_floating_point() else None)
        return self.apply_transform_class(paired_labels, params)

    @staticmethod
    def _check_labels(labels: Any, num_rows: int, device: Optional[torch.device],
                      label_dtype: Optional[torch.dtype]) -> None:
        if not isinstance(labels, torch.Tensor):
            raise TypeError(f"paired_labels must be a torch.Tensor of (2B,) class indices, got {type(labels).__name__}")
        _checks.check_labels("paired_labels", labels, num_rows, None, labels.device if device is None else device,
                             require_num_classes=False)
        if labels.ndim != 1:
            raise ValueError(f"paired_labels must be (2B,) class indices for kornia's label format, "
                             f"got shape {tuple(labels.shape)}")
        # Class ids beyond 2 ** 24 (float32) or 2 ** 53 (float64) would round; checked where it is free.
        exact = 2**53 if label_dtype == torch.float64 else 2**24
        if labels.is_cpu and labels.numel():
            low, high = (int(bound) for bound in torch.aminmax(labels))
            if low < 0:
                raise ValueError(f"paired_labels must be class indices >= 0, got {low}")
            if high >= exact:
                raise ValueError(f"paired_labels holds class id {high}, which "
                                 f"{label_dtype or torch.float32} labels cannot hold exactly (id < {exact}); "
                                 "use float64 images or MMTMix.mix, whose labels stay integers")

    def forward(  # type: ignore[override]
        self, *inputs: torch.Tensor, params: Optional[Dict[str, torch.Tensor]] = None,
        data_keys: Optional[Sequence[Union[str, int, DataKey]]] = None,
    ) -> Union[torch.Tensor, List[torch.Tensor]]:
        if data_keys is not None:
            keys = self._check_keys(data_keys)
        elif self._explicit_keys:
            keys = list(self.data_keys)
        else:
            keys = [DataKey.INPUT, DataKey.CLASS][: len(inputs)] if len(inputs) <= 2 else []
        if len(inputs) != len(keys):
            raise ValueError(f"RandomMMT got {len(inputs)} inputs for data_keys {[key.name.lower() for key in keys]}")
        self._params = {}  # labels_for refers to a call only once it has succeeded
        images = inputs[keys.index(DataKey.INPUT)]
        _checks.check_images("paired_images", images)
        half = _checks.check_even_rows("paired_images", images.shape[0])
        label_dtype = torch.float64 if images.dtype == torch.float64 else torch.float32
        if DataKey.CLASS in keys:
            self._check_labels(inputs[keys.index(DataKey.CLASS)], 2 * half, images.device, label_dtype)
        if params is None:
            # Draw where the images live, so no host round trip is needed.
            params = self._draw(tuple(images.shape), images.device)
        else:
            self._check_params(params)
        outputs: List[torch.Tensor] = []
        for key, value in zip(keys, inputs):
            if key == DataKey.INPUT:
                outputs.append(self.apply_transform(value, params))
            else:
                outputs.append(self.apply_transform_class(value, {"lam": params["lam"].to(label_dtype)}))
        self._params = params
        return outputs[0] if len(outputs) == 1 else outputs
