"""The cost and throughput tables, from the JSON that :mod:`benchmarks.cost` and
:mod:`benchmarks.throughput` write (``cost/*.json``, ``throughput-<device>.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.report.words import describe_config
from benchmarks.results_io import RESULTS_DIR
from benchmarks.summary import read_json

__all__ = ["cost_report", "format_data_loading", "format_table", "format_training_step", "throughput_report"]


def cost_report(results_dir: Path, *, heading: str = "###") -> str:
    """Tables of the cost results under ``<results_dir>/cost/`` (empty when there are none)."""
    results_dir = Path(results_dir)
    blocks = []
    for path in sorted((results_dir / "cost").glob("training-step-*.json")):
        if (result := read_json(path)) is not None:
            blocks.append(f"{heading} Training step cost ({path.stem.removeprefix('training-step-')})\n\n"
                          + format_training_step(result))
    for path in sorted((results_dir / "cost").glob("data-loading-*.json")):
        if (result := read_json(path)) is not None:
            blocks.append(f"{heading} Data loading: one paired loader against two zipped loaders\n\n"
                          + format_data_loading(result))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


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


def throughput_report(results_dir: Path = RESULTS_DIR) -> str | None:
    """The transform throughput tables of every ``throughput-<device>.json`` (not quick runs)."""
    results = [read_json(path) for path in sorted(Path(results_dir).glob("throughput-*.json"))
               if not path.stem.endswith("-quick")]
    results = [result for result in results if result is not None]
    return "\n\n".join(format_table(result) for result in results) if results else None
