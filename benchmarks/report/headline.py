"""The README's headline: the standard protocol's table once its seed-0 set is in.

The standard protocol (:data:`~benchmarks.report.progress.STANDARD_SETTING`) decides MMT's
claim, so once seed 0 of every method in :data:`~benchmarks.report.progress.SEED0_METHODS` is
in, the results open with a table of its default runs (CPU, float32, the default CIFAR-10 file:
top-1, many- and medium-shot accuracy, seeds, the recipe's target and the differences) and the
one runner command that reproduces every row of it: the seeds each method has, ``METHOD:SEEDS``
where they are not just seed 0.

Example::

    >>> standard_headline(runs, state["setting"], recommendations)   # doctest: +SKIP
    '**Standard protocol** (`cifar10-lt-ir100-exp-paper`), the default variant (CPU, float32), ...'
"""

from __future__ import annotations

from typing import Any

from benchmarks.report.names import method_order, parse_setting
from benchmarks.report.progress import SEED0_METHODS
from benchmarks.report.tables import describe_setting, machine_line, markdown_table, target_floor
from benchmarks.summary import summarize, variant

__all__ = ["default_runs", "reproduce_command", "standard_headline"]


def default_runs(runs: list[dict[str, Any]], setting: str) -> list[dict[str, Any]]:
    """``setting``'s runs of the default variant (:func:`benchmarks.summary.variant`: CPU, float32,
    the default data): the runs one runner command without data or variant options makes."""
    return [run for run in runs if run["setting"] == setting and not variant(run)]


def reproduce_command(setting: str, runs: list[dict[str, Any]]) -> str:
    """The runner command that trains every run of :func:`default_runs` (and no other).

    Raises:
        ValueError: for a setting key that is not ``<dataset>-lt-ir<ratio>-<profile>-<protocol>``
            with a protocol's plain name (no overrides), or one without such runs.
    """
    parts = parse_setting(setting)
    if parts is None or "+" in parts["protocol"]:
        raise ValueError(f"setting: expected a key like 'cifar10-lt-ir100-exp-paper' (a protocol without "
                         f"overrides), got {setting!r}")
    seeds: dict[str, set[int]] = {}
    for run in default_runs(runs, setting):
        seeds.setdefault(run["method"], set()).add(int(run["seed"]))
    if not seeds:
        raise ValueError(f"runs: none of the default variant for {setting!r}")
    methods = [method if seeds[method] == {0} else f"{method}:{','.join(map(str, sorted(seeds[method])))}"
               for method in method_order(seeds)]
    profile = [] if parts["profile"] == "exp" else ["--profile", parts["profile"]]
    return " ".join(["python -m benchmarks.runner --methods", *methods, "--seeds 0 --jobs 2 --threads 1",
                     "--dataset", parts["dataset"], "--ir", f"{parts['ratio']:g}", *profile,
                     "--protocol", parts["protocol"], "--device cpu --results-dir benchmarks/results"])


def standard_headline(runs: list[dict[str, Any]], setting: str,
                      recommendations: dict[str, dict[str, Any]]) -> str | None:
    """The headline (see the module docstring), or ``None`` until seed 0 of every
    :data:`SEED0_METHODS` method is among ``setting``'s :func:`default_runs`."""
    shown = default_runs(runs, setting)
    if not all(any(run["method"] == method and run["seed"] == 0 for run in shown) for method in SEED0_METHODS):
        return None
    recipe = recommendations.get(setting, {}).get("recommended")
    return "\n\n".join([
        f"**Standard protocol** (`{setting}`), the default variant (CPU, float32), top-1 of the last epoch: "
        + describe_setting(shown) + " " + machine_line(shown) + ".",
        markdown_table(summarize(shown)[setting], recommended=recipe, floor=target_floor(setting)),
        "Every row of this table, from the repository root (a finished run is skipped, an unfinished "
        f"one resumes):\n\n```bash\n{reproduce_command(setting, shown)}\n```",
    ])
