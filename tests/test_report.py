"""The accuracy report (:mod:`benchmarks.render`, :mod:`benchmarks.report`, :mod:`benchmarks.summary`).

Result files are written by hand here (a few fields each, no training), so every test states the
numbers it expects from the numbers it wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import render
from benchmarks.methods import parse_method
from benchmarks.results_io import RESULTS_DIR
from benchmarks.sampler_distribution import find_distribution, measure
from benchmarks.summary import load_runs, update_summary

QUICK_100 = "cifar10-lt-ir100-exp-quick"
PAPER = "cifar10-lt-ir100-exp-paper"
COUNTS = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
EPOCHS = {"quick": 30, "paper": 200}


def make_run(setting: str, method: str, seed: int, top1: float, *, amp: str = "none", device: str = "cpu",
             epoch_seconds: float = 6.0, wall_seconds: float = 600.0) -> dict:
    """A result file's fields that the report reads."""
    protocol = setting.rsplit("-", 1)[1]
    return {
        "schema": 1, "setting": setting, "method": method, "seed": seed,
        "metrics": {"top1": top1, "many": top1 + 1, "medium": top1 - 5, "few": None, "per_class": [top1] * 10},
        "timing": {"wall_seconds": wall_seconds, "epoch_seconds_median": epoch_seconds},
        "dataset": {"name": "cifar10", "source": "npz:cifar10.npz", "imbalance_ratio": 100.0, "profile": "exp",
                    "train_counts": COUNTS, "test_counts": [1000] * 10},
        "protocol": {"name": protocol, "architecture": "resnet32" if protocol == "paper" else "resnet8",
                     "epochs": EPOCHS[protocol], "batch_size": 128, "lr": 0.1, "schedule": "cosine",
                     "weight_decay": 5e-4, "mix_epochs": "all"},
        "method_config": parse_method(method).to_dict(),
        "config": {"path": "device", "amp": amp},
        "machine": {"device_name": "test CPU", "device": device, "versions": {"torch": "2"}},
    }


def write_run(results_dir: Path, run: dict) -> Path:
    suffix = "".join(f"-{part}" for part in (run["config"]["amp"], run["machine"]["device"])
                     if part not in ("none", "cpu"))
    path = results_dir / "runs" / run["setting"] / f"{run['method']}-seed{run['seed']}{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run))
    return path


def write_runs(results_dir: Path, setting: str, top1s: dict[str, list[float]], **options) -> None:
    for method, values in top1s.items():
        for seed, top1 in enumerate(values):
            write_run(results_dir, make_run(setting, method, seed, top1, **options))


# -- a corrupt result file ------------------------------------------------------------------------


@pytest.mark.parametrize("content", ['{"setting": "cifar10-lt-ir100', "[]", "null", "{}"])
def test_a_corrupt_result_file_is_named_and_the_other_runs_are_summarized(tmp_path, capsys, content):
    write_runs(tmp_path, QUICK_100, {"ce": [50.0], "mmt": [60.0]})
    bad = tmp_path / "runs" / QUICK_100 / "la-seed0.json"
    bad.write_text(content)
    summary = update_summary(tmp_path)
    assert sorted(summary[QUICK_100]) == ["ce", "mmt"]
    assert str(bad) in capsys.readouterr().err


def test_render_goes_on_past_a_corrupt_result_file(tmp_path, capsys):
    write_runs(tmp_path, QUICK_100, {"ce": [50.0], "mmt": [60.0]})
    bad = tmp_path / "runs" / QUICK_100 / "la-seed0.json"
    bad.write_text('{"setting": ')
    assert render.main(["--results-dir", str(tmp_path), "--no-plots"]) == 0
    assert "| mmt | 1 | 60.00 |" in (tmp_path / "results.md").read_text()
    assert str(bad) in capsys.readouterr().err


def test_an_unreadable_summary_is_rebuilt_from_the_runs(tmp_path, capsys):
    write_runs(tmp_path, QUICK_100, {"ce": [50.0]})
    (tmp_path / "summary.json").write_text("[1, 2")
    assert update_summary(tmp_path)[QUICK_100]["ce"]["top1"] == [50.0]
    assert str(tmp_path / "summary.json") in capsys.readouterr().err


def test_the_summary_records_the_median_epoch_time_times_the_protocols_epochs(tmp_path):
    # A run paused for hours: its wall clock says 500 minutes, its epochs 30 x 6 s = 3 minutes.
    write_run(tmp_path, make_run(QUICK_100, "ce", 0, 50.0, epoch_seconds=6.0, wall_seconds=30_000.0))
    assert update_summary(tmp_path)[QUICK_100]["ce"]["run_seconds"] == [180.0]


# -- the sampler distribution comes from a file -----------------------------------------------------


def test_the_measured_tail_shares_follow_the_weighting():
    counts = [300, 100, 30]
    shares = measure(counts, "balanced", batch_size=32, min_draws=30_000)
    np.testing.assert_allclose(shares["tail"], [1 / 3] * 3, atol=0.02)
    np.testing.assert_allclose(shares["head"], np.array(counts) / sum(counts), atol=0.02)
    inverse = measure(counts, "inverse", batch_size=32, min_draws=30_000)["tail"]
    np.testing.assert_allclose(inverse, (1 / np.array(counts)) / (1 / np.array(counts)).sum(), atol=0.02)


def test_a_distribution_is_found_by_setting_or_by_the_same_counts_and_batch_size():
    entry = {"train_counts": COUNTS, "batch_size": 128, "weightings": []}
    distributions = {QUICK_100: entry}
    assert find_distribution(distributions, QUICK_100, COUNTS, 128) is entry
    assert find_distribution(distributions, PAPER, COUNTS, 128) is entry  # same counts: the same shares
    assert find_distribution(distributions, PAPER, COUNTS, 64) is None
    assert find_distribution(distributions, QUICK_100, COUNTS[:-1] + [49], 128) is None


def test_the_committed_sampler_file_covers_every_committed_setting():
    runs = load_runs()
    with open(RESULTS_DIR / "sampler-distribution.json") as file:
        distributions = json.load(file)
    for run in runs:
        assert find_distribution(distributions, run["setting"], run["dataset"]["train_counts"],
                                 run["protocol"]["batch_size"]) is not None, run["setting"]
