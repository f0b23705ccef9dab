"""Park the checkpoints of unfinished runs where a new checkout finds them.

A standard-protocol run takes hours and outlives a session and its machine. Before a session
ends, ``python -m benchmarks.park --results-dir benchmarks/results`` copies every unfinished
run's checkpoint (``checkpoints/<setting>/<stem>.pt``, git-ignored) to ``in-progress/<stem>.pt``,
which is committed; a run started later with the same settings restores it from there
(:func:`benchmarks.loop.train`) and resumes. A parked file whose run has since finished is
deleted, so the commit that adds a result also removes its checkpoint.

Example::

    python -m benchmarks.park --results-dir benchmarks/results
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from benchmarks.loop import read_checkpoint
from benchmarks.results_io import write_atomically
from benchmarks.run_config import setting_of

__all__ = ["main", "park"]


def park(results_dir: str | Path) -> list[str]:
    """Copy each checkpoint under ``results_dir/checkpoints`` to ``results_dir/in-progress`` and
    delete parked files whose result exists; return one line per file touched.

    Raises:
        ValueError: when two settings have a checkpoint of the same name (one file each in
            ``in-progress/`` could not tell them apart).
    """
    results_dir = Path(results_dir)
    checkpoints = sorted((results_dir / "checkpoints").glob("*/*.pt"))
    stems: dict[str, Path] = {}
    for checkpoint in checkpoints:
        if checkpoint.stem in stems:
            raise ValueError(f"two unfinished runs are both named {checkpoint.stem!r} "
                             f"({stems[checkpoint.stem].parent.name} and {checkpoint.parent.name}); "
                             "finish or move one before parking")
        stems[checkpoint.stem] = checkpoint
    parked_dir = results_dir / "in-progress"
    lines = []
    for stem, checkpoint in stems.items():
        parked_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(parked_dir / f"{stem}.pt", lambda temporary, source=checkpoint: shutil.copyfile(source, temporary))
        epoch = read_checkpoint(checkpoint)["epoch"]
        lines.append(f"parked {checkpoint.parent.name}/{stem} at epoch {epoch}")
    for parked in sorted(parked_dir.glob("*.pt")) if parked_dir.is_dir() else []:
        if parked.stem in stems:
            continue
        state = read_checkpoint(parked)
        if (results_dir / "runs" / setting_of(state["config"]) / f"{parked.stem}.json").is_file():
            parked.unlink()
            lines.append(f"removed {parked.name}: its run has finished")
        else:
            lines.append(f"kept {parked.name}: no checkpoint here and no result yet (epoch {state['epoch']})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.park", description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default="benchmarks/results",
                        help="the results folder whose checkpoints/ are parked in in-progress/")
    args = parser.parse_args(argv)
    try:
        lines = park(args.results_dir)
    except ValueError as error:
        parser.error(str(error))
    print("\n".join(lines) or "nothing to park")
    return 0


if __name__ == "__main__":
    sys.exit(main())
