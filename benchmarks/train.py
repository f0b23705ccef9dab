"""One training loop for every method: long-tailed training, test evaluation, a results file.

A run is (dataset setting, method, seed, protocol). It trains a CIFAR ResNet with SGD, then
evaluates once on the whole (balanced) test set and writes
``<results>/runs/<setting>/<method>-seed<seed>.json`` with overall top-1, many/medium/few-shot
and per-class accuracy, timing, the full configuration and the machine.

Two data paths feed the same loop:

* ``device`` (default): the whole uint8 training set lives on the training device; the batch
  sampler's indices gather each batch there, random crop and flip run batched on the device
  (:mod:`benchmarks.augment`), and the mixer mixes. No DataLoader, no worker processes.
* ``loader``: a plain ``DataLoader`` with ``batch_sampler=MMTBatchSampler(...)`` (or the
  uniform sampler for unpaired methods) and torchvision v2 per-image transforms in workers —
  the way the README shows users.

Paired methods (``cmo``, ``mmt*``) draw ``2b`` indices per step, ``b`` head rows from the
instance-uniform sampler then ``b`` tail rows from the differential sampler, and ``MMTMix``
turns them into ``b`` training rows; every method sees the same number of steps and of
training rows per epoch. Runs checkpoint after each epoch and resume from the checkpoint.

Example (two CPU cores, about 3-4 minutes)::

    python -m benchmarks.train --dataset cifar10 --ir 100 --method mmt --seed 0
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.augment import crop_flip, normalize, sample_crop_flip_params
from benchmarks.data import DATASETS, DEFAULT_NPZ, ImageDataset, TensorImageDataset, load_dataset, long_tailed
from benchmarks.data import cifar_train_transform, setting_key
from benchmarks.environment import machine_info, resolve_device
from benchmarks.methods import Recipe, parse_method
from benchmarks.models import cifar_resnet
from benchmarks.results_io import LOCAL_RESULTS_DIR, RESULTS_DIR, write_json
from benchmarks.protocols import Protocol, add_protocol_arguments, lr_factor, protocol_from_args

__all__ = [
    "RESULTS_DIR",
    "RunConfig",
    "build_parser",
    "config_from_args",
    "device_batches",
    "evaluate",
    "main",
    "result_path",
    "train",
    "train_step",
]



@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that defines one run.

    Attributes:
        dataset: a name from :data:`benchmarks.data.DATASETS`.
        imbalance_ratio, profile: the long-tailed subset (:func:`mmt_augment.make_long_tailed`).
        method: a method name (:mod:`benchmarks.methods`).
        seed: seeds the model, the samplers, the augmentation and the mixing.
        protocol: the training recipe.
        npz, root: data locations (see :func:`benchmarks.data.load_dataset`).
        path: ``"device"`` or ``"loader"`` (see the module docstring).
        workers: DataLoader workers on the ``loader`` path.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        threads: ``torch.set_num_threads`` (0: leave torch's default).
        amp: ``"none"`` or ``"bf16"`` autocast.
        channels_last: run the model in channels_last (1.5x faster on CPU here).
        compile: wrap the model in ``torch.compile``.
        results_dir: where ``runs/`` and ``checkpoints/`` live.
        lt_seed: seed of the long-tailed subset (0 for every run, so all methods see the same data).
    """

    dataset: str = "cifar10"
    imbalance_ratio: float = 100
    profile: str = "exp"
    method: str = "ce"
    seed: int = 0
    protocol: Protocol = dataclasses.field(default_factory=lambda: Protocol("quick"))
    npz: str | None = None
    root: str | None = None
    path: str = "device"
    workers: int = 2
    device: str = "auto"
    threads: int = 0
    amp: str = "none"
    channels_last: bool = True
    compile: bool = False
    results_dir: str = str(LOCAL_RESULTS_DIR)
    lt_seed: int = 0

    @property
    def setting(self) -> str:
        return setting_key(self.dataset, self.imbalance_ratio, self.profile, self.protocol.name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def result_path(config: RunConfig) -> Path:
    """``<results_dir>/runs/<setting>/<method>-seed<seed>[-loader].json``."""
    suffix = "-loader" if config.path == "loader" else ""
    return Path(config.results_dir) / "runs" / config.setting / f"{config.method}-seed{config.seed}{suffix}.json"


def _portable(config: RunConfig) -> dict[str, Any]:
    """The run's configuration for its result file, without machine paths.

    Where results are written does not change them, so ``results_dir`` is left out; data files
    are named by file name (the result's ``dataset`` entry holds their content digest).
    """
    record = config.to_dict()
    del record["results_dir"]
    for key in ("npz", "root"):
        if record[key] is not None:
            record[key] = Path(record[key]).name
    return record


def _checkpoint_path(config: RunConfig) -> Path:
    return Path(config.results_dir) / "checkpoints" / config.setting / (result_path(config).stem + ".pt")


# -- evaluation --------------------------------------------------------------------------------


def _shot_groups(train_counts: np.ndarray) -> dict[str, list[int]]:
    """Class indices of the many/medium/few-shot groups, from :func:`mmt_augment.shot_splits`."""
    from mmt_augment import shot_splits

    groups = shot_splits(train_counts)
    if isinstance(groups, Mapping):
        groups = (groups["many"], groups["medium"], groups["few"])
    return {name: sorted(int(c) for c in np.asarray(group).ravel().tolist())
            for name, group in zip(("many", "medium", "few"), groups)}


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    *,
    num_classes: int,
    batch_size: int = 1000,
    channels_last: bool = True,
    amp: str = "none",
) -> tuple[float, list[float]]:
    """Top-1 accuracy and per-class accuracy (both in percent) of ``model`` on uint8 images.

    ``images``/``labels`` live on the model's device; nothing is augmented.
    """
    was_training = model.training
    model.eval()
    correct = torch.zeros(num_classes, dtype=torch.int64, device=images.device)
    total = torch.bincount(labels, minlength=num_classes)
    for start in range(0, len(images), batch_size):
        batch = normalize(images[start:start + batch_size], mean, std)
        if channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with _autocast(images.device, amp):
            predictions = model(batch).argmax(1)
        hits = predictions == labels[start:start + batch_size]
        correct += torch.bincount(labels[start:start + batch_size][hits], minlength=num_classes)
    model.train(was_training)
    per_class = (100.0 * correct.double() / total.clamp(min=1).double()).tolist()
    top1 = 100.0 * correct.sum().item() / max(total.sum().item(), 1)
    return top1, per_class


def _group_accuracy(per_class: list[float], classes: list[int]) -> float | None:
    """Mean per-class accuracy over ``classes`` (the literature's shot-group metric)."""
    return float(np.mean([per_class[c] for c in classes])) if classes else None


# -- training ----------------------------------------------------------------------------------


def _autocast(device: torch.device, amp: str):
    if amp == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


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

    The one training step of the suite: the accuracy runs and the cost measurement
    (:mod:`benchmarks.cost`) both call it. The method's batch rule turns the sampled rows into
    training rows and targets, the model runs (under bf16 autocast for ``amp="bf16"``), and the
    method's loss is taken in float32.
    """
    rows, targets = recipe.rows(images, labels, epoch)
    if channels_last:
        rows = rows.contiguous(memory_format=torch.channels_last)
    with _autocast(rows.device, amp):
        logits = forward(rows)
    loss = recipe.loss(logits.float(), targets, epoch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


def _progress(total: int, initial: int, description: str, enabled: bool):
    from tqdm import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(total=total, initial=initial, desc=description, disable=not enabled, dynamic_ncols=True,
                mininterval=0.5 if interactive else 30.0, file=sys.stderr)


def train(
    config: RunConfig,
    dataset: ImageDataset | None = None,
    *,
    progress: bool = True,
    checkpoint: bool = True,
    log_epochs: bool | None = None,
) -> dict[str, Any]:
    """Train and evaluate one run, write its results file and return the result.

    Args:
        config: the run.
        dataset: the long-tailed dataset, when already loaded (else loaded from ``config``).
        progress: show a tqdm progress bar.
        checkpoint: save a checkpoint after every epoch and resume from one if present.
        log_epochs: print one line per epoch (default: when there is no progress bar, for logs).

    Returns:
        The dict written to :func:`result_path`.
    """
    previous_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return _train(config, dataset, progress=progress, checkpoint=checkpoint, log_epochs=log_epochs)
    finally:
        torch.set_num_threads(previous_threads)  # in-process callers keep their setting


def _train(config: RunConfig, dataset: ImageDataset | None, *, progress: bool, checkpoint: bool,
           log_epochs: bool | None) -> dict[str, Any]:
    if config.path not in ("device", "loader"):
        raise ValueError(f"path must be 'device' or 'loader', got {config.path!r}")
    if config.amp not in ("none", "bf16"):
        raise ValueError(f"amp must be 'none' or 'bf16', got {config.amp!r}")
    if log_epochs is None:
        log_epochs = not progress
    device = resolve_device(config.device)
    protocol = config.protocol
    method = parse_method(config.method)
    if dataset is None:
        dataset = long_tailed(load_dataset(config.dataset, npz=config.npz, root=config.root),
                              config.imbalance_ratio, profile=config.profile, seed=config.lt_seed)
    num_classes = dataset.num_classes
    train_counts = np.bincount(dataset.train_labels.numpy(), minlength=num_classes)
    padding = protocol.crop_padding if protocol.crop_padding >= 0 else dataset.image_size // 8

    torch.manual_seed(config.seed)
    model = cifar_resnet(protocol.architecture, num_classes, in_channels=dataset.in_channels,
                         width=protocol.width, shortcut=protocol.shortcut).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=protocol.lr, momentum=protocol.momentum,
                                weight_decay=protocol.weight_decay, nesterov=protocol.nesterov)
    forward = torch.compile(model) if config.compile else model

    mean = torch.tensor(dataset.mean, device=device)
    std = torch.tensor(dataset.std, device=device)
    recipe = method.build(dataset.train_labels.numpy(), num_classes, protocol, config.seed, device,
                          image_size=(dataset.image_size, dataset.image_size))
    sampler = recipe.sampler
    steps_per_epoch = len(sampler)
    augment_generator = torch.Generator(device).manual_seed(config.seed + 10_000)

    if config.path == "device":
        train_images = dataset.train_images.to(device)
        train_labels = dataset.train_labels.to(device)
        loader = None
    else:
        loader = torch.utils.data.DataLoader(
            TensorImageDataset(dataset.train_images, dataset.train_labels,
                               cifar_train_transform(dataset.mean, dataset.std, padding=padding,
                                                     size=dataset.image_size)),
            batch_sampler=sampler, num_workers=config.workers, persistent_workers=config.workers > 0,
            pin_memory=device.type == "cuda",
        )

    start_epoch, history, train_seconds = 0, [], 0.0
    checkpoint_file = _checkpoint_path(config)
    if checkpoint and checkpoint_file.is_file():
        state = torch.load(checkpoint_file, map_location=device, weights_only=False)
        # The thread count changes speed, not results, so a job may resume with another.
        if {**state["config"], "threads": config.threads} != config.to_dict():
            raise ValueError(f"checkpoint {checkpoint_file} was written by a different configuration; delete it")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        augment_generator.set_state(state["augment_rng"])
        if recipe.generator is not None:
            recipe.generator.set_state(state["mix_rng"])
        start_epoch, history, train_seconds = state["epoch"], state["history"], state["train_seconds"]

    bar = _progress(protocol.epochs * steps_per_epoch, start_epoch * steps_per_epoch,
                    f"{config.method} seed {config.seed}", progress)
    model.train()
    for epoch in range(start_epoch, protocol.epochs):
        epoch_start = time.perf_counter()
        sampler.set_epoch(epoch)
        mixing = epoch in recipe.active_epochs
        if loader is None:
            batches = device_batches(sampler, train_images, train_labels, padding, augment_generator)
        else:
            batches = ((images.to(device, non_blocking=True), labels.to(device, non_blocking=True))
                       for images, labels in loader)
        loss_sum = torch.zeros((), device=device)
        for step, (images, labels) in enumerate(batches):
            for group in optimizer.param_groups:
                group["lr"] = protocol.lr * lr_factor(protocol, epoch, step, steps_per_epoch)
            if loader is None:
                images = normalize(images, mean, std)
            loss = train_step(forward, optimizer, recipe, images, labels, epoch,
                              channels_last=config.channels_last, amp=config.amp)
            loss_sum += loss.detach()
            bar.update()
        seconds = time.perf_counter() - epoch_start
        train_seconds += seconds
        record = {"epoch": epoch + 1, "loss": loss_sum.item() / steps_per_epoch, "mixing": mixing,
                  "lr_end": optimizer.param_groups[0]["lr"], "seconds": seconds}
        if protocol.eval_every and (epoch + 1) % protocol.eval_every == 0 and epoch + 1 < protocol.epochs:
            record["test_top1"] = evaluate(model, dataset.test_images.to(device), dataset.test_labels.to(device),
                                           mean, std, num_classes=num_classes,
                                           batch_size=protocol.eval_batch_size,
                                           channels_last=config.channels_last, amp=config.amp)[0]
        history.append(record)
        bar.set_postfix(epoch=epoch + 1, loss=f"{record['loss']:.3f}")
        if log_epochs:
            print(f"epoch {epoch + 1}/{protocol.epochs} loss {record['loss']:.4f} {seconds:.1f} s"
                  + (f" test top-1 {record['test_top1']:.2f}" if "test_top1" in record else ""), flush=True)
        if checkpoint:
            _save_checkpoint(checkpoint_file, {
                "config": config.to_dict(), "epoch": epoch + 1, "history": history, "train_seconds": train_seconds,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "torch_rng": torch.get_rng_state(), "augment_rng": augment_generator.get_state(),
                "mix_rng": recipe.generator.get_state() if recipe.generator is not None else None,
            })
    bar.close()

    eval_start = time.perf_counter()
    top1, per_class = evaluate(model, dataset.test_images.to(device), dataset.test_labels.to(device), mean, std,
                               num_classes=num_classes, batch_size=protocol.eval_batch_size,
                               channels_last=config.channels_last, amp=config.amp)
    eval_seconds = time.perf_counter() - eval_start
    groups = _shot_groups(train_counts)
    result = {
        "schema": 1,
        "setting": config.setting,
        "method": config.method,
        "seed": config.seed,
        "metrics": {
            "top1": top1,
            **{name: _group_accuracy(per_class, classes) for name, classes in groups.items()},
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
            "resumed": start_epoch > 0,
        },
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
        "config": _portable(config),
        "history": history,
        "machine": machine_info(device),
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(result_path(config), result)
    if checkpoint and checkpoint_file.is_file():
        checkpoint_file.unlink()
    return result


# -- command line ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m benchmarks.train`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.train",
        description="Train one (setting, method, seed) run on long-tailed data and write its results JSON.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", default="cifar10", choices=DATASETS,
                        help="cifar10 reads --npz unless --root is given; digits ships with scikit-learn")
    parser.add_argument("--npz", default=None, help=f"CIFAR-10 .npz path (default {DEFAULT_NPZ})")
    parser.add_argument("--root", default=None, help="torchvision download dir, or an ImageFolder dir")
    parser.add_argument("--ir", dest="imbalance_ratio", type=float, default=100, help="imbalance ratio")
    parser.add_argument("--profile", default="exp", choices=("exp", "step"), help="long-tailed profile")
    parser.add_argument("--method", default="ce", help="ce, mixup, cutmix, cmo, mmt or mmt-<options>")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--path", default="device", choices=("device", "loader"), help="data path")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (--path loader)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--amp", default="none", choices=("none", "bf16"), help="autocast dtype")
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                        help="keep the model in contiguous (NCHW) format")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--results-dir", default=str(LOCAL_RESULTS_DIR),
                        help="where runs/ and checkpoints/ go; the default is git-ignored, and the committed "
                             f"results live in {RESULTS_DIR.relative_to(RESULTS_DIR.parents[1])}")
    parser.add_argument("--force", action="store_true", help="rerun even if the results file exists")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    parser.add_argument("--no-checkpoint", dest="checkpoint", action="store_false",
                        help="neither save nor resume from a per-epoch checkpoint")
    add_protocol_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The :class:`RunConfig` described by parsed ``python -m benchmarks.train`` arguments."""
    return RunConfig(
        dataset=args.dataset, imbalance_ratio=args.imbalance_ratio, profile=args.profile, method=args.method,
        seed=args.seed, protocol=protocol_from_args(args), npz=args.npz, root=args.root, path=args.path,
        workers=args.workers, device=args.device, threads=args.threads, amp=args.amp,
        channels_last=args.channels_last, compile=args.compile, results_dir=args.results_dir,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    parse_method(config.method)  # fail fast on a bad name
    path = result_path(config)
    if path.is_file() and not args.force:
        print(f"{path} exists; skipping (use --force to rerun)")
        return 0
    result = train(config, progress=args.progress, checkpoint=args.checkpoint)
    metrics = result["metrics"]
    shots = " ".join(f"{name} {metrics[name]:.1f}" for name in ("many", "medium", "few") if metrics[name] is not None)
    print(f"{config.setting} {config.method} seed {config.seed}: top-1 {metrics['top1']:.2f} ({shots}), "
          f"{result['timing']['wall_seconds']:.0f} s -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
