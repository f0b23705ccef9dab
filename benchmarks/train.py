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

The code is split by job: :mod:`benchmarks.run_config` (what a run is and where its result
goes), :mod:`benchmarks.step` (the run's parts and the training step), :mod:`benchmarks.loop`
(the loop), :mod:`benchmarks.run_result` (the result file) and this module, the command line.

Example (two CPU cores, about 10 minutes with one thread)::

    python -m benchmarks.train --dataset cifar10 --ir 100 --method mmt --seed 0
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.data import DATASETS, DEFAULT_NPZ, ImageDataset, load_dataset, long_tailed
from benchmarks.environment import resolve_device
from benchmarks.loop import check_checkpoint, train
from benchmarks.methods import parse_method
from benchmarks.protocols import add_protocol_arguments, protocol_from_args
from benchmarks.results_io import LOCAL_RESULTS_DIR, RESULTS_DIR, relative_to_repo
from benchmarks.run_config import RunConfig, checkpoint_path, data_source, result_path, result_problem

__all__ = [
    "HelpFormatter",
    "RunConfig",
    "build_parser",
    "check_config",
    "check_data",
    "check_output",
    "config_from_args",
    "config_from_argv",
    "data_problem",
    "load_source",
    "main",
    "result_path",
    "source_once",
    "train",
    "unwritable",
]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except a ``--no-...`` switch's, whose stored ``True`` reads as the switch's."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if isinstance(action, argparse._StoreFalseAction):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m benchmarks.train`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.train",
        description="Train one (setting, method, seed) run on long-tailed data and write its results JSON.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--dataset", default="cifar10", choices=DATASETS,
                        help="cifar10 reads --npz unless --root is given; digits ships with scikit-learn")
    parser.add_argument("--npz", default=None,
                        help=f"CIFAR-10 .npz path (default {relative_to_repo(DEFAULT_NPZ)}, relative to the repository)")
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
    parser.add_argument("--cuda-graph", action="store_true",
                        help="replay each training step from a CUDA graph (CUDA only; benchmarks.graphed)")
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
    """The :class:`RunConfig` described by parsed ``python -m benchmarks.train`` arguments.

    Raises:
        ValueError: naming the option, for protocol values no run can train with (``--epochs 0``).
    """
    return RunConfig(
        dataset=args.dataset, imbalance_ratio=args.imbalance_ratio, profile=args.profile, method=args.method,
        seed=args.seed, protocol=protocol_from_args(args), npz=args.npz, root=args.root, path=args.path,
        workers=args.workers, device=args.device, threads=args.threads, amp=args.amp,
        channels_last=args.channels_last, compile=args.compile, cuda_graph=args.cuda_graph,
        results_dir=args.results_dir,
    )


def config_from_argv(argv: list[str]) -> RunConfig:
    """Parse ``python -m benchmarks.train`` arguments into a checked :class:`RunConfig`.

    Raises:
        ValueError: the one-line problem (:func:`config_from_args`, :func:`check_config`).
    """
    config = config_from_args(build_parser().parse_args(argv))
    problem = check_config(config)
    if problem is not None:
        raise ValueError(problem)
    return config


def _device_problem(device: str) -> str | None:
    try:
        resolved = resolve_device(device)
    except RuntimeError:
        return f"--device {device}: expected auto, cpu, cuda, cuda:N or mps"
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            return f"--device {device}: no CUDA device is available on this machine"
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            return f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)"
    elif resolved.type == "mps":
        if not torch.backends.mps.is_available():
            return f"--device {device}: MPS is not available on this machine"
    elif resolved.type != "cpu":
        return f"--device {device}: expected auto, cpu, cuda, cuda:N or mps"
    return None


def check_config(config: RunConfig) -> str | None:
    """A one-line description of the first option value no run can train with, or ``None``.

    Protocol values are checked where the protocol is made (:class:`benchmarks.protocols.Protocol`),
    method names by :func:`benchmarks.methods.parse_method`; this checks the rest, and that a
    mixing method mixes in at least one epoch.
    """
    for option, value in (("--seed", config.seed), ("--threads", config.threads), ("--workers", config.workers)):
        if value < 0:
            return f"{option} must be >= 0, got {value}"
    if not (math.isfinite(config.imbalance_ratio) and config.imbalance_ratio >= 1):
        return f"--ir must be a finite number >= 1, got {config.imbalance_ratio}"
    problem = _device_problem(config.device)
    if problem is not None:
        return problem
    try:
        parse_method(config.method)
    except ValueError as error:
        return f"--method: {error}"
    # A method's own window (cmo-window's 3:-3) may select no epoch of a short run: it then
    # trains like its base without mixing, which a smoke or equivalence run may want.
    return None


def check_data(config: RunConfig) -> str | None:
    """A one-line description of what is wrong with the run's data options, or ``None``.

    Checked before anything is loaded or trained, so a missing file fails at once.
    """
    if config.dataset == "cifar10" and config.root is None:
        npz = Path(config.npz) if config.npz is not None else DEFAULT_NPZ
        if not npz.is_file():
            return (f"no CIFAR-10 file at --npz {relative_to_repo(npz) if config.npz is None else config.npz}; "
                    "pass --npz PATH, or --root DIR to use torchvision's CIFAR-10 download")
    if config.dataset in ("cifar100", "imagefolder") and config.root is None:
        return f"--dataset {config.dataset} needs --root DIR"
    if config.dataset == "imagefolder" and not Path(config.root).is_dir():
        return f"--root {config.root}: no such directory"
    return None


def unwritable(folder: Path) -> str | None:
    """Why nothing can be written in ``folder``, or ``None``: probed by a temporary file, removed
    at once, in ``folder`` or, where it is missing, in its nearest existing parent (the writers
    create the missing folders), so a run that stops before its first write leaves nothing."""
    existing = Path(folder)
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"Not a directory ({existing})"
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".write-probe-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        return f"{error.strerror or type(error).__name__} ({error.filename or existing})"
    return None


def check_output(config: RunConfig, *, checkpoint: bool = True) -> str | None:
    """A one-line description of why the run's result (or checkpoint) cannot be written, or ``None``.

    Probed at start-up (:func:`unwritable`) so an unusable ``--results-dir`` fails before any
    work, not at the first write after an epoch or the whole run.
    """
    targets = [result_path(config)] + ([checkpoint_path(config)] if checkpoint else [])
    for target in targets:
        if target.is_dir():
            return f"--results-dir {config.results_dir}: {target} is a folder, where the run writes a file"
        problem = unwritable(target.parent)
        if problem is not None:
            return f"--results-dir {config.results_dir}: cannot write there: {problem}"
    return None


def load_source(config: RunConfig) -> ImageDataset:
    """The run's whole dataset (before the long-tailed subset), whose digest results record."""
    return load_dataset(config.dataset, npz=config.npz, root=config.root)


def data_problem(config: RunConfig, error: Exception) -> str:
    """The one-line error for data that could not be loaded, naming the option that chose it."""
    option = "--dataset" if config.dataset == "digits" else "--root" if config.root is not None else "--npz"
    reason = str(error).splitlines()[0] if str(error) else repr(error)
    return f"{option}: could not load {data_source(config)}: {reason}"


def source_once(parser: argparse.ArgumentParser, config: RunConfig) -> Callable[[], ImageDataset]:
    """A function that loads the run's data (:func:`load_source`) on its first call only, or ends
    the program with ``parser``'s one-line error (:func:`data_problem`) when it cannot."""

    @functools.cache
    def source() -> ImageDataset:
        try:
            return load_source(config)
        except (OSError, RuntimeError, ValueError) as error:  # failed downloads, unreadable files
            parser.error(data_problem(config, error))

    return source


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    problem = check_config(config) or check_data(config) or check_output(config, checkpoint=args.checkpoint)
    if problem is not None:
        parser.error(problem)
    method = parse_method(config.method)
    if method.mixes and not method.active_epochs(config.protocol):
        print(f"note: --method {config.method} mixes in no epoch of {config.protocol.epochs}: its own window "
              f"{method.mix_epochs!r} selects none, so this run trains unmixed", file=sys.stderr)
    path = result_path(config)
    source = source_once(parser, config)  # for a result's digest and for training
    if path.is_file() and not args.force:
        try:
            problem = result_problem(path, config, lambda: source().digest)
        except ValueError as error:
            parser.error(f"{error}; delete it, use --force to replace it or --results-dir to write elsewhere")
        if problem is not None:
            parser.error(f"{problem}; use --force to replace it or --results-dir to write elsewhere")
        print(f"{path} exists with the same settings; skipping (use --force to rerun)")
        return 0
    if args.checkpoint:
        try:
            check_checkpoint(config)
        except ValueError as error:
            parser.error(str(error))
    dataset = long_tailed(source(), config.imbalance_ratio, profile=config.profile, seed=config.lt_seed)
    result = train(config, dataset, progress=args.progress, checkpoint=args.checkpoint)
    metrics = result["metrics"]
    shots = " ".join(f"{name} {metrics[name]:.1f}" for name in ("many", "medium", "few") if metrics[name] is not None)
    print(f"{config.setting} {config.method} seed {config.seed}: top-1 {metrics['top1']:.2f} ({shots}), "
          f"{result['timing']['wall_seconds']:.0f} s -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
