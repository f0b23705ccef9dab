"""Bad input to ``python -m benchmarks.train`` and ``python -m benchmarks.runner`` ends in one line.

Every bad option value, unusable results location, unreadable checkpoint or result file, and a
result made from other data under the same file name, gets the argparse error (exit code 2, one
line naming the option or the file) before any work: no data loaded, nothing trained.
"""

from __future__ import annotations

import importlib
import json
import os
import re

import numpy as np
import pytest
import torch

from benchmarks import loop, runner, train
from benchmarks.protocols import PROTOCOLS, Protocol, with_overrides
from benchmarks.run_config import checkpoint_path, result_path

DIGITS = ["--dataset", "digits", "--ir", "10", "--epochs", "1", "--batch-size", "64", "--width", "4", "--device", "cpu",
          "--no-progress"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def no_work(monkeypatch):
    """Loading data or training fails the test: the error must come before either."""
    def fail(*args, **kwargs):
        raise AssertionError("work started before the input was checked")

    monkeypatch.setattr(train, "load_dataset", fail)
    monkeypatch.setattr(train, "train", fail)


def _one_line_error(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    error = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in error, error
    last = error.strip().splitlines()[-1]
    assert ": error: " in last, error
    return last


def _config(argv):
    return train.config_from_args(train.build_parser().parse_args(argv))


# -- option values -------------------------------------------------------------------------------

BAD_VALUES = [
    (["--epochs", "0"], "--epochs"),
    (["--seed", "-1"], "--seed"),
    (["--method", "mmt-p2"], "p must be in [0, 1]"),
    (["--method", "mmt-a0"], "alpha"),
    (["--method", "mmt-cutmix-mixup"], "mode"),
    (["--method", "mmt-inverse-balanced"], "weighting"),
    (["--threads", "-1"], "--threads"),
    (["--workers", "-1"], "--workers"),
    (["--ir", "0.5"], "--ir"),
    (["--device", "bogus"], "--device"),
    (["--lr", "nan"], "--lr"),
    (["--lr", "0"], "--lr"),
    (["--momentum", "inf"], "--momentum"),
    (["--mix-epochs", "5:2"], "--mix-epochs"),
    (["--mix-epochs", "two"], "--mix-epochs"),
    (["--warmup-epochs", "-1"], "--warmup-epochs"),
    (["--eval-every", "-1"], "--eval-every"),
    (["--crop-padding", "-2"], "--crop-padding"),
]


@pytest.mark.parametrize(("argv", "named"), BAD_VALUES, ids=[" ".join(argv) for argv, _ in BAD_VALUES])
def test_a_bad_option_value_is_one_line_before_any_work(argv, named, tmp_path, capsys, no_work):
    error = _one_line_error(train.main, [*DIGITS, "--results-dir", str(tmp_path), *argv], capsys)
    assert named in error
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_refused(tmp_path, capsys, no_work):
    error = _one_line_error(train.main, [*DIGITS, "--results-dir", str(tmp_path), "--device", "cuda"], capsys)
    assert "--device cuda" in error and "no CUDA device" in error


def test_a_short_run_of_a_method_with_its_own_window_is_accepted_with_a_note(tmp_path, capsys):
    # cmo-window's 3:-3 selects no epoch of 2: it trains without mixing, and says so.
    argv = [*DIGITS, "--method", "cmo-window", "--epochs", "2", "--results-dir", str(tmp_path)]
    assert train.check_config(train.config_from_args(train.build_parser().parse_args(argv))) is None
    assert train.main(argv) == 0
    assert "mixes in no epoch of 2: its own window '3:-3' selects none" in capsys.readouterr().err


def test_a_crop_padding_of_minus_one_means_an_eighth_of_the_image():
    assert Protocol("p", crop_padding=-1).crop_padding == -1
    with pytest.raises(ValueError, match="crop_padding must be >= -1"):
        Protocol("p", crop_padding=-2)


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--seeds", "-1"], ["--threads", "-1"], ["--methods", "mmt-p2"],
                                  ["--lr", "nan"]])
def test_the_runner_refuses_bad_values_in_one_line(argv, tmp_path, capsys, no_work):
    command = ["--methods", "ce", "--dataset", "digits", "--results-dir", str(tmp_path), *argv]
    _one_line_error(runner.main, command, capsys)
    assert not (tmp_path / "runs").exists()


def test_the_quick_run_refuses_bad_values_before_any_work(tmp_path, capsys, monkeypatch):
    from benchmarks import __main__ as quick

    def fail(*args, **kwargs):
        raise AssertionError("work started before the input was checked")

    monkeypatch.setattr(quick, "_throughput", fail)
    monkeypatch.setattr(quick, "train", fail)
    for argv, named in ((["--threads", "-1"], "--threads"), (["--seeds", "-1"], "--seed")):
        assert named in _one_line_error(quick.main, [*argv, "--results-dir", str(tmp_path)], capsys)


# -- .npz files ----------------------------------------------------------------------------------


def _npz(path, seed: int = 0, **arrays):
    generator = np.random.default_rng(seed)
    content = {"x_train": generator.integers(0, 256, (60, 32, 32, 3), dtype=np.uint8),
               "y_train": np.repeat(np.arange(3), 20),
               "x_test": generator.integers(0, 256, (9, 32, 32, 3), dtype=np.uint8),
               "y_test": np.repeat(np.arange(3), 3)}
    content.update(arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{key: value for key, value in content.items() if value is not None})
    return path


@pytest.mark.parametrize("change", [{"y_test": None}, {"x_train": np.zeros((60, 32, 32), np.uint8)},
                                    {"y_train": np.array([{"label": 1}] * 60, dtype=object)}],
                         ids=["missing-key", "not-images", "pickled"])
def test_an_npz_with_other_arrays_or_pickled_data_is_named(change, tmp_path, capsys):
    npz = _npz(tmp_path / "data" / "bad.npz", **change)
    error = _one_line_error(train.main, ["--npz", str(npz), "--ir", "2", "--results-dir", str(tmp_path / "out")],
                            capsys)
    assert "bad.npz" in error and "--npz" in error
    assert not list((tmp_path / "out").rglob("*.json"))


def test_a_file_that_is_not_an_npz_is_named(tmp_path, capsys):
    npz = tmp_path / "noise.npz"
    npz.write_bytes(os.urandom(300))
    error = _one_line_error(train.main, ["--npz", str(npz), "--results-dir", str(tmp_path / "out")], capsys)
    assert "noise.npz" in error


# -- the results location ------------------------------------------------------------------------


def test_a_results_dir_that_is_a_file_is_refused_at_start(tmp_path, capsys, no_work):
    target = tmp_path / "results"
    target.write_text("a file")
    error = _one_line_error(train.main, [*DIGITS, "--results-dir", str(target)], capsys)
    assert "--results-dir" in error and str(target) in error


def test_a_results_dir_below_a_file_is_refused_at_start(tmp_path, capsys, no_work):
    (tmp_path / "file").write_text("a file")
    error = _one_line_error(train.main, [*DIGITS, "--results-dir", str(tmp_path / "file" / "results")], capsys)
    assert "--results-dir" in error


def test_a_result_path_that_is_a_folder_is_refused_at_start(tmp_path, capsys, no_work):
    argv = [*DIGITS, "--results-dir", str(tmp_path)]
    result_path(_config(argv)).mkdir(parents=True)
    error = _one_line_error(train.main, argv, capsys)
    assert result_path(_config(argv)).name in error and "folder" in error


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_results_dir_is_refused_at_start(tmp_path, capsys, no_work):
    target = tmp_path / "results"
    target.mkdir()
    target.chmod(0o500)
    try:
        error = _one_line_error(train.main, [*DIGITS, "--results-dir", str(target)], capsys)
    finally:
        target.chmod(0o700)
    assert "--results-dir" in error


def test_the_runner_refuses_an_unwritable_results_dir_at_start(tmp_path, capsys, no_work):
    target = tmp_path / "results"
    target.write_text("a file")
    error = _one_line_error(runner.main, ["--methods", "ce", "--dataset", "digits", "--results-dir", str(target)],
                            capsys)
    assert "--results-dir" in error


def test_the_probe_leaves_nothing_behind(tmp_path):
    assert train.check_output(_config([*DIGITS, "--results-dir", str(tmp_path / "out")])) is None
    assert not list(tmp_path.rglob("*"))  # neither a file nor a folder


def test_a_run_stopped_by_unreadable_data_leaves_no_folder(tmp_path, capsys):
    npz = tmp_path / "noise.npz"
    npz.write_bytes(os.urandom(300))
    _one_line_error(train.main, ["--npz", str(npz), "--results-dir", str(tmp_path / "out")], capsys)
    assert not (tmp_path / "out").exists()


def test_a_results_dir_below_a_broken_link_is_refused_at_start(tmp_path, capsys, no_work):
    (tmp_path / "link").symlink_to(tmp_path / "missing")
    error = _one_line_error(train.main, [*DIGITS, "--results-dir", str(tmp_path / "link" / "results")], capsys)
    assert "--results-dir" in error and "link" in error


# -- checkpoints and result files ----------------------------------------------------------------

CORRUPT_CHECKPOINTS = {"random-bytes": lambda path: path.write_bytes(os.urandom(500)),
                       "missing-keys": lambda path: torch.save({"epoch": 1}, path),
                       "not-a-dict": lambda path: torch.save([1, 2], path)}


@pytest.mark.parametrize("corrupt", sorted(CORRUPT_CHECKPOINTS))
def test_a_corrupt_checkpoint_is_named_with_what_to_do(corrupt, tmp_path, capsys, no_work):
    argv = [*DIGITS, "--results-dir", str(tmp_path)]
    path = checkpoint_path(_config(argv))
    path.parent.mkdir(parents=True)
    CORRUPT_CHECKPOINTS[corrupt](path)
    error = _one_line_error(train.main, argv, capsys)
    assert str(path) in error and "delete it or use another --results-dir" in error


def test_a_corrupt_checkpoint_stops_the_runner_before_any_job(tmp_path, capsys, no_work):
    argv = ["--dataset", "digits", "--results-dir", str(tmp_path)]
    path = checkpoint_path(_config([*argv, "--method", "ce", "--seed", "0", "--threads", "1"]))
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(500))
    error = _one_line_error(runner.main, ["--methods", "ce", "--seeds", "0", *argv], capsys)
    assert str(path) in error


def test_train_names_a_corrupt_checkpoint_when_called_directly(tmp_path):
    config = _config([*DIGITS, "--results-dir", str(tmp_path)])
    checkpoint_path(config).parent.mkdir(parents=True)
    torch.save({"epoch": 1}, checkpoint_path(config))
    with pytest.raises(ValueError, match="checkpoint .* lacks"):
        loop.train(config, progress=False)


CORRUPT_RESULTS = {"truncated": '{"setting": "digits', "list": "[]", "null": "null", "empty": "{}",
                   "no-config": '{"method": "ce"}'}


@pytest.mark.parametrize("content", sorted(CORRUPT_RESULTS))
def test_a_corrupt_result_file_is_named(content, tmp_path, capsys, no_work):
    argv = [*DIGITS, "--results-dir", str(tmp_path)]
    path = result_path(_config(argv))
    path.parent.mkdir(parents=True)
    path.write_text(CORRUPT_RESULTS[content])
    error = _one_line_error(train.main, argv, capsys)
    assert str(path) in error


@pytest.mark.parametrize("content", sorted(CORRUPT_RESULTS))
def test_the_runner_names_a_corrupt_result_file(content, tmp_path, capsys, no_work):
    argv = ["--dataset", "digits", "--results-dir", str(tmp_path)]
    path = result_path(_config([*argv, "--method", "ce", "--seed", "0"]))
    path.parent.mkdir(parents=True)
    path.write_text(CORRUPT_RESULTS[content])
    error = _one_line_error(runner.main, ["--methods", "ce", "--seeds", "0", *argv], capsys)
    assert str(path) in error


# -- the data's digest ---------------------------------------------------------------------------

TINY = ["--ir", "2", "--epochs", "1", "--batch-size", "32", "--width", "4", "--device", "cpu", "--no-progress",
        "--no-checkpoint"]


def test_a_result_made_from_other_data_of_the_same_name_is_not_skipped(tmp_path, capsys):
    first, second = _npz(tmp_path / "a" / "data.npz", seed=0), _npz(tmp_path / "b" / "data.npz", seed=1)
    out = ["--results-dir", str(tmp_path / "out")]
    assert train.main(["--npz", str(first), *TINY, *out]) == 0
    assert train.main(["--npz", str(first), *TINY, *out]) == 0
    assert "same settings; skipping" in capsys.readouterr().out
    error = _one_line_error(train.main, ["--npz", str(second), *TINY, *out], capsys)
    assert "other data" in error and "data.npz" in error
    with pytest.raises(SystemExit) as stop:  # the runner reads the data once and refuses too
        runner.main(["--methods", "ce", "--seeds", "0", "--npz", str(second), *TINY, *out])
    assert stop.value.code == 2 and "other data" in capsys.readouterr().err


def test_a_result_without_a_digest_is_compared_by_name(tmp_path, capsys):
    first, second = _npz(tmp_path / "a" / "data.npz", seed=0), _npz(tmp_path / "b" / "data.npz", seed=1)
    out = ["--results-dir", str(tmp_path / "out")]
    assert train.main(["--npz", str(first), *TINY, *out]) == 0
    path = next((tmp_path / "out" / "runs").rglob("*.json"))
    result = json.loads(path.read_text())
    del result["dataset"]["digest"]  # written before digests were recorded
    path.write_text(json.dumps(result))
    capsys.readouterr()
    assert train.main(["--npz", str(second), *TINY, *out]) == 0
    assert "same settings; skipping" in capsys.readouterr().out


def test_protocol_values_are_checked_where_protocols_are_made():
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        with_overrides(PROTOCOLS["quick"], {"lr": float("nan")})
    with pytest.raises(ValueError, match="mix_epochs '5:2' selects no epoch"):
        with_overrides(PROTOCOLS["quick"], {"mix_epochs": "5:2"})



@pytest.mark.parametrize("module", ["benchmarks.train", "benchmarks.__main__", "benchmarks.render"])
def test_a_no_switch_does_not_read_default_true_in_the_help(module, capsys):
    # A `--no-x` switch stores False into a default of True: "(default: True)" would read backwards.
    with pytest.raises(SystemExit):
        importlib.import_module(module).main(["--help"])
    entries = re.split(r"\n  (?=-)", capsys.readouterr().out)  # one entry per option
    switches = [entry for entry in entries if entry.startswith("--no-")]
    assert switches
    assert all("(default: True)" not in " ".join(entry.split()) for entry in switches), switches
