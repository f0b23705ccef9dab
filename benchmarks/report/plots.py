"""The accuracy plots (PNG, 110 dpi): per-class accuracy, the sampler's class shares, top-1
against imbalance ratio, and each method on the quick protocol against the standard one.

Every plot is drawn from JSON (run files, ``summary.json``, ``sampler-distribution.json``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report.names import method_order
from benchmarks.report.stats import mean_std, values
from benchmarks.summary import entry_name

__all__ = ["matched_methods", "plot_per_class", "plot_quick_vs_standard", "plot_sampler", "plot_top1_vs_ratio"]


def _save(figure, path: Path) -> Path:
    """Lay out, write (PNG, 110 dpi) and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_per_class(runs: list[dict[str, Any]], path: Path) -> Path:
    """Per-class accuracy against training count, one line per method: the mean over seeds with
    error bars of one standard deviation (none for a single seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    by_method = defaultdict(list)
    for run in runs:
        by_method[entry_name(run)].append(run["metrics"]["per_class"])
    counts = np.asarray(runs[0]["dataset"]["train_counts"])
    order = np.argsort(-counts, kind="stable")
    figure, axes = plt.subplots(figsize=(9, 4.2))
    for method in method_order(by_method):
        accuracy = np.mean(by_method[method], axis=0)
        spread = np.std(by_method[method], axis=0, ddof=1) if len(by_method[method]) > 1 else None
        axes.errorbar(counts[order], accuracy[order], yerr=None if spread is None else spread[order],
                      marker="o", markersize=3.5, linewidth=1.4, capsize=2.5,
                      label=f"{method} (n={len(by_method[method])})")
    axes.set_xscale("log")
    axes.invert_xaxis()
    # Plain numbers on the log axis: 5000, 2000, 1000, 500, ...
    axes.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axes.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
        lambda value, _: f"{value:g}" if f"{value:g}".lstrip("0.")[:1] in ("2", "5") else ""))
    axes.set_xlabel("training images of the class (log scale)")
    axes.set_ylabel("test accuracy of the class (%)")
    axes.set_title(runs[0]["setting"], fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(figure, path)


def plot_top1_vs_ratio(summary: dict, path: Path, *, methods: tuple[str, ...], family: str) -> Path | None:
    """Top-1 against imbalance ratio, one line per method (mean ± std over seeds).

    ``family`` is a setting key with the ratio replaced by ``{ir}`` (e.g.
    ``"cifar10-lt-ir{ir}-exp-quick"``); settings of that family with at least two ratios are drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pattern = re.compile("^" + re.escape(family).replace(re.escape("{ir}"), r"(?P<ir>[0-9.]+)") + "$")
    ratios = sorted((float(m.group("ir")), setting) for setting in summary if (m := pattern.match(setting)))
    if len(ratios) < 2:
        return None
    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    for method in methods:
        points = [(ratio, summary[setting][method]["top1"]) for ratio, setting in ratios if method in summary[setting]]
        if len(points) < 2:
            continue
        xs = [ratio for ratio, _ in points]
        means = [np.mean(values(entries)) for _, entries in points]
        spreads = [np.std(values(entries), ddof=1) if len(values(entries)) > 1 else 0.0 for _, entries in points]
        axes.errorbar(xs, means, yerr=spreads, marker="o", capsize=3, linewidth=1.4,
                      label=f"{method} (seeds: {', '.join(str(len(v)) for _, v in points)})")
    axes.set_xscale("log")
    axes.set_xticks([ratio for ratio, _ in ratios], [f"{ratio:g}" for ratio, _ in ratios])
    axes.set_xlabel("imbalance ratio (log scale)")
    axes.set_ylabel("top-1 (%)")
    axes.set_title(family.replace("{ir}", "*"), fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=7)
    return _save(figure, path)


def plot_sampler(distribution: dict[str, Any], path: Path, *, title: str = "") -> Path:
    """Bar chart of the head share and each weighting's tail share per class.

    ``distribution`` is one setting's entry of ``sampler-distribution.json``
    (:mod:`benchmarks.sampler_distribution`); the head share is that of its first weighting.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    train_counts = distribution["train_counts"]
    classes = np.arange(len(train_counts))
    measured = distribution["weightings"]
    shares = {"head: uniform": np.asarray(measured[0]["head"])}
    for entry in measured:
        weighting = entry["weighting"]
        name = weighting if isinstance(weighting, str) else f"gamma {weighting:g}"
        shares[f"tail: {name}"] = np.asarray(entry["tail"])
    width = 0.8 / len(shares)
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for position, (label, share) in enumerate(shares.items()):
        axes.bar(classes + (position - (len(shares) - 1) / 2) * width, 100 * share, width=width, label=label)
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axes.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
        lambda value, _: f"{value:g}" if f"{value:g}".lstrip("0.")[:1] in ("2", "5") else ""))
    axes.set_xticks(classes, [f"{c}\n{n}" for c, n in zip(classes, train_counts)], fontsize=7)
    axes.set_xlabel("class and its training images")
    axes.set_ylabel("share of the sampled rows (%)")
    axes.set_title(title or "MMTBatchSampler class distribution", fontsize=9)
    axes.grid(True, axis="y", alpha=0.3)
    axes.legend(fontsize=7)
    return _save(figure, path)



def matched_methods(quick: dict[str, dict[str, list]], standard: dict[str, dict[str, list]]) -> list[str]:
    """The names with top-1 values in both settings' entries: the same base name and variant
    (``"la"`` matches ``"la"``, ``"la [bf16, cuda]"`` only ``"la [bf16, cuda]"``)."""
    return [name for name in method_order(quick)
            if name in standard and values(quick[name]["top1"]) and values(standard[name]["top1"])]


#: Marker shapes, shifted by one every 10 methods so that no two share colour (matplotlib's 10) and shape.
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def _beside(point: tuple[float, float, float], span: float) -> tuple[float, float]:
    """Where the label of a point ``(x, y, x_sd)`` goes when nothing is in the way: right of its error bar."""
    return point[0] + point[2] + 0.015 * span, point[1]


def _label_width(name: str, span: float) -> float:
    """About how wide (data units) a 7-point label is on the plot's 5-inch axes."""
    return max(0.16, 0.011 * len(name)) * span


def _label_positions(points: dict[str, tuple[float, float, float]], span: float) -> dict[str, tuple[float, float]]:
    """A label position (data coordinates, the text's left end) for each point ``(x, y, x_sd)``:
    right of it, or the nearest line above or below that overlaps no label placed before it (top
    to bottom); ``span`` is the axes' range."""
    height = 0.03 * span
    placed: list[tuple[float, float, float]] = []  # x, y, width

    def free(x: float, y: float, width: float) -> bool:
        return all(x + width <= other_x or other_x + other_width <= x or abs(y - other_y) >= height - 1e-9 * span
                   for other_x, other_y, other_width in placed)

    spots = {}
    for name in sorted(points, key=lambda name: (-points[name][1], points[name][0])):
        x, y = _beside(points[name], span)
        width = _label_width(name, span)
        steps = (0, *(sign * step for step in range(1, len(points) + 1) for sign in (-1, 1)))
        spots[name] = next((x, y + step * height) for step in steps if free(x, y + step * height, width))
        placed.append((*spots[name], width))
    return spots


def plot_quick_vs_standard(quick: dict[str, dict[str, list]], standard: dict[str, dict[str, list]], path: Path,
                           *, title: str = "", labels: tuple[str, str] = ("quick", "paper")) -> Path | None:
    """Each method's top-1 on the quick protocol (x) against the standard one (y), mean ± sd.

    ``quick`` and ``standard`` are two settings' summary entries; a method is drawn when both
    have it (:func:`matched_methods`). Returns ``None`` (and writes nothing) when none is in both.
    """
    matched = matched_methods(quick, standard)
    if not matched:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 5.0))
    stats = {name: (mean_std(quick[name]["top1"]), mean_std(standard[name]["top1"])) for name in matched}
    points = [value for (x, _), (y, _) in stats.values() for value in (x, y)]
    low, high = min(points) - 2, max(points) + 2
    spots = _label_positions({name: (x, y, x_sd) for name, ((x, x_sd), (y, _)) in stats.items()}, high - low)
    for index, (name, ((x, x_sd), (y, y_sd))) in enumerate(stats.items()):
        axes.errorbar(x, y, xerr=x_sd, yerr=y_sd, marker=_MARKERS[(index + index // 10) % len(_MARKERS)], capsize=2.5,
                      linestyle="none",
                      label=f"{name} (seeds: {len(values(quick[name]['top1']))}, {len(values(standard[name]['top1']))})")
        axes.annotate(name, (x, y), xytext=spots[name], fontsize=7, va="center",
                      arrowprops={"arrowstyle": "-", "color": "grey", "linewidth": 0.5}
                      if spots[name] != _beside((x, y, x_sd), high - low) else None)
    axes.plot([low, high], [low, high], color="grey", linewidth=0.8, linestyle="--", label="same top-1")
    axes.set_xlim(low, high)
    axes.set_ylim(low, high)
    axes.set_xlabel(f"top-1 (%), {labels[0]} protocol")
    axes.set_ylabel(f"top-1 (%), {labels[1]} protocol")
    axes.set_title(title, fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(figure, path)
