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
from pathlib import Path
import sys
import time

from benchmarks.data import DATASETS, long_tailed, load_dataset, setting_key
from benchmarks.protocols import PROTOCOLS
from benchmarks.train import RESULTS_DIR, RunConfig, result_path, train


def _throughput(results_dir: str) -> None:
    try:
        from benchmarks import throughput
    except ImportError as error:  # the module is written separately (issue 2)
        print(f"(skipping the transform throughput table: benchmarks.throughput is not available: {error})\n")
        return
    print("## Transform throughput (quick)\n", flush=True)
    results = throughput.run(quick=True, out_path=Path(results_dir) / "throughput-quick.json")
    print(throughput.format_table(results) + "\n", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--dataset", default="digits", choices=DATASETS)
    parser.add_argument("--npz", default=None, help="CIFAR-10 .npz path (cifar10 without --root)")
    parser.add_argument("--root", default=None, help="torchvision download dir or ImageFolder dir")
    parser.add_argument("--ir", type=float, default=None, help="imbalance ratio (default: 10 digits, 100 otherwise)")
    parser.add_argument("--protocol", default=None, choices=sorted(PROTOCOLS),
                        help="default: tiny for digits, quick otherwise")
    parser.add_argument("--methods", nargs="+", default=["ce", "cmo", "mmt"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads for training (0: torch's default; 1 is faster on a busy machine)")
    parser.add_argument("--skip-existing", action="store_true", help="keep runs whose results file exists")
    parser.add_argument("--no-throughput", dest="throughput", action="store_false")
    # The quick run's files stay out of the committed results (git-ignored folder).
    parser.add_argument("--results-dir", default=str(RESULTS_DIR / "quick"))
    args = parser.parse_args(argv)
    digits = args.dataset == "digits"
    ratio = args.ir if args.ir is not None else (10 if digits else 100)
    protocol = PROTOCOLS[args.protocol or ("tiny" if digits else "quick")]

    started = time.perf_counter()
    if args.throughput:
        _throughput(args.results_dir)

    from benchmarks.render import markdown_table
    from benchmarks.summary import update_summary

    dataset = long_tailed(load_dataset(args.dataset, npz=args.npz, root=args.root), ratio)
    setting = setting_key(args.dataset, ratio, "exp", protocol.name)
    print(f"## Accuracy: {setting} ({len(dataset.train_labels)} training images, "
          f"{protocol.architecture}, {protocol.epochs} epochs)\n", flush=True)
    for seed in args.seeds:
        for method in args.methods:
            config = RunConfig(dataset=args.dataset, imbalance_ratio=ratio, method=method, seed=seed,
                               protocol=protocol, npz=args.npz, root=args.root, threads=args.threads,
                               results_dir=args.results_dir)
            if args.skip_existing and result_path(config).is_file():
                continue
            result = train(config, dataset, progress=sys.stderr.isatty(), checkpoint=False, log_epochs=False)
            print(f"{method} seed {seed}: top-1 {result['metrics']['top1']:.2f} "
                  f"({result['timing']['wall_seconds']:.0f} s)", flush=True)
    summary = update_summary(args.results_dir)
    methods = {name: entry for name, entry in summary[setting].items() if name in args.methods}
    print("\n" + markdown_table(methods) + "\n")
    print(f"Results in {args.results_dir} ({time.perf_counter() - started:.0f} s in all); "
          f"`python -m benchmarks.render` draws the plots.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
