"""Speed of one epoch of tail indices: DifferentialBatchSampler vs WeightedRandomSampler.

PyTorch's way to draw a reweighted stream is ``WeightedRandomSampler`` with one weight per
sample (``p_c / n_c`` for a sample of class ``c``) and ``replacement=True``; a ``DataLoader``
with ``batch_size`` wraps it in a ``BatchSampler``. Both candidates here produce one epoch of
batches of Python ints from the same class distribution, which is what a ``DataLoader``
consumes:

- ``differential``: ``DifferentialBatchSampler(labels, batch_size, weighting=...)``;
- ``weighted_random_sampler``: ``BatchSampler(WeightedRandomSampler(weights, N), batch_size,
  drop_last=False)``;
- ``mmt`` (context): ``MMTBatchSampler``, head and tail halves together.

The labels are synthetic and iNaturalist-2018-sized: ``num_classes`` classes (8,142) with an
exponential profile ``n_c = max(1, int(n_max * imbalance_ratio ** (-c / (C - 1))))`` (defaults
``n_max=340``, ``imbalance_ratio=500``, so the smallest classes are clipped to 1 sample),
441,063 samples in a seeded random order. Candidates run in interleaved rounds (one epoch
each per round, a new epoch every round) so drift of the machine reaches all alike; each
reports the median. Construction (sorting the labels, building per-sample weights) is timed
separately. Also recorded: the class distribution each candidate actually drew (total
variation distance to the target) and whether ``torch.multinomial`` still refuses more than
2**24 categories.

Run ``python -m benchmarks.sampler_speed --help``. Results go to
``benchmarks/results/local/sampler_speed.json`` (``--out`` to write elsewhere); :func:`format_table` renders them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import BatchSampler, WeightedRandomSampler

from benchmarks.environment import machine_info
from benchmarks.results_io import LOCAL_RESULTS_DIR, write_json
from benchmarks.timing import interleaved
from mmt_augment import DifferentialBatchSampler, MMTBatchSampler

__all__ = ["TARGET_SPEEDUP", "format_table", "make_labels", "run"]

TARGET_SPEEDUP = 5.0  # issue 3: at least 5x faster than WeightedRandomSampler


def make_labels(num_classes: int, n_max: int, imbalance_ratio: float, seed: int) -> np.ndarray:
    """Synthetic long-tailed labels: the exponential profile above, in a seeded random order."""
    exponents = -np.arange(num_classes) / (num_classes - 1)
    counts = np.maximum(1, (n_max * imbalance_ratio**exponents).astype(np.int64))
    labels = np.repeat(np.arange(num_classes), counts)
    return np.random.default_rng(seed).permutation(labels)


def _consume(batches) -> int:
    """Iterate an epoch of batches the way a DataLoader's batch loop does; return the index count."""
    total = 0
    for batch in batches:
        total += len(batch)
    return total


def _multinomial_limit() -> dict:
    """Whether torch.multinomial still rejects more than 2**24 categories (about 64 MB of weights)."""
    try:
        torch.multinomial(torch.ones(2**24 + 1), 1)
    except RuntimeError as error:
        return {"categories": 2**24 + 1, "fails": True, "error": str(error).splitlines()[0]}
    return {"categories": 2**24 + 1, "fails": False, "error": None}


def _time_rounds(candidates: dict[str, Callable[[int], object]], repeats: int) -> dict[str, dict]:
    """Interleaved rounds (one warm-up), median per candidate; ``call(round)`` gets the round."""
    counters = {name: iter(range(repeats + 1)) for name in candidates}  # each call learns its round
    calls = {name: (lambda name=name, call=call: call(next(counters[name]))) for name, call in candidates.items()}
    times = interleaved(calls, rounds=repeats, warmup=1)
    return {name: {"median_ms": 1e3 * statistics.median(values), "min_ms": 1e3 * min(values),
                   "times_ms": [1e3 * value for value in values]} for name, values in times.items()}


def _total_variation(labels: np.ndarray, indices: np.ndarray, target: np.ndarray) -> float:
    drawn = np.bincount(labels[indices], minlength=len(target)) / len(indices)
    return 0.5 * float(np.abs(drawn - target).sum())


def run(
    *,
    num_classes: int = 8142,
    n_max: int = 340,
    imbalance_ratio: float = 500.0,
    batch_size: int = 128,
    weighting: str | float = "inverse",
    repeats: int = 7,
    seed: int = 0,
    out_path: str | Path | None = None,
) -> dict:
    """Time one epoch of each candidate, write the JSON results and return them.

    Args:
        num_classes: number of classes C.
        n_max: samples of the largest class.
        imbalance_ratio: ratio of the exponential profile (the smallest classes are clipped to 1).
        batch_size: indices per batch.
        weighting: weighting of the differential sampler (and of the per-sample weights).
        repeats: timed rounds after one warm-up round.
        seed: seed of the labels and of both samplers.
        out_path: where to write the JSON; default ``benchmarks/results/local/sampler_speed.json``.

    Returns:
        The results dict that was written, with ``"path"`` added.
    """
    labels = make_labels(num_classes, n_max, imbalance_ratio, seed)
    num_samples = len(labels)

    start = time.perf_counter()
    differential = DifferentialBatchSampler(labels, batch_size, weighting=weighting, seed=seed)
    differential_setup = time.perf_counter() - start
    class_probabilities = differential.class_probabilities.numpy()

    start = time.perf_counter()
    counts = np.bincount(labels, minlength=num_classes)
    sample_weights = torch.from_numpy(class_probabilities[labels] / counts[labels])
    generator = torch.Generator().manual_seed(seed)
    weighted = WeightedRandomSampler(sample_weights, num_samples, replacement=True, generator=generator)
    weighted_batches = BatchSampler(weighted, batch_size, drop_last=False)
    weighted_setup = time.perf_counter() - start

    mmt = MMTBatchSampler(labels, batch_size, weighting=weighting, seed=seed)

    def differential_epoch(epoch: int) -> int:
        differential.set_epoch(epoch)
        return _consume(differential)

    def mmt_epoch(epoch: int) -> int:
        mmt.set_epoch(epoch)
        return _consume(mmt)

    timings = _time_rounds(
        {
            "differential": differential_epoch,
            "weighted_random_sampler": lambda epoch: _consume(weighted_batches),
            "mmt": mmt_epoch,
        },
        repeats,
    )
    speedup = timings["weighted_random_sampler"]["median_ms"] / timings["differential"]["median_ms"]

    differential_indices = np.array([index for batch in differential for index in batch])
    weighted_indices = np.array(list(weighted))
    results = {
        "benchmark": "sampler_speed",
        "machine": machine_info("cpu"),
        "data": {
            "profile": "exponential, n_c = max(1, int(n_max * imbalance_ratio ** (-c / (C - 1)))), shuffled",
            "num_classes": num_classes,
            "num_samples": num_samples,
            "n_max": n_max,
            "n_min": int(counts.min()),
            "imbalance_ratio": imbalance_ratio,
            "seed": seed,
        },
        "batch_size": batch_size,
        "weighting": weighting,
        "indices_per_epoch": {"differential": len(differential) * batch_size, "weighted_random_sampler": num_samples},
        "repeats": repeats,
        "setup_ms": {"differential": 1e3 * differential_setup, "weighted_random_sampler": 1e3 * weighted_setup},
        "epoch_timings": timings,
        "speedup": speedup,
        "target_speedup": TARGET_SPEEDUP,
        "met": speedup >= TARGET_SPEEDUP,
        "total_variation_to_target": {
            "differential": _total_variation(labels, differential_indices, class_probabilities),
            "weighted_random_sampler": _total_variation(labels, weighted_indices, class_probabilities),
        },
        "multinomial_limit": _multinomial_limit(),
    }
    out_path = Path(out_path) if out_path is not None else LOCAL_RESULTS_DIR / "sampler_speed.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(out_path, results)
    results["path"] = str(out_path)
    return results


def format_table(results: dict) -> str:
    """Render a results dict (from :func:`run` or its JSON file) as Markdown."""
    machine, data, timings = results["machine"], results["data"], results["epoch_timings"]
    lines = [
        f"One epoch of tail batches ({data['num_samples']:,} samples, {data['num_classes']:,} classes, "
        f"batch {results['batch_size']}, weighting {results['weighting']!r}) on {machine['cpu']} "
        f"({machine['torch_threads']} torch threads), median of {results['repeats']} rounds:",
        "",
        "| sampler | epoch (ms) | setup (ms) | total variation to target |",
        "| --- | ---: | ---: | ---: |",
    ]
    names = {"differential": "DifferentialBatchSampler", "weighted_random_sampler": "WeightedRandomSampler + BatchSampler"}
    for key, name in names.items():
        lines.append(
            f"| {name} | {timings[key]['median_ms']:.1f} | {results['setup_ms'][key]:.1f} | "
            f"{results['total_variation_to_target'][key]:.4f} |"
        )
    lines.append(f"| MMTBatchSampler (head + tail) | {timings['mmt']['median_ms']:.1f} | | |")
    lines += ["", f"Speed-up: {results['speedup']:.1f}x (target {results['target_speedup']:.0f}x)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-classes", type=int, default=8142)
    parser.add_argument("--n-max", type=int, default=340)
    parser.add_argument("--imbalance-ratio", type=float, default=500.0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--weighting", default="inverse", help="inverse, reverse, balanced or a float gamma")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/local/sampler_speed.json)")
    args = parser.parse_args(argv)
    weighting: str | float = args.weighting
    try:
        weighting = float(args.weighting)
    except ValueError:
        pass
    results = run(num_classes=args.num_classes, n_max=args.n_max, imbalance_ratio=args.imbalance_ratio,
                  batch_size=args.batch_size, weighting=weighting, repeats=args.repeats, seed=args.seed,
                  out_path=args.out)
    print(format_table(results))
    print(f"wrote {results['path']}")


if __name__ == "__main__":
    main()
