"""The result file of a run: metrics, many/medium/few-shot accuracy, timing, configuration, machine.

:func:`build_result` assembles the dict that :func:`benchmarks.loop.train` writes as
``<results>/runs/<setting>/<name>.json`` (schema 1, read by :mod:`benchmarks.summary` and
:mod:`benchmarks.render`).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from benchmarks.data import ImageDataset
from benchmarks.environment import machine_info
from benchmarks.methods import Method
from benchmarks.protocols import Protocol
from benchmarks.run_config import RunConfig, portable_config, run_identity

__all__ = ["build_result", "group_accuracy", "shot_groups"]


def shot_groups(train_counts: np.ndarray) -> dict[str, list[int]]:
    """Class indices of the many/medium/few-shot groups, from :func:`mmt_augment.shot_splits`."""
    from mmt_augment import shot_splits

    groups = shot_splits(train_counts)
    if isinstance(groups, Mapping):
        groups = (groups["many"], groups["medium"], groups["few"])
    return {name: sorted(int(c) for c in np.asarray(group).ravel().tolist())
            for name, group in zip(("many", "medium", "few"), groups)}


def group_accuracy(per_class: list[float], classes: list[int]) -> float | None:
    """Mean per-class accuracy over ``classes`` (the literature's shot-group metric)."""
    return float(np.mean([per_class[c] for c in classes])) if classes else None


def build_result(
    config: RunConfig,
    dataset: ImageDataset,
    method: Method,
    protocol: Protocol,
    device: torch.device,
    *,
    top1: float,
    per_class: list[float],
    history: list[dict[str, Any]],
    train_seconds: float,
    eval_seconds: float,
    steps_per_epoch: int,
    resumed: bool,
    segments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The result dict of a finished run (see the module docstring)."""
    num_classes = dataset.num_classes
    train_counts = np.bincount(dataset.train_labels.numpy(), minlength=num_classes)
    groups = shot_groups(train_counts)
    result = {
        "schema": 1,
        "setting": config.setting,
        "method": config.method,
        "seed": config.seed,
        "metrics": {
            "top1": top1,
            **{name: group_accuracy(per_class, classes) for name, classes in groups.items()},
            "per_class": per_class,
        },
        "timing": {
            "wall_seconds": train_seconds + eval_seconds,
            "train_seconds": train_seconds,
            "eval_seconds": eval_seconds,
            "epoch_seconds_median": float(np.median([h["seconds"] for h in history])),
            "steps_per_epoch": steps_per_epoch,
            # Training rows (after mixing) per second; paired methods also load the tail rows.
            "train_rows_per_second": protocol.epochs * len(dataset.train_labels) / train_seconds
            if train_seconds else None,
            "resumed": resumed,
        },
        # Each stretch of the run (its start and every resume): first epoch, commit, CPU, threads.
        "segments": segments or [],
        "dataset": {
            "name": dataset.name,
            "source": dataset.source,
            "digest": dataset.digest,
            "imbalance_ratio": config.imbalance_ratio,
            "profile": config.profile,
            "class_names": list(dataset.class_names),
            "train_counts": train_counts.tolist(),
            "test_counts": np.bincount(dataset.test_labels.numpy(), minlength=num_classes).tolist(),
            "shot_groups": groups,
            "mean": list(dataset.mean),
            "std": list(dataset.std),
        },
        "method_config": method.to_dict(),
        "protocol": protocol.to_dict(),
        "identity": run_identity(config),
        "config": portable_config(config),
        "history": history,
        "machine": machine_info(device),
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return result
