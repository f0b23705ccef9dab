"""The training step of every run, and the parts of a run it steps.

:func:`build_run` makes a run's parts in one fixed order (the model from ``torch.manual_seed(seed)``,
its SGD, the method's :class:`benchmarks.methods.Recipe`, the augmentation generator), so the
accuracy runs (:mod:`benchmarks.loop`), the cost measurement (:mod:`benchmarks.cost`) and the GPU
step checks (:mod:`benchmarks.gpu_step`) train the same thing from the same bits.
:func:`device_batches` gathers, crops and flips a run's batches on its device; :func:`train_step`
is the one optimisation step (the method's batch rule, the model under autocast, the method's
loss, SGD), of which :class:`benchmarks.graphed.GraphedStep` is the CUDA-graph form.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Callable, Iterator

import torch

from benchmarks.augment import crop_flip, normalize, sample_crop_flip_params
from benchmarks.data import ImageDataset
from benchmarks.methods import Method, Recipe
from benchmarks.models import cifar_resnet
from benchmarks.protocols import Protocol

__all__ = ["Run", "autocast", "build_run", "device_batches", "optimize_step", "sgd", "step_loss", "train_step"]


def autocast(device: torch.device, amp: str, *, cache_enabled: bool = True):
    """bf16 autocast on ``device`` for ``amp="bf16"``, else nothing."""
    if amp == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, cache_enabled=cache_enabled)
    return contextlib.nullcontext()


def sgd(model: torch.nn.Module, protocol: Protocol, *, lr: float | None = None, fused: bool = False) -> torch.optim.SGD:
    """The protocol's SGD (momentum, weight decay, Nesterov) on ``model`` at ``lr`` (default: the protocol's).

    ``fused=True``: fused SGD with a one-element float32 tensor learning rate on the model's
    device, which a CUDA graph reads at every replay (:class:`benchmarks.graphed.GraphedStep`).
    """
    lr = protocol.lr if lr is None else lr
    if fused:
        device = next(model.parameters()).device
        return torch.optim.SGD(model.parameters(), lr=torch.tensor(float(lr), device=device),
                               momentum=protocol.momentum, weight_decay=protocol.weight_decay,
                               nesterov=protocol.nesterov, fused=True)
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=protocol.momentum,
                           weight_decay=protocol.weight_decay, nesterov=protocol.nesterov)


@dataclasses.dataclass
class Run:
    """A run's parts, from :func:`build_run`.

    Attributes:
        model: the CIFAR ResNet on the training device.
        forward: what a step calls: the model, or ``torch.compile`` of it.
        optimizer: from :func:`sgd`.
        recipe: the method's sampler, batch rule and loss.
        mean, std: ``(C,)`` normalisation on the device.
        padding: random-crop padding in pixels.
        augment_generator: the crop and flip draws' generator, on the device.
        channels_last, amp: how the step runs the model.
    """

    model: torch.nn.Module
    forward: Callable[[torch.Tensor], torch.Tensor]
    optimizer: torch.optim.SGD
    recipe: Recipe
    mean: torch.Tensor
    std: torch.Tensor
    padding: int
    augment_generator: torch.Generator
    channels_last: bool = True
    amp: str = "none"

    def step(self, images: torch.Tensor, labels: torch.Tensor, epoch: int) -> torch.Tensor:
        """:func:`train_step` of this run on a normalised batch; returns the loss."""
        return train_step(self.forward, self.optimizer, self.recipe, images, labels, epoch,
                          channels_last=self.channels_last, amp=self.amp)

    def endless_batches(self, images: torch.Tensor, labels: torch.Tensor
                        ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Normalised :func:`device_batches` of epoch 0, 1, ... without end (for timing and checks)."""
        for epoch in itertools.count():
            self.recipe.sampler.set_epoch(epoch)
            for batch, batch_labels in device_batches(self.recipe.sampler, images, labels, self.padding,
                                                      self.augment_generator):
                yield normalize(batch, self.mean, self.std), batch_labels


def build_run(dataset: ImageDataset, method: Method, protocol: Protocol, seed: int, device: torch.device, *,
              channels_last: bool = True, compile: bool = False, fused: bool = False, amp: str = "none") -> Run:
    """A run's model, optimiser, recipe and augmentation generator, made in the one order every run uses.

    The global torch RNG is seeded with ``seed`` right before the model is made, so its initial
    weights depend on nothing else; the method's samplers and mixing generator derive from
    ``seed`` (:meth:`benchmarks.methods.Method.build`), the crop and flip draws from ``seed + 10000``.

    Args:
        dataset: the (long-tailed) training data; only its labels, statistics and shapes are read.
        method: the method.
        protocol: the recipe (architecture, SGD, crop padding).
        seed: the run's seed.
        device: the training device.
        channels_last: the model in channels_last memory format.
        compile: step through ``torch.compile(model)``.
        fused: fused SGD with a tensor learning rate (:func:`sgd`), for a CUDA-graph step.
        amp: ``"none"`` or ``"bf16"`` autocast in the step.
    """
    padding = protocol.crop_padding if protocol.crop_padding >= 0 else dataset.image_size // 8
    torch.manual_seed(seed)
    model = cifar_resnet(protocol.architecture, dataset.num_classes, in_channels=dataset.in_channels,
                         width=protocol.width, shortcut=protocol.shortcut).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = sgd(model, protocol, fused=fused)
    forward = torch.compile(model) if compile else model
    mean = torch.tensor(dataset.mean, device=device)
    std = torch.tensor(dataset.std, device=device)
    recipe = method.build(dataset.train_labels.numpy(), dataset.num_classes, protocol, seed, device,
                          image_size=(dataset.image_size, dataset.image_size))
    augment_generator = torch.Generator(device).manual_seed(seed + 10_000)
    return Run(model, forward, optimizer, recipe, mean, std, padding, augment_generator,
               channels_last=channels_last, amp=amp)


def device_batches(
    sampler, images: torch.Tensor, labels: torch.Tensor, padding: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Gather, crop and flip batches on the device from the sampler's index lists."""
    for indices in sampler:
        index = torch.as_tensor(indices, dtype=torch.int64).to(images.device, non_blocking=True)
        params = sample_crop_flip_params(len(indices), padding=padding, generator=generator, device=images.device)
        yield crop_flip(images[index], *params, padding=padding), labels[index]


def train_step(forward, optimizer: torch.optim.Optimizer, recipe: Recipe, images: torch.Tensor,
               labels: torch.Tensor, epoch: int, *, channels_last: bool = True, amp: str = "none") -> torch.Tensor:
    """One optimisation step of ``recipe`` on a normalised batch; returns the loss.

    The method's batch rule turns the sampled rows into training rows and targets
    (:meth:`Recipe.rows`), then :func:`optimize_step` runs.
    """
    rows, targets = recipe.rows(images, labels, epoch)
    return optimize_step(forward, optimizer, recipe, rows, targets, epoch, channels_last=channels_last, amp=amp)


def optimize_step(forward, optimizer: torch.optim.Optimizer, recipe: Recipe, rows: torch.Tensor,
                  targets: torch.Tensor, epoch: int, *, channels_last: bool = True, amp: str = "none") -> torch.Tensor:
    """The model's part of a step on training rows and targets: :func:`step_loss`, backward, SGD."""
    loss = step_loss(forward, recipe, rows, targets, epoch, channels_last=channels_last, amp=amp)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def step_loss(forward, recipe: Recipe, rows: torch.Tensor, targets: torch.Tensor, epoch: int, *,
              channels_last: bool = True, amp: str = "none", autocast_cache: bool = True) -> torch.Tensor:
    """The forward half of a step: the model on ``rows`` (channels_last, bf16 autocast for
    ``amp="bf16"``) and the method's loss in float32. ``autocast_cache=False`` inside a CUDA graph."""
    if channels_last:
        rows = rows.contiguous(memory_format=torch.channels_last)
    with autocast(rows.device, amp, cache_enabled=autocast_cache):
        logits = forward(rows)
    return recipe.loss(logits.float(), targets, epoch)
