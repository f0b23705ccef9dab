"""The accuracy tables: one across settings (methods × protocols × ratios) and one per setting.

Both read ``summary.json`` entries (:mod:`benchmarks.summary`) and, for the setting's
description, its run files. Methods are compared only within one variant
(:mod:`benchmarks.report.names`): ``mmt [bf16, cuda]`` against ``ce [bf16, cuda]``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.protocols import PROTOCOLS
from benchmarks.report.names import (
    by_variant,
    is_mmt,
    is_mmt_options,
    join_name,
    method_order,
    parse_setting,
    split_name,
)
from benchmarks.report.recipe import TARGET_MARGIN, TARGET_REFERENCE, TARGET_SEEDS, TARGET_TOP1
from benchmarks.report.stats import difference, format_cell, format_stats, mean_std, values
from benchmarks.report.words import named_configs
from benchmarks.summary import METRICS
from benchmarks.summary import variant as run_variant

__all__ = ["best_alternative", "describe_setting", "machine_line", "markdown_report", "markdown_table",
           "recipe_line", "summary_tables", "target_floor", "target_lines"]


def best_alternative(methods: dict[str, dict[str, list]]) -> str | None:
    """The non-MMT method with the highest mean top-1 (CMO and the baselines count).

    ``methods`` holds one variant's entries; pass :func:`_variant_entries` to compare within one.
    """
    candidates = {m: np.mean(values(e["top1"])) for m, e in methods.items() if not is_mmt(m) and values(e["top1"])}
    return max(candidates, key=candidates.get) if candidates else None


def _gain(methods: dict[str, dict[str, list]], method: str, baseline: str) -> str | None:
    gain = difference(methods[method], methods[baseline])
    if gain is None:
        return None
    seeds = f"{len(methods[method]['top1'])} vs {len(methods[baseline]['top1'])} seeds"
    spread = f" ± {gain[1]:.2f}" if gain[1] is not None else " (no spread: fewer than 2 seeds on a side)"
    return f"{method} − {baseline}: {gain[0]:+.2f}{spread} ({seeds})"


def _variant_entries(methods: dict[str, dict[str, list]], names: list[str]) -> dict[str, dict[str, list]]:
    """One variant's entries keyed by base name (``"la [bf16]"`` -> ``"la"``)."""
    return {split_name(name)[0]: methods[name] for name in names}


def _differences(group: dict[str, dict[str, list]], variant: str, recommended: str | None) -> list[str]:
    """The top-1 differences of one variant's entries (keyed by base name): MMT against CE, CMO and
    the best method without MMT, and the recommended recipe against that method."""
    pairs = [("mmt", baseline) for baseline in ("ce", "cmo")]
    alternative = best_alternative(group)
    if alternative is not None:
        pairs.append(("mmt", alternative))
        if recommended is not None and recommended != "mmt":
            pairs.append((recommended, alternative))
    gains = [gain for method, baseline in dict.fromkeys(pairs) if method in group and baseline in group
             if (gain := _gain(group, method, baseline)) is not None]
    within = f" within [{variant}]" if variant else ""
    return [f"Top-1 differences{within} (difference of means ± its standard error): " + "; ".join(gains) + "."] \
        if gains else []


def _verdict(gain: tuple[float, float | None]) -> str:
    """Whether ``gain`` (difference, standard error) clears :data:`TARGET_MARGIN` beyond its error."""
    low, high = gain[0] - (gain[1] or 0.0), gain[0] + (gain[1] or 0.0)
    return "met" if low >= TARGET_MARGIN else "not met" if high < TARGET_MARGIN else "not settled by this spread"


def _gain_words(gain: tuple[float, float | None]) -> str:
    return f"{gain[0]:+.2f}" + (f" ± {gain[1]:.2f}" if gain[1] is not None else ", no spread")


def _target(group: dict[str, dict[str, list]], variant: str, recommended: str | None,
            floor: float | None = None) -> str | None:
    """Whether one variant's recommended recipe meets the target: :data:`TARGET_MARGIN` points above
    :data:`TARGET_REFERENCE` (difference of means less its standard error, with at least
    :data:`TARGET_SEEDS` seeds on each side; fewer settle nothing) and, where the protocol has a
    ``floor``, a mean top-1 of at least that. The best method without MMT with
    :data:`TARGET_SEEDS` or more seeds is named beside it when it is another."""
    reference = TARGET_REFERENCE if TARGET_REFERENCE in group else best_alternative(group)
    if recommended not in group or reference is None:
        return None
    gain = difference(group[recommended], group[reference])
    if gain is None:
        return None
    seeds = len(values(group[recommended]["top1"])), len(values(group[reference]["top1"]))
    verdict = _verdict(gain) if min(seeds) >= TARGET_SEEDS else (
        f"not settled by {seeds[0]} vs {seeds[1]} seeds (it asks {TARGET_SEEDS} each)")
    top1 = float(np.mean(values(group[recommended]["top1"])))
    if floor is not None and top1 < floor:
        verdict = "not met"
    within = f" within [{variant}]" if variant else ""
    named = ("logit adjustment" if reference == TARGET_REFERENCE else "the best method without MMT")
    line = (f"Target{within}: the recommended recipe `{join_name(recommended, variant)}` at least "
            f"{TARGET_MARGIN:g} points above {named} (`{join_name(reference, variant)}`)"
            + (f" and at least {floor:g} top-1" if floor is not None else "")
            + f": {verdict} ({_gain_words(gain)}" + (f"; top-1 {top1:.2f}" if floor is not None else "") + ").")
    settled = {name: entry for name, entry in group.items() if len(values(entry["top1"])) >= TARGET_SEEDS}
    strongest = best_alternative(settled)
    if strongest not in (None, reference) and (other := difference(group[recommended], group[strongest])):
        line += (f" Against `{join_name(strongest, variant)}`, the best method without MMT with {TARGET_SEEDS} "
                 f"or more seeds: {_gain_words(other)}.")
    return line


def target_lines(methods: dict[str, dict[str, list]], recommended: str | None, floor: float | None = None) -> list[str]:
    """The target line of each variant of one setting's ``{method: entry}`` that has the recipe
    ``recommended`` (``floor``: the protocol's :data:`~benchmarks.report.recipe.TARGET_TOP1`, if any)."""
    return [line for variant, names in by_variant(methods).items()
            if (line := _target(_variant_entries(methods, names), variant, recommended, floor)) is not None]


def target_floor(setting: str) -> float | None:
    """The recipe's top-1 floor on ``setting``'s protocol (:data:`~benchmarks.report.recipe.TARGET_TOP1`)."""
    parts = parse_setting(setting)
    return TARGET_TOP1.get(parts["protocol"]) if parts is not None else None


def _shown_metrics(methods: dict[str, dict[str, list]]) -> list[str]:
    """The metrics with a value in some entry: a shot group no class of the setting falls in has none."""
    return [metric for metric in METRICS if any(values(entry[metric]) for entry in methods.values())]


def markdown_table(methods: dict[str, dict[str, list]], *, recommended: str | None = None,
                   floor: float | None = None) -> str:
    """The Markdown table for one setting's ``{method: entry}`` (see :mod:`benchmarks.summary`).

    Above it, per variant, whether the recipe ``recommended`` (a base name) meets the target
    (``floor``: the protocol's top-1 floor, :func:`target_floor`);
    below it, per variant, MMT against CE, CMO and the best method without MMT and the recipe
    against that method (difference of means ± its standard error). A shot group without classes
    (CIFAR-10-LT has no few-shot class) has no column. The time is the median epoch time times
    the protocol's epochs (``run_seconds``), mean over seeds.
    """
    shown = _shown_metrics(methods)
    empty = [metric for metric in METRICS if metric not in shown]
    lines = [line + "\n" for line in target_lines(methods, recommended, floor)]
    lines += ["| method | seeds | " + " | ".join("top-1" if metric == "top1" else metric for metric in shown)
              + " | minutes / run (median epoch × epochs) |",
              "| --- | ---: |" + " ---: |" * len(shown) + " ---: |"]
    for method in method_order(methods):
        entry = methods[method]
        seeds = len(entry["top1"])
        cells = [format_stats(mean_std(entry[metric]), seeds) for metric in shown]
        minutes = mean_std([None if s is None else s / 60 for s in entry.get("run_seconds", [])])
        lines.append(f"| {method} | {seeds} | " + " | ".join(cells) + " | "
                     + ("—" if minutes is None else f"{minutes[0]:.1f}") + " |")
    for variant, names in by_variant(methods).items():
        differences = _differences(_variant_entries(methods, names), variant, recommended)
        if differences:
            lines += ["", *differences]
    if empty:
        lines += ["", f"No class of this setting is in the {'- or '.join(empty)}-shot group, so "
                      f"{'its column is' if len(empty) == 1 else 'their columns are'} left out."]
    return "\n".join(lines)


def _protocol_key(protocol: str) -> tuple[int, str]:
    order = list(PROTOCOLS)
    return (order.index(protocol), "") if protocol in order else (len(order), protocol)


def _protocol_words(protocol: str, runs: list[dict[str, Any]]) -> str:
    recorded = next((run["protocol"] for run in runs if run["protocol"]["name"] == protocol), None)
    if recorded is None and protocol in PROTOCOLS:
        recorded = PROTOCOLS[protocol].to_dict()
    return f"`{protocol}`" + (f": {recorded['architecture']}, {recorded['epochs']} epochs" if recorded else "")


def summary_tables(summary: dict[str, dict[str, dict[str, list]]], runs: list[dict[str, Any]]) -> str:
    """Top-1 (mean ± sd, seeds) of each method by protocol and imbalance ratio, one table per
    dataset and profile; the ``mmt-<options>`` ablations are left to the tables per setting."""
    families: dict[tuple[str, str], list[tuple[str, float, str]]] = defaultdict(list)
    for setting in summary:
        parts = parse_setting(setting)
        if parts is not None:
            families[parts["dataset"], parts["profile"]].append((parts["protocol"], parts["ratio"], setting))
    blocks = []
    for (dataset, profile), columns in sorted(families.items()):
        columns.sort(key=lambda column: (_protocol_key(column[0]), column[1]))
        names = method_order({name for _, _, setting in columns for name in summary[setting]
                              if not is_mmt_options(name)})
        protocols = list(dict.fromkeys(protocol for protocol, _, _ in columns))
        lines = [f"Top-1 (%) on {dataset}-lt ({profile} profile): mean ± sd over seeds (number of seeds), by "
                 f"protocol and imbalance ratio; " + "; ".join(_protocol_words(p, runs) for p in protocols)
                 + ". The `mmt-<options>` ablations are in the tables per setting.", "",
                 "| method | " + " | ".join(f"{protocol} ir{ratio:g}" for protocol, ratio, _ in columns) + " |",
                 "| --- |" + " ---: |" * len(columns)]
        for name in names:
            cells = [format_cell(summary[setting][name]["top1"]) if name in summary[setting] else "—"
                     for _, _, setting in columns]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def machine_line(runs: list[dict[str, Any]]) -> str:
    machines = {(r["machine"]["device_name"], r["machine"]["device"], r["machine"]["versions"]["torch"]) for r in runs}
    return "Measured on " + "; ".join(f"{name} ({device}), torch {torch}" for name, device, torch in sorted(machines))


def describe_setting(runs: list[dict[str, Any]]) -> str:
    """The data and the recipe of a setting's runs, read from a run of the default variant
    (:func:`benchmarks.summary.variant`) where there is one."""
    run = next((run for run in runs if not run_variant(run)), runs[0])
    protocol = run["protocol"]
    dataset = run["dataset"]
    return (f"{dataset['name']} ({dataset['source']}), {sum(dataset['train_counts'])} training images "
            f"(imbalance ratio {dataset['imbalance_ratio']:g}, {dataset['profile']} profile), "
            f"{sum(dataset['test_counts'])} test images; {protocol['architecture']}, {protocol['epochs']} epochs, "
            f"batch {protocol['batch_size']}, SGD lr {protocol['lr']:g} ({protocol['schedule']}), "
            f"weight decay {protocol['weight_decay']:g}, mixing epochs: {protocol['mix_epochs']}.")


def recipe_line(recipe: dict[str, Any]) -> str:
    """``"Recommended recipe: `mmt+la`, chosen from seed 0 only (rule: ...)."`` for a ``recommendation.json`` entry."""
    return f"Recommended recipe: `{recipe['recommended']}`, chosen from {recipe['chosen_from']} (rule: {recipe['rule']})."


def markdown_report(summary: dict, runs: list[dict[str, Any]], *, recommendations: dict[str, dict[str, Any]],
                    settings: list[str] | None = None, plots: dict[str, list[Path]] | None = None,
                    link_base: Path | None = None, heading: str = "###", runs_dir: Path | None = None) -> str:
    """One section per setting of ``settings`` (default: all in ``summary``): a link to its run
    files (``runs_dir/<setting>/``, when given), its description, recommended recipe
    (``recommendations``, keyed by setting) and target, table, method meanings and plots.

    Raises:
        ValueError: for a setting that is not in ``summary``.
    """
    runs_by_setting = defaultdict(list)
    for run in runs:
        runs_by_setting[run["setting"]].append(run)
    blocks = []
    for setting in settings or list(summary):
        if setting not in summary:
            raise ValueError(f"setting {setting!r} is not in summary.json (have: {sorted(summary)})")
        block = [f"{heading} {setting}", ""]
        if runs_dir is not None:
            folder = Path(os.path.relpath(runs_dir / setting, link_base) if link_base is not None else runs_dir / setting)
            # An HTML link: Markdown renderers and the Sphinx site keep it as written (a folder, not a page).
            block += [f'Run files: <a href="{folder.as_posix()}/">{folder.as_posix()}/</a> (one JSON file per '
                      f"method and seed).", ""]
        if runs_by_setting[setting]:
            block += [describe_setting(runs_by_setting[setting]) + " " + machine_line(runs_by_setting[setting])
                      + ".", ""]
        recipe = recommendations.get(setting)
        chosen = recipe["recommended"] if recipe else None
        if chosen is not None and any(split_name(name)[0] == chosen for name in summary[setting]):
            block += [recipe_line(recipe), ""]
        block.append(markdown_table(summary[setting], recommended=chosen, floor=target_floor(setting)))
        named = named_configs(runs_by_setting[setting])
        if named:
            block += ["", named]
        for plot in (plots or {}).get(setting, []):
            link = os.path.relpath(plot, link_base) if link_base is not None else str(plot)
            block += ["", f"![{plot.stem}]({Path(link).as_posix()})"]
        blocks.append("\n".join(block))
    return "\n\n".join(blocks) + "\n"
