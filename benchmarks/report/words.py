"""A method config (:meth:`benchmarks.methods.Method.to_dict`) in words, for tables and notes."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from benchmarks.methods import Method
from benchmarks.report.names import method_order

__all__ = ["describe_config", "named_configs"]

_METHOD_DEFAULTS = {field.name: field.default for field in dataclasses.fields(Method) if field.name != "name"}


def describe_config(config: dict[str, Any]) -> str:
    """A method config in words: ``"mixup, alpha 1, p 1, per-sample, tail weighting n_c^-0.5"``."""
    weighting = config.get("weighting")
    weighting = weighting if isinstance(weighting, str) or weighting is None else f"n_c^-{weighting:g}"
    if config["mixer"] == "none":
        words = "no mixing"
    elif config["mixer"] == "remix":
        words = f"in-batch mixup (a permuted copy as the tail), alpha {config['alpha']:g}, Remix labels"
    elif config["mixer"] != "mmt":
        words = f"torchvision {config['mixer']}, in-batch, alpha {config['alpha']:g}"
    else:
        words = (f"{config['mode']}, alpha {config['alpha']:g}, p {config['p']:g}, "
                 f"{'per-sample' if config['per_sample'] else 'per-batch'}, tail weighting {weighting}")
    if config.get("sampler") == "resample":
        words += f"; batches re-sampled with class weighting {weighting}"
    loss = config.get("loss", "ce")
    if loss != "ce":
        prior = "the training set's" if config.get("prior") == "train" else "the trained targets'"
        words += f"; {'logit-adjusted CE' if loss == 'la' else 'deferred re-weighting'} with {prior} class prior"
    if config.get("mix_epochs"):
        words += f"; mixing epochs {config['mix_epochs']}"
    return words


def named_configs(runs: list[dict[str, Any]]) -> str:
    """What each named method (not an explicit ``mmt-<options>`` variant) meant in these runs."""
    lines = []
    for name in method_order({run["method"] for run in runs if not run["method"].startswith("mmt-")}):
        # Files written before a Method field existed lack it: fill today's default, so one
        # meaning is not listed twice.
        configs = {json.dumps({**_METHOD_DEFAULTS, **run["method_config"]}, sort_keys=True)
                   for run in runs if run["method"] == name}
        for config in sorted(configs):
            lines.append(f"`{name}`: {describe_config(json.loads(config))}.")
    return " ".join(lines)
