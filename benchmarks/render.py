"""Render the accuracy results: Markdown tables, PNG plots and the README's results section.

Everything is read from the JSON under ``benchmarks/results/`` (``summary.json``, which this
updates first, the per-run files, ``recommendation.json``, ``sampler-distribution.json``,
``published.json``, ``cost/*.json``, ``throughput-*.json``); nothing is measured or typed in
by hand. The jobs live in :mod:`benchmarks.report` (tables, plots, README); this module runs
them in order and is the command line.

* ``results.md`` (also the site's results page, ``docs/results.md``): the summary across
  settings (once the standard protocol's seed-0 set is in, its headline table and the command
  that reproduces it, :mod:`benchmarks.report.headline`; top-1 by method, protocol and ratio),
  each recommended recipe and its target, the
  state of the standard protocol's runs and the plots across settings, then one section per
  setting (a link to its run files, the recipe and target, mean ± sd over seeds, gains within
  each variant, plots), the published reference points, the costs and the transform throughput.
  ``<!-- summary:end -->`` marks the end of the summary, where the site adds its prose.
* ``plots/<setting>-per-class.png``, ``plots/<setting>-sampler.png``,
  ``plots/<family>-top1-vs-ratio.png`` and ``plots/<setting>-quick-vs-paper.png``.
* ``--readme README.md`` replaces the text between ``<!-- results:start -->`` and
  ``<!-- results:end -->`` with the summary (headline, table, recipes and targets,
  standard-protocol state) and a link to ``results.md``; a README that keeps ``throughput``
  markers gets the throughput tables there too.
* ``--choose-recipe SETTING`` records the setting's recipe from seed 0
  (:func:`benchmarks.report.recipe.choose_recipe`); ``--progress`` prints the state of the
  standard protocol's runs (:func:`benchmarks.report.progress.standard_state`).

Example::

    python -m benchmarks.render                      # results.md, summary.json, plots
    python -m benchmarks.render --readme README.md   # and the README's section
    python -m benchmarks.render --choose-recipe cifar10-lt-ir100-exp-paper
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.report.cost_tables import (
    cost_report,
    format_data_loading,
    format_table,
    format_training_step,
    throughput_report,
)
from benchmarks.report.headline import standard_headline
from benchmarks.report.names import parse_setting, split_name
from benchmarks.report.plots import plot_per_class, plot_quick_vs_standard, plot_sampler, plot_top1_vs_ratio
from benchmarks.report.progress import STANDARD_SETTING, progress_line, standard_state
from benchmarks.report.published import published_section, read_published
from benchmarks.report.readme import README_END, README_START, has_readme_section, replace_readme_section, write_text
from benchmarks.report.recipe import choose_recipe, read_recommendations
from benchmarks.report.stats import difference, mean_std
from benchmarks.report.tables import (
    markdown_report,
    markdown_table,
    recipe_line,
    summary_tables,
    target_floor,
    target_lines,
)
from benchmarks.results_io import RESULTS_DIR
from benchmarks.sampler_distribution import FILE_NAME as SAMPLER_FILE
from benchmarks.sampler_distribution import find_distribution
from benchmarks.summary import load_runs, read_json, update_summary

# Re-exported for the callers of the former single module (cost, throughput, benchmarks.__main__).
__all__ = [
    "README_END",
    "README_START",
    "cost_report",
    "difference",
    "format_data_loading",
    "format_table",
    "format_training_step",
    "main",
    "markdown_table",
    "mean_std",
    "render",
    "replace_readme_section",
]

#: Methods drawn in the per-class plots (plus the recipes recommended for the protocol): more lines cannot be read.
PER_CLASS_METHODS = ("ce", "cmo", "la", "drw", "mmt")

#: Methods drawn against the imbalance ratio (plus the recommended recipes).
RATIO_METHODS = ("ce", "la", "mmt")

#: The protocol pair of the quick-against-standard plot.
QUICK, STANDARD = "quick", "paper"

#: Ends the summary in ``results.md``: the site's results page adds its prose there.
SUMMARY_END = "<!-- summary:end -->"


def _family(setting: str) -> str:
    return re.sub(r"-ir[0-9.]+-", "-ir{ir}-", setting)


def _setting_plots(results_dir: Path, setting: str, setting_runs: list[dict[str, Any]], recipes: set[str],
                   distributions: dict[str, Any]) -> list[Path]:
    """The per-class plot and, when ``sampler-distribution.json`` has the counts, the sampler plot."""
    plots_dir = results_dir / "plots"
    shown = set(PER_CLASS_METHODS) | recipes
    named = [run for run in setting_runs if run["method"] in shown] or setting_runs
    plots = [plot_per_class(named, plots_dir / f"{setting}-per-class.png")]
    dataset, protocol = setting_runs[0]["dataset"], setting_runs[0]["protocol"]
    distribution = find_distribution(distributions, setting, dataset["train_counts"], protocol["batch_size"])
    if distribution is None:
        print(f"warning: {results_dir / SAMPLER_FILE} has no sampler distribution for {setting}'s counts; "
              f"`python -m benchmarks.sampler_distribution --results-dir {results_dir}` measures it", file=sys.stderr)
    else:
        plots.append(plot_sampler(distribution, plots_dir / f"{setting}-sampler.png",
                                  title=f"{setting}\nMMTBatchSampler class distribution"))
    return plots


def _quick_vs_standard(results_dir: Path, summary: dict, setting: str) -> Path | None:
    """The quick-against-standard plot of a standard-protocol ``setting`` (``None`` if not drawn)."""
    parts = parse_setting(setting)
    if parts is None or parts["protocol"] != STANDARD:
        return None
    quick = setting.removesuffix(f"-{STANDARD}") + f"-{QUICK}"
    if quick not in summary:
        return None
    return plot_quick_vs_standard(summary[quick], summary[setting], results_dir / "plots" / f"{quick}-vs-{STANDARD}.png",
                                  title=f"{parts['dataset']}-LT ir{parts['ratio']:g}: {QUICK} against {STANDARD}",
                                  labels=(QUICK, STANDARD))


def _make_plots(results_dir: Path, summary: dict, runs: list[dict[str, Any]], settings: list[str],
                recommendations: dict[str, dict[str, Any]]) -> tuple[dict[str, list[Path]], list[Path]]:
    """The plots of each setting, and those across settings (top-1 against ratio, quick against standard),
    which the summary shows once."""
    distributions = read_json(results_dir / SAMPLER_FILE) if (results_dir / SAMPLER_FILE).is_file() else None
    distributions = distributions if isinstance(distributions, dict) else {}
    recipes = {setting: entry["recommended"] for setting, entry in recommendations.items()}
    plots: dict[str, list[Path]] = defaultdict(list)
    for setting in settings:
        setting_runs = [run for run in runs if run["setting"] == setting]
        # The recipes chosen for this protocol (at any ratio) are drawn at every ratio.
        family_recipes = {name for chosen_for, name in recipes.items() if _family(chosen_for) == _family(setting)}
        if setting_runs:
            plots[setting] += _setting_plots(results_dir, setting, setting_runs, family_recipes, distributions)
    summary_plots = []
    for family in sorted({_family(setting) for setting in settings}):
        members = [setting for setting in settings if _family(setting) == family]
        methods = RATIO_METHODS + tuple(recipes[setting] for setting in members if setting in recipes)
        plot = plot_top1_vs_ratio(summary, results_dir / "plots" / f"{family.replace('-ir{ir}-', '-')}-top1-vs-ratio.png",
                                  methods=tuple(dict.fromkeys(methods)), family=family)
        if plot is not None:
            summary_plots.append(plot)
    for setting in settings:
        if (plot := _quick_vs_standard(results_dir, summary, setting)) is not None:
            summary_plots.append(plot)
    return plots, summary_plots


def _progress(state: dict[str, Any]) -> str:
    """The standard protocol's state: in full once any of its planned runs finished or is parked here."""
    if state["finished"] or state["in_progress"]:
        return progress_line(state)
    return (f"Standard protocol (`{state['setting']}`): none of its {len(state['planned'])} planned runs is in "
            f"these result files yet (`python -m benchmarks.render --progress` prints the state).")


def _links(plots: list[Path], link_base: Path) -> str:
    return "\n\n".join(f"![{plot.stem}]({Path(os.path.relpath(plot, link_base)).as_posix()})" for plot in plots)


def _recipes(summary: dict, settings: list[str], recommendations: dict[str, dict[str, Any]]) -> list[str]:
    """Each setting's recommended recipe and whether it meets the target, one line per setting."""
    lines = []
    for setting in settings:
        recipe = recommendations.get(setting)
        if recipe is not None and any(split_name(name)[0] == recipe["recommended"] for name in summary[setting]):
            lines.append(" ".join([f"`{setting}`: {recipe_line(recipe)}",
                                   *target_lines(summary[setting], recipe["recommended"],
                                                target_floor(setting))]))
    return lines


def _summary_block(summary: dict, runs: list[dict[str, Any]], settings: list[str],
                   recommendations: dict[str, dict[str, Any]], state: dict[str, Any], headline: str | None,
                   source: str) -> str:
    """The standard protocol's ``headline`` (:func:`standard_headline`, ``None`` until its seed-0
    set is in), the summary table(s), their source (``source``, the link to ``summary.json``),
    each recommended recipe and its target, and the standard protocol's state."""
    # The headline carries its setting's recipe and target: the lines below leave that setting out.
    recipes = _recipes(summary, [setting for setting in settings if not (headline and setting == state["setting"])],
                       recommendations)
    parts = [headline, summary_tables({setting: summary[setting] for setting in settings}, runs),
             f'From <a href="{source}">{source}</a>: the mean and spread over each setting\'s run files.',
             *recipes, _progress(state)]
    return "\n\n".join(part for part in parts if part) + "\n"


def render(results_dir: Path = RESULTS_DIR, *, settings: list[str] | None = None, make_plots: bool = True,
           readme: Path | None = None) -> str:
    """Update ``summary.json``, write ``results.md`` and the plots, and optionally the README.

    Returns:
        The text of ``results.md`` below its title.

    Raises:
        ValueError: for a setting of ``settings`` that has no results.
    """
    results_dir = Path(results_dir)
    runs = load_runs(results_dir)
    summary = update_summary(results_dir, runs=runs)
    settings = settings or list(summary)
    unknown = [setting for setting in settings if setting not in summary]
    if unknown:
        raise ValueError(f"settings {unknown} are not in summary.json (have: {sorted(summary)})")
    recommendations = read_recommendations(results_dir)
    plots, summary_plots = _make_plots(results_dir, summary, runs, settings, recommendations) if make_plots else ({}, [])
    state = standard_state(results_dir)
    headline = standard_headline(runs, state["setting"], recommendations) if state["setting"] in settings else None
    published = read_published(results_dir)
    costs = cost_report(results_dir, heading="##")
    throughput = throughput_report(results_dir)
    summary_text = _summary_block(summary, runs, settings, recommendations, state, headline, "summary.json")

    report = ("## Summary across settings\n\n" + summary_text + "\n" + SUMMARY_END + "\n\n"
              + (_links(summary_plots, results_dir) + "\n\n" if summary_plots else "")
              + markdown_report(summary, runs, recommendations=recommendations, settings=settings,
                                plots={setting: plots.get(setting, []) for setting in settings},
                                link_base=results_dir, heading="##", runs_dir=results_dir / "runs")
              + ("\n" + published_section(published, heading="##") if published else "")
              + ("\n" + costs if costs else "")
              + (f"\n## Transform throughput\n\n{throughput}\n" if throughput else ""))
    write_text(results_dir / "results.md", "# Benchmark results\n\n" + report)
    if readme is not None:
        link_base = readme.resolve().parent
        results_md = Path(os.path.relpath(results_dir / "results.md", link_base)).as_posix()
        summary_json = Path(os.path.relpath(results_dir / "summary.json", link_base)).as_posix()
        summary_text = _summary_block(summary, runs, settings, recommendations, state, headline, summary_json)
        replace_readme_section(readme, summary_text + f"\nEvery setting's table (spread, shot groups, the "
                               f"`mmt-<options>` ablations, links to the run files), the plots, the costs, the "
                               f"transform throughput and the published reference points: [{results_md}]({results_md}).\n")
        if throughput is not None and has_readme_section(readme, "throughput"):
            replace_readme_section(readme, throughput, section="throughput")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--settings", nargs="+", default=None, help="settings to render (default: all)")
    parser.add_argument("--readme", type=Path, default=None, help="rewrite this file's results section")
    parser.add_argument("--no-plots", action="store_true", help="tables only, without the plots")
    parser.add_argument("--choose-recipe", metavar="SETTING", default=None,
                        help="record SETTING's recommended recipe from its seed-0 results and stop")
    parser.add_argument("--progress", action="store_true",
                        help=f"print the state of the standard protocol's runs ({STANDARD_SETTING}) and stop")
    args = parser.parse_args(argv)
    if args.choose_recipe is not None:
        try:
            entry = choose_recipe(args.choose_recipe, args.results_dir)
        except ValueError as error:
            parser.error(str(error))
        print(json.dumps(entry, indent=1))
        return 0
    if args.progress:
        print(progress_line(standard_state(args.results_dir)))
        return 0
    try:
        print(render(args.results_dir, settings=args.settings, make_plots=not args.no_plots, readme=args.readme))
    except ValueError as error:
        parser.error(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
