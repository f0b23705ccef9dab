"""The training step as a CUDA graph: the ``paper`` protocol's fast path on a GPU.

Eager PyTorch at batch 128 is launch-bound on a GPU: a CIFAR ResNet-32 step is about a thousand
small kernels (forward, backward, optimiser), each costing more to launch than to run.
:class:`GraphedStep` captures everything after the batch is mixed (memory format, forward under
autocast, loss, backward and the SGD update) into one CUDA graph and replays it, so a step costs
one launch plus the sampling and mixing, which stay eager (they draw fresh random numbers every
step from their own generators).

What the graph needs, and how it is met:

* static inputs: rows and targets are copied into buffers the graph reads;
* a learning rate that changes without re-capture: a one-element device tensor, written by
  ``fill_`` every step, read by fused SGD (``torch.optim.SGD(fused=True)`` accepts a tensor
  ``lr``; the foreach path would read it on the host);
* one graph per shape and loss phase: the last, smaller batch of an epoch, the epochs without
  mixing and deferred re-weighting each get their own graph (at most a handful per run);
* warm-up: the first :data:`WARMUP_STEPS` steps of each graph are real training steps run
  eagerly on a side stream, as the CUDA-graph documentation asks; the graph is captured at the
  next one, which it then replays. No step is run twice or skipped.

On a CPU (``capture=False``) the same object runs every step eagerly, with the same fused
optimiser and tensor learning rate: that is how the step logic is tested without a GPU.
:func:`agreement` runs a fast path beside the shared eager step (:func:`benchmarks.step.train_step`)
on the same batches and compares losses and updates; ``python -m benchmarks.gpu paper`` runs it
before every run and uses the fast path only when it agrees (a run whose check fails trains
eagerly and is reported as its own variant, never mixed with graph runs). ``python -m
benchmarks.train --cuda-graph`` runs no check.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Hashable
from typing import Any

import torch

from benchmarks.methods import Recipe
from benchmarks.step import optimize_step, sgd, step_loss

__all__ = ["TOLERANCE", "UPDATE_TOLERANCE", "WARMUP_STEPS", "GraphedStep", "agreement"]

WARMUP_STEPS = 3
#: Largest loss difference over the agreement steps for a fast path to be used. bf16 autocast
#: and fused-vs-foreach SGD round differently, so two correct paths differ by about 1e-3 here.
TOLERANCE = 2e-2
#: Largest relative difference between the two paths' weight (and BatchNorm statistics) updates.
#: A graph replaying a stale learning rate or skipping an update differs by order 1.
UPDATE_TOLERANCE = 5e-2


@dataclasses.dataclass
class _Graph:
    seen: int = 0
    graph: Any = None
    rows: torch.Tensor | None = None
    targets: torch.Tensor | None = None
    loss: torch.Tensor | None = None


class GraphedStep:
    """``step(rows, targets, epoch, lr)``: one optimisation step, replayed from a CUDA graph.

    Args:
        model: the model (on the device), in training mode.
        optimizer: from :func:`benchmarks.step.sgd` with ``fused=True`` (its ``lr`` is the tensor
            this object writes).
        recipe: the method's recipe (its loss, and :meth:`Recipe.phase`).
        channels_last, amp: as in :func:`benchmarks.step.train_step`.
        capture: capture CUDA graphs (needs a CUDA model); ``False`` runs every step eagerly.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.SGD, recipe: Recipe, *,
                 channels_last: bool = True, amp: str = "none", capture: bool = True) -> None:
        lr = optimizer.param_groups[0]["lr"]
        if not isinstance(lr, torch.Tensor) or not optimizer.defaults.get("fused"):
            raise TypeError("optimizer must be fused SGD with a tensor lr (benchmarks.step.sgd(..., fused=True))")
        device = next(model.parameters()).device
        if capture and device.type != "cuda":
            raise ValueError(f"capture=True needs a CUDA model, got one on {device}")
        # A host or float64 lr would be read once at capture (fused SGD calls .item() on a CPU
        # lr, legally during capture) and frozen into the graph.
        if lr.device != device or lr.dtype != torch.float32 or lr.numel() != 1:
            raise ValueError(f"the optimizer's lr must be one float32 element on {device}, got "
                             f"{lr.dtype} {tuple(lr.shape)} on {lr.device}")
        self.side_stream = torch.cuda.Stream(device) if capture else None
        self.model, self.optimizer, self.recipe = model, optimizer, recipe
        self.channels_last, self.amp, self.capture = channels_last, amp, capture
        self.lr: torch.Tensor = lr
        self.graphs: dict[Hashable, _Graph] = {}

    @property
    def captured(self) -> int:
        """How many graphs have been captured."""
        return sum(entry.graph is not None for entry in self.graphs.values())

    def _eager(self, rows: torch.Tensor, targets: torch.Tensor, epoch: int) -> torch.Tensor:
        return optimize_step(self.model, self.optimizer, self.recipe, rows, targets, epoch,
                             channels_last=self.channels_last, amp=self.amp).detach()

    def __call__(self, rows: torch.Tensor, targets: torch.Tensor, epoch: int, lr: float) -> torch.Tensor:
        """One step on ``rows``/``targets`` (already mixed) at learning rate ``lr``; returns the loss.

        The returned tensor of a replayed step is the graph's output buffer: read or copy it
        before the next step.
        """
        if self.optimizer.param_groups[0]["lr"] is not self.lr:
            raise RuntimeError("the optimizer's lr tensor was replaced (load_state_dict?); build a new GraphedStep")
        self.lr.fill_(lr)
        if not self.capture:
            return self._eager(rows, targets, epoch)
        key = (tuple(rows.shape), rows.dtype, tuple(targets.shape), targets.dtype, self.recipe.phase(epoch))
        entry = self.graphs.setdefault(key, _Graph())
        if entry.graph is None and entry.seen < WARMUP_STEPS:
            entry.seen += 1
            stream = self.side_stream
            assert stream is not None
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                loss = self._eager(rows, targets, epoch)
            torch.cuda.current_stream().wait_stream(stream)
            return loss
        if entry.graph is None:
            entry.rows, entry.targets = rows.clone(), targets.clone()
            # Gradients must be allocated inside the graph's memory pool, so none may exist now.
            self.optimizer.zero_grad(set_to_none=True)
            entry.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(entry.graph):
                # The autocast weight cache must be off inside a graph.
                entry.loss = step_loss(self.model, self.recipe, entry.rows, entry.targets, epoch,
                                       channels_last=self.channels_last, amp=self.amp, autocast_cache=False)
                entry.loss.backward()
                self.optimizer.step()
        else:
            assert entry.rows is not None and entry.targets is not None
            entry.rows.copy_(rows)
            entry.targets.copy_(targets)
        entry.graph.replay()
        assert entry.loss is not None
        return entry.loss.detach()


def agreement(model: torch.nn.Module, recipe: Recipe, steps: list[tuple[torch.Tensor, torch.Tensor, int, float]],
              *, protocol: Any, amp: str = "none", capture: bool = True,
              channels_last: bool = True) -> dict[str, Any]:
    """Run the shared eager step and :class:`GraphedStep` side by side on the same batches.

    Args:
        model: the starting weights; both paths train copies of it (``model`` is left as it was).
        recipe: the method (each batch is mixed once by ``recipe.rows``; the same rows and
            targets go to both paths).
        steps: ``(images, labels, epoch, lr)`` per step. Give it more than
            :data:`WARMUP_STEPS` + 1 steps of each shape and phase you want replayed, and learning
            rates that differ widely, so a graph that kept a stale one would show.
        protocol: the SGD settings (momentum, weight decay, Nesterov).
        amp, channels_last, capture: as in :class:`GraphedStep`.

    Returns:
        The losses of both paths, ``max_abs_diff`` (losses), ``max_update_rel_diff`` (the largest
        ``|fast update - eager update| / |eager update|`` over parameters and float buffers,
        BatchNorm's running statistics included), whether integer buffers (BatchNorm's step
        counts) match, and ``agrees``: all three within :data:`TOLERANCE` /
        :data:`UPDATE_TOLERANCE`.
    """
    first_lr = steps[0][3]
    eager_model, fast_model = copy.deepcopy(model), copy.deepcopy(model)
    eager_optimizer = sgd(eager_model, protocol, lr=first_lr)
    fast = GraphedStep(fast_model, sgd(fast_model, protocol, lr=first_lr, fused=True), recipe,
                       channels_last=channels_last, amp=amp, capture=capture)
    eager_losses, fast_losses = [], []
    for images, labels, epoch, lr in steps:
        rows, targets = recipe.rows(images, labels, epoch)
        for group in eager_optimizer.param_groups:
            group["lr"] = lr
        eager_losses.append(optimize_step(eager_model, eager_optimizer, recipe, rows, targets, epoch,
                                          channels_last=channels_last, amp=amp).detach())
        fast_losses.append(fast(rows, targets, epoch, lr).clone())
    eager = torch.stack(eager_losses).double().cpu()
    graphed = torch.stack(fast_losses).double().cpu()
    diff = float((eager - graphed).abs().max())

    start, eager_state, fast_state = model.state_dict(), eager_model.state_dict(), fast_model.state_dict()
    update_diff, counts_match = 0.0, True
    for name, initial in start.items():
        if not initial.is_floating_point():
            counts_match = counts_match and torch.equal(eager_state[name], fast_state[name])
            continue
        eager_update = eager_state[name].double() - initial.double()
        fast_update = fast_state[name].double() - initial.double()
        scale = float(eager_update.norm())
        if scale > 0.0:
            update_diff = max(update_diff, float((fast_update - eager_update).norm()) / scale)
        elif float(fast_update.norm()) > 0.0:
            update_diff = float("inf")
    return {"steps": len(steps), "captured_graphs": fast.captured, "max_abs_diff": diff, "tolerance": TOLERANCE,
            "max_update_rel_diff": update_diff, "update_tolerance": UPDATE_TOLERANCE,
            "integer_buffers_match": counts_match,
            "agrees": diff <= TOLERANCE and update_diff <= UPDATE_TOLERANCE and counts_match,
            "eager_losses": eager.tolist(), "fast_losses": graphed.tolist()}
