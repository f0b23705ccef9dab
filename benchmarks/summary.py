"""``benchmarks/results/summary.json``: per setting and method, one value per seed.

The file is an object keyed by setting (``<dataset>-lt-ir<ratio>-<profile>-<protocol>``, e.g.
``cifar10-lt-ir100-exp-quick``) whose values map each method name to::

    {"top1": [...], "many": [...], "medium": [...], "few": [...], "seconds": [...]}

with one entry per seed in ascending seed order: accuracies in percent (``null`` where the
shot group is empty, e.g. few-shot on CIFAR-10-LT), ``seconds`` the run's wall time. It is
rebuilt from the per-run files in ``runs/`` (device-path runs only; ``-loader`` runs are for
checking that the DataLoader path matches); settings and methods that have no run files are
kept as they are.

Example::

    python -m benchmarks.summary            # update summary.json from runs/
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.results_io import RESULTS_DIR, write_json

__all__ = ["METRICS", "load_runs", "summarize", "update_summary", "variant"]

METRICS = ("top1", "many", "medium", "few")


def load_runs(results_dir: str | Path = RESULTS_DIR, *, include_loader: bool = False) -> list[dict[str, Any]]:
    """Every per-run results file under ``<results_dir>/runs/``, sorted by setting, method, seed."""
    runs = []
    for path in sorted((Path(results_dir) / "runs").glob("*/*.json")):
        run = json.loads(path.read_text())
        if run.get("config", {}).get("path", "device") != "device" and not include_loader:
            continue
        runs.append(run)
    return sorted(runs, key=lambda run: (run["setting"], run["method"], run["seed"]))


def variant(run: dict[str, Any]) -> str:
    """The run's non-default settings (``"bf16, cuda"``), ``""`` for the default CPU run.

    Runs of one method that differ in these are different entries of the summary
    (``"mmt [bf16, cuda]"``), never seeds of the same one.
    """
    config = run.get("config", {})
    parts = []
    if config.get("path", "device") != "device":
        parts.append(config["path"])
    if config.get("amp", "none") != "none":
        parts.append(config["amp"])
    if config.get("compile"):
        parts.append("compile")
    if config.get("cuda_graph"):
        parts.append("graph")
    if config.get("channels_last", True) is False:
        parts.append("nchw")
    device = run.get("machine", {}).get("device", "cpu")
    if device != "cpu":
        parts.append(device)
    return ", ".join(parts)


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, list]]]:
    """Group runs into the summary schema (see the module docstring)."""
    summary: dict[str, dict[str, dict[str, list]]] = defaultdict(dict)
    for run in runs:  # already sorted by seed within each (setting, method)
        name = run["method"] + (f" [{variant(run)}]" if variant(run) else "")
        entry = summary[run["setting"]].setdefault(name, {key: [] for key in (*METRICS, "seconds")})
        for metric in METRICS:
            entry[metric].append(run["metrics"][metric])
        entry["seconds"].append(run["timing"]["wall_seconds"])
    return dict(summary)


def update_summary(results_dir: str | Path = RESULTS_DIR) -> dict[str, dict[str, dict[str, list]]]:
    """Rebuild ``<results_dir>/summary.json`` from the runs under ``results_dir`` and return it.

    A setting with run files here is rebuilt from them alone, so a renamed or deleted run leaves
    no stale entry; settings without run files here (summaries copied from another machine) are
    kept as they are.
    """
    path = Path(results_dir) / "summary.json"
    summary = json.loads(path.read_text()) if path.is_file() else {}
    for setting, methods in summarize(load_runs(results_dir)).items():
        summary[setting] = methods
    summary = {setting: dict(sorted(methods.items())) for setting, methods in sorted(summary.items())}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.summary",
                                     description="Update summary.json from the per-run results files.")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    summary = update_summary(args.results_dir)
    for setting, methods in summary.items():
        print(f"{setting}: " + ", ".join(f"{method} ({len(entry['top1'])} seeds)" for method, entry in methods.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
