"""The GPU run (`python -m benchmarks.gpu`) end to end on the CPU with tiny settings.

No GPU is needed: the CUDA checks (``tests/test_cuda_checks.py``) skip and are recorded as
``"ok": None`` with the reason, every file records its device, and ``import`` refuses files that
are not from a CUDA run. How a check's outcome is recorded is tested with a test file of known
outcomes.
"""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import gpu, gpu_checks, gpu_paper, gpu_payload
from benchmarks.data import load_digits, long_tailed


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    folder = tmp_path_factory.mktemp("payload")
    assert gpu.main(["prepare", "--smoke", "--no-wheels", "--payload", str(folder)]) == 0
    return folder


def test_payload_round_trips_losslessly(payload, tmp_path):
    dataset = long_tailed(load_digits(), 10)
    sizes = gpu_payload.write_payload(dataset, tmp_path / "data.xz")
    back = gpu_payload.load_payload(tmp_path / "data.xz")
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
    assert {"no_host_sync", "cuda_graph_capture_and_replay", "compile_fullgraph_same_draws",
            "generators_across_devices", "random_mmt_no_host_sync", "cuda_graph_training_step_agrees"} <= set(
        checks["checks"])
    for name, check in checks["checks"].items():
        assert check["ok"] is True or (check["ok"] is None and check["skipped"] == "no CUDA"), name
    assert checks["checks"]["no_host_read_on_a_device_without_data"]["ok"] is True  # the meta device runs here
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
    assert finished == sorted(gpu_paper.paper_plan(gpu_paper.recommended_method(gpu_paper.PAPER_SETTING))[:4])
    assert all(run["protocol"]["architecture"] == "resnet8" for run in report["runs"])
    assert all(run["fast_path_check"]["agrees"] and not run["config"]["cuda_graph"] for run in report["runs"])

    into = tmp_path / "results"
    assert gpu.main(["import", str(out), "--into", str(into), "--no-render"]) == 0
    assert not into.exists() or not list(into.rglob("*.json"))  # CPU files never pass for GPU evidence


def test_the_plan_puts_the_decisive_runs_first():
    plan = gpu_paper.paper_plan("mmt+la")
    assert plan[:5] == [("ce", 0), ("cmo", 0), ("mmt", 0), ("la", 0), ("mmt+la", 0)]
    assert plan[-1] == ("mmt-mixup-p1-per-batch-inverse", 0)
    assert ("mmt+la", 2) in plan
    assert gpu_paper.paper_plan(None)[:4] == [("ce", 0), ("cmo", 0), ("mmt", 0), ("la", 0)]


def test_the_plan_reads_its_own_settings_recommendation_in_either_form(tmp_path):
    entry = {"setting": "cifar10-lt-ir100-exp-quick", "recommended": "mmt+la", "chosen_from": "seed 0 only"}
    path = tmp_path / "recommendation.json"
    path.write_text(json.dumps(entry))  # the flat form: one entry, for the setting it names
    assert gpu_paper.recommended_method("cifar10-lt-ir100-exp-quick", path) == "mmt+la"
    assert gpu_paper.recommended_method(gpu_paper.PAPER_SETTING, path) is None
    paper = {**entry, "setting": gpu_paper.PAPER_SETTING, "recommended": "mmt+drw"}
    path.write_text(json.dumps({entry["setting"]: entry, gpu_paper.PAPER_SETTING: paper}))  # keyed by setting
    assert gpu_paper.recommended_method(gpu_paper.PAPER_SETTING, path) == "mmt+drw"
    assert gpu_paper.recommended_method(gpu_paper.PAPER_SETTING, tmp_path / "missing.json") is None


def test_check_outcomes_are_recorded_as_they_came_out(tmp_path):
    tests = tmp_path / "test_known_outcomes.py"
    tests.write_text(
        "import pytest\n\n"
        "def test_passes():\n    assert True\n\n"
        "def test_fails():\n    assert 1 == 2, 'one is not two'\n\n"
        "@pytest.mark.skipif(True, reason='no CUDA')\ndef test_needs_cuda():\n    pass\n\n"
        "@pytest.mark.parametrize('value', [1, 2])\ndef test_cases(value):\n    assert value == 1\n"
    )
    checks = gpu_checks.run_check_tests(tests, timeout_s=120)
    assert checks["passes"] == {"ok": True, "passed": ["-"]}
    assert checks["fails"]["ok"] is False and "one is not two" in checks["fails"]["failed"]["-"]
    assert checks["needs_cuda"] == {"ok": None, "skipped": "no CUDA"}
    assert checks["cases"]["ok"] is False and checks["cases"]["passed"] == ["1"] and list(checks["cases"]["failed"]) == ["2"]
