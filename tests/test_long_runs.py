"""What keeps a run of hours safe: resumes that compare only what changes the result, a record
of every stretch of the run, a projection of the time left, and a runner that plans its queue."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

from benchmarks import loop, runner
from benchmarks.data import load_digits, long_tailed
from benchmarks.protocols import PROTOCOLS, with_overrides
from benchmarks.run_config import checkpoint_path
from benchmarks.train import RunConfig, train

# Three epochs of 16 steps (digits-LT ratio 10 has 491 images): a resume after epoch 1 projects in epoch 3.
PROTOCOL = with_overrides(PROTOCOLS["quick"], {"epochs": 3, "batch_size": 32, "width": 4})


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def digits_lt():
    return long_tailed(load_digits(), 10)


def _config(tmp_path, **changes) -> RunConfig:
    return RunConfig(dataset="digits", imbalance_ratio=10, method="mmt+drw", protocol=PROTOCOL, device="cpu",
                     results_dir=str(tmp_path), **changes)


def _train_one_epoch_then_stop(config, data, monkeypatch):
    """Leave the checkpoint of epoch 1, as a run killed right after writing it would."""
    save = loop._save_checkpoint

    def save_then_stop(path, state):
        save(path, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "_save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train(config, data, progress=False)
    monkeypatch.undo()


def test_a_resume_ignores_settings_that_do_not_change_the_result(tmp_path):
    config = _config(tmp_path, threads=1, workers=2)
    recorded = config.to_dict()
    same_run = _config(tmp_path.parent / tmp_path.name / ".." / tmp_path.name, threads=2, workers=7)
    assert loop.resume_mismatch(recorded, same_run) == []
    assert loop.resume_mismatch(recorded, dataclasses.replace(config, seed=1)) == ["seed"]
    assert loop.resume_mismatch(recorded, dataclasses.replace(config, method="mmt+la")) == ["method", "method_config"]
    other_recipe = dataclasses.replace(config, protocol=with_overrides(PROTOCOL, {"lr": 0.2}))
    assert loop.resume_mismatch(recorded, other_recipe) == ["protocol"]


def test_a_checkpoint_of_another_run_is_refused_naming_the_field(digits_lt, tmp_path, monkeypatch):
    config = _config(tmp_path)
    _train_one_epoch_then_stop(config, digits_lt, monkeypatch)
    other = dataclasses.replace(config, seed=3)
    checkpoint_path(config).rename(checkpoint_path(other))  # as if another seed's file sat there
    with pytest.raises(ValueError, match=r"other settings \(seed\)"):
        train(other, digits_lt, progress=False)


def test_a_resumed_result_records_each_segment_and_projects_the_time_left(digits_lt, tmp_path, monkeypatch,
                                                                          capsys):
    config = _config(tmp_path)
    _train_one_epoch_then_stop(config, digits_lt, monkeypatch)
    first_log = capsys.readouterr().out
    assert "projected remaining" not in first_log  # 16 steps ran, fewer than the 20 it needs
    result = train(dataclasses.replace(config, threads=1), digits_lt, progress=False)
    log = capsys.readouterr().out
    projection = [line for line in log.splitlines() if line.startswith("projected remaining:")]
    assert len(projection) == 1 and "over 20 steps; 12 of 48 steps left" in projection[0]
    segments = result["segments"]
    assert [segment["first_epoch"] for segment in segments] == [1, 2]
    assert segments[1]["threads"] == 1
    assert all({"git", "cpu", "started_at"} <= set(segment) for segment in segments)


def test_checkpoints_are_written_through_a_temporary_file_of_their_own(tmp_path):
    path = tmp_path / "run.pt"
    path.with_suffix(".tmp").mkdir()  # another writer's temporary under the old fixed name
    loop._save_checkpoint(path, {"epoch": 1})
    loop._save_checkpoint(path, {"epoch": 2})
    assert torch.load(path)["epoch"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt", "run.tmp"]


def test_the_runner_runs_a_repeated_method_or_seed_once(tmp_path):
    args = ["--dataset", "digits", "--ir", "10", "--epochs", "1", "--results-dir", str(tmp_path)]
    jobs = runner.plan_jobs(["ce", "mmt", "ce"], [0, 1, 0], args, tmp_path)
    assert [job.name for job in jobs] == ["ce seed 0", "mmt seed 0", "ce seed 1", "mmt seed 1"]


def test_a_method_can_name_its_own_seeds_and_each_seed_still_runs_together(tmp_path):
    args = ["--dataset", "digits", "--ir", "10", "--epochs", "1", "--results-dir", str(tmp_path)]
    jobs = runner.plan_jobs(["ce", "la:0,1,2", "mmt+la:2,1", "la:1"], [0], args, tmp_path)
    assert [job.name for job in jobs] == ["ce seed 0", "la seed 0", "la seed 1", "mmt+la seed 1", "la seed 2",
                                          "mmt+la seed 2"]
    jobs = runner.plan_jobs(["ce", "mmt+la:2,1"], [0], args, tmp_path)
    assert [job.name for job in jobs] == ["ce seed 0", "mmt+la seed 1", "mmt+la seed 2"]  # seeds beyond --seeds sorted


@pytest.mark.parametrize("entry", ["la:", "la:1,,2", "la:x", ":1", "la:-1", "la:1.5", "la:\u00b2"])
def test_the_runner_refuses_a_malformed_seed_list_before_any_job(tmp_path, capsys, entry):
    with pytest.raises(SystemExit) as stop:
        runner.main(["--methods", "ce", entry, "--dataset", "digits", "--results-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "--methods: expected METHOD or METHOD:SEEDS" in err and repr(entry) in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_the_runner_refuses_fewer_than_one_job(tmp_path, capsys, jobs):
    with pytest.raises(SystemExit) as stop:
        runner.main(["--methods", "ce", "--jobs", jobs, "--dataset", "digits", "--results-dir", str(tmp_path)])
    assert stop.value.code == 2 and f"--jobs must be >= 1, got {jobs}" in capsys.readouterr().err


def test_the_queue_projection_spreads_queued_runs_over_the_slots(tmp_path):
    args = ["--dataset", "digits", "--ir", "10", "--results-dir", str(tmp_path)]
    running, pending = runner.plan_jobs(["ce", "la"], [0], args, tmp_path), runner.plan_jobs(
        ["mmt", "drw", "rs"], [0], args, tmp_path)
    assert runner.queue_hours(running, pending, 2) is None  # no projection printed yet
    for job, (left, full) in zip(running, ((1.0, 3.0), (2.0, 5.0))):
        job.log.parent.mkdir(parents=True, exist_ok=True)
        job.log.write_text(f"epoch 1\nprojected remaining: {left:.2f} h (median step 0.9 s over 20 steps; "
                           f"x of y steps left; full run {full:.2f} h)\n")
    # Slots end at 1 and 2 h; three queued runs of 4 h each: 1+4=5, 2+4=6, then 5+4=9.
    assert runner.queue_hours(running, pending, 2) == pytest.approx(9.0)


OLD = Path(__file__).parent / "data" / "commit-37bc953"
OLD_PROTOCOL = with_overrides(PROTOCOLS["quick"], {"width": 4, "epochs": 3, "batch_size": 32})  # the CLI's order


def _same_machine_as_the_old_files(result: dict) -> bool:
    """Bits can be compared across commits only on the CPU kind and torch that wrote the files."""
    return (torch.backends.cpu.get_cpu_capability() == "AVX2"
            and result["machine"]["versions"]["torch"] == torch.__version__)


@pytest.mark.parametrize("method", ["ce", "mmt+drw"])
def test_a_checkpoint_written_by_37bc953_resumes_to_the_same_losses(digits_lt, tmp_path, method):
    config = RunConfig(dataset="digits", imbalance_ratio=10, method=method, protocol=OLD_PROTOCOL, device="cpu",
                       threads=1, results_dir=str(tmp_path / "resumed"))
    checkpoint_path(config).parent.mkdir(parents=True)
    shutil.copy(OLD / f"{method}-seed0.pt", checkpoint_path(config))
    resumed = train(config, digits_lt, progress=False)
    uninterrupted = train(dataclasses.replace(config, results_dir=str(tmp_path / "whole")), digits_lt,
                          progress=False, checkpoint=False)
    old = json.loads((OLD / f"{method}-seed0.json").read_text())
    assert resumed["timing"]["resumed"] and resumed["segments"][0]["first_epoch"] == 2
    losses = [h["loss"] for h in resumed["history"]]
    assert losses == [h["loss"] for h in uninterrupted["history"]]
    assert resumed["metrics"] == uninterrupted["metrics"]
    if _same_machine_as_the_old_files(old):
        assert losses == [h["loss"] for h in old["history"]] and resumed["metrics"] == old["metrics"]
    else:
        assert losses == pytest.approx([h["loss"] for h in old["history"]], rel=1e-4)


@pytest.mark.parametrize("method", ["ce", "mmt+drw"])
def test_a_result_written_by_37bc953_is_skipped(tmp_path, capsys, method):
    from benchmarks.train import main

    old = json.loads((OLD / f"{method}-seed0.json").read_text())
    target = tmp_path / "runs" / old["setting"] / f"{method}-seed0.json"
    target.parent.mkdir(parents=True)
    shutil.copy(OLD / f"{method}-seed0.json", target)
    argv = ["--dataset", "digits", "--ir", "10", "--method", method, "--epochs", "3", "--batch-size", "32",
            "--width", "4", "--device", "cpu", "--results-dir", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    assert "same settings; skipping" in capsys.readouterr().out
    assert json.loads(target.read_text()) == old


def test_a_parked_checkpoint_resumes_in_a_new_checkout_and_leaves_with_the_result(digits_lt, tmp_path,
                                                                                  monkeypatch):
    from benchmarks import park

    config = _config(tmp_path / "machine-a")
    _train_one_epoch_then_stop(config, digits_lt, monkeypatch)
    assert park.park(config.results_dir) == [f"parked {config.setting}/mmt+drw-seed0 at epoch 1"]
    # A new checkout: only the committed in-progress/ folder travels.
    moved = _config(tmp_path / "machine-b")
    shutil.copytree(tmp_path / "machine-a" / "in-progress", tmp_path / "machine-b" / "in-progress")
    resumed = train(moved, digits_lt, progress=False)
    whole = train(_config(tmp_path / "whole"), digits_lt, progress=False, checkpoint=False)
    assert resumed["segments"][-1]["first_epoch"] == 2
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in whole["history"]]
    assert not (tmp_path / "machine-b" / "in-progress" / "mmt+drw-seed0.pt").exists()
    # Back on machine A the run finishes from its own checkpoint; parking then drops the old file.
    train(config, digits_lt, progress=False)
    assert park.park(config.results_dir) == []
    assert not list((tmp_path / "machine-a" / "in-progress").glob("*.pt"))


def test_a_parked_checkpoint_of_another_run_with_the_same_name_is_left_alone(digits_lt, tmp_path, monkeypatch):
    config = _config(tmp_path)
    _train_one_epoch_then_stop(config, digits_lt, monkeypatch)
    from benchmarks import park

    park.park(tmp_path)
    checkpoint_path(config).unlink()
    other_protocol = dataclasses.replace(config, protocol=with_overrides(PROTOCOL, {"lr": 0.05}))  # same stem
    result = train(other_protocol, digits_lt, progress=False)
    assert result["segments"][0]["first_epoch"] == 1 and not result["timing"]["resumed"]
    assert (tmp_path / "in-progress" / "mmt+drw-seed0.pt").is_file()


COMMITTED_RUNS = sorted((Path(__file__).parents[1] / "benchmarks" / "results" / "runs").rglob("*.json"))


@pytest.mark.parametrize("path", COMMITTED_RUNS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_committed_result_keeps_its_name_and_identity_under_todays_code(path):
    from benchmarks.protocols import Protocol
    from benchmarks.run_config import recorded_identity, result_path, run_identity

    result = json.loads(path.read_text())
    # Today's meaning of the method's name: a rerun of the same command is skipped, not refused.
    assert recorded_identity(result) == run_identity(result["config"])
    record = dict(result["config"])
    protocol = {key: tuple(value) if isinstance(value, list) else value for key, value in record["protocol"].items()}
    config = RunConfig(**{**record, "protocol": Protocol(**protocol), "results_dir": str(path.parents[2])})
    assert result_path(config) == path


def test_a_checkpoint_written_for_other_data_of_the_same_name_is_refused(digits_lt, tmp_path, monkeypatch):
    config = _config(tmp_path)
    _train_one_epoch_then_stop(config, digits_lt, monkeypatch)
    state = torch.load(checkpoint_path(config), weights_only=False)
    assert state["data_digest"] == digits_lt.digest
    torch.save({**state, "data_digest": "0123456789abcdef"}, checkpoint_path(config))  # another file, same name
    with pytest.raises(ValueError, match=r"other settings \(data\)"):
        train(config, digits_lt, progress=False)
    del state["data_digest"]  # a checkpoint written before the digest was recorded resumes
    torch.save(state, checkpoint_path(config))
    assert train(config, digits_lt, progress=False)["timing"]["resumed"]
