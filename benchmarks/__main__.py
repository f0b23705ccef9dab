"""The quick run: ``python -m benchmarks``.

1. The transform throughput table (MMTMix against torchvision, kornia and timm;
   :mod:`benchmarks.throughput`, quick mode).
2. A small accuracy comparison of ``ce``, ``cmo`` and ``mmt`` trained with the same budget on
   the default dataset — scikit-learn's 8x8 digits made long-tailed (ratio 10), ``tiny``
   protocol — so it runs offline on a fresh machine in a few minutes on a laptop CPU.

Results go to ``benchmarks/results/quick/`` (git-ignored: ``runs/<setting>/*.json``,
``summary.json``, ``throughput-quick.json``); ``python -m benchmarks.render`` draws the plots. Pass
``--dataset cifar10 --ir 100 --protocol quick`` for the CIFAR-10-LT comparison (minutes per
method on two CPU cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from benchmarks.data import DATASETS, load_dataset, long_tailed, setting_key
from benchmarks.loop import train
from benchmarks.methods import CORE_METHODS, check_methods
from benchmarks.protocols import PROTOCOLS
from benchmarks.results_io import LOCAL_RESULTS_DIR
from benchmarks.run_config import RunConfig, result_path
from benchmarks.train import HelpFormatter, check_config, check_data, check_output


def _throughput(results_dir: str) -> None:
    from benchmarks import throughput

    print("## Transform throughput (quick)\n", flush=True)
    results = throughput.run(quick=True, out_path=Path(results_dir) / "throughput-quick.json")
    from benchmarks.render import format_table

    print(format_table(results) + "\n", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0],
                                     formatter_class=HelpFormatter)
    parser.add_argument("--dataset", default="digits", choices=DATASETS)
    parser.add_argument("--npz", default=None, help="CIFAR-10 .npz path (cifar10 without --root)")
    parser.add_argument("--root", default=None, help="torchvision download dir or ImageFolder dir")
    parser.add_argument("--ir", type=float, default=None, help="imbalance ratio (default: 10 digits, 100 otherwise)")
    parser.add_argument("--protocol", default=None, choices=sorted(PROTOCOLS),
                        help="default: tiny for digits, quick otherwise")
    parser.add_argument("--methods", nargs="+", default=list(CORE_METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (0: torch's default). One thread keeps the run fast when another "
                             "process shares the cores; more threads oversubscribe them")
    parser.add_argument("--skip-existing", action="store_true", help="keep runs whose results file exists")
    parser.add_argument("--no-throughput", dest="throughput", action="store_false",
                        help="skip the transform throughput comparison")
    # The quick run's files stay out of the committed results (git-ignored folder).
    parser.add_argument("--results-dir", default=str(LOCAL_RESULTS_DIR / "quick"))
    args = parser.parse_args(argv)
    try:
        check_methods(args.methods)
    except ValueError as error:
        parser.error(str(error))
    digits = args.dataset == "digits"
    ratio = args.ir if args.ir is not None else (10 if digits else 100)
    protocol = PROTOCOLS[args.protocol or ("tiny" if digits else "quick")]
    configs = [RunConfig(dataset=args.dataset, imbalance_ratio=ratio, method=method, seed=seed, protocol=protocol,
                         npz=args.npz, root=args.root, threads=args.threads, results_dir=args.results_dir)
               for seed in args.seeds for method in args.methods]
    for config in configs:  # bad values, missing data or an unwritable --results-dir: one line, before any work
        problem = check_config(config) or check_data(config) or check_output(config, checkpoint=False)
        if problem is not None:
            parser.error(problem)

    started = time.perf_counter()
    previous_threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.throughput:
        _throughput(args.results_dir)

    from benchmarks.render import markdown_table
    from benchmarks.summary import update_summary

    dataset = long_tailed(load_dataset(args.dataset, npz=args.npz, root=args.root), ratio)
    setting = setting_key(args.dataset, ratio, "exp", protocol.name)
    print(f"## Accuracy: {setting} ({len(dataset.train_labels)} training images, "
          f"{protocol.architecture}, {protocol.epochs} epochs)\n", flush=True)
    for config in configs:
        if args.skip_existing and result_path(config).is_file():
            continue
        result = train(config, dataset, progress=sys.stderr.isatty(), checkpoint=False, log_epochs=False)
        print(f"{config.method} seed {config.seed}: top-1 {result['metrics']['top1']:.2f} "
              f"({result['timing']['wall_seconds']:.0f} s)", flush=True)
    summary = update_summary(args.results_dir)
    methods = {name: entry for name, entry in summary[setting].items() if name in args.methods}
    print("\n" + markdown_table(methods) + "\n")
    print(f"Results in {args.results_dir} ({time.perf_counter() - started:.0f} s in all); "
          f"`python -m benchmarks.render --results-dir {args.results_dir}` draws the plots.")
    torch.set_num_threads(previous_threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
