"""The README's headline: the standard protocol's table once its seed-0 set is in.

The standard protocol (:data:`~benchmarks.report.progress.STANDARD_SETTING`) decides MMT's
claim, so once seed 0 of every method in :data:`~benchmarks.report.progress.SEED0_METHODS` is
in, the results open with its default variant's table (top-1, many- and medium-shot accuracy,
seeds, the recipe's target and the differences) and the one runner command that reproduces
every row of it: the seeds each method has, ``METHOD:SEEDS`` where they are not just seed 0.

Example::

    >>> standard_headline(summary, runs, state, recommendations)   # doctest: +SKIP
    'Standard protocol, the default variant (CPU, float32): ...'
"""

from __future__ import annotations

from typing import Any

from benchmarks.report.names import method_order, parse_setting, split_name
from benchmarks.report.progress import SEED0_METHODS
from benchmarks.report.tables import describe_setting, machine_line, markdown_table, target_floor
from benchmarks.summary import entry_name

__all__ = ["reproduce_command", "seed0_set_in", "standard_headline"]


def seed0_set_in(state: dict[str, Any]) -> bool:
    """Whether seed 0 of every :data:`SEED0_METHODS` method is finished in ``state``
    (:func:`benchmarks.report.progress.standard_state`)."""
    return all(f"{method}-seed0" in state["finished"] for method in SEED0_METHODS)


def reproduce_command(setting: str, runs: list[dict[str, Any]]) -> str:
    """The runner command that trains every default-variant run of ``setting`` in ``runs`` (and no other).

    Raises:
        ValueError: for a setting key that :func:`~benchmarks.report.names.parse_setting` cannot read.
    """
    parts = parse_setting(setting)
    if parts is None:
        raise ValueError(f"setting: expected a key like 'cifar10-lt-ir100-exp-paper', got {setting!r}")
    seeds: dict[str, set[int]] = {}
    for run in runs:
        if run["setting"] == setting and entry_name(run) == run["method"]:
            seeds.setdefault(run["method"], set()).add(int(run["seed"]))
    methods = [method if seeds[method] == {0} else f"{method}:{','.join(map(str, sorted(seeds[method])))}"
               for method in method_order(seeds)]
    profile = [] if parts["profile"] == "exp" else ["--profile", parts["profile"]]
    return " ".join(["python -m benchmarks.runner --methods", *methods, "--seeds 0 --jobs 2 --threads 1",
                     "--dataset", parts["dataset"], "--ir", f"{parts['ratio']:g}", *profile,
                     "--protocol", parts["protocol"], "--device cpu --results-dir benchmarks/results"])


def standard_headline(summary: dict, runs: list[dict[str, Any]], state: dict[str, Any],
                      recommendations: dict[str, dict[str, Any]]) -> str | None:
    """The headline (see the module docstring), or ``None`` until the seed-0 set is in."""
    setting = state["setting"]
    if not seed0_set_in(state) or setting not in summary:
        return None
    default = {name: entry for name, entry in summary[setting].items() if not split_name(name)[1]}
    setting_runs = [run for run in runs if run["setting"] == setting and entry_name(run) == run["method"]]
    recipe = recommendations.get(setting, {}).get("recommended")
    return "\n\n".join([
        f"**Standard protocol** (`{setting}`), the default variant (CPU, float32), top-1 of the last epoch: "
        + describe_setting(setting_runs) + " " + machine_line(setting_runs) + ".",
        markdown_table(default, recommended=recipe, floor=target_floor(setting)),
        "Every row of this table, from the repository root (a finished run is skipped, an unfinished "
        f"one resumes):\n\n```bash\n{reproduce_command(setting, setting_runs)}\n```",
    ])
