"""How far the standard protocol's planned runs are: finished, in progress, not started.

The plan (:func:`planned_runs`) holds runs of the default variant (CPU, float32) on
``cifar10-lt-ir100-exp-paper``: seed 0 of each of :data:`SEED0_METHODS` (8 runs) and seeds 1
and 2 of ``la`` (10 runs), and, once the recipe is chosen from seed 0 (``recommendation.json``),
seeds 1 and 2 of that recipe (12 runs from then on). A run is finished when its result
file ``runs/<setting>/<method>-seed<N>.json`` exists (they are written atomically); it is in
progress when its checkpoint is parked in ``in-progress/<method>-seed<N>.pt`` (its ``epoch`` is
the number of epochs done).

Example::

    >>> state = standard_state("benchmarks/results")        # doctest: +SKIP
    >>> progress_line(state)                                  # doctest: +SKIP
    'Standard protocol (`cifar10-lt-ir100-exp-paper`, CPU, float32): 3 of 10 planned runs finished ...'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.data import setting_key
from benchmarks.report.recipe import recommended_recipe
from benchmarks.results_io import RESULTS_DIR

__all__ = ["MORE_SEEDS", "SEED0_METHODS", "STANDARD_SETTING", "planned_runs", "progress_line", "standard_state"]

#: The standard protocol's setting: CIFAR-10-LT, ratio 100, ``paper`` (ResNet-32, 200 epochs).
STANDARD_SETTING = setting_key("cifar10", 100, "exp", "paper")

#: The methods whose seed 0 runs first, in the order they were queued.
SEED0_METHODS = ("ce", "la", "mmt+la", "mmt", "drw", "mmt+drw", "cmo-window", "rs")

#: The further seeds of ``la`` and of the chosen recipe.
MORE_SEEDS = (1, 2)


def planned_runs(recipe: str | None) -> list[tuple[str, int]]:
    """The planned ``(method, seed)`` runs: 10 while the recipe is not chosen, 12 once it is."""
    return ([(method, 0) for method in SEED0_METHODS] + [("la", seed) for seed in MORE_SEEDS]
            + ([(recipe, seed) for seed in MORE_SEEDS] if recipe else []))


def _parked_epochs(path: Path, setting: str) -> dict[str, int] | None:
    """``{"epoch": done, "epochs": of}`` of the checkpoint parked at ``path``, if it is ``setting``'s."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)
    config = state["config"]
    if setting_key(config["dataset"], config["imbalance_ratio"], config["profile"],
                   config["protocol"]["name"]) != setting:
        return None  # a parked run of another setting with the same file name
    return {"epoch": int(state["epoch"]), "epochs": int(config["protocol"]["epochs"])}


def standard_state(results_dir: str | Path = RESULTS_DIR, setting: str = STANDARD_SETTING) -> dict[str, Any]:
    """The state of the planned runs of ``setting`` (see the module docstring).

    Returns:
        ``{"setting", "recipe", "planned", "finished", "in_progress", "not_started"}``:
        ``planned`` holds the ``"<method>-seed<N>"`` names of :func:`planned_runs`, ``finished``
        and ``not_started`` the planned names in each state and
        ``in_progress`` ``{name: {"epoch": epochs done, "epochs": of}}``.
    """
    results_dir = Path(results_dir)
    entry = recommended_recipe(setting, results_dir)
    recipe = entry["recommended"] if entry else None
    names = [f"{method}-seed{seed}" for method, seed in planned_runs(recipe)]
    finished = [name for name in names if (results_dir / "runs" / setting / f"{name}.json").is_file()]
    in_progress = {}
    for name in names:
        parked = results_dir / "in-progress" / f"{name}.pt"
        if name not in finished and parked.is_file():
            epochs = _parked_epochs(parked, setting)
            if epochs is not None:
                in_progress[name] = epochs
    return {
        "setting": setting,
        "recipe": recipe,
        "planned": names,
        "finished": finished,
        "in_progress": in_progress,
        "not_started": [name for name in names if name not in finished and name not in in_progress],
    }


def progress_line(state: dict[str, Any]) -> str:
    """``"Standard protocol (<setting>, ...): N of 10 planned runs finished (...); finished: ...;
    in progress: <name> (epoch e of E); not started: ..."``."""
    seeds = " and ".join(map(str, MORE_SEEDS))
    recipe = (f"of la and of the recipe {state['recipe']}" if state["recipe"] else
              f"of la; seeds {seeds} of the recipe join the plan once it is chosen from seed 0")
    line = (f"Standard protocol (`{state['setting']}`, CPU, float32): {len(state['finished'])} of "
            f"{len(state['planned'])} planned runs finished (seed 0 of {', '.join(SEED0_METHODS)}; seeds {seeds} "
            f"{recipe})")
    if state["finished"]:
        line += f"; finished: {', '.join(state['finished'])}"
    if state["in_progress"]:
        line += "; in progress: " + ", ".join(f"{name} (epoch {done['epoch']} of {done['epochs']})"
                                              for name, done in state["in_progress"].items())
    if state["not_started"]:
        line += f"; not started: {', '.join(state['not_started'])}"
    return line + "."
