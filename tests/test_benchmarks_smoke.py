"""Smoke tests of the benchmark suite: every method trains, results round-trip, tools run.

Tiny budgets (scikit-learn's digits made long-tailed, one short epoch; a few hundred CIFAR-10
images when ``../shared/data/cifar10.npz`` is present) keep the file under a minute on two
CPU cores. Full benchmark runs are not tests.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import augment, cost, render, runner, summary
from benchmarks.data import DEFAULT_NPZ, ImageDataset, load_digits, load_npz, long_tailed, setting_key
from benchmarks.methods import parse_method
from benchmarks.models import cifar_resnet
from benchmarks.protocols import PROTOCOLS, lr_factor, mixing_epochs, with_overrides
from benchmarks.train import RunConfig, result_path, train

EVERY_METHOD = ("ce", "mixup", "cutmix", "cmo", "mmt", "mmt-mixup-p1", "mmt-per-sample", "mmt-balanced",
                "mmt-reverse")
# One epoch of a few steps: enough to run every code path.
SMOKE = with_overrides(PROTOCOLS["quick"], {"epochs": 1, "batch_size": 64})


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def digits_lt() -> ImageDataset:
    return long_tailed(load_digits(), 10)


@pytest.fixture(scope="module")
def digits_runs(digits_lt, tmp_path_factory) -> tuple[str, list[dict]]:
    """One smoke run of every method on digits-LT (results in a temporary directory)."""
    results_dir = tmp_path_factory.mktemp("results")
    runs = [
        train(RunConfig(dataset="digits", imbalance_ratio=10, method=method, seed=0, protocol=SMOKE,
                        results_dir=str(results_dir)), digits_lt, progress=False, checkpoint=False)
        for method in EVERY_METHOD
    ]
    return str(results_dir), runs


def test_every_method_trains_one_epoch_and_writes_its_result(digits_runs):
    results_dir, runs = digits_runs
    for method, _ in zip(EVERY_METHOD, runs):
        config = RunConfig(dataset="digits", imbalance_ratio=10, method=method, protocol=SMOKE,
                           results_dir=results_dir)
        written = json.loads(result_path(config).read_text())
        assert written["method"] == method
        assert 0.0 <= written["metrics"]["top1"] <= 100.0
        assert len(written["metrics"]["per_class"]) == 10
        assert np.isfinite(written["history"][0]["loss"])
        assert written["machine"]["versions"]["torch"] == torch.__version__


def test_result_records_setting_method_config_and_shot_groups(digits_runs):
    _, runs = digits_runs
    run = runs[EVERY_METHOD.index("mmt-mixup-p1")]
    assert run["setting"] == "digits-lt-ir10-exp-quick+epochs=1+batch_size=64"
    assert run["method_config"]["mode"] == "mixup" and run["method_config"]["p"] == 1.0
    groups = run["dataset"]["shot_groups"]
    assert sorted(groups["many"] + groups["medium"] + groups["few"]) == list(range(10))


def test_summary_has_the_issue_schema_and_render_rewrites_the_readme(digits_runs, tmp_path):
    results_dir, _ = digits_runs
    data = summary.update_summary(results_dir)
    setting = "digits-lt-ir10-exp-quick+epochs=1+batch_size=64"
    assert set(data[setting]) == set(EVERY_METHOD)
    for entry in data[setting].values():
        assert set(entry) == {"top1", "many", "medium", "few", "seconds", "run_seconds"}
        assert all(len(values) == 1 for values in entry.values())
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{render.README_START}\nold\n{render.README_END}\n\ntail\n")
    render.render(Path(results_dir), settings=[setting], readme=readme)
    text = readme.read_text()
    assert "old" not in text and text.endswith(f"{render.README_END}\n\ntail\n")
    results_md = (Path(results_dir) / "results.md").read_text()
    assert "| mmt | " in text and "| mmt-mixup-p1 | 1 |" in results_md and "mmt − ce" in results_md
    assert (Path(results_dir) / "plots" / f"{setting}-per-class.png").stat().st_size > 0


def test_summary_drops_removed_runs_and_keeps_settings_without_runs(digits_runs, tmp_path):
    import shutil

    results_dir = tmp_path / "results"
    shutil.copytree(digits_runs[0], results_dir)
    (results_dir / "summary.json").write_text(json.dumps({"elsewhere-lt-ir10-exp-paper": {"ce": {"top1": [1.0]}}}))
    setting = "digits-lt-ir10-exp-quick+epochs=1+batch_size=64"
    assert "cmo" in summary.update_summary(results_dir)[setting]
    (results_dir / "runs" / setting / "cmo-seed0.json").unlink()
    rebuilt = summary.update_summary(results_dir)
    assert "cmo" not in rebuilt[setting] and "ce" in rebuilt[setting]
    assert rebuilt["elsewhere-lt-ir10-exp-paper"] == {"ce": {"top1": [1.0]}}


def test_readme_without_markers_is_refused(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="results:start"):
        render.replace_readme_section(readme, "table")


def test_mean_std_and_difference_use_sample_statistics():
    assert render.mean_std([1.0, 3.0]) == (2.0, pytest.approx(2**0.5))
    gain, spread = render.difference({"top1": [3.0, 5.0]}, {"top1": [1.0, 1.0]})
    assert gain == 3.0 and spread == pytest.approx(1.0)  # sqrt(2/2 + 0/2)
    assert render.difference({"top1": [3.0]}, {"top1": [1.0]}) == (2.0, None)


@pytest.mark.parametrize(("path", "workers"), [("device", 0), ("loader", 0), ("loader", 1)])
def test_a_resumed_run_equals_an_uninterrupted_one(digits_lt, tmp_path, monkeypatch, path, workers):
    config = RunConfig(dataset="digits", imbalance_ratio=10, method="mmt", path=path, workers=workers,
                       protocol=with_overrides(SMOKE, {"epochs": 3, "batch_size": 32}), results_dir=str(tmp_path / "a"))
    uninterrupted = train(config, digits_lt, progress=False, checkpoint=False)

    from benchmarks import loop as train_module

    save = train_module._save_checkpoint

    def save_then_stop(checkpoint_path, state):
        if path == "loader":  # a checkpoint written before the cuda_graph setting existed resumes too
            state = {**state, "config": {k: v for k, v in state["config"].items() if k != "cuda_graph"}}
        save(checkpoint_path, state)
        if state["epoch"] == 1:
            raise KeyboardInterrupt  # killed right after the first epoch's checkpoint

    interrupted = dataclasses.replace(config, results_dir=str(tmp_path / "b"))
    monkeypatch.setattr(train_module, "_save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, digits_lt, progress=False)
    monkeypatch.undo()
    resumed = train(interrupted, digits_lt, progress=False)
    assert resumed["timing"]["resumed"]
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in uninterrupted["history"]]
    assert resumed["metrics"] == uninterrupted["metrics"]
    assert not list((tmp_path / "b" / "checkpoints").rglob("*.pt"))


@pytest.mark.skipif(not DEFAULT_NPZ.is_file(), reason=f"CIFAR-10 npz not found at {DEFAULT_NPZ}")
def test_cifar_subset_trains_on_the_device_and_the_dataloader_paths(tmp_path):
    full = load_npz(DEFAULT_NPZ)
    subset = dataclasses.replace(full, train_images=full.train_images[:400], train_labels=full.train_labels[:400],
                                 test_images=full.test_images[:200], test_labels=full.test_labels[:200])
    protocol = with_overrides(SMOKE, {"epochs": 1, "batch_size": 100})
    for path, workers in (("device", 0), ("loader", 0)):
        result = train(RunConfig(method="mmt", protocol=protocol, path=path, workers=workers,
                                 results_dir=str(tmp_path)), subset, progress=False, checkpoint=False)
        assert result["config"]["path"] == path and result["timing"]["steps_per_epoch"] == 4


def test_method_names_parse_to_configs():
    assert parse_method("cmo").weighting == "balanced" and parse_method("cmo").mode == "cutmix"
    variant = parse_method("mmt-mixup-per-sample-p1-a0.4-gamma0.5")
    assert (variant.mode, variant.per_sample, variant.p, variant.alpha, variant.weighting) == \
        ("mixup", True, 1.0, 0.4, 0.5)
    with pytest.raises(ValueError, match="unknown option"):
        parse_method("mmt-bogus")
    with pytest.raises(ValueError, match="unknown method 'focal'"):
        parse_method("focal")


def test_protocol_overrides_rename_and_schedules_follow_the_recipe():
    assert with_overrides(PROTOCOLS["quick"], {"epochs": 30}) is PROTOCOLS["quick"]
    paper = PROTOCOLS["paper"]
    assert lr_factor(paper, 0, 0, 10) == pytest.approx(1 / 50)  # first warm-up step
    assert lr_factor(paper, 170, 0, 10) == 0.01 and lr_factor(paper, 190, 0, 10) == 0.0001
    assert lr_factor(PROTOCOLS["quick"], 15, 0, 10) == pytest.approx(0.5)
    assert list(mixing_epochs(with_overrides(PROTOCOLS["quick"], {"epochs": 8, "mix_epochs": "3:-3"}))) == [3, 4]
    assert setting_key("cifar10", 100.0, "exp", "quick") == "cifar10-lt-ir100-exp-quick"


def test_crop_flip_is_a_shifted_and_mirrored_window():
    images = torch.arange(2 * 3 * 5 * 5, dtype=torch.uint8).reshape(2, 3, 5, 5)
    centre = torch.tensor([2, 2])
    assert torch.equal(augment.crop_flip(images, centre, centre, torch.tensor([False, True]), padding=2),
                       torch.stack([images[0], images[1].flip(-1)]))
    shifted = augment.crop_flip(images, torch.tensor([0, 4]), torch.tensor([2, 2]), torch.tensor([False, False]),
                                padding=2)
    assert torch.equal(shifted[0, :, 2:], images[0, :, :3]) and (shifted[0, :, :2] == 0).all()
    assert torch.equal(shifted[1, :, :3], images[1, :, 2:]) and (shifted[1, :, 3:] == 0).all()


@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_cifar_resnets_map_images_to_logits(shortcut):
    model = cifar_resnet("resnet20", 7, in_channels=1, shortcut=shortcut)
    assert model(torch.zeros(2, 1, 16, 16)).shape == (2, 7)


def test_runner_skips_finished_jobs(digits_runs, capsys):
    results_dir, _ = digits_runs
    code = runner.main(["--methods", "ce", "mmt", "--seeds", "0", "--dataset", "digits", "--ir", "10",
                        "--epochs", "1", "--batch-size", "64", "--results-dir", results_dir])
    assert code == 0 and capsys.readouterr().out.count("skip") == 2


def test_cost_benchmarks_run_on_a_tiny_budget_and_render(digits_lt, tmp_path):
    step = cost.training_step_cost(digits_lt, methods=("ce", "mmt"), rounds=1, steps_per_block=1, warmup_steps=1)
    assert step["methods"]["ce"]["relative_cost"] == 1.0 and step["methods"]["mmt"]["steps_per_second"] > 0
    loading = cost.data_loading_cost(digits_lt, batch_size=32, workers=(0,), batches=2, repeats=1)
    assert {row["loader"] for row in loading["results"]} == {"mmt-sampler", "two-loaders"}
    (tmp_path / "cost").mkdir()
    (tmp_path / "cost" / "training-step-cpu.json").write_text(json.dumps(step))
    (tmp_path / "cost" / "data-loading-cpu.json").write_text(json.dumps(loading))
    report = render.cost_report(tmp_path)
    assert "cost vs ce" in report and "images / s" in report and "| mmt |" in report


def test_image_folder_loads_train_and_test_resized(tmp_path):
    from PIL import Image

    from benchmarks.data import load_image_folder

    for split, count in (("train", 3), ("test", 1)):
        for name, colour in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
            (tmp_path / split / name).mkdir(parents=True)
            for index in range(count):
                Image.new("RGB", (20, 12), colour).save(tmp_path / split / name / f"{index}.png")
    dataset = load_image_folder(tmp_path, image_size=8)
    assert dataset.class_names == ("cat", "dog") and dataset.train_images.shape == (6, 3, 8, 8)
    assert dataset.train_images.dtype == torch.uint8 and dataset.test_labels.tolist() == [0, 1]
    assert dataset.train_images[0, :, 4, 4].tolist() == [255, 0, 0]


def test_migration_removes_machine_paths_and_fills_the_digest():
    from benchmarks.migrate_results import migrate_run

    run = {"dataset": {"source": "/some/machine/data/cifar10.npz"},
           "config": {"npz": "/some/machine/data/cifar10.npz", "root": None, "results_dir": "/some/machine/results"}}
    assert migrate_run(run, {"cifar10.npz": "abc123"})
    assert run["dataset"] == {"source": "npz:cifar10.npz", "digest": "abc123"}
    assert run["config"] == {"npz": "cifar10.npz", "root": None}
    assert not migrate_run(run, {"cifar10.npz": "abc123"})  # already migrated: unchanged


def test_result_path_names_every_setting_that_changes_the_result(tmp_path):
    base = RunConfig(method="mmt", seed=1, results_dir=str(tmp_path), device="cpu")
    assert result_path(base).name == "mmt-seed1.json"
    variant = dataclasses.replace(base, path="loader", amp="bf16", compile=True, channels_last=False, root="tv")
    assert result_path(variant).name == "mmt-seed1-loader-bf16-compile-nchw-torchvision.json"
    assert result_path(dataclasses.replace(base, npz="elsewhere/other.npz")).name == "mmt-seed1-npz-other.npz.json"


def test_train_command_fails_fast_with_one_line_errors(tmp_path, capsys):
    from benchmarks.train import main

    for argv, message in ((["--method", "focal"], "unknown method 'focal'"),
                          (["--npz", str(tmp_path / "missing.npz")], "no CIFAR-10 file at --npz"),
                          (["--dataset", "imagefolder"], "needs --root")):
        with pytest.raises(SystemExit) as stop:
            main([*argv, "--results-dir", str(tmp_path)])
        assert stop.value.code == 2
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert message in error


def test_an_existing_result_with_other_settings_is_not_skipped_silently(digits_lt, tmp_path, capsys):
    from benchmarks.train import main

    common = ["--dataset", "digits", "--ir", "10", "--method", "ce", "--epochs", "1", "--batch-size", "64",
              "--results-dir", str(tmp_path), "--no-progress"]
    assert main(common) == 0
    assert main(common) == 0
    assert "same settings; skipping" in capsys.readouterr().out
    path = next((tmp_path / "runs").rglob("ce-seed0.json"))
    run = json.loads(path.read_text())
    run["identity"]["lt_seed"] = 5  # as if made from another long-tailed subset
    path.write_text(json.dumps(run))
    with pytest.raises(SystemExit) as stop:
        main(common)
    assert stop.value.code == 2 and "made with other settings (lt_seed)" in capsys.readouterr().err


def test_identity_includes_what_the_method_name_means(tmp_path):
    from benchmarks.run_config import recorded_identity, run_identity

    config = RunConfig(method="mmt", results_dir=str(tmp_path), device="cpu")
    identity = run_identity(config)
    assert identity["method_config"] == parse_method("mmt").to_dict()
    stale = {"config": {**config.to_dict()}, "method_config": {**identity["method_config"], "p": 0.5}}
    assert recorded_identity(stale) != identity  # made when `mmt` meant p=0.5: not the same run


def test_a_method_recorded_before_a_field_existed_is_described_once():
    today = parse_method("ce").to_dict()
    older = {key: value for key, value in today.items() if key not in ("loss", "prior", "mix_epochs")}
    runs = [{"method": "ce", "method_config": older}, {"method": "ce", "method_config": today}]
    from benchmarks.report.words import named_configs

    assert named_configs(runs) == "`ce`: no mixing."
