"""Argument checks shared by the public modules.

Each check raises ``TypeError`` for a wrong type and ``ValueError`` for a wrong value, naming the
argument, what was expected and what arrived. Checks read only shapes, dtypes and devices, except
:func:`check_label_range`, which callers run only where reading values back is cheap.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Optional, Union

import numpy as np
import torch

from mmt_augment._fastpath import is_compiling

#: Smallest accepted Beta concentration: below it nearly every float32 draw is 0 or 1 (no mix).
MIN_ALPHA = 1e-3

#: Largest accepted Beta concentration: from ``alpha = 2**127`` the sum of two float32 Gamma(alpha)
#: draws overflows and every ``lam`` would be 0 (measured); 1e38 keeps a margin.
MAX_ALPHA = 1e38

#: Tail-sampler class weightings by name; a float is an exponent gamma (p_c ∝ n_c^-gamma).
WEIGHTINGS = ("inverse", "reverse", "balanced")
Weighting = Union[str, float]

#: What the functions and samplers accept as labels or counts.
LabelsLike = Union[Sequence[int], np.ndarray, torch.Tensor]

IMAGE_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64)


def check_mode(mode: object) -> Union[str, tuple[str, ...]]:
    """A mode name of :data:`mmt_augment.modes.MODES`, or a non-empty tuple of distinct ones."""
    from mmt_augment.modes import MODES

    names = tuple(MODES)
    if isinstance(mode, str):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {names} or a tuple of them, got {mode!r}")
        return mode
    if not isinstance(mode, (tuple, list)) or not mode:
        raise TypeError(f"mode must be a str in {names} or a non-empty tuple of them, got {type(mode).__name__} {mode!r}")
    for name in mode:
        if not isinstance(name, str) or name not in MODES:
            raise ValueError(f"every mode must be one of {names}, got {name!r} in {mode!r}")
    if len(set(mode)) != len(mode):
        raise ValueError(f"mode must not repeat a mode, got {mode!r}")
    return tuple(mode)


def check_mode_probs(mode_probs: object, mode: Union[str, tuple[str, ...]]) -> Optional[tuple[float, ...]]:
    """``None`` or one non-negative finite weight per mode (with a positive sum), normalised."""
    if mode_probs is None:
        return None
    if isinstance(mode, str):
        raise ValueError(f"mode_probs needs a tuple of modes, got mode={mode!r} with mode_probs={mode_probs!r}")
    if not isinstance(mode_probs, (tuple, list)):
        raise TypeError(f"mode_probs must be a tuple of numbers, got {type(mode_probs).__name__} {mode_probs!r}")
    if len(mode_probs) != len(mode):
        raise ValueError(f"mode_probs must have one entry per mode ({len(mode)}), got {len(mode_probs)}")
    for value in mode_probs:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"mode_probs must hold real numbers, got {type(value).__name__} {value!r}")
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int too large for a float
            finite = False
        if not (finite and float(value) >= 0):
            raise ValueError(f"mode_probs must be finite and >= 0, got {mode_probs!r}")
    try:
        total = float(sum(mode_probs))
    except OverflowError:  # ints whose sum is too large for a float
        total = math.inf
    if total <= 0:
        raise ValueError(f"mode_probs must not all be 0, got {mode_probs!r}")
    if not math.isfinite(total):
        # Finite weights whose sum overflows: divided by the largest, they sum to at most len(mode_probs).
        largest = float(max(mode_probs))
        scaled = [float(value) / largest for value in mode_probs]
        return tuple(value / sum(scaled) for value in scaled)
    return tuple(float(value) / total for value in mode_probs)


def _to_float(value: numbers.Real) -> float:
    # An int too large for a float counts as infinite (float() raises OverflowError for it).
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf  # type: ignore[operator]


def check_alpha(alpha: object) -> float:
    """A Beta concentration in ``[MIN_ALPHA, MAX_ALPHA]``, as a float."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a positive real number, got {type(alpha).__name__} {alpha!r}")
    number = _to_float(alpha)
    if not MIN_ALPHA <= number <= MAX_ALPHA:  # NaN fails too
        raise ValueError(f"alpha must be a finite number >= {MIN_ALPHA} and <= {MAX_ALPHA:g}, got {alpha!r}")
    return number


def check_resize_scale(scale: object) -> tuple[float, float]:
    """ResizeMix's side-scale range ``(low, high)`` with ``0 < low <= high <= 1``."""
    if not isinstance(scale, (tuple, list)) or len(scale) != 2:
        raise TypeError(f"resize_scale must be a (low, high) tuple, got {type(scale).__name__} {scale!r}")
    for value in scale:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"resize_scale must hold real numbers, got {type(value).__name__} {value!r}")
    low, high = _to_float(scale[0]), _to_float(scale[1])
    if not (0.0 < low <= high <= 1.0):
        raise ValueError(f"resize_scale must satisfy 0 < low <= high <= 1, got {tuple(scale)!r}")
    return low, high


def check_probability(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1], got {type(value).__name__} {value!r}")
    if not 0.0 <= _to_float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


def check_num_classes(num_classes: object) -> Optional[int]:
    if num_classes is None:
        return None
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise TypeError(f"num_classes must be a positive int or None, got {type(num_classes).__name__} {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    return int(num_classes)


def check_flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return value


def check_generator(generator: object) -> Optional[torch.Generator]:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def check_images(name: str, images: object) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, C, H, W), got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(f"{name} must be 4-D (B, C, H, W), got shape {tuple(images.shape)}")
    if images.dtype not in IMAGE_DTYPES:
        names = ", ".join(str(dtype).removeprefix("torch.") for dtype in IMAGE_DTYPES)
        raise TypeError(f"{name} must have dtype {names}; got {images.dtype}")
    if images.shape[2] == 0 or images.shape[3] == 0:
        raise ValueError(f"{name} must have height and width >= 1, got shape {tuple(images.shape)}")
    return images


def is_integer(tensor: torch.Tensor) -> bool:
    return not (tensor.dtype == torch.bool or tensor.is_floating_point() or tensor.is_complex())


def check_same_layout(head_images: torch.Tensor, tail_images: torch.Tensor) -> None:
    if head_images.shape != tail_images.shape:
        raise ValueError(f"tail_images must have the shape of head_images {tuple(head_images.shape)}, "
                         f"got {tuple(tail_images.shape)}")
    if head_images.dtype != tail_images.dtype:
        raise TypeError(f"tail_images must have the dtype of head_images ({head_images.dtype}), got {tail_images.dtype}")
    if head_images.device != tail_images.device:
        raise ValueError(f"tail_images must be on the device of head_images ({head_images.device}), "
                         f"got {tail_images.device}")


def check_labels(name: str, labels: object, batch_size: int, num_classes: Optional[int], device: torch.device,
                 *, require_num_classes: bool = True) -> Optional[int]:
    """Check one label tensor and return the number of classes it implies (None if unknown)."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of class indices (B,) or soft labels "
                        f"(B, num_classes), got {type(labels).__name__}")
    if labels.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (B,) of class indices or (B, num_classes) of soft labels, "
                         f"got shape {tuple(labels.shape)}")
    if labels.shape[0] != batch_size:
        raise ValueError(f"{name} must have one label per image ({batch_size}), got {labels.shape[0]}")
    if labels.device != device:
        raise ValueError(f"{name} must be on the images' device ({device}), got {labels.device}")
    if labels.ndim == 1:
        if not is_integer(labels):
            raise TypeError(f"{name} of shape (B,) must hold integer class indices, got dtype {labels.dtype}")
        if num_classes is None and require_num_classes:
            raise ValueError(f"num_classes is required when {name} are class indices of shape (B,); got None")
        return num_classes
    if not labels.is_floating_point():
        raise TypeError(f"{name} of shape (B, num_classes) must be floating point soft labels, got dtype {labels.dtype}")
    if num_classes is not None and labels.shape[1] != num_classes:
        raise ValueError(f"{name} must have num_classes={num_classes} columns, got {labels.shape[1]}")
    return labels.shape[1]


# The lookup check allocates a byte per class; more classes take the reductions.
_LOOKUP_CHECK_MAX_CLASSES = 1 << 20


def _lookup_can_check(num_classes: int, tensors: list[torch.Tensor]) -> bool:
    # Eager CPU int32/int64 labels only: torch.compile drops a lookup whose result is never used.
    return (num_classes <= _LOOKUP_CHECK_MAX_CLASSES and not is_compiling()
            and all(tensor.is_cpu and tensor.dtype in (torch.int32, torch.int64) for tensor in tensors))


def check_label_range(num_classes: int, **labels: torch.Tensor) -> None:
    """Raise if an index label of any named tensor lies outside ``[0, num_classes)``.

    Reads the values (on an accelerator, a host sync), once for all the tensors.
    """
    named = [(name, tensor) for name, tensor in labels.items() if tensor.ndim == 1 and tensor.numel()]
    if not named:
        return
    if _lookup_can_check(num_classes, [tensor for _, tensor in named]):
        # index_select bounds-checks every label against a scratch row of num_classes bytes: cheaper
        # than two reductions and a read-back (measured); only a failure pays for those, for the message.
        scratch = torch.empty(num_classes, dtype=torch.bool, device="cpu")
        try:
            for _, tensor in named:
                scratch.index_select(0, tensor)
            return
        except IndexError:
            pass
    bounds = torch.stack([bound for _, tensor in named for bound in torch.aminmax(tensor)]).tolist()
    for index, (name, _) in enumerate(named):
        low, high = bounds[2 * index], bounds[2 * index + 1]
        if low < 0 or high >= num_classes:
            raise ValueError(f"{name} must lie in [0, num_classes={num_classes}), got {low if low < 0 else high}")


def check_even_rows(name: str, num_rows: int) -> int:
    if num_rows % 2:
        raise ValueError(f"{name} must hold an even number of rows, B head rows then B tail rows, "
                         f"got {num_rows}: a two-argument call mixes the first half of the batch with the second "
                         "and returns half as many rows (use MMTBatchSampler for paired batches, or pass head "
                         "and tail batches separately)")
    return num_rows // 2


def check_mix_inputs(
    images: object, labels: object, tail_images: object = None, tail_labels: object = None, *,
    num_classes: Optional[int], require_num_classes: bool, validate_labels: Optional[bool],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Optional[int]]:
    """Check one call's inputs, once, before any work; split a paired batch.

    ``(images, labels)`` alone is a paired batch (``2B`` rows, the first ``B`` head); with
    ``tail_images`` and ``tail_labels`` they are the head batch and its labels.

    Returns:
        ``(head_images, head_labels, tail_images, tail_labels, num_classes)``, the number of
        classes the labels imply (``None`` if unknown).
    """
    head_labels: object
    names = ("paired_labels", "paired_labels") if tail_images is None else ("head_labels", "tail_labels")
    if tail_images is None:
        head_images = check_images("paired_images", images)
        if not isinstance(labels, torch.Tensor):
            raise TypeError(f"paired_labels must be a torch.Tensor, got {type(labels).__name__}")
        if labels.ndim == 0 or labels.shape[0] != head_images.shape[0]:
            raise ValueError(f"paired_labels must have one label per image ({head_images.shape[0]}), "
                             f"got shape {tuple(labels.shape)}")
        half = check_even_rows("paired_images", head_images.shape[0])
        head_images, tail = head_images[:half], head_images[half:]
        head_labels, tail_labels = labels[:half], labels[half:]
    else:
        head_images, tail = check_images("head_images", images), check_images("tail_images", tail_images)
        check_same_layout(head_images, tail)
        head_labels = labels
    batch_size, device = head_images.shape[0], head_images.device
    num_classes = check_labels(names[0], head_labels, batch_size, num_classes, device,
                               require_num_classes=require_num_classes)
    check_labels(names[1], tail_labels, batch_size, num_classes, device, require_num_classes=require_num_classes)
    assert isinstance(head_labels, torch.Tensor) and isinstance(tail_labels, torch.Tensor)
    if head_labels.ndim != tail_labels.ndim:
        raise ValueError("head_labels and tail_labels must both be class indices (B,) or both soft labels "
                         f"(B, C), got shapes {tuple(head_labels.shape)} and {tuple(tail_labels.shape)}")
    if validate_labels is None:
        validate_labels = head_labels.is_cpu and not is_compiling()
    if head_labels.ndim == 1 and num_classes is not None and validate_labels:
        check_label_range(num_classes, **({"paired_labels": labels} if tail_images is None else
                                          {"head_labels": head_labels, "tail_labels": tail_labels}))
    return head_images, head_labels, tail, tail_labels, num_classes


# -- samplers and long-tailed utilities ------------------------------------------------------


def as_label_array(labels: object, name: str = "labels", what: str = "class indices") -> np.ndarray:
    """Return ``labels`` as a 1-D array of non-negative integers, validating it.

    ``name`` and ``what`` (what the values are) word the error messages. The result may share
    memory with ``labels`` (NumPy arrays, CPU tensors): callers must treat it as read-only.

    Raises:
        TypeError: if the labels are not integers.
        ValueError: if the labels are empty, not 1-D or negative.
    """
    if isinstance(labels, torch.Tensor):
        if not is_integer(labels):
            # Checked here: NumPy cannot even hold some of these dtypes (bfloat16).
            raise TypeError(f"{name} must be integer {what}, got dtype {labels.dtype}")
        array = labels.detach().cpu().numpy()
    else:
        array = read_array(labels, name, f"a 1-D sequence of {what}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(array.shape)}")
    if array.size == 0:
        raise ValueError(f"{name} must be non-empty, got an empty {type(labels).__name__}")
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must be integer {what}, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.signedinteger):
        position = int(array.argmin())
        if array[position] < 0:
            raise ValueError(f"{name} must be non-negative {what}, got {int(array[position])} "
                             f"at position {position}")
    return array


def sum_safe_scale(count: int) -> float:
    """``2 ** -(ceil(log2(count)) + 1)``: scaled by it, ``count`` finite floats sum (and round)
    below the largest float. A power of two: exact, every ratio kept."""
    return 2.0 ** -(math.ceil(math.log2(count)) + 1)


def read_array(values: object, name: str, expected: str) -> np.ndarray:
    """``np.asarray(values)``, or a ``ValueError`` saying that ``name`` must be ``expected``."""
    try:
        return np.asarray(values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be {expected}, got {type(values).__name__} "
                         f"that cannot be read as an array ({error})") from None


def check_int(value: object, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer (not a bool) >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(value: object, name: str, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a finite ``float`` after checking it is a real number (not a bool).

    With ``low`` and/or ``high`` it must also lie in the range they bound (closed unless
    ``low_open``/``high_open``), and the error names the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    number = _to_float(value)
    if low is None and high is None:
        if not math.isfinite(number):
            raise ValueError(f"{name} must be finite, got {value}")
        return number
    lower = -math.inf if low is None else low
    upper = math.inf if high is None else high
    inside = (number > lower if low_open else number >= lower) and (number < upper if high_open else number <= upper)
    if not (math.isfinite(number) and inside):
        interval = f"{'(' if low_open else '['}{lower}, {upper}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return number


def check_weighting(weighting: object) -> Weighting:
    if isinstance(weighting, str):
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS} or a float gamma, got {weighting!r}")
        return weighting
    if isinstance(weighting, bool) or not isinstance(weighting, numbers.Real):
        raise TypeError(f"weighting must be a str in {WEIGHTINGS} or a float gamma, got "
                        f"{type(weighting).__name__} {weighting!r}")
    return check_real(weighting, "weighting gamma")
