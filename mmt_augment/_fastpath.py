"""Whether the CPU forms of the mode table may run: one predicate, and the torch internals it reads.

Autograd, ``torch.compile`` and ``torch.func`` cannot follow the CPU forms of
:mod:`mmt_augment.modes` (pixels selected on their bits, rows written in place, parameters as
Python numbers), so they run only where :func:`on_host` holds. This module is the only place that
reads torch's private functorch and forward-AD state.
"""

from __future__ import annotations

import torch

__all__ = ["BITWISE_MAX_BYTES", "is_compiling", "on_host"]

# Bound once: the predicate runs on every call.
_is_functorch_wrapped = torch._C._functorch.is_functorch_wrapped_tensor
_functorch_interpreter = torch._C._functorch.peek_interpreter_stack
_forward_ad = torch.autograd.forward_ad

#: Largest batch (bytes) for which CutMix's CPU form (three passes on bits) beats ``torch.where``
#: (one pass): while the batch stays in the caches (crossover measured on a 2-core EPYC: 6-12 MB).
BITWISE_MAX_BYTES = 8 * 2**20


def is_compiling() -> bool:
    """Whether ``torch.compile`` is tracing the caller."""
    return torch.compiler.is_compiling()


def _has_tangent(tensor: torch.Tensor) -> bool:
    # Dual tensors (forward-mode AD) exist only inside a dual level (-1: none open).
    return getattr(_forward_ad, "_current_level", 0) >= 0 and _forward_ad.unpack_dual(tensor).tangent is not None


def on_host(*tensors: torch.Tensor) -> bool:
    """Whether the CPU forms may read, reinterpret and write these tensors: every one is a plain
    CPU tensor, in eager mode, outside any ``torch.func`` transform or forward-mode AD, and
    autograd does not record ops on it."""
    if is_compiling() or _functorch_interpreter() is not None:
        return False
    recording = torch.is_grad_enabled()
    for tensor in tensors:
        if not tensor.is_cpu or (recording and tensor.requires_grad) or _is_functorch_wrapped(tensor):
            return False
        if _has_tangent(tensor):
            return False
    return True
