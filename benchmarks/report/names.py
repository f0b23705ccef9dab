"""Names in the report: methods (their order, variants and base names) and settings.

A summary entry is named ``<method>`` for the default run (float32, device data path, CPU) or
``<method> [<variant>]`` otherwise (``"la [bf16, cuda]"``, :func:`benchmarks.summary.variant`).
Methods are compared only within one variant: a ``[bf16]`` run against the ``[bf16]``
baselines. Across protocols, methods are matched by (base name, variant).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from benchmarks.methods import BASELINES, METHODS

__all__ = ["ALTERNATIVES", "by_variant", "is_mmt", "is_mmt_options", "join_name", "method_order", "parse_setting",
           "split_name"]

#: The alternatives practitioners use instead of MMT, in table order after the baselines: the
#: named methods of :data:`benchmarks.methods.METHODS` that are not baselines.
ALTERNATIVES = tuple(name for name in METHODS if name not in BASELINES)


def split_name(name: str) -> tuple[str, str]:
    """``"la [bf16, cuda]"`` -> ``("la", "bf16, cuda")``; ``"la"`` -> ``("la", "")``."""
    base, bracket, rest = name.partition(" [")
    return (base, rest.removesuffix("]")) if bracket else (name, "")


def join_name(base: str, variant: str) -> str:
    """The inverse of :func:`split_name`."""
    return f"{base} [{variant}]" if variant else base


def is_mmt(name: str) -> bool:
    """``mmt``, an ``mmt-<options>`` variant or an ``mmt+<loss>`` composition (any variant)."""
    base = split_name(name)[0]
    return base == "mmt" or base.startswith(("mmt-", "mmt+"))


def is_mmt_options(name: str) -> bool:
    """An explicit ``mmt-<options>`` ablation (listed in its setting's table, not the summary)."""
    return split_name(name)[0].startswith("mmt-")


def _base_key(base: str) -> tuple[int, int, str]:
    order = (*BASELINES, *ALTERNATIVES)
    if base in order:
        return 0, order.index(base), ""
    return (1 if "+" in base else 2), 0, base


def method_order(names: Iterable[str]) -> list[str]:
    """Default variant first; within a variant the baselines, the alternatives, MMT compositions
    (``mmt+...``), then the other names (the ``mmt-<options>`` variants) alphabetically."""
    def key(name: str) -> tuple:
        base, variant = split_name(name)
        return variant != "", variant, _base_key(base)

    return sorted(names, key=key)


def by_variant(names: Iterable[str]) -> dict[str, list[str]]:
    """``{variant: [names]}`` in :func:`method_order`, the default variant (``""``) first."""
    groups: dict[str, list[str]] = {}
    for name in method_order(names):
        groups.setdefault(split_name(name)[1], []).append(name)
    return groups


_SETTING = re.compile(r"^(?P<dataset>.+?)-lt-ir(?P<ratio>[0-9.]+)-(?P<profile>[^-]+)-(?P<protocol>.+)$")


def parse_setting(setting: str) -> dict[str, Any] | None:
    """``"cifar10-lt-ir100-exp-paper"`` -> ``{"dataset": "cifar10", "ratio": 100.0, "profile": "exp",
    "protocol": "paper"}`` (:func:`benchmarks.data.setting_key` read back); ``None`` for other keys."""
    match = _SETTING.match(setting)
    if match is None:
        return None
    return {**match.groupdict(), "ratio": float(match.group("ratio"))}
