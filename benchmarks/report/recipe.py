"""``recommendation.json``: the recipe recommended for each setting, chosen from seed 0 only.

The file is an object keyed by setting, so each protocol keeps its own choice::

    {"cifar10-lt-ir100-exp-quick": {"setting": ..., "recommended": "mmt+la", "chosen_from": "seed 0 only",
                                    "seed0_top1_of_mmt_recipes": {...}, "rule": ..., "written_at": ...,
                                    "git": ...}}

The first version of the file was one such entry (with its ``setting``) at the top level; it is
still read. :func:`choose_recipe` records a choice once all three MMT recipes have a seed-0
result and refuses otherwise, so the choice never looks at seeds 1 and 2.

Example::

    python -m benchmarks.render --choose-recipe cifar10-lt-ir100-exp-paper
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from benchmarks.results_io import RESULTS_DIR, write_json
from benchmarks.summary import load_runs, read_json, variant

__all__ = ["FILE_NAME", "RECIPE_CANDIDATES", "RULE", "TARGET_MARGIN", "TARGET_REFERENCE", "TARGET_SEEDS", "TARGET_TOP1",
           "choose_recipe", "read_recommendations", "recommended_recipe"]

FILE_NAME = "recommendation.json"

#: The MMT recipes the recommendation is chosen from.
RECIPE_CANDIDATES = ("mmt", "mmt+la", "mmt+drw")

RULE = (f"highest seed-0 top-1 among the MMT recipes ({', '.join(RECIPE_CANDIDATES)}), ties to the first of "
        "them; written before seeds 1 and 2 of it ran")

#: The margin (top-1 points) by which the recommended recipe should beat :data:`TARGET_REFERENCE`.
TARGET_MARGIN = 2.0

#: The seeds each side of the target's comparison needs before it can be met or missed.
TARGET_SEEDS = 3

#: The method the recipe must beat: logit adjustment, the loss-side fix that beats every published
#: mixing method on the short schedules (the best method without MMT where a variant has no ``la``).
TARGET_REFERENCE = "la"

#: The recipe's own mean top-1 floor, by protocol: 80.0 on the standard recipe, where Mixup-DRW
#: and Remix-DRW report about 80-82 on CIFAR-10-LT at ratio 100.
TARGET_TOP1 = {"paper": 80.0}


def read_recommendations(results_dir: str | Path = RESULTS_DIR) -> dict[str, dict[str, Any]]:
    """``{setting: entry}`` from ``recommendation.json`` (empty when there is none).

    The first, flat form (one entry with a ``setting`` field) is read as ``{setting: entry}``;
    an unreadable file is named on stderr and read as empty.
    """
    path = Path(results_dir) / FILE_NAME
    data = read_json(path) if path.is_file() else None
    if not isinstance(data, dict):
        return {}
    if isinstance(data.get("setting"), str) and "recommended" in data:
        return {data["setting"]: data}
    return {setting: entry for setting, entry in data.items() if isinstance(entry, dict) and "recommended" in entry}


def recommended_recipe(setting: str, results_dir: str | Path = RESULTS_DIR) -> dict[str, Any] | None:
    """The recommendation entry of ``setting``, or ``None`` when none was recorded."""
    return read_recommendations(results_dir).get(setting)


def choose_recipe(setting: str, results_dir: str | Path = RESULTS_DIR, *, git: str | None = None,
                  now: datetime.datetime | None = None) -> dict[str, Any]:
    """Record the recipe of ``setting`` by :data:`RULE` in ``recommendation.json`` and return it.

    Reads the seed-0 results of the default variant (:func:`benchmarks.summary.variant`: CPU,
    float32, the dataset's default data) under ``runs/<setting>/``; the other settings' entries
    are kept (an old flat file becomes the keyed form).

    Raises:
        ValueError: when one of :data:`RECIPE_CANDIDATES` has no seed-0 result yet, or when the
            setting already has a recorded choice (a choice is made once).
    """
    results_dir = Path(results_dir)
    recommendations = read_recommendations(results_dir)
    if setting in recommendations:
        raise ValueError(f"{setting} already has a recommended recipe ({recommendations[setting]['recommended']}, "
                         f"written {recommendations[setting].get('written_at')}); a choice is made once")
    seed0 = {run["method"]: run["metrics"]["top1"] for run in load_runs(results_dir)
             if run["setting"] == setting and run["seed"] == 0 and not variant(run)}
    missing = [method for method in RECIPE_CANDIDATES if method not in seed0]
    if missing:
        raise ValueError(f"{setting}: no seed-0 result yet for {', '.join(missing)} (needs all of "
                         f"{', '.join(RECIPE_CANDIDATES)} under {results_dir / 'runs' / setting})")
    scores = {method: seed0[method] for method in RECIPE_CANDIDATES}
    if git is None:
        from benchmarks.environment import git_revision

        git = git_revision()
    entry = {
        "setting": setting,
        "recommended": max(RECIPE_CANDIDATES, key=lambda method: scores[method]),  # first of equal maxima
        "chosen_from": "seed 0 only",
        "seed0_top1_of_mmt_recipes": scores,
        "seed0_top1_of_alternatives_known_then": {method: top1 for method, top1 in sorted(seed0.items())
                                                  if method not in RECIPE_CANDIDATES},
        "rule": RULE,
        "written_at": (now or datetime.datetime.now(datetime.timezone.utc)).isoformat(timespec="seconds"),
        "git": git,
    }
    write_json(results_dir / FILE_NAME, dict(sorted({**recommendations, setting: entry}.items())))
    return entry
