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
import json
import sys
from pathlib import Path

from benchmarks.data import DATASETS, DEFAULT_NPZ, load_dataset, long_tailed
from benchmarks.loop import train
from benchmarks.methods import parse_method
from benchmarks.protocols import add_protocol_arguments, protocol_from_args
from benchmarks.results_io import LOCAL_RESULTS_DIR, RESULTS_DIR, relative_to_repo
from benchmarks.run_config import RunConfig, data_source, recorded_identity, result_path, run_identity

__all__ = [
    "RunConfig",
    "build_parser",
    "check_data",
    "config_from_args",
    "main",
    "result_path",
    "train",
]


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m benchmarks.train`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.train",
        description="Train one (setting, method, seed) run on long-tailed data and write its results JSON.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
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
    """The :class:`RunConfig` described by parsed ``python -m benchmarks.train`` arguments."""
    return RunConfig(
        dataset=args.dataset, imbalance_ratio=args.imbalance_ratio, profile=args.profile, method=args.method,
        seed=args.seed, protocol=protocol_from_args(args), npz=args.npz, root=args.root, path=args.path,
        workers=args.workers, device=args.device, threads=args.threads, amp=args.amp,
        channels_last=args.channels_last, compile=args.compile, cuda_graph=args.cuda_graph,
        results_dir=args.results_dir,
    )


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


def _differences(recorded: dict, wanted: dict) -> list[str]:
    return sorted(key for key in set(recorded) | set(wanted) if recorded.get(key) != wanted.get(key))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = config_from_args(args)
    try:
        parse_method(config.method)
    except ValueError as error:
        parser.error(str(error))
    problem = check_data(config)
    if problem is not None:
        parser.error(problem)
    path = result_path(config)
    if path.is_file() and not args.force:
        existing = json.loads(path.read_text())
        differences = _differences(recorded_identity(existing), run_identity(config))
        if differences:
            parser.error(f"{path} exists but was made with other settings ({', '.join(differences)}); "
                         "use --force to replace it or --results-dir to write elsewhere")
        print(f"{path} exists with the same settings; skipping (use --force to rerun)")
        return 0
    try:
        dataset = long_tailed(load_dataset(config.dataset, npz=config.npz, root=config.root),
                              config.imbalance_ratio, profile=config.profile, seed=config.lt_seed)
    except (OSError, RuntimeError) as error:  # failed downloads, unreadable files
        parser.error(f"could not load {data_source(config)}: {str(error).splitlines()[0] if str(error) else error!r}")
    result = train(config, dataset, progress=args.progress, checkpoint=args.checkpoint)
    metrics = result["metrics"]
    shots = " ".join(f"{name} {metrics[name]:.1f}" for name in ("many", "medium", "few") if metrics[name] is not None)
    print(f"{config.setting} {config.method} seed {config.seed}: top-1 {metrics['top1']:.2f} ({shots}), "
          f"{result['timing']['wall_seconds']:.0f} s -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
