"""Render the accuracy results: Markdown tables, PNG plots and the README's results section.

Everything is computed from the files under ``benchmarks/results/`` (``summary.json``, which
this updates first, and the per-run files for per-class accuracy and machine details);
nothing is typed in by hand.

* ``results.md``: per setting, a table of mean ± std over seeds (top-1, many/medium/few-shot,
  minutes per run) and the gains of ``mmt`` over ``ce`` and ``cmo``.
* ``plots/<setting>-per-class.png``: per-class test accuracy against the class's training
  count, one line per method (mean over seeds).
* ``plots/<setting>-sampler.png``: the class distribution the head (uniform) and tail
  (differential, per ``weighting``) halves of :class:`mmt_augment.MMTBatchSampler` draw in one
  epoch of the setting's training labels.
* the cost tables from ``cost/*.json`` (:mod:`benchmarks.cost`), when present;
* ``--readme README.md`` replaces the text between ``<!-- results:start -->`` and
  ``<!-- results:end -->`` with the tables and plot links.

Example::

    python -m benchmarks.render --readme README.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.methods import BASELINES, Method
from benchmarks.results_io import RESULTS_DIR
from benchmarks.summary import METRICS, load_runs, update_summary

__all__ = [
    "README_END",
    "README_START",
    "ALTERNATIVES",
    "best_alternative",
    "cost_report",
    "describe_config",
    "difference",
    "markdown_report",
    "markdown_table",
    "mean_std",
    "plot_per_class",
    "plot_sampler",
    "plot_top1_vs_ratio",
    "recommended_recipe",
    "render",
    "replace_readme_section",
    "sampler_distribution",
    "throughput_report",
]

#: Methods drawn in the per-class plots (plus the recommended recipe): more lines cannot be read.
PER_CLASS_METHODS = ("ce", "cmo", "la", "drw", "mmt")

README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


def _values(values: list[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None]


def mean_std(values: list[float | None]) -> tuple[float, float] | None:
    """Mean and sample standard deviation (0 for one value); ``None`` when there are no values."""
    values = _values(values)
    if not values:
        return None
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _format(stats: tuple[float, float] | None, count: int) -> str:
    if stats is None:
        return "—"
    return f"{stats[0]:.2f} ± {stats[1]:.2f}" if count > 1 else f"{stats[0]:.2f}"


def difference(
    entry: dict[str, list], baseline: dict[str, list], metric: str = "top1"
) -> tuple[float, float | None] | None:
    """Difference of means ``entry - baseline`` and its standard error ``sqrt(s1²/n1 + s2²/n2)``.

    The standard error is ``None`` unless both sides have at least two seeds; the whole result
    is ``None`` when either side has no values.
    """
    first, second = _values(entry[metric]), _values(baseline[metric])
    if not first or not second:
        return None
    if min(len(first), len(second)) < 2:
        return float(np.mean(first) - np.mean(second)), None
    spread = math.sqrt(sum(np.var(values, ddof=1) / len(values) for values in (first, second)))
    return float(np.mean(first) - np.mean(second)), spread


#: The margin (top-1 points) by which the recommended recipe should beat the best method without MMT.
TARGET_MARGIN = 2.0

#: The alternatives practitioners use instead of MMT, in table order after the baselines.
ALTERNATIVES = ("rs", "sqrt", "drw", "la", "remix", "cmo-window")


def _is_mmt(method: str) -> bool:
    return method == "mmt" or method.startswith(("mmt-", "mmt+"))


def _method_order_key(method: str) -> tuple[int, str]:
    order = (*BASELINES, *ALTERNATIVES)
    return (order.index(method), "") if method in order else (len(order) + ("+" not in method), method)


def _method_order(methods) -> list[str]:
    """Baselines, the alternatives, MMT compositions (``mmt+...``), then the MMT variants."""
    first = [m for m in (*BASELINES, *ALTERNATIVES) if m in methods]
    compositions = sorted(m for m in methods if "+" in m and m not in first)
    return first + compositions + sorted(m for m in methods if m not in first and m not in compositions)


def recommended_recipe(results_dir: Path = RESULTS_DIR) -> dict[str, Any] | None:
    """The recipe the README recommends (``recommendation.json``), chosen from seed 0 only."""
    path = Path(results_dir) / "recommendation.json"
    return json.loads(path.read_text()) if path.is_file() else None


def best_alternative(methods: dict[str, dict[str, list]]) -> str | None:
    """The non-MMT method with the highest mean top-1 (CMO and the baselines count)."""
    candidates = {m: np.mean(_values(e["top1"])) for m, e in methods.items() if not _is_mmt(m) and _values(e["top1"])}
    return max(candidates, key=candidates.get) if candidates else None


def _gain(methods: dict[str, dict[str, list]], method: str, baseline: str) -> str | None:
    gain = difference(methods[method], methods[baseline])
    if gain is None:
        return None
    seeds = f"{len(methods[method]['top1'])} vs {len(methods[baseline]['top1'])} seeds"
    spread = f" ± {gain[1]:.2f}" if gain[1] is not None else " (no spread: fewer than 2 seeds on a side)"
    return f"{method} − {baseline}: {gain[0]:+.2f}{spread} ({seeds})"


def markdown_table(methods: dict[str, dict[str, list]], *, recommended: str | None = None) -> str:
    """The Markdown table for one setting's ``{method: entry}`` (see :mod:`benchmarks.summary`).

    Below it: MMT against CE and CMO and, when ``recommended`` names a method present here, the
    recommended recipe against the best non-MMT method (difference of means ± its standard error).
    """
    lines = ["| method | seeds | top-1 | many | medium | few | wall minutes / run |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for method in _method_order(methods):
        entry = methods[method]
        seeds = len(entry["top1"])
        cells = [_format(mean_std(entry[metric]), seeds) for metric in METRICS]
        minutes = mean_std([s / 60 for s in entry["seconds"]])
        lines.append(f"| {method} | {seeds} | " + " | ".join(cells) + f" | {minutes[0]:.1f} |")
    pairs = [("mmt", baseline) for baseline in ("ce", "cmo")]
    alternative = best_alternative(methods)
    if alternative is not None:
        pairs.append(("mmt", alternative))
        if recommended is not None and recommended != "mmt":
            pairs.append((recommended, alternative))
    gains = []
    for method, baseline in dict.fromkeys(pairs):
        if method in methods and baseline in methods:
            gain = _gain(methods, method, baseline)
            if gain is not None:
                gains.append(gain)
    if gains:
        lines += ["", "Top-1 differences (difference of means ± its standard error): " + "; ".join(gains) + "."]
    if recommended in methods and alternative is not None:
        gain = difference(methods[recommended], methods[alternative])
        if gain is not None:
            met = "met" if gain[0] - (gain[1] or 0.0) >= TARGET_MARGIN else (
                "not met" if gain[0] + (gain[1] or 0.0) < TARGET_MARGIN else "not settled by this spread")
            lines += ["", f"Target: the recommended recipe `{recommended}` at least {TARGET_MARGIN:g} points above the "
                          f"best method without MMT (`{alternative}`): {met} ({gain[0]:+.2f})."]
    return "\n".join(lines)


def describe_config(config: dict[str, Any]) -> str:
    """A method config (:meth:`benchmarks.methods.Method.to_dict`) in words."""
    weighting = config.get("weighting")
    weighting = weighting if isinstance(weighting, str) or weighting is None else f"n_c^-{weighting:g}"
    if config["mixer"] == "none":
        words = "no mixing"
    elif config["mixer"] == "remix":
        words = f"in-batch mixup (a permuted copy as the tail), alpha {config['alpha']:g}, Remix labels"
    elif config["mixer"] != "mmt":
        words = f"torchvision {config['mixer']}, in-batch, alpha {config['alpha']:g}"
    else:
        words = (f"{config['mode']}, alpha {config['alpha']:g}, p {config['p']:g}, "
                 f"{'per-sample' if config['per_sample'] else 'per-batch'}, tail weighting {weighting}")
    if config.get("sampler") == "resample":
        words += f"; batches re-sampled with class weighting {weighting}"
    loss = config.get("loss", "ce")
    if loss != "ce":
        prior = "the training set's" if config.get("prior") == "train" else "the trained targets'"
        words += f"; {'logit-adjusted CE' if loss == 'la' else 'deferred re-weighting'} with {prior} class prior"
    if config.get("mix_epochs"):
        words += f"; mixing epochs {config['mix_epochs']}"
    return words


_METHOD_DEFAULTS = {field.name: field.default for field in dataclasses.fields(Method) if field.name != "name"}


def _named_configs(runs: list[dict[str, Any]]) -> str:
    """What each named method (not an explicit ``mmt-<options>`` variant) meant in these runs."""
    lines = []
    names = sorted({run["method"] for run in runs if not run["method"].startswith("mmt-")}, key=_method_order_key)
    for name in names:
        # Files written before a Method field existed lack it: fill today's default, so one
        # meaning is not listed twice.
        configs = {json.dumps({**_METHOD_DEFAULTS, **run["method_config"]}, sort_keys=True)
                   for run in runs if run["method"] == name}
        for config in sorted(configs):
            lines.append(f"`{name}`: {describe_config(json.loads(config))}.")
    return " ".join(lines)


def _machine_line(runs: list[dict[str, Any]]) -> str:
    machines = {(r["machine"]["device_name"], r["machine"]["device"], r["machine"]["versions"]["torch"]) for r in runs}
    return "Measured on " + "; ".join(f"{name} ({device}), torch {torch}" for name, device, torch in sorted(machines))


def _describe_setting(runs: list[dict[str, Any]]) -> str:
    run = runs[0]
    protocol = run["protocol"]
    dataset = run["dataset"]
    return (f"{dataset['name']} ({dataset['source']}), {sum(dataset['train_counts'])} training images "
            f"(imbalance ratio {dataset['imbalance_ratio']:g}, {dataset['profile']} profile), "
            f"{sum(dataset['test_counts'])} test images; {protocol['architecture']}, {protocol['epochs']} epochs, "
            f"batch {protocol['batch_size']}, SGD lr {protocol['lr']:g} ({protocol['schedule']}), "
            f"weight decay {protocol['weight_decay']:g}, mixing epochs: {protocol['mix_epochs']}.")


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
        by_method[run["method"]].append(run["metrics"]["per_class"])
    counts = np.asarray(runs[0]["dataset"]["train_counts"])
    order = np.argsort(-counts, kind="stable")
    figure, axes = plt.subplots(figsize=(9, 4.2))
    for method in _method_order(by_method):
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


def sampler_distribution(train_counts: list[int], weighting: str | float, *, batch_size: int = 128,
                         seed: int = 0, min_draws: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    """Class shares of the head and tail halves of :class:`mmt_augment.MMTBatchSampler`.

    Runs whole epochs (``set_epoch`` 0, 1, ...) until at least ``min_draws`` tail indices are
    drawn, so the shares are close to the sampler's probabilities even for small datasets.
    """
    from mmt_augment import MMTBatchSampler

    labels = np.repeat(np.arange(len(train_counts)), train_counts)
    sampler = MMTBatchSampler(labels, batch_size, weighting=weighting, seed=seed, num_replicas=1, rank=0)
    head, tail = np.zeros(len(train_counts)), np.zeros(len(train_counts))
    for epoch in range(max(1, math.ceil(min_draws / len(labels)))):
        sampler.set_epoch(epoch)
        for indices in sampler:
            half = len(indices) // 2
            head += np.bincount(labels[indices[:half]], minlength=len(train_counts))
            tail += np.bincount(labels[indices[half:]], minlength=len(train_counts))
    return head / head.sum(), tail / tail.sum()


def plot_top1_vs_ratio(summary: dict, path: Path, *, methods: tuple[str, ...], family: str) -> Path | None:
    """Top-1 against imbalance ratio, one line per method (mean ± std over seeds).

    ``family`` is a setting key with the ratio replaced by ``{ir}`` (e.g.
    ``"cifar10-lt-ir{ir}-exp-quick"``); settings of that family with at least two ratios are drawn.
    """
    import re

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
        means = [np.mean(_values(values)) for _, values in points]
        spreads = [np.std(_values(values), ddof=1) if len(_values(values)) > 1 else 0.0 for _, values in points]
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


def plot_sampler(train_counts: list[int], path: Path, *, title: str = "",
                 weightings: tuple[str | float, ...] | None = None) -> Path:
    """Bar chart of the head share and each weighting's tail share per class.

    ``weightings`` defaults to inverse, reverse, balanced and the library's default weighting.
    """
    if weightings is None:
        from benchmarks.methods import library_defaults

        weightings = ("inverse", "reverse", "balanced")
        if library_defaults()["weighting"] not in weightings:
            weightings += (library_defaults()["weighting"],)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    classes = np.arange(len(train_counts))
    shares = {}
    for weighting in weightings:
        name = weighting if isinstance(weighting, str) else f"gamma {weighting:g}"
        head, shares[f"tail: {name}"] = sampler_distribution(train_counts, weighting)
    shares = {"head: uniform": head, **shares}
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


def markdown_report(summary: dict, runs: list[dict[str, Any]], *, settings: list[str] | None = None,
                    plots: dict[str, list[Path]] | None = None, link_base: Path | None = None,
                    heading: str = "###", recommended: dict[str, Any] | None = None) -> str:
    """Tables (and plot links) for ``settings`` (default: all in ``summary``)."""
    runs_by_setting = defaultdict(list)
    for run in runs:
        runs_by_setting[run["setting"]].append(run)
    blocks = []
    for setting in settings or list(summary):
        if setting not in summary:
            raise ValueError(f"setting {setting!r} is not in summary.json (have: {sorted(summary)})")
        block = [f"{heading} {setting}", ""]
        if runs_by_setting[setting]:
            block += [_describe_setting(runs_by_setting[setting]) + " " + _machine_line(runs_by_setting[setting])
                      + ".", ""]
        recipe = recommended_recipe() if recommended is None else recommended
        chosen = recipe["recommended"] if recipe and recipe.get("setting") == setting else None
        block.append(markdown_table(summary[setting], recommended=chosen))
        if chosen is not None and chosen in summary[setting]:
            block += ["", f"Recommended recipe: `{chosen}`, chosen from {recipe['chosen_from']} "
                          f"(rule: {recipe['rule']})."]
        named = _named_configs(runs_by_setting[setting])
        if named:
            block += ["", named]
        for plot in (plots or {}).get(setting, []):
            link = os.path.relpath(plot, link_base) if link_base is not None else str(plot)
            block += ["", f"![{plot.stem}]({Path(link).as_posix()})"]
        blocks.append("\n".join(block))
    return "\n\n".join(blocks) + "\n"


def cost_report(results_dir: Path, *, heading: str = "###") -> str:
    """Tables of the cost results under ``<results_dir>/cost/`` (empty when there are none)."""
    blocks = []
    for path in sorted((results_dir / "cost").glob("training-step-*.json")):
        blocks.append(f"{heading} Training step cost ({path.stem.removeprefix('training-step-')})\n\n"
                      + format_training_step(json.loads(path.read_text())))
    for path in sorted((results_dir / "cost").glob("data-loading-*.json")):
        blocks.append(f"{heading} Data loading: one paired loader against two zipped loaders\n\n"
                      + format_data_loading(json.loads(path.read_text())))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


# -- tables of the measuring modules' JSON -----------------------------------------------------


def format_training_step(result: dict[str, Any]) -> str:
    """Markdown table of a :func:`benchmarks.cost.training_step_cost` result."""
    lines = ["| method | configuration | steps / s | ms / step | cost vs ce (median, IQR) |",
             "| --- | --- | ---: | ---: | ---: |"]
    for name, row in result["methods"].items():
        low, high = row["relative_cost_quartiles"]
        lines.append(f"| {name} | {describe_config(row['config'])} | {row['steps_per_second']:.2f} | "
                     f"{1000 * row['seconds_per_step']:.1f} | {row['relative_cost']:.3f} ({low:.3f}–{high:.3f}) |")
    machine = result["machine"]
    lines += ["", f"{result['architecture']}, batch {result['batch_size']}, device-resident path, "
              f"{result['rounds']} interleaved rounds of {result['steps_per_block']} steps; "
              f"{machine['device_name']} ({machine['device']}), {machine['torch_threads']} threads, "
              f"torch {machine['versions']['torch']}."]
    return "\n".join(lines)


def format_data_loading(result: dict[str, Any]) -> str:
    """Markdown table of a :func:`benchmarks.cost.data_loading_cost` result."""
    lines = ["| loader | workers / loader | worker processes | images / s | vs two loaders | first batch (s) | "
             "worker RSS (MiB) | worker PSS (MiB) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in result["results"]:
        lines.append(f"| {row['loader']} | {row['workers_per_loader']} | {row['worker_processes']} | "
                     f"{row['images_per_second']:.0f} | {row['speed_vs_two_loaders']:.2f}x | "
                     f"{row['first_batch_seconds']:.2f} | {row['worker_rss_bytes'] / 2**20:.0f} | "
                     f"{row['worker_pss_bytes'] / 2**20:.0f} |")
    machine = result["machine"]
    lines += ["", f"Paired batches of {result['images_per_step']} images, torchvision v2 CIFAR transforms, "
              f"median of {result['repeats']} runs of {result['batches']} batches; {machine['cpu']}, "
              f"torch {machine['versions']['torch']}."]
    return "\n".join(lines)


def format_table(results: dict) -> str:
    """Render a throughput results dict (:func:`benchmarks.throughput.run` or its JSON file) as Markdown."""
    machine = results["machine"]
    versions = machine["versions"]
    lines = [
        f"Device: {machine['device_name']} ({machine['device']}), {machine['torch_threads']} torch threads; "
        f"torch {versions.get('torch')}, torchvision {versions.get('torchvision')}, kornia {versions.get('kornia')}, "
        f"timm {versions.get('timm')}. Median ms per call (p=1, {results['num_classes']} classes).",
        "",
    ]
    size_names = list(results["sizes"])
    names: list[str] = []
    for size_name in size_names:
        names += [name for name in results["sizes"][size_name]["timings"] if name not in names]
    # Sizes timed several calls per round also show the median of the rounds' first calls.
    first_call_sizes = [size for size in size_names
                        if any("first_call_median_ms" in timing for timing in results["sizes"][size]["timings"].values())]
    columns = [f"{size} {tuple(results['sizes'][size]['shape'])}" for size in size_names]
    columns += [f"{size}, first call of a round" for size in first_call_sizes]
    lines += ["| candidate | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name in names:
        cells = []
        for size_name in size_names:
            timing = results["sizes"][size_name]["timings"].get(name)
            cells.append(f"{timing['median_ms']:.3f}" if timing else "—")
        for size_name in first_call_sizes:
            timing = results["sizes"][size_name]["timings"].get(name) or {}
            cells.append(f"{timing['first_call_median_ms']:.3f}" if "first_call_median_ms" in timing else "—")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if results["ratios"]:
        lines += ["", "| target | size | speed-up (IQR) | required | met |", "|---|---|---|---|---|"]
        for ratio in results["ratios"]:
            target = ratio["target"]
            if target is None:
                required = "report"
            elif target >= 1:
                required = f">= {target:.2f}x"
            else:
                required = f">= {target:.2f}x (within {1 / target:.1f}x)"
            spread = f" ({ratio['q1']:.2f}-{ratio['q3']:.2f})" if "q1" in ratio else ""
            met = ratio["met"] if isinstance(ratio["met"], str) else ("yes" if ratio["met"] else "no")
            lines.append(f"| {ratio['what']} | {ratio['size']} | {ratio['speedup']:.2f}x{spread} | {required} | {met} |")
    return "\n".join(lines)


def _write_text(path: Path, text: str) -> None:
    """Write ``path`` atomically (a temporary file, then a rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def replace_readme_section(readme: Path, content: str, *, section: str = "results") -> None:
    """Replace the text between ``<!-- <section>:start -->`` and ``<!-- <section>:end -->``.

    The default section's markers are :data:`README_START` and :data:`README_END`.

    Raises:
        ValueError: when the markers are missing or out of order.
    """
    start_marker, end_marker = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    text = readme.read_text()
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f"{readme} needs the markers {start_marker} and {end_marker} (in that order)")
    generated = (f"{start_marker}\n<!-- generated by `python -m benchmarks.render --readme`; edit the results, "
                 f"not this text -->\n\n{content.strip()}\n\n")
    _write_text(readme, text[:start] + generated + text[end:])


def throughput_report(results_dir: Path = RESULTS_DIR) -> str | None:
    """The transform throughput tables of every ``throughput-<device>.json`` (not quick runs)."""
    paths = [path for path in sorted(results_dir.glob("throughput-*.json")) if not path.stem.endswith("-quick")]
    if not paths:
        return None
    return "\n\n".join(format_table(json.loads(path.read_text())) for path in paths)


def render(results_dir: Path = RESULTS_DIR, *, settings: list[str] | None = None, make_plots: bool = True,
           readme: Path | None = None) -> str:
    """Update ``summary.json``, write ``results.md`` and the plots, and optionally the README."""
    summary = update_summary(results_dir)
    runs = load_runs(results_dir)
    settings = settings or list(summary)
    plots: dict[str, list[Path]] = defaultdict(list)
    if make_plots:
        for setting in settings:
            setting_runs = [run for run in runs if run["setting"] == setting]
            if not setting_runs:
                continue
            # One line per named method (ce, mixup, cutmix, cmo, mmt): with every variant too,
            # fifteen lines share ten colours and the plot cannot be read.
            recipe = recommended_recipe(results_dir)
            shown = set(PER_CLASS_METHODS) | ({recipe["recommended"]} if recipe else set())
            named = [run for run in setting_runs if run["method"] in shown] or setting_runs
            plots[setting].append(plot_per_class(named, results_dir / "plots" / f"{setting}-per-class.png"))
            plots[setting].append(plot_sampler(setting_runs[0]["dataset"]["train_counts"],
                                               results_dir / "plots" / f"{setting}-sampler.png",
                                               title=f"{setting}\nMMTBatchSampler class distribution"))
        for family in sorted({re.sub(r"-ir[0-9.]+-", "-ir{ir}-", setting) for setting in settings}):
            recipe = recommended_recipe(results_dir)
            methods = ("ce", "la", "mmt") + ((recipe["recommended"],) if recipe else ())
            name = family.replace("-ir{ir}-", "-")
            plot = plot_top1_vs_ratio(summary, results_dir / "plots" / f"{name}-top1-vs-ratio.png",
                                      methods=tuple(dict.fromkeys(methods)), family=family)
            if plot is not None:
                for setting in settings:
                    if re.sub(r"-ir[0-9.]+-", "-ir{ir}-", setting) == family:
                        plots[setting].append(plot)
    report = markdown_report(summary, runs, settings=settings, plots=plots, link_base=results_dir, heading="##")
    costs = cost_report(results_dir, heading="##")
    _write_text(results_dir / "results.md", "# Benchmark results\n\n" + report + ("\n" + costs if costs else ""))
    if readme is not None:
        section = markdown_report(summary, runs, settings=settings, plots=plots, link_base=readme.resolve().parent)
        replace_readme_section(readme, section + ("\n" + cost_report(results_dir) if costs else ""))
        throughput = throughput_report(results_dir)
        if throughput is not None:
            replace_readme_section(readme, throughput, section="throughput")
    return report + ("\n" + costs if costs else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--settings", nargs="+", default=None, help="settings to render (default: all)")
    parser.add_argument("--readme", type=Path, default=None, help="rewrite this file's results section")
    parser.add_argument("--no-plots", dest="plots", action="store_false", help="tables only")
    args = parser.parse_args(argv)
    print(render(args.results_dir, settings=args.settings, make_plots=args.plots, readme=args.readme))
    return 0


if __name__ == "__main__":
    sys.exit(main())
