"""This checkout's ``MMTMix`` against another checkout's, timed alternately in one run.

Two versions of a package cannot share a process, so each checkout runs in a worker process of
its own (one torch thread, the same seeded batch), and the parent asks them in turn for blocks of
calls: round after round, case after case, the two alternate (which goes first alternates too),
so drift of the machine reaches both alike. Each block's first calls are left out (they follow
the other worker's work); ratios are taken per round and summarised by median and quartiles.
Pause other work on the machine while it runs.

Example (a baseline checked out beside this one)::

    git worktree add ../baseline 37bc953
    python -m benchmarks.ab_speed --baseline ../baseline --out benchmarks/results/ab-speed-37bc953-cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.environment import git_revision, machine_info
from benchmarks.results_io import LOCAL_RESULTS_DIR, REPO_ROOT, write_json
from benchmarks.timing import ratio_summary

__all__ = ["CASES", "compare", "main"]

#: The ``MMTMix`` settings timed, by name.
CASES: dict[str, dict] = {
    "per-sample cutmix": {"mode": "cutmix", "per_sample": True},
    "per-sample mixup": {"mode": "mixup", "per_sample": True},
    "per-sample mixup p=0.5": {"mode": "mixup", "per_sample": True, "p": 0.5},
    "per-batch cutmix": {"mode": "cutmix", "per_sample": False},
    "per-batch mixup": {"mode": "mixup", "per_sample": False},
    "per-sample (cutmix, mixup)": {"mode": ["cutmix", "mixup"], "per_sample": True},
}

# The worker: imports the mmt_augment on its path, then times the blocks of calls it is asked for.
_WORKER = """
import json, sys, time
import torch
torch.set_num_threads(1)
from mmt_augment import MMTMix
cases, (batch, channels, size, classes) = json.loads(sys.argv[1]), json.loads(sys.argv[2])
generator = torch.Generator().manual_seed(0)
head, tail = (torch.rand(batch, channels, size, size, generator=generator) for _ in range(2))
head_labels, tail_labels = (torch.randint(0, classes, (batch,), generator=generator) for _ in range(2))
mixers = {name: MMTMix(num_classes=classes, generator=torch.Generator().manual_seed(1),
                       **{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()})
          for name, options in cases.items()}
for mix in mixers.values():
    for _ in range(20):
        mix(head, head_labels, tail, tail_labels)
print("ready", flush=True)
for line in sys.stdin:
    name, calls = json.loads(line)
    seconds = []
    for _ in range(calls):
        start = time.perf_counter()
        mixers[name](head, head_labels, tail, tail_labels)
        seconds.append(time.perf_counter() - start)
    print(json.dumps(seconds), flush=True)
"""


def _start(tree: Path, shape: tuple[int, int, int, int]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    worker = subprocess.Popen([sys.executable, "-c", _WORKER, json.dumps(CASES), json.dumps(shape)], env=env,
                              cwd=tree, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    return worker


def compare(baseline: Path, *, rounds: int = 40, block: int = 25, skip: int = 5,
            shape: tuple[int, int, int, int] = (128, 3, 32, 100)) -> dict:
    """Seconds per call of every case in this checkout (``new``) and ``baseline`` (``old``).

    Returns:
        ``{case: {"new_ms", "old_ms", "ratio", "q1", "q3", "calls"}}``: medians over every kept
        call, and the median and quartiles of the per-round ratios new / old.
    """
    workers = {"new": _start(REPO_ROOT, shape), "old": _start(Path(baseline).resolve(), shape)}
    calls: dict[str, dict[str, list[list[float]]]] = {case: {"new": [], "old": []} for case in CASES}
    try:
        for round_index in range(rounds):
            for case in CASES:
                for side in ("new", "old") if round_index % 2 == 0 else ("old", "new"):
                    worker = workers[side]
                    assert worker.stdin is not None and worker.stdout is not None
                    worker.stdin.write(json.dumps([case, block]) + "\n")
                    worker.stdin.flush()
                    calls[case][side].append(json.loads(worker.stdout.readline())[skip:])
    finally:
        for worker in workers.values():
            worker.kill()
    results = {}
    for case, sides in calls.items():
        new = [statistics.median(times) for times in sides["new"]]
        old = [statistics.median(times) for times in sides["old"]]
        spread = ratio_summary(new, old)
        results[case] = {
            "new_ms": 1e3 * statistics.median(t for times in sides["new"] for t in times),
            "old_ms": 1e3 * statistics.median(t for times in sides["old"] for t in times),
            "ratio": spread["ratio"], "q1": spread["q1"], "q3": spread["q3"],
            "calls": sum(map(len, sides["new"])),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--out", type=Path, default=LOCAL_RESULTS_DIR / "ab-speed.json")
    args = parser.parse_args(argv)
    if not (args.baseline / "mmt_augment" / "__init__.py").is_file():
        parser.error(f"--baseline {args.baseline}: not a checkout of mmt-augment (no mmt_augment/__init__.py)")
    baseline_git = subprocess.run(["git", "rev-parse", "HEAD"], cwd=args.baseline, capture_output=True,
                                  text=True).stdout.strip() or None
    results = compare(args.baseline, rounds=args.rounds)
    machine = {**machine_info("cpu"), "torch_threads": 1}  # the workers' (the parent only asks)
    write_json(args.out, {"schema": 1, "batch": "128x3x32x32 float32, 100 classes, one torch thread",
                          "new": git_revision(), "old": baseline_git, "cases": results, "machine": machine})
    for case, row in results.items():
        print(f"{case:28s} new {row['new_ms']:.3f} ms  old {row['old_ms']:.3f} ms  "
              f"new/old {row['ratio']:.2f}x (rounds {row['q1']:.2f}-{row['q3']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
