"""The accuracy report (:mod:`benchmarks.render`, :mod:`benchmarks.report`, :mod:`benchmarks.summary`).

Result files are written by hand here (a few fields each, no training), so every test states the
numbers it expects from the numbers it wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import render
from benchmarks.methods import parse_method
from benchmarks.report import headline, names, plots, progress, published, recipe, tables
from benchmarks.results_io import RESULTS_DIR
from benchmarks.sampler_distribution import find_distribution, measure
from benchmarks.summary import load_runs, update_summary, variant

QUICK_100 = "cifar10-lt-ir100-exp-quick"
QUICK_10 = "cifar10-lt-ir10-exp-quick"
PAPER = "cifar10-lt-ir100-exp-paper"
COUNTS = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
EPOCHS = {"quick": 30, "paper": 200}
BF16_CUDA = {"amp": "bf16", "device": "cuda"}


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
    if run["dataset"]["source"] != "npz:cifar10.npz":
        suffix += "-" + run["dataset"]["source"].replace(":", "-")
    path = results_dir / "runs" / run["setting"] / f"{run['method']}-seed{run['seed']}{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run))
    return path


def write_runs(results_dir: Path, setting: str, top1s: dict[str, list[float]], **options) -> None:
    for method, values in top1s.items():
        for seed, top1 in enumerate(values):
            write_run(results_dir, make_run(setting, method, seed, top1, **options))


def _with_source(run: dict, source: str) -> dict:
    return {**run, "dataset": {**run["dataset"], "source": source}}


# -- a corrupt result file ------------------------------------------------------------------------


@pytest.mark.parametrize("content", ['{"setting": "cifar10-lt-ir100', "[]", "null", "{}"])
def test_a_corrupt_result_file_is_named_and_the_other_runs_are_summarized(tmp_path, capsys, content):
    write_runs(tmp_path, QUICK_100, {"ce": [50.0], "mmt": [60.0]})
    bad = tmp_path / "runs" / QUICK_100 / "la-seed0.json"
    bad.write_text(content)
    summary = update_summary(tmp_path)
    assert sorted(summary[QUICK_100]) == ["ce", "mmt"]
    assert str(bad) in capsys.readouterr().err


@pytest.mark.parametrize(("field", "value", "named"), [
    ("timing", "x", 'timing (an object, got "x")'), ("timing", None, "timing (an object, got null)"),
    ("protocol", "x", "protocol"), ("seed", "zero", 'seed (an integer, got "zero")'), ("seed", True, "seed"),
    ("method", 5, "method (a string, got 5)"), ("metrics.top1", "high", 'metrics.top1 (a number in [0, 100], got "high")'),
    ("metrics.top1", float("nan"), "got NaN"), ("metrics.top1", None, "metrics.top1"),
    ("metrics.many", 101.0, "metrics.many (a number in [0, 100] or null, got 101.0)"),
    ("setting", "cifar10-lt-ir10-exp-quick", "setting"),
])
def test_a_result_with_a_field_of_the_wrong_type_is_named_and_left_out(tmp_path, capsys, field, value, named):
    write_runs(tmp_path, QUICK_100, {"ce": [50.0], "mmt": [60.0]})
    run = make_run(QUICK_100, "la", 0, 55.0)
    if field.startswith("metrics."):
        run["metrics"][field.split(".")[1]] = value
    else:
        run[field] = value
    bad = tmp_path / "runs" / QUICK_100 / "la-seed0.json"
    bad.write_text(json.dumps(run))
    summary = update_summary(tmp_path)
    assert sorted(summary) == [QUICK_100] and sorted(summary[QUICK_100]) == ["ce", "mmt"]
    err = capsys.readouterr().err
    assert str(bad) in err and named in err
    assert render.main(["--results-dir", str(tmp_path), "--no-plots"]) == 0
    assert "| mmt | 1 | 60.00 |" in (tmp_path / "results.md").read_text()


def test_render_goes_on_past_a_corrupt_result_file(tmp_path, capsys):
    write_runs(tmp_path, QUICK_100, {"ce": [50.0], "mmt": [60.0]})
    bad = tmp_path / "runs" / QUICK_100 / "la-seed0.json"
    bad.write_text('{"setting": ')
    assert render.main(["--results-dir", str(tmp_path), "--no-plots"]) == 0
    assert "| mmt | 1 | 60.00 |" in (tmp_path / "results.md").read_text()
    assert capsys.readouterr().err.count(str(bad)) == 1  # named once, not once per reader


def test_an_unreadable_summary_is_rebuilt_from_the_runs(tmp_path, capsys):
    write_runs(tmp_path, QUICK_100, {"ce": [50.0]})
    (tmp_path / "summary.json").write_text("[1, 2")
    assert update_summary(tmp_path)[QUICK_100]["ce"]["top1"] == [50.0]
    assert str(tmp_path / "summary.json") in capsys.readouterr().err


# -- comparisons within one variant ---------------------------------------------------------------


def _entries(top1s: dict[str, list[float]]) -> dict[str, dict[str, list]]:
    return {name: {"top1": values, "many": values, "medium": values, "few": [None] * len(values),
                   "run_seconds": [180.0] * len(values)} for name, values in top1s.items()}


def test_a_variant_is_compared_with_its_own_variants_baselines():
    methods = _entries({"ce": [50.0, 52.0], "la": [64.0, 64.0], "mmt": [61.0, 61.0], "mmt+la": [65.0, 65.0],
                        "ce [bf16, cuda]": [40.0, 40.0], "la [bf16, cuda]": [70.0, 70.0],
                        "mmt [bf16, cuda]": [66.0, 66.0], "mmt+la [bf16, cuda]": [75.0, 75.0]})
    table = tables.markdown_table(methods, recommended="mmt+la")
    default, bf16 = (line for line in table.splitlines() if line.startswith("Top-1 differences"))
    assert "mmt − ce: +10.00" in default and "mmt − la: -3.00" in default and "mmt+la − la: +1.00" in default
    assert "within [bf16, cuda]" in bf16
    assert "mmt − ce: +26.00" in bf16 and "mmt − la: -4.00" in bf16 and "mmt+la − la: +5.00" in bf16
    targets = [line for line in table.splitlines() if line.startswith("Target")]
    assert "`mmt+la`" in targets[0] and "(`la`): not settled by 2 vs 2 seeds (it asks 3 each) (+1.00" in targets[0]
    assert "`mmt+la [bf16, cuda]`" in targets[1] and "(`la [bf16, cuda]`): not settled by 2 vs 2" in targets[1]


def test_the_target_is_against_la_beyond_the_error_and_names_a_stronger_alternative_with_three_seeds():
    methods = _entries({"la": [64.0, 65.0, 66.0], "drw": [66.0, 67.0, 68.0], "rs": [90.0],
                        "mmt+la": [67.0, 68.0, 69.0]})
    line = tables.target_lines(methods, "mmt+la")[0]
    # +3.00 ± 0.82 clears 2 beyond its error; rs (one seed) is not named, drw (three) is.
    assert line == ("Target: the recommended recipe `mmt+la` at least 2 points above logit adjustment (`la`): met "
                    "(+3.00 ± 0.82). Against `drw`, the best method without MMT with 3 or more seeds: +1.00 ± 0.82.")
    methods["mmt+la"] = {**methods["mmt+la"], "top1": [66.0, 67.0, 68.0]}
    assert "(`la`): not settled by this spread (+2.00 ± 0.82)." in tables.target_lines(methods, "mmt+la")[0]
    without_la = _entries({"drw": [60.0], "rs": [61.0], "mmt+drw": [62.0]})
    assert "above the best method without MMT (`rs`): not settled by 1 vs 1 seeds (it asks 3 each) " \
        "(+1.00, no spread)." in tables.target_lines(without_la, "mmt+drw")[0]


@pytest.mark.parametrize(("recipe", "verdict"), [(80.5, "not settled by 1 vs 1 seeds (it asks 3 each)"),
                                                 (79.0, "not met")])
def test_one_seed_a_side_never_meets_the_target_but_misses_the_floor(recipe, verdict):
    methods = _entries({"la": [75.0], "mmt+la": [recipe]})
    line = tables.target_lines(methods, "mmt+la", tables.target_floor(PAPER))[0]
    assert f"and at least 80 top-1: {verdict} (" in line


@pytest.mark.parametrize(("recipe", "verdict"), [([81.0, 82.0, 83.0], "met (+4.00 ± 0.82; top-1 82.00)"),
                                                 ([79.0, 79.5, 80.0], "not met (+4.00 ± 0.41; top-1 79.50)")])
def test_the_standard_protocols_target_also_asks_80_top1_of_the_recipe(recipe, verdict):
    methods = _entries({"la": [75.0, 75.5, 76.0] if recipe[0] < 80 else [77.0, 78.0, 79.0], "mmt+la": recipe})
    assert tables.target_floor(PAPER) == 80.0 and tables.target_floor(QUICK_100) is None
    line = tables.target_lines(methods, "mmt+la", tables.target_floor(PAPER))[0]
    assert f"above logit adjustment (`la`) and at least 80 top-1: {verdict}." in line


def test_a_variant_without_its_own_baseline_is_not_compared_with_the_default_one():
    table = tables.markdown_table(_entries({"ce": [50.0], "mmt [bf16]": [60.0]}))
    assert "Top-1 differences" not in table


def test_methods_are_matched_across_protocols_by_base_name_within_a_variant():
    quick = _entries({"ce": [49.0], "la": [64.0], "mmt [bf16, cuda]": [62.0], "rs": [61.0]})
    standard = _entries({"la": [78.0], "mmt": [75.0], "mmt [bf16, cuda]": [76.0], "ce [bf16, cuda]": [70.0]})
    assert plots.matched_methods(quick, standard) == ["la", "mmt [bf16, cuda]"]


def test_the_quick_against_standard_plot_is_written_only_when_both_protocols_have_a_method(tmp_path):
    write_runs(tmp_path, QUICK_100, {"la": [64.0]})
    write_runs(tmp_path, PAPER, {"la": [78.0]}, **BF16_CUDA)  # only another variant on the standard protocol
    (tmp_path / "sampler-distribution.json").write_text("{}")
    render.render(tmp_path)
    plot = tmp_path / "plots" / f"{QUICK_100}-vs-paper.png"
    assert not plot.exists()
    write_runs(tmp_path, PAPER, {"la": [78.0]})
    report = render.render(tmp_path)
    assert plot.stat().st_size > 0 and f"({plot.relative_to(tmp_path).as_posix()})" in report


def test_the_quick_against_standard_labels_never_overlap_and_a_lone_point_keeps_its_label_beside_it():
    close = {name: (64.0 + 0.2 * index, 73.0 - 0.1 * index, 0.3) for index, name in
             enumerate(["la", "drw", "mmt", "mmt+la", "mmt+drw", "rs"])}
    points = {**close, "ce": (49.0, 65.5, 1.0)}
    span = 30.0
    spots = plots._label_positions(points, span)
    assert set(spots) == set(points)
    assert spots["ce"] == plots._beside(points["ce"], span) == (49.0 + 1.0 + 0.015 * span, 65.5)
    for first, (x1, y1) in spots.items():
        for second, (x2, y2) in spots.items():
            if first < second:  # text boxes (left end, width, 0.03 of the span high) apart one way at least
                apart_x = x1 + plots._label_width(first, span) <= x2 or x2 + plots._label_width(second, span) <= x1
                assert apart_x or abs(y1 - y2) >= 0.03 * span - 1e-6, (first, second)
    # Equal points take the nearest free lines: 0, -1, +1, -2, ... label heights from the point.
    same = plots._label_positions({f"m{index}": (60.0, 70.0, 0.0) for index in range(5)}, span)
    lines = sorted(round((y - 70.0) / (0.03 * span)) for _, y in same.values())
    assert lines == [-2, -1, 0, 1, 2]
    long = plots._label_positions({"mmt-mixup-p1-per-batch-inverse": (60.0, 70.0, 0.0), "la": (66.0, 70.0, 0.0)}, span)
    assert long["la"][1] != 70.0  # 6 points right is inside the long label's width, so it moves


def test_methods_are_ordered_baselines_alternatives_compositions_options_then_variants():
    shuffled = ["mmt-mixup-p1", "la [bf16]", "mmt+la", "rs", "mmt", "ce", "cmo-window", "mmt+drw", "ce [bf16]"]
    assert names.method_order(shuffled) == ["ce", "mmt", "rs", "cmo-window", "mmt+drw", "mmt+la", "mmt-mixup-p1",
                                            "ce [bf16]", "la [bf16]"]


# -- the recommended recipe, keyed by setting -----------------------------------------------------


def test_recommendations_are_read_in_the_keyed_and_the_old_flat_form(tmp_path):
    entry = {"setting": QUICK_100, "recommended": "mmt+la", "chosen_from": "seed 0 only", "rule": "r"}
    (tmp_path / "recommendation.json").write_text(json.dumps(entry))
    assert recipe.read_recommendations(tmp_path) == {QUICK_100: entry}
    (tmp_path / "recommendation.json").write_text(json.dumps({QUICK_100: entry}))
    assert recipe.recommended_recipe(QUICK_100, tmp_path) == entry
    assert recipe.recommended_recipe(PAPER, tmp_path) is None


def test_each_setting_shows_its_own_recommended_recipe(tmp_path):
    top1s = {"ce": [50.0], "la": [60.0], "mmt": [61.0], "mmt+la": [62.0], "mmt+drw": [63.0]}
    write_runs(tmp_path, QUICK_100, top1s)
    write_runs(tmp_path, PAPER, top1s)
    (tmp_path / "recommendation.json").write_text(json.dumps({
        QUICK_100: {"recommended": "mmt+la", "chosen_from": "seed 0 only", "rule": "quick rule"},
        PAPER: {"recommended": "mmt+drw", "chosen_from": "seed 0 only", "rule": "paper rule"}}))
    report = render.render(tmp_path, make_plots=False)
    paper_section, quick_section = report.split(f"## {PAPER}")[1].split(f"## {QUICK_100}")
    assert "Recommended recipe: `mmt+drw`" in paper_section and "paper rule" in paper_section
    assert "Recommended recipe: `mmt+la`" in quick_section and "quick rule" in quick_section


def test_runs_on_another_copy_of_the_data_are_their_own_variant_never_seeds_of_the_default_one(tmp_path):
    write_runs(tmp_path, PAPER, {"la": [72.0]})
    write_run(tmp_path, _with_source(make_run(PAPER, "la", 1, 76.0), "torchvision:cifar10"))
    write_run(tmp_path, _with_source(make_run(PAPER, "la", 2, 75.0, **BF16_CUDA), "npz:cifar10-png.npz"))
    summary = update_summary(tmp_path)[PAPER]
    assert summary["la"]["top1"] == [72.0]
    assert summary["la [torchvision:cifar10]"]["top1"] == [76.0]
    assert summary["la [bf16, cuda, npz:cifar10-png.npz]"]["top1"] == [75.0]
    assert [run["seed"] for run in headline.default_runs(load_runs(tmp_path), PAPER)] == [0]
    cifar100 = {**make_run(PAPER, "la", 0, 40.0), "dataset": {"name": "cifar100", "source": "torchvision:cifar100"}}
    folder = {**make_run(PAPER, "la", 0, 40.0), "dataset": {"name": "pets", "source": "imagefolder:pets"}}
    assert variant(cifar100) == "" and variant(folder) == "imagefolder:pets"  # its only source; its folder
    other = _with_source(make_run(PAPER, "ce", 0, 60.0), "torchvision:cifar10")
    assert "cifar10 (npz:cifar10.npz)" in tables.describe_setting([other, make_run(PAPER, "ce", 0, 60.0)])


def test_a_result_with_a_machine_path_as_its_data_source_is_named_with_the_command_that_fixes_it(tmp_path, capsys):
    write_runs(tmp_path, PAPER, {"la": [72.0]})
    old = tmp_path / "runs" / PAPER / "la-seed1.json"
    machine_path = (tmp_path / "data" / "cifar10.npz").as_posix()  # as a run before 0.2 recorded it
    old.write_text(json.dumps(_with_source(make_run(PAPER, "la", 1, 73.0), machine_path)))
    assert update_summary(tmp_path)[PAPER] == {"la": update_summary(tmp_path)[PAPER]["la"]}  # no path entry
    assert update_summary(tmp_path)[PAPER]["la"]["top1"] == [72.0]
    warning = capsys.readouterr().err
    assert str(old) in warning and "python -m benchmarks.migrate_results" in warning
    old.write_text(json.dumps(_with_source(make_run(PAPER, "la", 1, 73.0), 7)))
    assert update_summary(tmp_path)[PAPER]["la"]["top1"] == [72.0]
    assert "dataset.source (a string, got 7)" in capsys.readouterr().err


def test_the_default_sources_are_what_the_loaders_record():
    from benchmarks.data import DEFAULT_NPZ, load_digits
    from benchmarks.summary import DEFAULT_SOURCES

    digits = load_digits()
    assert DEFAULT_SOURCES[digits.name] == digits.source
    assert DEFAULT_SOURCES["cifar10"] == f"npz:{DEFAULT_NPZ.name}"


def test_the_recipe_is_not_chosen_before_all_three_seed0_results_exist(tmp_path):
    write_runs(tmp_path, PAPER, {"mmt": [70.0], "mmt+la": [71.0]})
    write_run(tmp_path, make_run(PAPER, "mmt+drw", 0, 72.0, **BF16_CUDA))  # another variant does not count
    write_run(tmp_path, make_run(PAPER, "mmt+drw", 1, 72.0))  # nor does seed 1
    write_run(tmp_path, _with_source(make_run(PAPER, "mmt+drw", 0, 72.0), "torchvision:cifar10"))  # nor other data
    with pytest.raises(ValueError, match="no seed-0 result yet for mmt\\+drw"):
        recipe.choose_recipe(PAPER, tmp_path)
    assert not (tmp_path / "recommendation.json").exists()
    with pytest.raises(SystemExit) as stop:
        render.main(["--choose-recipe", PAPER, "--results-dir", str(tmp_path)])
    assert stop.value.code == 2


def test_the_recipe_is_the_best_seed0_mmt_recipe_and_other_settings_keep_theirs(tmp_path):
    old = {"setting": QUICK_100, "recommended": "mmt+la", "chosen_from": "seed 0 only", "rule": "r"}
    (tmp_path / "recommendation.json").write_text(json.dumps(old))  # the first, flat form
    write_runs(tmp_path, PAPER, {"ce": [70.0], "la": [77.0], "mmt": [75.0, 90.0], "mmt+la": [76.5],
                                 "mmt+drw": [77.5]})
    assert render.main(["--choose-recipe", PAPER, "--results-dir", str(tmp_path)]) == 0
    written = json.loads((tmp_path / "recommendation.json").read_text())
    assert written[QUICK_100] == old
    entry = written[PAPER]
    assert entry["recommended"] == "mmt+drw"  # mmt's seed 1 (90.0) is not looked at
    assert entry["seed0_top1_of_mmt_recipes"] == {"mmt": 75.0, "mmt+la": 76.5, "mmt+drw": 77.5}
    assert entry["seed0_top1_of_alternatives_known_then"] == {"ce": 70.0, "la": 77.0}
    assert entry["chosen_from"] == "seed 0 only" and entry["rule"] == recipe.RULE
    assert entry["git"] and entry["written_at"].startswith("20")
    with pytest.raises(ValueError, match="already has a recommended recipe"):
        recipe.choose_recipe(PAPER, tmp_path)


def test_a_seed0_tie_goes_to_the_first_recipe_in_the_rules_order(tmp_path):
    write_runs(tmp_path, PAPER, {"mmt": [70.0], "mmt+la": [71.0], "mmt+drw": [71.0]})
    assert recipe.choose_recipe(PAPER, tmp_path, git="abc")["recommended"] == "mmt+la"


# -- the time column ------------------------------------------------------------------------------


def test_the_time_is_the_median_epoch_time_times_the_protocols_epochs(tmp_path):
    # A run paused for hours: its wall clock says 500 minutes, its epochs 30 x 6 s = 3 minutes.
    write_run(tmp_path, make_run(QUICK_100, "ce", 0, 50.0, epoch_seconds=6.0, wall_seconds=30_000.0))
    write_run(tmp_path, make_run(QUICK_100, "ce", 1, 52.0, epoch_seconds=8.0, wall_seconds=500.0))
    assert update_summary(tmp_path)[QUICK_100]["ce"]["run_seconds"] == [180.0, 240.0]
    report = render.render(tmp_path, make_plots=False)
    assert "| ce | 2 | 51.00 ± 1.41 | 52.00 ± 1.41 | 46.00 ± 1.41 | 3.5 |" in report


# -- the tables per setting ------------------------------------------------------------------------


def test_a_shot_group_without_classes_has_no_column_and_the_table_says_so():
    table = tables.markdown_table(_entries({"ce": [50.0, 52.0], "mmt": [60.0, 61.0]}))  # few: None in every run
    assert table.splitlines()[0] == "| method | seeds | top-1 | many | medium | minutes / run (median epoch × epochs) |"
    assert "| ce | 2 | 51.00 ± 1.41 | 51.00 ± 1.41 | 51.00 ± 1.41 | 3.0 |" in table
    assert "No class of this setting is in the few-shot group, so its column is left out." in table


def test_the_recipe_and_its_target_come_before_the_table(tmp_path):
    write_runs(tmp_path, QUICK_100, {"ce": [50.0, 51.0], "la": [64.0, 64.5], "mmt": [60.0, 61.0], "mmt+la": [64.5, 65.0]})
    (tmp_path / "recommendation.json").write_text(json.dumps(
        {QUICK_100: {"recommended": "mmt+la", "chosen_from": "seed 0 only", "rule": "the rule"}}))
    report = render.render(tmp_path, make_plots=False)
    summary, section = report.split(render.SUMMARY_END)[0], report.split(f"## {QUICK_100}")[1]
    assert f"`{QUICK_100}`: Recommended recipe: `mmt+la`" in summary and "(`la`): not settled by 2 vs 2 seeds" in summary
    table = section.index("| method |")
    assert section.index("Recommended recipe: `mmt+la`") < table and section.index("Target: the recommended") < table


def test_each_setting_links_its_run_files_and_each_plot_appears_once(tmp_path):
    write_runs(tmp_path, QUICK_100, {"ce": [50.0], "la": [64.0], "mmt": [60.0]})
    write_runs(tmp_path, QUICK_10, {"ce": [73.0], "la": [76.0], "mmt": [74.0]})
    (tmp_path / "sampler-distribution.json").write_text("{}")
    report = render.render(tmp_path)
    for setting in (QUICK_100, QUICK_10):
        assert f'Run files: <a href="runs/{setting}/">runs/{setting}/</a>' in report.split(f"## {setting}")[1]
    images = [line for line in report.splitlines() if line.startswith("![")]
    assert len(images) == len(set(images)) == 3  # two per-class plots and, in the summary, top-1 against ratio
    assert "top1-vs-ratio" in report.split(render.SUMMARY_END)[1].split("## ")[0]


# -- the summary across settings ------------------------------------------------------------------


def test_the_summary_table_has_methods_by_protocol_and_ratio_with_mean_sd_and_seeds(tmp_path):
    write_runs(tmp_path, QUICK_100, {"ce": [48.0, 50.0, 52.0], "la": [64.0], "mmt-mixup-p1": [55.0]})
    write_runs(tmp_path, QUICK_10, {"ce": [73.0, 74.0]})
    write_runs(tmp_path, PAPER, {"la": [77.0]})
    write_runs(tmp_path, PAPER, {"la": [79.0]}, **BF16_CUDA)
    report = render.render(tmp_path, make_plots=False)
    table = report.split("\n\n## ")[0]
    assert "| method | paper ir100 | quick ir10 | quick ir100 |" in table
    assert "| ce | — | 73.50 ± 0.71 (2) | 50.00 ± 2.00 (3) |" in table
    assert "| la | 77.00 (1) | — | 64.00 (1) |" in table
    assert "| la [bf16, cuda] | 79.00 (1) | — | — |" in table
    assert "mmt-mixup-p1" not in table
    assert "`paper`: resnet32, 200 epochs" in table and "`quick`: resnet8, 30 epochs" in table


def test_the_readme_section_opens_with_the_summary_table_and_keeps_the_rest(tmp_path):
    write_runs(tmp_path, QUICK_100, {"ce": [50.0], "mmt": [60.0]})
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{render.README_START}\nold\n{render.README_END}\n\ntail\n")
    render.render(tmp_path, make_plots=False, readme=readme)
    generated = readme.read_text().split(render.README_START)[1].split(render.README_END)[0]
    first = [line for line in generated.splitlines() if line and not line.startswith("<!--")][0]
    assert first.startswith("Top-1 (%) on cifar10-lt") and "old" not in generated
    assert f"## {QUICK_100}" not in generated and "| mmt | 60.00 (1) |" in generated  # the summary only
    assert "[results.md](results.md)" in generated and readme.read_text().endswith(f"{render.README_END}\n\ntail\n")
    assert '<a href="summary.json">' in generated  # the summary table's source


# -- the published reference points ---------------------------------------------------------------


def test_every_published_value_names_its_source_data_architecture_epochs_and_epoch():
    data = published.read_published()
    for entry in data["entries"] + data["cifar100_lt"]["entries"]:
        assert {"top1", "source", "data", "architecture", "epochs", "epoch_reported", "evidence", "note"} <= set(entry)
        assert entry["epoch_reported"] in ("last", "best", "unknown")
    assert data["unverified"] and data["cifar100_lt"]["unverified"]


def test_the_published_values_are_a_separate_section_and_cifar100_is_said_to_be_unmeasured(tmp_path):
    write_runs(tmp_path, QUICK_100, {"ce": [50.0]})
    data = published.read_published()
    (tmp_path / "published.json").write_text(json.dumps(data))
    report = render.render(tmp_path, make_plots=False)
    ours, theirs = report.split(f"## {published.HEADING}")
    assert "Remix-DRW" not in ours and f"{data['entries'][0]['top1']:.2f}" in theirs
    assert theirs.count("\n| ") == 2 * 2 + len(data["entries"]) + len(data["cifar100_lt"]["entries"])
    assert "CIFAR-100-LT is not measured here (the project has no offline copy of CIFAR-100); the MMT paper " \
           "reports +6.12 points over CE there" in theirs
    assert "1,241 epochs" in theirs and "last epoch" in theirs


# -- the standard protocol's runs -----------------------------------------------------------------


def _park(results_dir: Path, stem: str, epoch: int, protocol: str = "paper") -> None:
    path = results_dir / "in-progress" / f"{stem}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"dataset": "cifar10", "imbalance_ratio": 100.0, "profile": "exp",
              "protocol": {"name": protocol, "epochs": EPOCHS[protocol]}}
    from benchmarks.loop import CHECKPOINT_KEYS

    torch.save({**dict.fromkeys(CHECKPOINT_KEYS), "epoch": epoch, "config": config}, path)


def test_the_standard_protocol_state_counts_finished_and_parked_runs(tmp_path):
    write_runs(tmp_path, PAPER, {"ce": [70.0], "la": [77.0, 77.5], "mixup": [72.0]})  # mixup is not planned
    write_run(tmp_path, make_run(PAPER, "mmt", 0, 75.0, **BF16_CUDA))  # another variant: not the planned run
    _park(tmp_path, "mmt-seed0", 57)
    _park(tmp_path, "rs-seed0", 12, protocol="quick")  # another setting's checkpoint of the same name
    state = progress.standard_state(tmp_path)
    assert state["finished"] == ["ce-seed0", "la-seed0", "la-seed1"]
    assert state["in_progress"] == {"mmt-seed0": {"epoch": 57, "epochs": 200}}
    assert len(state["planned"]) == 10 and state["planned"][6:8] == ["la-seed1", "la-seed2"]
    line = progress.progress_line(state)
    assert "3 of 10 planned runs finished" in line and "mmt-seed0 (epoch 57 of 200)" in line
    assert "rs-seed0" in line.split("not started:")[1] and "recipe-seed1" in line.split("not started:")[1]


def test_the_recipes_further_seeds_join_the_plan_once_it_is_chosen(tmp_path):
    write_runs(tmp_path, PAPER, {"mmt+drw": [77.0, 77.2]})
    before = progress.standard_state(tmp_path)
    assert before["finished"] == ["mmt+drw-seed0"] and len(before["planned"]) == 10
    (tmp_path / "recommendation.json").write_text(json.dumps({PAPER: {"recommended": "mmt+drw"}}))
    after = progress.standard_state(tmp_path)
    assert after["finished"] == ["mmt+drw-seed0", "mmt+drw-seed1"] and len(after["planned"]) == 10
    assert after["planned"][-2:] == ["mmt+drw-seed1", "mmt+drw-seed2"]
    assert "2 of 10 planned runs finished" in progress.progress_line(after)


def test_the_extra_alternatives_are_reported_beside_the_plan_not_in_its_count(tmp_path):
    write_runs(tmp_path, PAPER, {"ce": [70.0], "cmo-window": [71.0]})
    state = progress.standard_state(tmp_path)
    assert state["finished"] == ["ce-seed0", "cmo-window-seed0"]
    assert "1 of 10 planned runs finished" in progress.progress_line(state)


def test_the_results_show_the_standard_protocol_state_once_a_run_is_there(tmp_path):
    write_runs(tmp_path, QUICK_100, {"ce": [50.0]})
    report = render.render(tmp_path, make_plots=False)
    assert "planned runs finished" not in report and "none of its 10 planned runs is in these result files" in report
    _park(tmp_path, "ce-seed0", 3)
    assert "0 of 10 planned runs finished" in render.render(tmp_path, make_plots=False)


def test_the_results_lead_with_the_standard_protocol_only_once_its_seed0_set_is_in(tmp_path):
    write_runs(tmp_path, QUICK_100, {"ce": [50.0]})
    seed0 = {"ce": [70.0], "la": [77.0, 78.0, 79.0], "mmt+la": [80.0, 81.0, 82.0], "mmt": [75.0], "drw": [76.0]}
    write_runs(tmp_path, PAPER, seed0)
    write_run(tmp_path, make_run(PAPER, "mmt", 0, 90.0, **BF16_CUDA))  # another variant: not in the headline
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{render.README_START}\nold\n{render.README_END}\n")
    render.render(tmp_path, make_plots=False, readme=readme)
    assert "**Standard protocol**" not in readme.read_text()  # mmt+drw seed 0 is not in yet
    write_runs(tmp_path, PAPER, {"mmt+drw": [79.0]})
    (tmp_path / "recommendation.json").write_text(json.dumps({PAPER: {
        "recommended": "mmt+la", "chosen_from": "seed 0 only", "rule": "highest seed-0 top-1"}}))
    report = render.render(tmp_path, make_plots=False, readme=readme)
    generated = readme.read_text().split(render.README_START)[1]
    first = [line for line in generated.splitlines() if line and not line.startswith("<!--")][0]
    assert first.startswith(f"**Standard protocol** (`{PAPER}`), the default variant (CPU, float32)")
    assert "resnet32, 200 epochs" in first
    headline = generated.split("Top-1 (%) on cifar10-lt")[0]
    assert "| method | seeds | top-1 | many | medium |" in headline and "| la | 3 | 78.00 ± 1.00 |" in headline
    assert "| mmt+la | 3 | 81.00 ± 1.00 |" in headline and "90.00" not in headline
    assert "Target: the recommended recipe `mmt+la` at least 2 points above logit adjustment (`la`) and at " \
           "least 80 top-1: met (+3.00 ± 0.82; top-1 81.00)." in headline
    assert ("python -m benchmarks.runner --methods ce mmt drw la:0,1,2 mmt+drw mmt+la:0,1,2 --seeds 0 --jobs 2 "
            "--threads 1 --dataset cifar10 --ir 100 --protocol paper --device cpu --results-dir benchmarks/results"
            in headline)
    assert report.startswith("## Summary across settings\n\n**Standard protocol**")
    assert generated.count("Target") == 1  # the headline's, not again beside the summary table


def test_the_reproducing_command_names_each_methods_own_seeds_and_the_runner_plans_them(tmp_path):
    from benchmarks import runner

    runs = [make_run(PAPER, "ce", 0, 70.0), make_run(PAPER, "la", 1, 77.0), make_run(PAPER, "la", 2, 77.0),
            make_run(PAPER, "mmt", 0, 80.0, **BF16_CUDA), make_run(QUICK_100, "rs", 0, 60.0)]
    command = headline.reproduce_command(PAPER, runs)
    assert command.startswith("python -m benchmarks.runner --methods ce la:1,2 --seeds 0 ")
    train_args = command.split(" --threads 1 ")[1].split()
    jobs = runner.plan_jobs(["ce", "la:1,2"], [0], [*train_args[:-2], "--results-dir", str(tmp_path)], tmp_path)
    assert [(job.method, job.seed) for job in jobs] == [("ce", 0), ("la", 1), ("la", 2)]
    assert all(job.config.setting == PAPER for job in jobs)
    with pytest.raises(ValueError, match="setting: expected a key like"):
        headline.reproduce_command("not-a-setting", runs)
    with pytest.raises(ValueError, match="a protocol without overrides"):
        headline.reproduce_command(PAPER + "+epochs=1", runs)
    torchvision = _with_source(make_run(PAPER, "rs", 0, 60.0), "torchvision:cifar10")
    with pytest.raises(ValueError, match="runs: none of the default variant"):
        headline.reproduce_command(PAPER, [torchvision])
    assert " rs" not in headline.reproduce_command(PAPER, [*runs, torchvision])  # another data source


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


def test_render_draws_the_sampler_plot_from_the_file_without_sampling(tmp_path, monkeypatch, capsys):
    import mmt_augment

    def refuse(*args, **kwargs):
        raise AssertionError("render sampled")

    monkeypatch.setattr(mmt_augment, "MMTBatchSampler", refuse)
    write_runs(tmp_path, QUICK_100, {"ce": [50.0]})
    plot = tmp_path / "plots" / f"{QUICK_100}-sampler.png"
    render.render(tmp_path, settings=[QUICK_100])
    assert not plot.exists() and "sampler-distribution.json has no sampler distribution" in capsys.readouterr().err
    shares = {"weighting": "balanced", "epochs": 1, "head": list(np.array(COUNTS) / sum(COUNTS)), "tail": [0.1] * 10}
    (tmp_path / "sampler-distribution.json").write_text(json.dumps(
        {QUICK_100: {"train_counts": COUNTS, "batch_size": 128, "weightings": [shares]}}))
    report = render.render(tmp_path, settings=[QUICK_100])
    assert plot.stat().st_size > 0 and f"({plot.relative_to(tmp_path).as_posix()})" in report


def test_the_committed_sampler_file_covers_every_committed_setting():
    runs = load_runs()
    with open(RESULTS_DIR / "sampler-distribution.json") as file:
        distributions = json.load(file)
    for run in runs:
        assert find_distribution(distributions, run["setting"], run["dataset"]["train_counts"],
                                 run["protocol"]["batch_size"]) is not None, run["setting"]
