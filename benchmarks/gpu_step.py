"""The paper training step on the GPU: the CUDA-graph step beside the eager one, and their timing.

:func:`fast_path_agreement` runs a method's first paper steps eagerly beside
:class:`benchmarks.graphed.GraphedStep` from the same weights on the same batches (captured on
CUDA; on the CPU the same step logic runs uncaptured); a paper run uses the graph only when they
agree (:mod:`benchmarks.gpu_paper`). :func:`step_timing` times both steps for ``step-timing.json``
(:mod:`benchmarks.gpu_checks`). Every run is built by :func:`benchmarks.step.build_run`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from benchmarks.data import ImageDataset
from benchmarks.graphed import WARMUP_STEPS, GraphedStep, agreement
from benchmarks.methods import parse_method
from benchmarks.protocols import Protocol, lr_factor
from benchmarks.step import Run, build_run, sgd

__all__ = ["AGREEMENT_STEPS", "TIMED_METHODS", "amp_for", "fast_path_agreement", "step_timing"]

AGREEMENT_STEPS = 20  # a fast path runs this many steps beside the eager one before it is used
#: The methods whose paper step is timed: the baseline and MMT.
TIMED_METHODS = ("ce", "mmt")


def amp_for(device: torch.device) -> str:
    """The paper runs' autocast: bf16 on CUDA, none on the CPU (the smoke runs)."""
    return "bf16" if device.type == "cuda" else "none"


def _paper_run(device: torch.device, dataset: ImageDataset, method: str, protocol: Protocol,
               seed: int = 0) -> tuple[Run, Iterator[tuple[torch.Tensor, torch.Tensor]]]:
    """The run's parts and its endless normalised batches."""
    run = build_run(dataset, parse_method(method), protocol, seed, device, amp=amp_for(device))
    return run, run.endless_batches(dataset.train_images.to(device), dataset.train_labels.to(device))


def fast_path_agreement(device: torch.device, dataset: ImageDataset, method: str, protocol: Protocol, *,
                        smoke: bool = False, steps: int = AGREEMENT_STEPS, seed: int = 0) -> dict[str, Any]:
    """``steps`` training steps of ``method`` under ``protocol``, eager beside the CUDA-graph step
    (captured on CUDA; on the CPU the same step logic runs eagerly), from the same weights on the
    same batches (:func:`benchmarks.graphed.agreement`). ``smoke``: at most 12 steps."""
    steps = min(steps, 12) if smoke else steps
    run, batches = _paper_run(device, dataset, method, protocol, seed)
    recipe = run.recipe
    # Learning rates from across the schedule (warm-up, peak, decayed), so a stale one shows;
    # the last steps take half batches in the last epoch: another graph (shape, and for DRW the
    # re-weighted loss) that must be captured and replayed too.
    lrs = [protocol.lr * lr_factor(protocol, index * protocol.epochs // steps, 0, len(recipe.sampler))
           for index in range(steps)]
    tail = steps // 2 if smoke else 8
    # The first steps in a mixing epoch (cmo-window does not mix in epoch 0), the last ones in
    # the last epoch.
    first_epoch = min(recipe.active_epochs) if recipe.active_epochs else 0
    plan = []
    for index in range(steps):
        images, labels = next(batches)
        if index >= steps - tail:
            half = len(images) // 4 * 2  # even: paired methods split it into head and tail rows
            images, labels, epoch = images[:half], labels[:half], protocol.epochs - 1
        else:
            epoch = first_epoch
        plan.append((images, labels, epoch, lrs[index]))
    report = agreement(run.model, recipe, plan, protocol=protocol, amp=amp_for(device),
                       capture=device.type == "cuda")
    return {"method": method, "amp": amp_for(device), "captured": device.type == "cuda", **report}


def step_timing(device: torch.device, dataset: ImageDataset, protocol: Protocol, *,
                smoke: bool = False) -> dict[str, Any]:
    """Milliseconds per step of the paper training step (bf16 on CUDA) for :data:`TIMED_METHODS`:
    the shared eager step and, on CUDA, the CUDA-graph step; and the graph step's agreement with
    the eager one."""
    steps = 5 if smoke else 50
    amp = amp_for(device)
    timings: dict[str, Any] = {}

    def timed(step: Callable[[], Any], count: int) -> float:
        elapsed = []
        for index in range(count + WARMUP_STEPS + 1):  # the first ones warm up (and capture)
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if index > WARMUP_STEPS:
                elapsed.append(time.perf_counter() - start)
        return 1e3 * float(np.median(elapsed))

    def method_timing(name: str) -> tuple[dict[str, Any], int]:
        run, batches = _paper_run(device, dataset, name, protocol)
        eager = timed(lambda: run.step(*next(batches), 0), steps)
        timing = {"eager_ms_per_step": eager, "steps": steps, "amp": amp}
        if device.type == "cuda":
            try:  # a capture error keeps the eager timing and the agreement report
                graphed = GraphedStep(run.model, sgd(run.model, protocol, fused=True), run.recipe, amp=amp)
                fast = timed(lambda: graphed(*run.recipe.rows(*next(batches), 0), 0, protocol.lr), steps)
                timing.update(graph_ms_per_step=fast, graph_speedup=eager / fast)
            except Exception as error:
                timing["graph_error"] = repr(error)[:500]
        return timing, protocol.epochs * len(run.recipe.sampler)

    for name in TIMED_METHODS:
        timings[name], steps_per_run = method_timing(name)
    timings["steps_per_run"] = steps_per_run
    for path in ("eager", "graph"):
        if f"{path}_ms_per_step" in timings["mmt"]:
            timings[f"{path}_minutes_per_run"] = timings["mmt"][f"{path}_ms_per_step"] * timings["steps_per_run"] / 6e4
    timings["fast_path_agreement"] = {name: fast_path_agreement(device, dataset, name, protocol, smoke=smoke)
                                      for name in TIMED_METHODS}
    return timings
