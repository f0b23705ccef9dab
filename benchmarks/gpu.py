"""The GPU run: checks, throughput and the ``paper`` protocol, prepared here, run in two commands there.

A lent GPU machine is rare and brief (15 minutes in all, 10 per command, nothing to install
from the network, only the working tree and carried paths travel, 8 files come back from
``$OUT``). So everything is prepared and smoke-tested on the CPU, then run as two commands.
One module per job:

``prepare`` (here; :mod:`benchmarks.gpu_payload`)
    The payload (CIFAR-10-LT and the test set, losslessly compressed, and the kornia wheels the
    GPU machine lacks) in the git-ignored ``benchmarks/gpu_payload/``; checks that the tree plus
    the payload fit the 64 MiB transfer limit and prints the two commands, the path to carry and
    each command's time limit.
``checks`` (call 1, about 3 minutes; :mod:`benchmarks.gpu_checks`)
    ``gpu-checks.json``: the CUDA checks, which are the tests of ``tests/test_cuda_checks.py``
    (they skip without CUDA), run with pytest, and the CUDA-graph training step against the eager
    one; ``step-timing.json`` (:mod:`benchmarks.gpu_step`); ``throughput-cuda.json``.
``paper`` (call 2, ``--budget-s``; :mod:`benchmarks.gpu_paper`)
    The ``paper`` protocol on CIFAR-10-LT ratio 100 in bf16, in the plan's order as the budget
    allows; ``paper-runs.json``, rewritten whenever a run finishes.
``import`` (here; :mod:`benchmarks.gpu_payload`)
    Merges what came back into ``benchmarks/results/`` and renders the README.

``--smoke`` runs ``checks`` and ``paper`` end to end on the CPU with tiny settings; checks that
need CUDA record ``"ok": null, "skipped": "no CUDA"``, and every file records its device, so a
CPU file never passes for GPU evidence.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.gpu_checks import checks
from benchmarks.gpu_paper import paper
from benchmarks.gpu_payload import PAPER_BUDGET_S, PAYLOAD_DIR, import_results, prepare
from benchmarks.results_io import RESULTS_DIR

__all__ = ["build_parser", "main"]


# -- command line ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.split("\n\n")[0])
    commands_ = parser.add_subparsers(dest="command", required=True)
    step = commands_.add_parser("prepare", help="write the payload, check its size, print the two commands")
    step.add_argument("--npz", default=None, help="CIFAR-10 .npz (default ../shared/data/cifar10.npz)")
    step.add_argument("--no-wheels", action="store_true", help="do not download the kornia wheels")
    for name, help_text in (("checks", "call 1: checks, throughput, step timing"),
                            ("paper", "call 2: the paper protocol within --budget-s")):
        sub = commands_.add_parser(name, help=help_text)
        sub.add_argument("--results-dir", default=str(RESULTS_DIR / "local" / "gpu"), help="$OUT on the GPU machine")
        if name == "paper":
            sub.add_argument("--budget-s", type=float, default=PAPER_BUDGET_S, help="start no run that cannot finish")
            sub.add_argument("--jobs", type=int, default=3, help="runs at the same time on the GPU")
            sub.add_argument("--one", nargs=2, metavar=("METHOD", "SEED"), help=argparse.SUPPRESS)
            sub.add_argument("--work-dir", default=None, help=argparse.SUPPRESS)
    for sub in (step, commands_.choices["checks"], commands_.choices["paper"]):
        sub.add_argument("--payload", default=str(PAYLOAD_DIR), help="the prepared folder (carried to the machine)")
        sub.add_argument("--smoke", action="store_true", help="tiny settings, on the CPU, end to end")
    merge = commands_.add_parser("import", help="merge what came back into benchmarks/results and render")
    merge.add_argument("source", help="the folder the device call's files landed in")
    merge.add_argument("--into", default=str(RESULTS_DIR))
    merge.add_argument("--no-render", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"prepare": prepare, "checks": checks, "paper": paper, "import": import_results}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
