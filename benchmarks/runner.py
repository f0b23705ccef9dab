"""Run a list of (method, seed) training jobs, a few at a time, skipping finished ones.

Each job is a ``python -m benchmarks.train`` subprocess with its own log file; a job whose
results file already exists is skipped, and an interrupted job resumes from its checkpoint
when started again, so the same command can be rerun until everything is done. Arguments
the runner does not know are passed to every job (dataset, protocol overrides, device, ...).

On two CPU cores, two jobs with one thread each train about 10% more images per second in
total than one job with two threads (measured: 10.7 s vs 5.9 s per CIFAR-10-LT epoch, i.e.
5.35 s vs 5.9 s per epoch of total throughput), so ``--jobs 2 --threads 1`` is the default.

Example::

    python -m benchmarks.runner --methods ce cmo mmt --seeds 0 1 2 --jobs 2 --threads 1 \\
        --dataset cifar10 --ir 100 --protocol quick
    # seed 0 of ce and mmt, seeds 0-2 of la
    python -m benchmarks.runner --methods ce la:0,1,2 mmt --seeds 0 --dataset cifar10 --ir 100
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.loop import check_checkpoint
from benchmarks.methods import check_methods
from benchmarks.results_io import LOCAL_RESULTS_DIR
from benchmarks.run_config import result_problem
from benchmarks.train import (
    build_parser,
    check_config,
    check_data,
    check_output,
    config_from_args,
    result_path,
    source_once,
    unwritable,
)

__all__ = ["Job", "main", "method_seeds", "plan_jobs", "run_jobs"]

_REPO_ROOT = Path(__file__).resolve().parents[1]


class Job:
    """One training subprocess: its arguments, results file and log file."""

    def __init__(self, method: str, seed: int, train_args: list[str], log_dir: Path) -> None:
        """Raises ValueError (one line) for arguments no run can train with (:func:`benchmarks.train.check_config`)."""
        self.method = method
        self.seed = seed
        self.argv = [*train_args, "--method", method, "--seed", str(seed)]
        args = build_parser().parse_args(self.argv)  # validates the arguments
        config = config_from_args(args)
        problem = check_config(config)
        if problem is not None:
            raise ValueError(problem)
        self.config = config
        self.checkpoint = args.checkpoint
        self.result = result_path(config)
        self.log = log_dir / config.setting / f"{method}-seed{seed}.log"
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self.log_offset = 0
        self.projection: tuple[float, float] | None = None  # (hours left, hours for the whole run)

    @property
    def name(self) -> str:
        return f"{self.method} seed {self.seed}"

    def read_projection(self) -> tuple[float, float] | None:
        """The projection this job printed after its first steps (this start's part of the log)."""
        if self.projection is None and self.log.is_file():
            with open(self.log, "rb") as log:
                log.seek(self.log_offset)
                match = _PROJECTION.search(log.read().decode(errors="replace"))
            if match:
                self.projection = (float(match["left"]), float(match["full"]))
        return self.projection

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log_offset = self.log.stat().st_size if self.log.is_file() else 0
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO_ROOT), env.get("PYTHONPATH")) if p)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "benchmarks.train", *self.argv, "--no-progress"],
                                            cwd=_REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.started = time.monotonic()


_PROJECTION = re.compile(r"projected remaining: (?P<left>[0-9.]+) h .*full run (?P<full>[0-9.]+) h")


def method_seeds(entry: str, seeds: list[int]) -> tuple[str, list[int]]:
    """``"la:0,1,2"`` -> ``("la", [0, 1, 2])``; a name without ``:`` runs ``seeds``.

    Raises:
        ValueError: for seeds that are not comma-separated non-negative integers.
    """
    method, colon, listed = entry.partition(":")
    if not colon:
        return entry, list(seeds)
    parts = listed.split(",")
    if not method or not all(part.isascii() and part.isdigit() for part in parts):
        raise ValueError(f"--methods: expected METHOD or METHOD:SEEDS with SEEDS non-negative integers joined "
                         f"by commas (e.g. la:0,1,2), got {entry!r}")
    return method, [int(part) for part in parts]


def plan_jobs(methods: list[str], seeds: list[int], train_args: list[str], log_dir: Path) -> list[Job]:
    """Jobs for every (method, seed), seeds outermost so each seed's comparison finishes together;
    a method or seed named twice is run once. A method named ``METHOD:SEEDS`` (``la:0,1,2``)
    runs those seeds instead of ``seeds``."""
    wanted: dict[str, list[int]] = {}
    for entry in methods:
        method, own = method_seeds(entry, seeds)
        wanted.setdefault(method, [])
        wanted[method] += [seed for seed in own if seed not in wanted[method]]
    order = list(dict.fromkeys([*seeds, *sorted(seed for own in wanted.values() for seed in own)]))
    return [Job(method, seed, train_args, log_dir) for seed in order for method, own in wanted.items()
            if seed in own]


def queue_hours(running: list[Job], pending: list[Job], parallel: int) -> float | None:
    """Projected hours until the queue is done: each running job's remaining time, then the queued
    jobs at the running ones' mean full-run time, spread over ``parallel`` slots (a list
    scheduling estimate). ``None`` until every running job has printed its projection."""
    projections = [job.read_projection() for job in running]
    if not projections or any(p is None for p in projections):
        return None
    slots = sorted(left for left, _ in projections) + [0.0] * max(parallel - len(projections), 0)
    per_run = sum(full for _, full in projections) / len(projections)
    for _ in pending:
        slots[0] += per_run
        slots.sort()
    return max(slots)


def run_jobs(jobs: list[Job], *, parallel: int = 2, poll_seconds: float = 2.0) -> list[Job]:
    """Run ``jobs`` with at most ``parallel`` at a time; return the ones that failed."""
    pending = [job for job in jobs if not job.result.is_file()]
    for job in jobs:
        if job.result.is_file():
            print(f"skip  {job.name}: {job.result} exists with the same settings", flush=True)
    if parallel < 1:
        raise ValueError(f"parallel must be >= 1, got {parallel}")
    running: list[Job] = []
    failed: list[Job] = []
    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        _run_loop(pending, running, failed, parallel, poll_seconds)
    finally:
        # Killing the runner (Ctrl-C or SIGTERM) stops its jobs; their checkpoints let a rerun resume.
        for job in running:
            if job.process is not None and job.process.poll() is None:
                job.process.terminate()
        for job in running:
            if job.process is not None:
                try:
                    job.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    job.process.kill()
        signal.signal(signal.SIGTERM, previous_handler)
    return failed


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _run_loop(pending: list[Job], running: list[Job], failed: list[Job], parallel: int,
              poll_seconds: float) -> None:
    reported = True  # the queue's projection is printed once after each start, when every job has one
    while pending or running:
        while pending and len(running) < parallel:
            job = pending.pop(0)
            job.start()
            running.append(job)
            reported = False
            print(f"start {job.name} (log {job.log})", flush=True)
        time.sleep(poll_seconds)
        if not reported:
            hours = queue_hours(running, pending, parallel)
            if hours is not None:
                reported = True
                print(f"queue: {len(running)} running, {len(pending)} queued; about {hours:.1f} h left "
                      f"with {parallel} at a time (from the running jobs' projections)", flush=True)
        for job in list(running):
            code = job.process.poll()
            if code is None:
                continue
            running.remove(job)
            minutes = (time.monotonic() - job.started) / 60
            if code == 0:
                print(f"done  {job.name} in {minutes:.1f} min -> {job.result}", flush=True)
            else:
                failed.append(job)
                print(f"FAIL  {job.name} (exit {code}) after {minutes:.1f} min; see {job.log}", flush=True)


def _check_finished_and_started(parser: argparse.ArgumentParser, jobs: list[Job]) -> None:
    """Before any job starts: a finished run is skipped only if it is this run on the same data (its
    recorded digest, when it has one, against the data loaded once); every checkpoint a job would
    resume from is readable and its own."""
    # Every job reads the same data: loaded once, and only when a result records a digest.
    source = source_once(parser, jobs[0].config) if jobs else None
    for job in jobs:
        if not job.result.is_file():
            if job.checkpoint:
                try:
                    check_checkpoint(job.config)
                except ValueError as error:
                    parser.error(str(error))
            continue
        try:
            problem = result_problem(job.result, job.config, lambda: source().digest)
        except ValueError as error:
            parser.error(f"{error}; move it or pass --results-dir to write elsewhere")
        if problem is not None:
            parser.error(f"{problem}; move it or pass --results-dir to write elsewhere")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.runner",
        description="Run (method, seed) training jobs in parallel subprocesses, skipping finished ones. "
                    "Unknown arguments are passed to every `python -m benchmarks.train` job.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--methods", nargs="+", required=True,
                        help="method names (see benchmarks.methods); METHOD:SEEDS (la:0,1,2) runs those seeds "
                             "of that method instead of --seeds")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="the seeds of every method")
    parser.add_argument("--jobs", type=int, default=2, help="jobs running at the same time")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job")
    parser.add_argument("--log-dir", type=Path, default=LOCAL_RESULTS_DIR / "logs",
                        help="one log file per job (the default is git-ignored)")
    parser.add_argument("--dry-run", action="store_true", help="list the jobs and exit")
    args, train_args = parser.parse_known_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    try:
        # An unknown name or malformed seed list fails here, before any job starts.
        check_methods([method_seeds(entry, args.seeds)[0] for entry in args.methods])
    except ValueError as error:
        parser.error(str(error))
    if not any(arg == "--threads" or arg.startswith("--threads=") for arg in train_args):
        train_args = [*train_args, "--threads", str(args.threads)]
    try:
        jobs = plan_jobs(args.methods, args.seeds, train_args, args.log_dir)
    except ValueError as error:
        parser.error(str(error))
    problem = check_data(jobs[0].config) if jobs else None
    if problem is not None:
        parser.error(problem)
    if not args.dry_run:
        problem = next((found for job in jobs if (found := check_output(job.config, checkpoint=job.checkpoint))),
                       None)
        if problem is None and jobs:
            found = unwritable(jobs[0].log.parent)
            problem = f"--log-dir {args.log_dir}: cannot write there: {found}" if found else None
        if problem is not None:
            parser.error(problem)
    _check_finished_and_started(parser, jobs)
    if args.dry_run:
        for job in jobs:
            state = "done" if job.result.is_file() else "todo"
            print(f"{state}  {job.name}: python -m benchmarks.train {' '.join(job.argv)}")
        return 0
    failed = run_jobs(jobs, parallel=args.jobs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
