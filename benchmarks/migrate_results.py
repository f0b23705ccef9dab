"""Rewrite committed result files so they name data by option and content, not by machine path.

Result files written before 0.2 recorded the data file's absolute path (``dataset.source``,
``config.npz``) and the results folder (``config.results_dir``). This script rewrites them in
the current form, without rerunning anything: ``dataset.source`` becomes ``npz:<file name>``,
``config.npz`` the file name, ``config.results_dir`` is dropped, and ``dataset.digest`` is
filled with the content digest of the data (:attr:`benchmarks.data.ImageDataset.digest`) when
the data file is given and its name matches. Files already in the current form are left alone;
every file is rewritten atomically.

Example::

    python -m benchmarks.migrate_results --npz ../shared/data/cifar10.npz
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.results_io import RESULTS_DIR, write_json

__all__ = ["main", "migrate_run"]


def migrate_run(run: dict[str, Any], digests: dict[str, str]) -> bool:
    """Rewrite one run's machine paths in place; return whether anything changed.

    Args:
        run: a result dict as :func:`benchmarks.loop.train` writes it.
        digests: data file name -> content digest, for the files whose digest is known.
    """
    changed = False
    dataset, config = run.get("dataset", {}), run.get("config", {})
    source = dataset.get("source", "")
    if source.endswith(".npz") and not source.startswith("npz:"):
        dataset["source"] = f"npz:{Path(source).name}"
        changed = True
    name = dataset.get("source", "").removeprefix("npz:")
    if not dataset.get("digest") and name in digests:
        dataset["digest"] = digests[name]
        changed = True
    for key in ("npz", "root"):
        value = config.get(key)
        if isinstance(value, str) and Path(value).name != value:
            config[key] = Path(value).name
            changed = True
    if "results_dir" in config:
        del config["results_dir"]
        changed = True
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.migrate_results", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="the folder holding runs/")
    parser.add_argument("--npz", type=Path, default=None, help="the CIFAR-10 .npz the runs read, to fill in its digest")
    args = parser.parse_args(argv)
    digests = {}
    if args.npz is not None:
        from benchmarks.data import load_npz

        if not args.npz.is_file():
            parser.error(f"--npz {args.npz}: no such file")
        digests[args.npz.name] = load_npz(args.npz).digest
    changed = 0
    for path in sorted((args.results_dir / "runs").rglob("*.json")):
        run = json.loads(path.read_text())
        if migrate_run(run, digests):
            write_json(path, run)
            changed += 1
    print(f"rewrote {changed} result files under {args.results_dir / 'runs'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
