"""The paper runs on the GPU: the plan, and the runs it fits into the second command's budget.

The ``paper`` protocol (CIFAR ResNet-32, 200 epochs) on CIFAR-10-LT ratio 100 in bf16: ``ce``,
``cmo``, ``mmt`` seed 0 first, concurrently, then ``la`` and the recipe recommended for this
setting (:data:`PAPER_SETTING` in ``recommendation.json``), then seeds 1 and 2, then
:data:`BBN_VARIANT`, as the budget allows (:func:`paper_plan`). Each run first checks the
CUDA-graph step against the eager one on its own method and seed
(:func:`benchmarks.gpu_step.fast_path_agreement`) and uses it only if they agree; the check is
recorded in the run. Runs go to ``paper-runs.json``, rewritten atomically whenever one finishes,
so a time-out keeps them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from benchmarks.environment import machine_info
from benchmarks.gpu_payload import load_payload
from benchmarks.gpu_step import amp_for, fast_path_agreement
from benchmarks.loop import train
from benchmarks.methods import CORE_METHODS
from benchmarks.protocols import PROTOCOLS, Protocol, with_overrides
from benchmarks.results_io import REPO_ROOT, RESULTS_DIR, write_json
from benchmarks.run_config import RunConfig, result_path

__all__ = ["BBN_VARIANT", "PAPER_SETTING", "paper", "paper_plan", "paper_protocol", "recommended_method"]

PAPER_SETTING = "cifar10-lt-ir100-exp-paper"
#: The methods run after the core ones: the strongest alternative without mixing (the recommended
#: recipe joins them).
SECOND_METHODS = ("la",)
#: The BBN-lineage MMT variant (per-batch MixUp with p = 1 and the inverse tail), run last.
BBN_VARIANT = "mmt-mixup-p1-per-batch-inverse"
RECOMMENDATION = RESULTS_DIR / "recommendation.json"


def paper_protocol(smoke: bool) -> Protocol:
    """The ``paper`` protocol; ``smoke``: a few steps of every code path on the CPU."""
    protocol = PROTOCOLS["paper"]
    if smoke:
        protocol = with_overrides(protocol, {"architecture": "resnet8", "epochs": 2, "warmup_epochs": 1,
                                             "milestones": (1,), "decay": (0.1,), "batch_size": 64})
    return protocol


def recommended_method(setting: str, path: Path = RECOMMENDATION) -> str | None:
    """The method ``recommendation.json`` recommends for ``setting``, or ``None``.

    The file is keyed by setting (``{"cifar10-lt-ir100-exp-quick": {"recommended": ..., ...}}``);
    the older flat form (one entry, its setting in its ``"setting"`` field) is read as that one key.
    """
    if not Path(path).is_file():
        return None
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object keyed by setting, got {type(data).__name__}")
    if isinstance(data.get("setting"), str) and "recommended" in data:
        data = {data["setting"]: data}
    entry = data.get(setting)
    return entry.get("recommended") if isinstance(entry, dict) else None


def paper_plan(recommended: str | None) -> list[tuple[str, int]]:
    """(method, seed) in the order of the issue: the core methods (ce, cmo, mmt) seed 0; la and the
    recommended recipe; seeds 1 and 2 of those; then the BBN-lineage variant."""
    first = list(CORE_METHODS)
    second = list(SECOND_METHODS) + ([recommended] if recommended and recommended not in (*first, *SECOND_METHODS)
                                     else [])
    plan = [(method, 0) for method in first + second]
    plan += [(method, seed) for seed in (1, 2) for method in first + second]
    plan.append((BBN_VARIANT, 0))
    return plan


def _run_one(args: argparse.Namespace) -> int:
    """One paper run in its own process (``paper --one METHOD SEED``); writes the result JSON."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dataset = load_payload(Path(args.payload) / "data.xz")
    method, seed = args.one[0], int(args.one[1])
    # The CUDA-graph step is used only when it agrees with the shared eager step on this run's
    # method and seed (on the CPU the check runs the step logic uncaptured, and runs are eager).
    try:
        check = fast_path_agreement(device, dataset, method, paper_protocol(args.smoke), smoke=args.smoke, seed=seed)
    except Exception as error:  # a failed capture means an eager run, not a lost one
        check = {"method": method, "agrees": False, "error": repr(error)[:500],
                 "traceback": traceback.format_exc()[-2000:]}
    config = RunConfig(dataset="cifar10", imbalance_ratio=100, method=method, seed=seed,
                       protocol=paper_protocol(args.smoke), device=device.type, amp=amp_for(device),
                       cuda_graph=device.type == "cuda" and check["agrees"], results_dir=args.work_dir,
                       threads=2 if device.type == "cuda" else 1)
    result = train(config, dataset, progress=False, checkpoint=False, log_epochs=False)
    result["fast_path_check"] = {key: value for key, value in check.items() if not key.endswith("_losses")}
    write_json(result_path(config), result)
    print(f"{method} seed {seed}: top-1 {result['metrics']['top1']:.2f} in {result['timing']['wall_seconds']:.0f} s",
          flush=True)
    return 0


def paper(args: argparse.Namespace) -> int:
    if args.one:
        return _run_one(args)
    out = Path(args.results_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mmt-paper-"))
    plan = paper_plan(recommended_method(PAPER_SETTING))
    if args.smoke:
        plan = plan[:4]
    started = time.monotonic()
    deadline = started + args.budget_s
    runs: list[dict[str, Any]] = []
    pending, running, log = list(plan), [], []
    estimate = None  # seconds one run takes, learnt from the first finished ones
    report_path = out / "paper-runs.json"

    def write_report() -> None:
        write_json(report_path, {"machine": machine_info("cuda" if torch.cuda.is_available() else "cpu"),
                                 "smoke": args.smoke, "plan": plan, "budget_s": args.budget_s,
                                 "elapsed_s": time.monotonic() - started, "log": log, "runs": runs})

    write_report()
    try:
        while pending or running:
            while pending and len(running) < args.jobs:
                remaining = deadline - time.monotonic()
                if estimate is not None and remaining < estimate * 1.1:
                    log.append(f"not started (budget): {pending}")
                    pending = []
                    break
                method, seed = pending.pop(0)
                command = [sys.executable, "-m", "benchmarks.gpu", "paper", "--payload", str(args.payload),
                           "--work-dir", str(work), "--one", method, str(seed), *(["--smoke"] if args.smoke else [])]
                process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           text=True)
                running.append((method, seed, process, time.monotonic()))
            time.sleep(0.5)
            for entry in list(running):
                method, seed, process, began = entry
                if process.poll() is None:
                    if time.monotonic() > deadline:
                        process.terminate()
                    continue
                running.remove(entry)
                output = process.stdout.read() if process.stdout else ""
                seconds = time.monotonic() - began
                files = list(work.rglob(f"{method}-seed{seed}*.json"))
                if process.returncode == 0 and files:
                    runs.append(json.loads(files[0].read_text()))
                    estimate = seconds if estimate is None else max(estimate, seconds)
                    log.append(f"done {method} seed {seed} in {seconds:.0f} s")
                else:
                    log.append(f"failed {method} seed {seed} (exit {process.returncode}): {output[-1500:]}")
                write_report()
                print(log[-1], flush=True)
    finally:
        for _, _, process, _ in running:
            if process.poll() is None:
                process.kill()
        write_report()
        shutil.rmtree(work, ignore_errors=True)
    return 0
