"""Statistics over seeds: mean ± sample standard deviation, and differences of means."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["difference", "format_cell", "format_stats", "mean_std", "values"]


def values(entries: list[float | None]) -> list[float]:
    """The numbers among ``entries`` (``None`` marks an empty shot group or an unknown time)."""
    return [float(v) for v in entries if v is not None]


def mean_std(entries: list[float | None]) -> tuple[float, float] | None:
    """Mean and sample standard deviation (0 for one value); ``None`` when there are no values."""
    numbers = values(entries)
    if not numbers:
        return None
    return float(np.mean(numbers)), float(np.std(numbers, ddof=1)) if len(numbers) > 1 else 0.0


def format_stats(stats: tuple[float, float] | None, count: int) -> str:
    """``"64.20 ± 0.69"`` (``"62.01"`` for one seed, ``"—"`` for none)."""
    if stats is None:
        return "—"
    return f"{stats[0]:.2f} ± {stats[1]:.2f}" if count > 1 else f"{stats[0]:.2f}"


def format_cell(entries: list[float | None]) -> str:
    """``"64.20 ± 0.69 (3)"``: mean ± sd and the number of seeds (``"—"`` for none)."""
    count = len(values(entries))
    return "—" if not count else f"{format_stats(mean_std(entries), count)} ({count})"


def difference(
    entry: dict[str, list], baseline: dict[str, list], metric: str = "top1"
) -> tuple[float, float | None] | None:
    """Difference of means ``entry - baseline`` and its standard error ``sqrt(s1²/n1 + s2²/n2)``.

    The standard error is ``None`` unless both sides have at least two seeds; the whole result
    is ``None`` when either side has no values.
    """
    first, second = values(entry[metric]), values(baseline[metric])
    if not first or not second:
        return None
    if min(len(first), len(second)) < 2:
        return float(np.mean(first) - np.mean(second)), None
    spread = math.sqrt(sum(np.var(side, ddof=1) / len(side) for side in (first, second)))
    return float(np.mean(first) - np.mean(second)), spread
