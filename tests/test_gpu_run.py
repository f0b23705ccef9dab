"""The GPU run (`python -m benchmarks.gpu`) end to end on the CPU with tiny settings.

No GPU is needed: checks that need CUDA record ``"ok": None`` with the reason, every file records
its device, and ``import`` refuses files that are not from a CUDA run. The check functions'
logic is also exercised on the CPU with the CUDA-only calls stubbed out.
"""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import gpu
from benchmarks.data import load_digits, long_tailed


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    folder = tmp_path_factory.mktemp("payload")
    assert gpu.main(["prepare", "--smoke", "--no-wheels", "--payload", str(folder)]) == 0
    return folder


def test_payload_round_trips_losslessly(payload, tmp_path):
    dataset = long_tailed(load_digits(), 10)
    sizes = gpu.write_payload(dataset, tmp_path / "data.xz")
    back = gpu.load_payload(tmp_path / "data.xz")
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        assert torch.equal(getattr(back, name), getattr(dataset, name))
    assert back.digest == dataset.digest and back.class_names == dataset.class_names
    assert sizes["compressed_bytes"] < sizes["raw_bytes"]
    report = json.loads((payload / "prepare.json").read_text())
    assert report["fits"] and report["carry"] and report["call_1"]["timeout_s"] <= 180


def test_smoke_checks_and_paper_run_on_the_cpu_and_say_so(payload, tmp_path):
    out = tmp_path / "out"
    assert gpu.main(["checks", "--smoke", "--payload", str(payload), "--results-dir", str(out)]) == 0
    checks = json.loads((out / "gpu-checks.json").read_text())
    assert checks["machine"]["device"] == "cpu" and checks["smoke"]
    for name, check in checks["checks"].items():
        assert check["ok"] is True or (check["ok"] is None and check["skipped"] == "no CUDA"), name
    assert json.loads((out / "throughput-cpu.json").read_text())["machine"]["device"] == "cpu"
    timing = json.loads((out / "step-timing.json").read_text())
    assert timing["mmt"]["eager_ms_per_step"] > 0 and "graph_ms_per_step" not in timing["mmt"]
    for report in timing["fast_path_agreement"].values():  # the step logic, uncaptured on the CPU
        assert report["captured"] is False and report["agrees"] and report["max_abs_diff"] < 1e-4
        assert report["max_update_rel_diff"] < 1e-4 and report["integer_buffers_match"]

    # The budget only decides which runs start; a loaded two-core machine needs a wide one.
    assert gpu.main(["paper", "--smoke", "--payload", str(payload), "--results-dir", str(out), "--budget-s", "400"]) == 0
    report = json.loads((out / "paper-runs.json").read_text())
    finished = sorted((run["method"], run["seed"]) for run in report["runs"])
    recommended = json.loads((gpu.RESULTS_DIR / "recommendation.json").read_text())["recommended"]
    assert finished == sorted(gpu.paper_plan(recommended)[:4])
    assert all(run["protocol"]["architecture"] == "resnet8" for run in report["runs"])
    assert all(run["fast_path_check"]["agrees"] and not run["config"]["cuda_graph"] for run in report["runs"])

    into = tmp_path / "results"
    assert gpu.main(["import", str(out), "--into", str(into), "--no-render"]) == 0
    assert not into.exists() or not list(into.rglob("*.json"))  # CPU files never pass for GPU evidence


def test_the_plan_puts_the_decisive_runs_first():
    plan = gpu.paper_plan("mmt+la")
    assert plan[:5] == [("ce", 0), ("cmo", 0), ("mmt", 0), ("la", 0), ("mmt+la", 0)]
    assert plan[-1] == ("mmt-mixup-p1-per-batch-inverse", 0)
    assert ("mmt+la", 2) in plan


def test_check_functions_run_on_the_cpu_with_cuda_calls_stubbed(monkeypatch):
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *args, **kwargs: None)
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", lambda *args, **kwargs: None)
    cpu = torch.device("cpu")
    assert len(gpu._check_no_sync(cpu)["cases"]) == len(gpu.MODES) * 3 * 2
    if gpu._kornia_available():  # the GPU machine needs the carried wheels for this one
        assert gpu._check_random_mmt(cpu)["modes"]
    else:
        with pytest.raises(RuntimeError, match="kornia is not importable"):
            gpu._check_random_mmt(cpu)
