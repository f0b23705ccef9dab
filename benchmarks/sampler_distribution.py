"""``benchmarks/results/sampler-distribution.json``: the class shares MMTBatchSampler draws.

For each setting, the shares of each class among the rows of the head (uniform) and tail
(differential) halves of :class:`mmt_augment.MMTBatchSampler`, counted over whole epochs of the
setting's training labels, for the weightings ``inverse``, ``reverse``, ``balanced`` and the
library's default. :mod:`benchmarks.render` draws ``plots/<setting>-sampler.png`` from this
file; it measures nothing itself. The file is an object keyed by setting::

    {"cifar10-lt-ir100-exp-quick": {
        "train_counts": [5000, ...], "batch_size": 128, "seed": 0, "min_draws": 50000,
        "weightings": [{"weighting": "inverse", "epochs": 5, "head": [...], "tail": [...]}, ...],
        "versions": {...}, "git": "...", "written_at": "..."}}

A setting's training counts are read from its run files (``runs/<setting>/*.json``), so only
settings with runs are measured; the shares depend only on the counts, the batch size and the
seed, so a setting without an entry may use another's with the same counts and batch size
(:func:`find_distribution`).

Example::

    python -m benchmarks.sampler_distribution --results-dir benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.results_io import RESULTS_DIR, write_json

__all__ = ["FILE_NAME", "find_distribution", "measure", "update_distributions"]

FILE_NAME = "sampler-distribution.json"


def _weightings() -> tuple[str | float, ...]:
    from benchmarks.methods import library_defaults

    weightings: tuple[str | float, ...] = ("inverse", "reverse", "balanced")
    default = library_defaults()["weighting"]
    return weightings if default in weightings else (*weightings, default)


def measure(train_counts: list[int], weighting: str | float, *, batch_size: int = 128, seed: int = 0,
            min_draws: int = 50_000) -> dict[str, Any]:
    """Class shares of the head and tail halves of :class:`mmt_augment.MMTBatchSampler`.

    Runs whole epochs (``set_epoch`` 0, 1, ...) until at least ``min_draws`` tail indices are
    drawn, so the shares are close to the sampler's probabilities even for small datasets.

    Returns:
        ``{"weighting", "epochs", "head", "tail"}``: the shares are lists of C floats summing to 1.
    """
    from mmt_augment import MMTBatchSampler

    labels = np.repeat(np.arange(len(train_counts)), train_counts)
    sampler = MMTBatchSampler(labels, batch_size, weighting=weighting, seed=seed, num_replicas=1, rank=0)
    head, tail = np.zeros(len(train_counts)), np.zeros(len(train_counts))
    epochs = max(1, math.ceil(min_draws / len(labels)))
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for indices in sampler:
            half = len(indices) // 2
            head += np.bincount(labels[indices[:half]], minlength=len(train_counts))
            tail += np.bincount(labels[indices[half:]], minlength=len(train_counts))
    return {"weighting": weighting, "epochs": epochs, "head": (head / head.sum()).tolist(),
            "tail": (tail / tail.sum()).tolist()}


def _setting_data(results_dir: Path) -> dict[str, tuple[list[int], int]]:
    """``{setting: (train_counts, batch_size)}`` from the first readable run file of each setting."""
    from benchmarks.summary import load_runs

    data: dict[str, tuple[list[int], int]] = {}
    for run in load_runs(results_dir, include_loader=True):
        data.setdefault(run["setting"], (run["dataset"]["train_counts"], run["protocol"]["batch_size"]))
    return data


def update_distributions(results_dir: str | Path = RESULTS_DIR, *, settings: list[str] | None = None,
                         seed: int = 0, min_draws: int = 50_000) -> dict[str, Any]:
    """Measure ``settings`` (default: every setting with run files), write them into
    ``<results_dir>/sampler-distribution.json`` (other settings' entries are kept) and return the file.

    Raises:
        ValueError: for a named setting that has no run files to take its counts from.
    """
    from benchmarks.environment import git_revision, machine_info
    from benchmarks.summary import read_json

    results_dir = Path(results_dir)
    path = results_dir / FILE_NAME
    existing = read_json(path) if path.is_file() else {}
    distributions = existing if isinstance(existing, dict) else {}
    data = _setting_data(results_dir)
    missing = sorted(set(settings or ()) - set(data))
    if missing:
        raise ValueError(f"no run files for {missing} under {results_dir / 'runs'}; have {sorted(data)}")
    versions = machine_info("cpu")["versions"]
    for setting in settings or sorted(data):
        train_counts, batch_size = data[setting]
        distributions[setting] = {
            "train_counts": list(train_counts),
            "batch_size": batch_size,
            "seed": seed,
            "min_draws": min_draws,
            "weightings": [measure(train_counts, weighting, batch_size=batch_size, seed=seed, min_draws=min_draws)
                           for weighting in _weightings()],
            "versions": versions,
            "git": git_revision(),
            "written_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
    distributions = dict(sorted(distributions.items()))
    write_json(path, distributions)
    return distributions


def find_distribution(distributions: dict[str, Any], setting: str, train_counts: list[int],
                      batch_size: int) -> dict[str, Any] | None:
    """The entry for ``setting`` if it was measured on these counts and batch size, else any entry
    that was (the shares depend on nothing else), else ``None``."""
    def matches(entry: Any) -> bool:
        return (isinstance(entry, dict) and entry.get("train_counts") == list(train_counts)
                and entry.get("batch_size") == batch_size)

    if matches(distributions.get(setting)):
        return distributions[setting]
    return next((entry for _, entry in sorted(distributions.items()) if matches(entry)), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sampler_distribution",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--settings", nargs="+", default=None, help="settings to measure (default: all with runs)")
    args = parser.parse_args(argv)
    try:
        written = update_distributions(args.results_dir, settings=args.settings)
    except ValueError as error:
        parser.error(str(error))
    print(f"{args.results_dir / FILE_NAME}: " + ", ".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
