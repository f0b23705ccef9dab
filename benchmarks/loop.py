"""The training loop shared by every method.

:func:`train` runs one :class:`benchmarks.run_config.RunConfig`: it builds the run
(:func:`benchmarks.step.build_run`), trains it step by step (:func:`benchmarks.step.train_step`, or
its CUDA-graph form :class:`benchmarks.graphed.GraphedStep`) on the device-resident or the
DataLoader path (see :mod:`benchmarks.train`), checkpoints after every epoch (atomically) and
resumes from a checkpoint exactly, evaluates on the balanced test set and writes the result
file (:mod:`benchmarks.run_result`).
"""

from __future__ import annotations

import datetime
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.augment import normalize
from benchmarks.data import ImageDataset, TensorImageDataset, cifar_train_transform, load_dataset, long_tailed
from benchmarks.environment import cpu_name, git_revision, resolve_device
from benchmarks.graphed import GraphedStep
from benchmarks.methods import parse_method
from benchmarks.protocols import lr_factor
from benchmarks.results_io import write_atomically, write_json
from benchmarks.run_config import (
    RunConfig,
    checkpoint_path,
    identity_differences,
    parked_checkpoint_path,
    result_path,
    run_identity,
)
from benchmarks.run_result import build_result
from benchmarks.step import autocast, build_run, device_batches

__all__ = ["CHECKPOINT_KEYS", "PROJECTION_STEPS", "check_checkpoint", "evaluate", "read_checkpoint", "resume_mismatch",
           "train"]

#: Steps timed before a run prints its projected remaining time (from their median).
PROJECTION_STEPS = 20
#: What a checkpoint must hold to resume a run (``segments`` is optional: older checkpoints lack it).
CHECKPOINT_KEYS = ("config", "epoch", "history", "train_seconds", "model", "optimizer", "torch_rng", "augment_rng",
                   "mix_rng")
_WHAT_TO_DO = "delete it or use another --results-dir"


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
        with autocast(images.device, amp):
            predictions = model(batch).argmax(1)
        hits = predictions == labels[start:start + batch_size]
        correct += torch.bincount(labels[start:start + batch_size][hits], minlength=num_classes)
    model.train(was_training)
    per_class = (100.0 * correct.double() / total.clamp(min=1).double()).tolist()
    top1 = 100.0 * correct.sum().item() / max(total.sum().item(), 1)
    return top1, per_class


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (:func:`benchmarks.results_io.write_atomically`)."""
    write_atomically(path, lambda temporary: torch.save(state, temporary))


def resume_mismatch(checkpoint_config: dict[str, Any], config: RunConfig) -> list[str]:
    """The identity fields (:func:`benchmarks.run_config.run_identity`) in which a checkpoint's run
    differs from ``config``; empty when the checkpoint may resume it.

    Only what changes the result is compared: threads, workers on the device path, the results
    folder's spelling and progress output do not stop a resume. A checkpoint written before a
    setting existed was made with its default.
    """
    return identity_differences(run_identity({"cuda_graph": False, **checkpoint_config}), run_identity(config))


def read_checkpoint(path: Path, *, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """The state a run saved in ``path``.

    Raises:
        ValueError: naming the file and what to do, when it cannot be read (random bytes, a
            truncated file), is not a dict, or lacks one of :data:`CHECKPOINT_KEYS`.
    """
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:  # torch.load raises many kinds (unpickling, zip, EOF, ...)
        reason = str(error).splitlines()[0] if str(error) else ""
        raise ValueError(f"checkpoint {path} cannot be read ({type(error).__name__}: {reason}); {_WHAT_TO_DO}") from None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path} is not a training checkpoint (a {type(state).__name__}); {_WHAT_TO_DO}")
    missing = [key for key in CHECKPOINT_KEYS if key not in state]
    if missing or not isinstance(state["config"], dict):
        raise ValueError(f"checkpoint {path} lacks {', '.join(missing) or 'readable run settings'}; {_WHAT_TO_DO}")
    return state


def _differences(path: Path, state: dict[str, Any], config: RunConfig, data_digest: str | None = None) -> list[str]:
    """:func:`resume_mismatch` of a checkpoint read from ``path``, and ``"data"`` when it was written
    for data of another content digest (checkpoints record it from this version on); a ValueError
    naming the file when its recorded settings cannot be compared."""
    recorded = state.get("data_digest")
    other_data = ["data"] if data_digest is not None and recorded is not None and recorded != data_digest else []
    try:
        return resume_mismatch(state["config"], config) + other_data
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as error:
        raise ValueError(f"checkpoint {path} has no readable run settings ({type(error).__name__} {error}); "
                         f"{_WHAT_TO_DO}") from None


def _other_settings(path: Path, differences: list[str]) -> ValueError:
    return ValueError(f"checkpoint {path} was written by a run with other settings ({', '.join(differences)}); "
                      f"{_WHAT_TO_DO}")


def check_checkpoint(config: RunConfig) -> None:
    """Check, before any work, that the run's checkpoint (and its parked one) can be read, and that
    the checkpoint is this run's.

    Raises:
        ValueError: naming the file (see :func:`read_checkpoint`).
    """
    path = checkpoint_path(config)
    if path.is_file():
        differences = _differences(path, read_checkpoint(path), config)
        if differences:
            raise _other_settings(path, differences)
    parked = parked_checkpoint_path(config)
    if parked.is_file():  # another run's parked file of the same name is left alone, but it must be readable
        _differences(parked, read_checkpoint(parked), config)


def _restore_parked(config: RunConfig, checkpoint_file: Path, data_digest: str | None) -> None:
    """Copy the run's parked checkpoint (``in-progress/<stem>.pt``, committed by
    :mod:`benchmarks.park`) to its checkpoint location when it is this run's and further on than
    the checkpoint there. Another run's file of the same name (another protocol, say) is left alone."""
    parked = parked_checkpoint_path(config)
    if not parked.is_file():
        return
    state = read_checkpoint(parked)
    if _differences(parked, state, config, data_digest):
        return
    if checkpoint_file.is_file():
        local = read_checkpoint(checkpoint_file)
        if local["epoch"] >= state["epoch"]:
            return
    _save_checkpoint(checkpoint_file, state)
    print(f"restored the checkpoint of epoch {state['epoch']} from {parked.name} (in-progress)", flush=True)


def _segment(first_epoch: int) -> dict[str, Any]:
    """Where and how one stretch of a run (a start or a resume) trained."""
    return {"first_epoch": first_epoch, "git": git_revision(), "cpu": cpu_name(), "threads": torch.get_num_threads(),
            "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _projection_line(step_seconds: list[float], steps_left: int, total_steps: int) -> str:
    median = statistics.median(step_seconds)
    return (f"projected remaining: {median * steps_left / 3600:.2f} h (median step {median:.3f} s over "
            f"{len(step_seconds)} steps; {steps_left} of {total_steps} steps left; full run "
            f"{median * total_steps / 3600:.2f} h)")


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
    if config.cuda_graph and (device.type != "cuda" or config.compile or config.path != "device"):
        raise ValueError("cuda_graph needs device='cuda', the device data path and no compile; got "
                         f"device {device.type!r}, path {config.path!r}, compile={config.compile}")
    protocol = config.protocol
    method = parse_method(config.method)
    if dataset is None:
        dataset = long_tailed(load_dataset(config.dataset, npz=config.npz, root=config.root),
                              config.imbalance_ratio, profile=config.profile, seed=config.lt_seed)
    num_classes = dataset.num_classes
    run = build_run(dataset, method, protocol, config.seed, device, channels_last=config.channels_last,
                    compile=config.compile, fused=config.cuda_graph, amp=config.amp)
    model, optimizer, recipe = run.model, run.optimizer, run.recipe
    sampler = recipe.sampler
    steps_per_epoch = len(sampler)

    loader_generator = torch.Generator()
    if config.path == "device":
        train_images = dataset.train_images.to(device)
        train_labels = dataset.train_labels.to(device)
        loader = None
    else:
        loader = torch.utils.data.DataLoader(
            TensorImageDataset(dataset.train_images, dataset.train_labels,
                               cifar_train_transform(dataset.mean, dataset.std, padding=run.padding,
                                                     size=dataset.image_size)),
            batch_sampler=sampler, num_workers=config.workers, pin_memory=device.type == "cuda",
            # Workers restart every epoch with seeds from (seed, epoch), so a run resumed at an
            # epoch boundary draws the same augmentations as an uninterrupted one.
            generator=loader_generator, persistent_workers=False,
        )

    start_epoch, history, train_seconds, segments = 0, [], 0.0, []
    checkpoint_file = checkpoint_path(config)
    if checkpoint:
        _restore_parked(config, checkpoint_file, dataset.digest or None)
    if checkpoint and checkpoint_file.is_file():
        state = read_checkpoint(checkpoint_file, map_location=device)
        differences = _differences(checkpoint_file, state, config, dataset.digest or None)
        if differences:
            raise _other_settings(checkpoint_file, differences)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        run.augment_generator.set_state(state["augment_rng"])
        if recipe.generator is not None:
            recipe.generator.set_state(state["mix_rng"])
        start_epoch, history, train_seconds = state["epoch"], state["history"], state["train_seconds"]
        segments = list(state.get("segments", []))  # checkpoints before segments were recorded: none
    segments.append(_segment(start_epoch + 1))

    # Built after a resume: loading the optimiser's state replaces its lr tensor.
    graphed = (GraphedStep(model, optimizer, recipe, channels_last=config.channels_last, amp=config.amp)
               if config.cuda_graph else None)
    bar = _progress(protocol.epochs * steps_per_epoch, start_epoch * steps_per_epoch,
                    f"{config.method} seed {config.seed}", progress)
    model.train()
    total_steps = protocol.epochs * steps_per_epoch
    step_seconds: list[float] = []  # this segment's first steps, for the projection
    for epoch in range(start_epoch, protocol.epochs):
        epoch_start = time.perf_counter()
        sampler.set_epoch(epoch)
        mixing = epoch in recipe.active_epochs
        if loader is None:
            batches = device_batches(sampler, train_images, train_labels, run.padding, run.augment_generator)
        else:
            loader_generator.manual_seed(config.seed * 1_000_003 + epoch)
            batches = ((images.to(device, non_blocking=True), labels.to(device, non_blocking=True))
                       for images, labels in loader)
        loss_sum = torch.zeros((), device=device)
        step_start = time.perf_counter()
        for step, (images, labels) in enumerate(batches):
            lr = protocol.lr * lr_factor(protocol, epoch, step, steps_per_epoch)
            if loader is None:
                images = normalize(images, run.mean, run.std)
            if graphed is not None:
                loss = graphed(*recipe.rows(images, labels, epoch), epoch, lr)
            else:
                for group in optimizer.param_groups:
                    group["lr"] = lr
                loss = run.step(images, labels, epoch)
            loss_sum += loss.detach()
            bar.update()
            if len(step_seconds) < PROJECTION_STEPS:
                now = time.perf_counter()
                step_seconds.append(now - step_start)
                step_start = now
                if len(step_seconds) == PROJECTION_STEPS:
                    line = _projection_line(step_seconds, total_steps - epoch * steps_per_epoch - step - 1,
                                            total_steps)
                    if log_epochs:
                        print(line, flush=True)
                    else:
                        bar.write(line)
        seconds = time.perf_counter() - epoch_start
        train_seconds += seconds
        record = {"epoch": epoch + 1, "loss": loss_sum.item() / steps_per_epoch, "mixing": mixing,
                  "lr_end": float(optimizer.param_groups[0]["lr"]), "seconds": seconds}
        if protocol.eval_every and (epoch + 1) % protocol.eval_every == 0 and epoch + 1 < protocol.epochs:
            record["test_top1"] = evaluate(model, dataset.test_images.to(device), dataset.test_labels.to(device),
                                           run.mean, run.std, num_classes=num_classes,
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
                "segments": segments, "data_digest": dataset.digest or None,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "torch_rng": torch.get_rng_state(), "augment_rng": run.augment_generator.get_state(),
                "mix_rng": recipe.generator.get_state() if recipe.generator is not None else None,
            })
    bar.close()

    eval_start = time.perf_counter()
    top1, per_class = evaluate(model, dataset.test_images.to(device), dataset.test_labels.to(device), run.mean, run.std,
                               num_classes=num_classes, batch_size=protocol.eval_batch_size,
                               channels_last=config.channels_last, amp=config.amp)
    eval_seconds = time.perf_counter() - eval_start
    result = build_result(
        config, dataset, method, protocol, device, top1=top1, per_class=per_class, history=history,
        train_seconds=train_seconds, eval_seconds=eval_seconds, steps_per_epoch=steps_per_epoch,
        resumed=start_epoch > 0, segments=segments,
    )
    write_json(result_path(config), result)
    if checkpoint:
        checkpoint_file.unlink(missing_ok=True)
        parked = parked_checkpoint_path(config)
        if parked.is_file() and not _differences(parked, read_checkpoint(parked), config):
            parked.unlink()  # the result replaces it (commit both together)
    return result
