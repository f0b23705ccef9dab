"""``benchmarks/results/summary.json``: per setting and method, one value per seed.

The file is an object keyed by setting (``<dataset>-lt-ir<ratio>-<profile>-<protocol>``, e.g.
``cifar10-lt-ir100-exp-quick``) whose values map each method name to::

    {"top1": [...], "many": [...], "medium": [...], "few": [...], "seconds": [...],
     "run_seconds": [...]}

with one entry per seed in ascending seed order: accuracies in percent (``null`` where the
shot group is empty, e.g. few-shot on CIFAR-10-LT), ``seconds`` the run's wall time and
``run_seconds`` its median epoch time times the protocol's epochs (the time a run takes
without the pauses and resumes that inflate the wall clock; ``null`` for files without
``timing.epoch_seconds_median``). It is rebuilt from the per-run files in ``runs/``
(device-path runs only; ``-loader`` runs are for checking that the DataLoader path matches);
settings and methods that have no run files are kept as they are. A run file that cannot be
read (truncated, not an object, missing fields or fields of the wrong type, an accuracy
that is not a number in [0, 100], a setting other than its folder's) is named in a warning on stderr and left out.

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

__all__ = ["DEFAULT_SOURCES", "METRICS", "entry_name", "load_runs", "read_json", "run_problem", "run_seconds", "summarize",
           "update_summary", "variant"]

METRICS = ("top1", "many", "medium", "few")

#: The data source of each dataset's default variant (``run["dataset"]["source"]``): the CIFAR-10
#: file the runner loads without a data option, torchvision's CIFAR-100 (its only source) and
#: scikit-learn's digits. An ``imagefolder`` run always names its folder, since the setting key
#: does not: two folders' runs are never seeds of one entry.
DEFAULT_SOURCES = {"cifar10": "npz:cifar10.npz", "cifar100": "torchvision:cifar100",
                   "digits": "sklearn.datasets.load_digits"}

#: What the summary and the report read from a run file: top-level fields and metrics.
_RUN_FIELDS = ("setting", "method", "seed", "metrics", "timing", "dataset", "protocol", "machine", "method_config")
_RUN_METRICS = (*METRICS, "per_class")


def read_json(path: str | Path, default: Any = None) -> Any:
    """The JSON value in ``path``, or ``default`` with a warning on stderr that names the file when
    it cannot be read or parsed (one bad file must not stop a summary of the others)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        print(f"warning: skipping {path}: cannot read it as JSON ({error})", file=sys.stderr)
        return default


def run_problem(run: Any) -> str | None:
    """Why ``run`` is not a usable result (see :data:`_RUN_FIELDS`), or ``None`` when it is."""
    if not isinstance(run, dict):
        return f"expected a JSON object, found {json.dumps(run)[:20]}"
    missing = [field for field in _RUN_FIELDS if field not in run]
    if not missing and isinstance(run["metrics"], dict):
        missing = [f"metrics.{metric}" for metric in _RUN_METRICS if metric not in run["metrics"]]
    elif not missing:
        missing = ["metrics (an object)"]
    if missing:
        return f"missing {', '.join(missing)}"
    def got(value: Any) -> str:
        return json.dumps(value)[:20]

    wrong = [f"{field} (an object, got {got(run[field])})"
             for field in ("timing", "protocol", "dataset", "machine", "method_config") if not isinstance(run[field], dict)]
    wrong += [f"{field} (a string, got {got(run[field])})" for field in ("setting", "method")
              if not isinstance(run[field], str)]
    if not isinstance(run.get("config", {}), dict):
        wrong.append(f"config (an object, got {got(run['config'])})")
    if isinstance(run["seed"], bool) or not isinstance(run["seed"], int):
        wrong.append(f"seed (an integer, got {got(run['seed'])})")
    source = run["dataset"].get("source") if isinstance(run["dataset"], dict) else None
    if source is not None and not isinstance(source, str):
        wrong.append(f"dataset.source (a string, got {got(source)})")
    elif source is not None and ("/" in source or "\\" in source):
        return (f"dataset.source is a machine path ({got(source)}...), as files written before 0.2 have it: "
                "run `python -m benchmarks.migrate_results` to name the data by its file")
    for metric in METRICS:
        value = run["metrics"][metric]
        if not (_is_accuracy(value) or (metric != "top1" and value is None)):
            wrong.append(f"metrics.{metric} (a number in [0, 100]{'' if metric == 'top1' else ' or null'}, "
                         f"got {got(value)})")
    return f"wrong type or value of {', '.join(wrong)}" if wrong else None


def _is_accuracy(value: Any) -> bool:
    """Whether ``value`` is a percentage: a real number (not a bool) in [0, 100]; NaN is not."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 100


def load_runs(results_dir: str | Path = RESULTS_DIR, *, include_loader: bool = False) -> list[dict[str, Any]]:
    """Every per-run results file under ``<results_dir>/runs/``, sorted by setting, method, seed.

    A file that is not a usable result (:func:`run_problem`) is named on stderr and left out.
    """
    runs = []
    unreadable = object()
    for path in sorted((Path(results_dir) / "runs").glob("*/*.json")):
        run = read_json(path, unreadable)
        if run is unreadable:
            continue
        problem = run_problem(run)
        if problem is None and run["setting"] != path.parent.name:
            problem = f"its setting {run['setting']!r} is not the folder's ({path.parent.name!r})"
        if problem is not None:
            print(f"warning: skipping {path}: {problem}", file=sys.stderr)
            continue
        if run.get("config", {}).get("path", "device") != "device" and not include_loader:
            continue
        runs.append(run)
    return sorted(runs, key=lambda run: (run["setting"], run["method"], run["seed"]))


def variant(run: dict[str, Any]) -> str:
    """The run's non-default settings (``"bf16, cuda"``), ``""`` for the default CPU run on its
    dataset's default data (:data:`DEFAULT_SOURCES`).

    Runs of one method that differ in these are different entries of the summary
    (``"mmt [bf16, cuda]"``, ``"la [torchvision:cifar10]"``), never seeds of the same one: another
    source of CIFAR-10 (torchvision's download of the original files, an ``.npz`` of another file
    name) is another variant. Sources are told apart by name: a different file that is also
    called ``cifar10.npz`` is not (its result files record its content digest).
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
    dataset = run.get("dataset", {})
    source = dataset.get("source")
    if source is not None and source != DEFAULT_SOURCES.get(dataset.get("name")):
        parts.append(source)
    return ", ".join(parts)


def entry_name(run: dict[str, Any]) -> str:
    """The run's name in the summary: its method, with its :func:`variant` in brackets if any."""
    return run["method"] + (f" [{variant(run)}]" if variant(run) else "")


def run_seconds(run: dict[str, Any]) -> float | None:
    """The median epoch time times the protocol's epochs (``None`` when the file lacks either)."""
    median = run["timing"].get("epoch_seconds_median")
    epochs = run["protocol"].get("epochs")
    return float(median) * epochs if median is not None and epochs is not None else None


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, list]]]:
    """Group runs into the summary schema (see the module docstring)."""
    summary: dict[str, dict[str, dict[str, list]]] = defaultdict(dict)
    for run in runs:  # already sorted by seed within each (setting, method)
        entry = summary[run["setting"]].setdefault(entry_name(run),
                                                   {key: [] for key in (*METRICS, "seconds", "run_seconds")})
        for metric in METRICS:
            entry[metric].append(run["metrics"][metric])
        entry["seconds"].append(run["timing"].get("wall_seconds"))
        entry["run_seconds"].append(run_seconds(run))
    return dict(summary)


def update_summary(results_dir: str | Path = RESULTS_DIR, *,
                   runs: list[dict[str, Any]] | None = None) -> dict[str, dict[str, dict[str, list]]]:
    """Rebuild ``<results_dir>/summary.json`` from the runs under ``results_dir`` and return it.

    A setting with run files here is rebuilt from them alone, so a renamed or deleted run leaves
    no stale entry; settings without run files here (summaries copied from another machine) are
    kept as they are. ``runs`` are the runs :func:`load_runs` read from ``results_dir``, when the
    caller already has them.
    """
    path = Path(results_dir) / "summary.json"
    summary = read_json(path) if path.is_file() else {}
    if not isinstance(summary, dict):  # unreadable: rebuilt from the run files alone
        if summary is not None:
            print(f"warning: ignoring {path}: expected a JSON object keyed by setting", file=sys.stderr)
        summary = {}
    for setting, methods in summarize(load_runs(results_dir) if runs is None else runs).items():
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
