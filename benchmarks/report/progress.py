"""How far the standard protocol's planned runs are: finished, in progress, not started.

The plan (:func:`planned_runs`) holds the 10 runs of the default variant (CPU, float32) on
``cifar10-lt-ir100-exp-paper`` that decide MMT's claim: seed 0 of each of :data:`SEED0_METHODS`,
seeds 1 and 2 of ``la`` and, once the recipe is chosen from seed 0 (``recommendation.json``),
seeds 1 and 2 of that recipe (until then two places held for it). :data:`EXTRA_METHODS` run
beside them as time allows and are reported apart. A run is finished when its result
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
from benchmarks.run_config import setting_of

__all__ = ["EXTRA_METHODS", "MORE_SEEDS", "SEED0_METHODS", "STANDARD_SETTING", "planned_runs", "progress_line",
           "standard_state"]

#: The standard protocol's setting: CIFAR-10-LT, ratio 100, ``paper`` (ResNet-32, 200 epochs).
STANDARD_SETTING = setting_key("cifar10", 100, "exp", "paper")

#: The methods whose seed 0 decides the recipe and the comparison, in the order they were queued.
SEED0_METHODS = ("ce", "la", "mmt+la", "mmt", "drw", "mmt+drw")

#: Seed 0 of the alternatives that run in free slots, outside the plan's count.
EXTRA_METHODS = ("cmo-window", "rs")

#: A place in the plan for the recipe's seeds while the recipe is not chosen.
RECIPE_PLACE = "<recipe>"

#: The further seeds of ``la`` and of the chosen recipe.
MORE_SEEDS = (1, 2)


def planned_runs(recipe: str | None) -> list[tuple[str, int]]:
    """The 10 planned ``(method, seed)`` runs (:data:`RECIPE_PLACE` for the recipe until it is chosen)."""
    return ([(method, 0) for method in SEED0_METHODS] + [("la", seed) for seed in MORE_SEEDS]
            + [(recipe or RECIPE_PLACE, seed) for seed in MORE_SEEDS])


def _parked_epochs(path: Path, setting: str) -> dict[str, int] | None:
    """``{"epoch": done, "epochs": of}`` of the checkpoint parked at ``path``, if it is ``setting``'s."""
    from benchmarks.loop import read_checkpoint

    state = read_checkpoint(path)
    config = state["config"]
    if setting_of(config) != setting:
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
    extras = [f"{method}-seed0" for method in EXTRA_METHODS]
    finished = [name for name in names + extras if (results_dir / "runs" / setting / f"{name}.json").is_file()]
    in_progress = {}
    for name in names + extras:
        parked = results_dir / "in-progress" / f"{name}.pt"
        if name not in finished and parked.is_file():
            epochs = _parked_epochs(parked, setting)
            if epochs is not None:
                in_progress[name] = epochs
    return {
        "setting": setting,
        "recipe": recipe,
        "planned": names,
        "extras": extras,
        "finished": finished,
        "in_progress": in_progress,
        "not_started": [name for name in names + extras if name not in finished and name not in in_progress],
    }


def progress_line(state: dict[str, Any]) -> str:
    """``"Standard protocol (<setting>, ...): N of 10 planned runs finished (...); finished: ...;
    in progress: <name> (epoch e of E); not started: ..."``."""
    seeds = " and ".join(map(str, MORE_SEEDS))
    recipe = (f"the recipe {state['recipe']}" if state["recipe"] else "the recipe (chosen from seed 0 when it is in)")
    planned_done = [name for name in state["finished"] if name in state["planned"]]
    line = (f"Standard protocol (`{state['setting']}`, CPU, float32): {len(planned_done)} of "
            f"{len(state['planned'])} planned runs finished (seed 0 of {', '.join(SEED0_METHODS)}; seeds {seeds} "
            f"of la and of {recipe}; seed 0 of {', '.join(EXTRA_METHODS)} beside them)")
    if state["finished"]:
        line += f"; finished: {', '.join(state['finished'])}"
    if state["in_progress"]:
        line += "; in progress: " + ", ".join(f"{name} (epoch {done['epoch']} of {done['epochs']})"
                                              for name, done in state["in_progress"].items())
    if state["not_started"]:
        line += f"; not started: {', '.join(state['not_started'])}".replace(RECIPE_PLACE, "recipe")
    return line + "."
