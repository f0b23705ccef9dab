"""The GPU run's first command: the CUDA checks, the paper step's timing, and transform throughput.

``gpu-checks.json``: the outcome of every test in ``tests/test_cuda_checks.py`` (no host
synchronisation under ``torch.cuda.set_sync_debug_mode("error")`` for every mode x dtype x
per-sample; CUDA-graph capture and replay with fresh parameters per replay;
``torch.compile(fullgraph=True)``; generators on another device than the images; ``RandomMMT``
likewise), run by pytest in a process of its own (:func:`run_check_tests`), and whether the
CUDA-graph training step agrees with the eager one. ``step-timing.json``: 50 steps of the paper
training step, eager and as a CUDA graph, and 20 steps of each beside the other from the same
weights on the same batches (:mod:`benchmarks.gpu_step`). ``throughput-cuda.json``: CUDA-event
medians against torchvision, kornia and timm in fp32 and bf16 (:mod:`benchmarks.throughput`).

Without CUDA (``--smoke`` on the CPU) the check tests skip and are recorded as
``{"ok": null, "skipped": "no CUDA"}``; every file records its device.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import torch

from benchmarks.environment import machine_info
from benchmarks.gpu_paper import paper_protocol
from benchmarks.gpu_payload import CHECKS_LIMIT_S, load_payload
from benchmarks.gpu_step import step_timing
from benchmarks.results_io import REPO_ROOT, write_json

__all__ = ["CHECK_TESTS", "checks", "run_check_tests"]

CHECK_TESTS = REPO_ROOT / "tests" / "test_cuda_checks.py"


def _outcomes(report: Path) -> dict[str, dict[str, Any]]:
    """``{check: entry}`` from a JUnit XML report: one check per test function, its parameter sets as cases."""
    cases: dict[str, dict[str, dict[str, str]]] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        function, _, parameters = case.get("name", "").partition("[")
        outcome = cases.setdefault(function.removeprefix("test_"), {"passed": {}, "failed": {}, "skipped": {}})
        label = parameters.removesuffix("]") or "-"
        failure = next((child for child in case if child.tag in ("failure", "error")), None)
        skipped = case.find("skipped")
        if failure is not None:
            outcome["failed"][label] = (failure.get("message") or failure.text or "")[:500]
        elif skipped is not None:
            outcome["skipped"][label] = skipped.get("message") or ""
        else:
            outcome["passed"][label] = ""
    checks: dict[str, dict[str, Any]] = {}
    for name, outcome in cases.items():
        if outcome["failed"]:
            checks[name] = {"ok": False, "failed": outcome["failed"], "passed": sorted(outcome["passed"])}
        elif outcome["passed"]:
            checks[name] = {"ok": True, "passed": sorted(outcome["passed"])}
            if outcome["skipped"]:
                checks[name]["skipped"] = outcome["skipped"]
        else:
            reasons = sorted(set(outcome["skipped"].values()))
            checks[name] = {"ok": None, "skipped": reasons[0] if len(reasons) == 1 else reasons}
    return checks


def run_check_tests(path: Path = CHECK_TESTS, *, timeout_s: float = CHECKS_LIMIT_S * 0.6) -> dict[str, dict[str, Any]]:
    """Run the test file ``path`` with pytest in its own process; ``{check: {"ok": True/False/None, ...}}``.

    A check is a test function (``test_`` left off): ``ok`` is ``False`` when any of its
    parameter sets failed (``"failed"``: the messages), ``None`` when all were skipped
    (``"skipped"``: the reason), else ``True`` (``"passed"``: the parameter sets). When pytest
    writes no report (or runs past ``timeout_s``) the entry ``"pytest"`` says so.
    """
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "checks.xml"
        command = [sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                   f"--junitxml={report}"]
        try:
            completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as error:
            output = error.stdout.decode(errors="replace") if isinstance(error.stdout, bytes) else error.stdout or ""
            return {"pytest": {"ok": False, "error": f"timed out after {timeout_s:.0f} s", "output": output[-2000:]}}
        if not report.is_file():
            return {"pytest": {"ok": False, "error": f"no report (exit {completed.returncode})",
                               "output": (completed.stdout + completed.stderr)[-2000:]}}
        return _outcomes(report)


def checks(args: argparse.Namespace) -> int:
    """``python -m benchmarks.gpu checks``: exit 1 when a check failed, or was skipped on a CUDA machine."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out = Path(args.results_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": {**machine_info(device), "gpu": torch.cuda.get_device_name()
                                           if device.type == "cuda" else None},
                               "smoke": args.smoke, "tests": CHECK_TESTS.relative_to(REPO_ROOT).as_posix()}
    results["checks"] = table = run_check_tests()
    for name, check in table.items():
        print(f"{name}: {check['ok']}", flush=True)
    write_json(out / "gpu-checks.json", results)

    # Step timing next (it sizes call 2), then throughput one dtype at a time, each written when
    # done, so a command stopped at its limit still returns what finished.
    dataset = load_payload(Path(args.payload) / "data.xz")
    try:
        timing = step_timing(device, dataset, paper_protocol(args.smoke), smoke=args.smoke)
        write_json(out / "step-timing.json", {"machine": machine_info(device), "smoke": args.smoke, **timing})
        if device.type == "cuda":
            agreement = timing["fast_path_agreement"]
            table["cuda_graph_training_step_agrees"] = {
                "ok": all(report["agrees"] for report in agreement.values()),
                **{name: {key: report[key] for key in ("max_abs_diff", "max_update_rel_diff",
                                                          "integer_buffers_match", "captured_graphs")}
                   for name, report in agreement.items()}}
        else:
            table["cuda_graph_training_step_agrees"] = {"ok": None, "skipped": "no CUDA"}
    except Exception:
        (out / "step-timing-error.txt").write_text(traceback.format_exc())
        table["cuda_graph_training_step_agrees"] = {"ok": False, "error": "see step-timing-error.txt"}
    write_json(out / "gpu-checks.json", results)
    from benchmarks import throughput

    for dtype in ("float32",) if args.smoke else ("float32", "bfloat16"):
        if time.perf_counter() - started > CHECKS_LIMIT_S * 0.6:
            print(f"throughput {dtype}: skipped, {time.perf_counter() - started:.0f} s used", flush=True)
            continue
        suffix = "" if dtype == "float32" else f"-{dtype}"
        try:
            throughput.run(out_path=out / f"throughput-{device.type}{suffix}.json", device=device.type,
                           sizes=["32px"] if args.smoke else None, dtypes=(dtype,),
                           rounds=3 if args.smoke else {"32px": 60, "224px": 12})
        except Exception:  # keep the checks and the timing even if a throughput run breaks
            (out / f"throughput-error{suffix}.txt").write_text(traceback.format_exc())
    print(f"checks done in {time.perf_counter() - started:.0f} s -> {out}")
    failed = any(check["ok"] is False for check in table.values())
    unchecked = device.type == "cuda" and any(check["ok"] is None for check in table.values())
    return 1 if failed or unchecked else 0
