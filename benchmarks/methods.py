"""The training methods compared by the benchmarks, named by short strings.

=====================  ==========================================================================
name                   what it trains with
=====================  ==========================================================================
``ce``                 instance-uniform batches, plain cross-entropy
``mixup``, ``cutmix``  uniform batches mixed in-batch by torchvision's ``v2.MixUp``/``v2.CutMix``
``cmo``                CMO: a class-balanced batch CutMixed into the uniform batch, lam ~ Beta(1, 1),
                       p = 0.5 (``weighting="balanced"`` + ``MMTMix(mode="cutmix")``)
``mmt``                MMT with the library's defaults (read from the signatures of ``MMTMix`` and
                       ``DifferentialBatchSampler``, so the name follows the defaults)
``mmt-<options>``      MMT with options changed from the defaults, joined by ``-``: ``mixup`` or
                       ``cutmix`` (mode), ``inverse``/``reverse``/``balanced`` or ``gamma<x>``
                       (tail weighting), ``per-sample``/``per-batch``, ``p<x>`` (mixing probability),
                       ``a<x>`` (Beta alpha). E.g. ``mmt-mixup-p1``, ``mmt-cutmix-balanced``.
=====================  ==========================================================================

Example:
    >>> parse_method("mmt-mixup-p1").p
    1.0
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

__all__ = ["BASELINES", "Method", "library_defaults", "parse_method"]

BASELINES = ("ce", "mixup", "cutmix", "cmo", "mmt")


@dataclasses.dataclass(frozen=True)
class Method:
    """How a method samples and mixes batches.

    Attributes:
        name: the method's name in results (``"mmt-mixup-p1"``).
        sampler: ``"uniform"`` (one instance-uniform stream) or ``"pair"`` (a uniform head stream
            plus a differential tail stream, :class:`mmt_augment.MMTBatchSampler`).
        mixer: ``"none"``, ``"mixup"``/``"cutmix"`` (torchvision v2, in-batch) or ``"mmt"``
            (:class:`mmt_augment.MMTMix` on the head/tail pair).
        mode, alpha, p, per_sample: ``MMTMix`` arguments (``alpha`` also for torchvision's).
        weighting: the tail sampler's ``weighting`` (``"inverse"``, ``"reverse"``,
            ``"balanced"`` or a float exponent).
    """

    name: str
    sampler: str = "uniform"
    mixer: str = "none"
    mode: str | None = None
    alpha: float = 1.0
    p: float | None = None
    per_sample: bool = False
    weighting: str | float | None = None

    @property
    def mixes(self) -> bool:
        return self.mixer != "none"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def library_defaults() -> dict[str, Any]:
    """The current defaults of ``MMTMix`` (mode, alpha, p, per_sample) and the tail weighting."""
    from mmt_augment import DifferentialBatchSampler, MMTMix

    mix = inspect.signature(MMTMix.__init__).parameters
    tail = inspect.signature(DifferentialBatchSampler.__init__).parameters
    return {
        "mode": mix["mode"].default,
        "alpha": float(mix["alpha"].default),
        "p": float(mix["p"].default),
        "per_sample": bool(mix["per_sample"].default),
        "weighting": tail["weighting"].default,
    }


def _number(token: str, prefix: str, name: str) -> float:
    try:
        return float(token[len(prefix):])
    except ValueError:
        raise ValueError(f"method option {token!r}: expected {prefix}<number> for {name}") from None


def parse_method(name: str) -> Method:
    """Turn a method name (see the module docstring) into a :class:`Method`.

    Raises:
        ValueError: for an unknown name or option.
    """
    if name == "ce":
        return Method(name)
    if name in ("mixup", "cutmix"):
        return Method(name, mixer=name, alpha=1.0)
    if name == "cmo":
        return Method(name, sampler="pair", mixer="mmt", mode="cutmix", alpha=1.0, p=0.5, weighting="balanced")
    if name != "mmt" and not name.startswith("mmt-"):
        raise ValueError(f"method must be one of {BASELINES} or 'mmt-<options>', got {name!r}")
    options = library_defaults()
    # "per-sample" is one option that contains the separator.
    tokens = [t for t in name[len("mmt"):].replace("per-sample", "per_sample").replace("per-batch", "per_batch")
              .split("-") if t]
    for token in tokens:
        if token in ("mixup", "cutmix"):
            options["mode"] = token
        elif token in ("inverse", "reverse", "balanced"):
            options["weighting"] = token
        elif token.startswith("gamma"):
            options["weighting"] = _number(token, "gamma", "the weighting exponent")
        elif token == "per_sample":
            options["per_sample"] = True
        elif token == "per_batch":
            options["per_sample"] = False
        elif token.startswith("p"):
            options["p"] = _number(token, "p", "the mixing probability")
        elif token.startswith("a"):
            options["alpha"] = _number(token, "a", "alpha")
        else:
            raise ValueError(f"unknown option {token!r} in method {name!r}; see benchmarks.methods")
    return Method(name, sampler="pair", mixer="mmt", **options)
