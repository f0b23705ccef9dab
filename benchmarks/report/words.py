"""A method config (:meth:`benchmarks.methods.Method.to_dict`) in words, for tables and notes."""

from __future__ import annotations

import json
from typing import Any

from benchmarks.methods import Method
from benchmarks.report.names import method_order

__all__ = ["describe_config", "named_configs"]

def describe_config(config: dict[str, Any]) -> str:
    """A method config in words (:meth:`benchmarks.methods.Method.describe`)."""
    return Method.from_dict({"name": "", **config}).describe()


def named_configs(runs: list[dict[str, Any]]) -> str:
    """What each named method (not an explicit ``mmt-<options>`` variant) meant in these runs."""
    lines = []
    for name in method_order({run["method"] for run in runs if not run["method"].startswith("mmt-")}):
        # Files written before a Method field existed lack it: Method.from_dict fills its
        # default, so one meaning is not listed twice.
        configs = {json.dumps(Method.from_dict(run["method_config"]).to_dict(), sort_keys=True)
                   for run in runs if run["method"] == name}
        for config in sorted(configs):
            lines.append(f"`{name}`: {describe_config(json.loads(config))}.")
    return " ".join(lines)
