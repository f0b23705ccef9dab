"""What MMT costs: training steps per second against CE, and data loading against two loaders.

Training step: every method runs the same run (:func:`benchmarks.step.build_run`: model, optimiser,
recipe) and device-resident data path as :mod:`benchmarks.train` (gather, crop/flip, normalise,
mix, forward, backward, SGD step).
Methods are timed in interleaved blocks of steps, rotating the order every round, so load
from other processes hits them alike; the reported cost is the median over rounds of
``seconds per step (method) / seconds per step (ce)`` (1.05 = 5% more per step).

Data loading: torchvision v2 CIFAR transforms (random crop with padding, flip, to float,
normalise) per image in DataLoader workers, with

* ``mmt-sampler``: one ``DataLoader(batch_sampler=MMTBatchSampler(...))`` yielding paired
  batches of ``2b`` images, and
* ``two-loaders``: the research-code way (CMO, Balanced-MixUp): a shuffled loader and a
  ``WeightedRandomSampler`` loader (per-image weight ``n_c ** -(1 + 0.5)``, i.e. class
  probability ``∝ n_c ** -0.5`` like the library's default tail), zipped, each with its own workers;

at 0 and 2 workers per loader. Reported: images per second after the first batch, the time
to the first batch (worker start-up), and the memory of the worker processes (RSS and PSS
summed over workers, read from ``/proc`` while the loaders run).

Example::

    python -m benchmarks.cost --dataset cifar10 --ir 100
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from benchmarks.data import (
    DATASETS,
    ImageDataset,
    TensorImageDataset,
    cifar_train_transform,
    load_dataset,
    long_tailed,
    setting_key,
)
from benchmarks.environment import machine_info, resolve_device
from benchmarks.methods import CORE_METHODS, parse_method
from benchmarks.protocols import PROTOCOLS, Protocol
from benchmarks.results_io import LOCAL_RESULTS_DIR, write_json
from benchmarks.step import build_run
from benchmarks.timing import interleaved, ratio_summary

__all__ = [
    "data_loading_cost",
    "process_memory",
    "training_step_cost",
]


# -- training step -----------------------------------------------------------------------------


def _step_function(method_name: str, dataset: ImageDataset, protocol: Protocol, device: torch.device,
                   seed: int, channels_last: bool) -> Callable[[], torch.Tensor]:
    """A closure running one training step of ``method_name`` (mixing on) on endless batches."""
    run = build_run(dataset, parse_method(method_name), protocol, seed, device, channels_last=channels_last)
    mixing_epoch = min(run.recipe.active_epochs, default=0)  # time the method while it mixes
    batches = run.endless_batches(dataset.train_images.to(device), dataset.train_labels.to(device))

    def step() -> torch.Tensor:
        return run.step(*next(batches), mixing_epoch)

    return step


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_step_cost(
    dataset: ImageDataset,
    *,
    methods: tuple[str, ...] = CORE_METHODS,
    protocol: Protocol = PROTOCOLS["quick"],
    device: str = "auto",
    rounds: int = 31,
    steps_per_block: int = 10,
    warmup_steps: int = 5,
    channels_last: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Seconds per training step of each method and its cost relative to ``ce``.

    Returns:
        ``{"methods": {name: {"seconds_per_step", "steps_per_second", "relative_cost",
        "relative_cost_quartiles", "config"}}, ...}`` with medians over ``rounds``.
    """
    if "ce" not in methods:
        raise ValueError(f"methods must include 'ce' (the reference), got {methods}")
    target = resolve_device(device)
    steps = {name: _step_function(name, dataset, protocol, target, seed, channels_last) for name in methods}
    for step in steps.values():
        for _ in range(warmup_steps):
            step()
    _synchronize(target)
    # Rounds rotate the order of the methods, so load from other processes hits them alike.
    block_seconds = interleaved(steps, rounds=rounds, warmup=0, repeat=steps_per_block, rotate=True,
                                sync=lambda: _synchronize(target))
    results = {}
    for name in methods:
        relative = ratio_summary(block_seconds[name], block_seconds["ce"])
        seconds = statistics.median(block_seconds[name])
        results[name] = {
            "seconds_per_step": seconds,
            "steps_per_second": 1.0 / seconds,
            "relative_cost": relative["ratio"],
            "relative_cost_quartiles": [relative["q1"], relative["q3"]],
            "config": parse_method(name).to_dict(),
        }
    return {
        "benchmark": "training_step",
        "methods": results,
        "rounds": rounds,
        "steps_per_block": steps_per_block,
        "batch_size": protocol.batch_size,
        "architecture": protocol.architecture,
        "channels_last": channels_last,
        "path": "device",
        "machine": machine_info(target),
    }


# -- data loading ------------------------------------------------------------------------------


def process_memory(pid: int) -> dict[str, int]:
    """RSS and PSS of a process in bytes, from ``/proc/<pid>/status`` and ``smaps_rollup``."""
    memory = {"rss": 0, "pss": 0}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    memory["rss"] = int(line.split()[1]) * 1024
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    memory["pss"] = int(line.split()[1]) * 1024
    except OSError:  # not Linux, or the process is gone
        pass
    return memory


def _worker_memory(iterators) -> dict[str, int]:
    pids = [worker.pid for iterator in iterators for worker in getattr(iterator, "_workers", [])]
    total = {"processes": len(pids), "rss": 0, "pss": 0}
    for pid in pids:
        for key, value in process_memory(pid).items():
            total[key] += value
    return total


def _loaders(kind: str, train_set: TensorImageDataset, labels: np.ndarray, batch_size: int, workers: int,
             seed: int) -> list[torch.utils.data.DataLoader]:
    from mmt_augment import MMTBatchSampler

    if kind == "mmt-sampler":
        sampler = MMTBatchSampler(labels, batch_size, seed=seed, num_replicas=1, rank=0)
        return [torch.utils.data.DataLoader(train_set, batch_sampler=sampler, num_workers=workers)]
    counts = np.bincount(labels)
    # Class probability ∝ n_c ** -0.5 (the default tail weighting) is per-image weight n_c ** -1.5.
    weights = torch.as_tensor(counts[labels].astype(np.float64) ** -1.5)
    generator = torch.Generator().manual_seed(seed)
    head = torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=workers,
                                       generator=generator)
    tail = torch.utils.data.DataLoader(
        train_set, batch_size=batch_size, num_workers=workers,
        sampler=torch.utils.data.WeightedRandomSampler(weights, len(labels), replacement=True, generator=generator),
    )
    return [head, tail]


def _measure_loading(kind: str, train_set, labels, batch_size: int, workers: int, batches: int,
                     seed: int) -> dict[str, Any]:
    loaders = _loaders(kind, train_set, labels, batch_size, workers, seed)
    start = time.perf_counter()
    iterators = [iter(loader) for loader in loaders]

    def next_images() -> int:
        return sum(len(next(iterator)[0]) for iterator in iterators)

    next_images()
    first_batch = time.perf_counter() - start
    memory = None
    images = 0
    start = time.perf_counter()
    for index in range(batches):
        images += next_images()
        if index == batches // 2:
            memory = _worker_memory(iterators)
    seconds = time.perf_counter() - start
    iterators.clear()  # drops the iterators, which shuts their workers down
    return {"images_per_second": images / seconds, "first_batch_seconds": first_batch, "worker_memory": memory}


def data_loading_cost(
    dataset: ImageDataset,
    *,
    batch_size: int = 128,
    workers: tuple[int, ...] = (0, 2),
    batches: int = 40,
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Images per second and worker memory of the two ways to load paired batches.

    ``batches`` steps of ``2 * batch_size`` images each are timed after the first; each
    (way, workers) pair is measured ``repeats`` times in interleaved order and the median kept.
    """
    labels = dataset.train_labels.numpy()
    padding = dataset.image_size // 8
    train_set = TensorImageDataset(dataset.train_images, dataset.train_labels,
                                   cifar_train_transform(dataset.mean, dataset.std, padding=padding,
                                                         size=dataset.image_size))
    configurations = [(kind, count) for count in workers for kind in ("mmt-sampler", "two-loaders")]
    samples: dict[tuple[str, int], list[dict]] = {configuration: [] for configuration in configurations}
    for repeat in range(repeats):
        for kind, count in (configurations if repeat % 2 == 0 else configurations[::-1]):
            samples[(kind, count)].append(
                _measure_loading(kind, train_set, labels, batch_size, count, batches, seed + repeat))
    results = []
    for (kind, count), runs in samples.items():
        rates = [run["images_per_second"] for run in runs]
        memories = [run["worker_memory"] for run in runs if run["worker_memory"] is not None]
        results.append({
            "loader": kind,
            "workers_per_loader": count,
            "worker_processes": count * (1 if kind == "mmt-sampler" else 2),
            "images_per_second": statistics.median(rates),
            "images_per_second_runs": rates,
            "first_batch_seconds": statistics.median(run["first_batch_seconds"] for run in runs),
            "worker_rss_bytes": statistics.median(m["rss"] for m in memories) if memories else 0,
            "worker_pss_bytes": statistics.median(m["pss"] for m in memories) if memories else 0,
        })
    for row in results:
        reference = next(r for r in results if r["loader"] == "two-loaders"
                         and r["workers_per_loader"] == row["workers_per_loader"])
        row["speed_vs_two_loaders"] = row["images_per_second"] / reference["images_per_second"]
    return {
        "benchmark": "data_loading",
        "results": results,
        "batch_size": batch_size,
        "images_per_step": 2 * batch_size,
        "batches": batches,
        "repeats": repeats,
        "transform": "v2.RandomCrop(padding), RandomHorizontalFlip, ToDtype(float32, scale), Normalize",
        "machine": machine_info("cpu"),
    }


# -- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cost", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--what", choices=("all", "step", "loading"), default="all")
    parser.add_argument("--dataset", default="cifar10", choices=DATASETS)
    parser.add_argument("--npz", default=None)
    parser.add_argument("--root", default=None)
    parser.add_argument("--ir", type=float, default=100, help="imbalance ratio")
    parser.add_argument("--methods", nargs="+", default=list(CORE_METHODS), help="training-step methods")
    parser.add_argument("--protocol", default="quick", choices=sorted(PROTOCOLS), help="model and batch size")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--rounds", type=int, default=31, help="training step: interleaved rounds (9 left the IQR wider than 5%%)")
    parser.add_argument("--steps-per-block", type=int, default=10)
    parser.add_argument("--batches", type=int, default=40, help="data loading: timed batches per run")
    parser.add_argument("--repeats", type=int, default=3, help="data loading: runs per configuration")
    parser.add_argument("--out-dir", type=Path, default=LOCAL_RESULTS_DIR / "cost",
                        help="the committed results are written with --out-dir benchmarks/results/cost")
    args = parser.parse_args(argv)
    from benchmarks.render import format_data_loading, format_training_step  # the command line prints tables

    if args.threads:
        torch.set_num_threads(args.threads)
    dataset = long_tailed(load_dataset(args.dataset, npz=args.npz, root=args.root), args.ir)
    setting = setting_key(args.dataset, args.ir, "exp", args.protocol)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.what in ("all", "step"):
        result = training_step_cost(dataset, methods=tuple(args.methods), protocol=PROTOCOLS[args.protocol],
                                    device=args.device, rounds=args.rounds, steps_per_block=args.steps_per_block)
        result["setting"] = setting
        path = write_json(args.out_dir / f"training-step-{result['machine']['device'].split(':')[0]}.json", result)
        print(format_training_step(result), f"\n-> {path}\n")
    if args.what in ("all", "loading"):
        result = data_loading_cost(dataset, batch_size=PROTOCOLS[args.protocol].batch_size, batches=args.batches,
                                   repeats=args.repeats)
        result["setting"] = setting
        path = write_json(args.out_dir / "data-loading-cpu.json", result)
        print(format_data_loading(result), f"\n-> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
