"""The one timing helper of the benchmarks: candidates timed in interleaved rounds.

Every round calls each candidate once (in a rotated order when asked), so drift of the machine
(other processes, CPU quota, clock changes) reaches all candidates alike; ratios are taken per
round and summarised by their median and quartiles, the spread a target is judged against.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

__all__ = ["interleaved", "quartiles", "ratio_summary", "summary"]


def interleaved(
    candidates: dict[str, Callable[[], object]],
    *,
    rounds: int,
    warmup: int = 1,
    repeat: int = 1,
    rotate: bool = False,
    sync: Callable[[], None] = lambda: None,
    before: Callable[[str], None] | None = None,
    cuda_events: bool = False,
    first_calls: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """Seconds per call of each candidate, one entry per round after ``warmup`` rounds.

    Args:
        candidates: name -> zero-argument callable doing the work once.
        rounds: timed rounds.
        warmup: untimed rounds first.
        repeat: calls per round and candidate (the entry is their mean).
        rotate: start each round with the next candidate (else always the same order).
        sync: called before and after the timed calls (``torch.cuda.synchronize`` on a GPU).
        before: called with the candidate's name before each call, untimed (e.g. to refill
            the buffer of an in-place candidate).
        cuda_events: time with CUDA events (GPU time between two recorded events) instead of
            the host clock.
        first_calls: if given, filled with the seconds of each round's first call per candidate
            (the call that follows the other candidates' work, as a call in a training loop
            follows the model's step).
    """
    names = list(candidates)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup + rounds):
        shift = round_index % len(names) if rotate else 0
        for name in names[shift:] + names[:shift]:
            elapsed = 0.0
            for call_index in range(repeat):
                if before is not None:
                    before(name)
                sync()
                if cuda_events:
                    import torch

                    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    begin.record()
                    candidates[name]()
                    end.record()
                    end.synchronize()
                    call_seconds = begin.elapsed_time(end) / 1e3
                else:
                    start = time.perf_counter()
                    candidates[name]()
                    sync()
                    call_seconds = time.perf_counter() - start
                if call_index == 0 and first_calls is not None and round_index >= warmup:
                    first_calls.setdefault(name, []).append(call_seconds)
                elapsed += call_seconds
            if round_index >= warmup:
                samples[name].append(elapsed / repeat)
    return samples


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """``(q1, median, q3)`` of ``values`` (all three equal for a single value)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, statistics.median(values), q3


def summary(values: Sequence[float], scale: float = 1e3) -> dict[str, float]:
    """Median and quartiles of ``values`` times ``scale`` (default: seconds to milliseconds)."""
    q1, median, q3 = quartiles([scale * value for value in values])
    return {"median_ms": median, "q1_ms": q1, "q3_ms": q3, "rounds": len(values)}


def ratio_summary(numerators: Sequence[float], denominators: Sequence[float]) -> dict[str, float]:
    """Median and quartiles of the per-round ratios ``numerator / denominator``."""
    q1, median, q3 = quartiles([top / bottom for top, bottom in zip(numerators, denominators)])
    return {"ratio": median, "q1": q1, "q3": q3}
