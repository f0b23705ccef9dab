"""The throughput benchmark's timing bookkeeping: interleaved rounds, first calls, the table."""

from __future__ import annotations

import torch

from benchmarks import timing
from benchmarks.render import format_table
from benchmarks.throughput import measure


class FakeClock:
    """A perf_counter that only moves when a candidate runs."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_first_calls_are_the_first_call_of_each_timed_round(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", clock)
    calls = {"slow_start": 0}

    def slow_start():  # 5 s on its first call of a round, 1 s on the others
        calls["slow_start"] += 1
        clock.now += 5.0 if calls["slow_start"] % 3 == 1 else 1.0

    def steady():
        clock.now += 2.0

    first: dict[str, list[float]] = {}
    samples = timing.interleaved({"slow_start": slow_start, "steady": steady}, rounds=4, warmup=1, repeat=3,
                                 first_calls=first)
    assert first == {"slow_start": [5.0] * 4, "steady": [2.0] * 4}  # timed rounds only, warm-up left out
    assert samples == {"slow_start": [7.0 / 3] * 4, "steady": [2.0] * 4}


def test_measure_reports_first_calls_only_with_several_calls_per_round():
    candidates = {"clone": lambda: torch.zeros(4).clone()}
    several = measure(candidates, rounds=3, warmup=1, device=torch.device("cpu"), calls_per_round=2)
    single = measure(candidates, rounds=3, warmup=1, device=torch.device("cpu"), calls_per_round=1)
    assert several["clone"]["first_call_median_ms"] >= 0 and len(several["clone"]["samples_ms"]) == 3
    assert "first_call_median_ms" not in single["clone"]


def _results(first_call: bool) -> dict:
    timings = {"a": {"median_ms": 0.25}, "b": {"median_ms": 1.5}}
    if first_call:
        timings["a"]["first_call_median_ms"] = 0.75
    return {"machine": {"device_name": "cpu", "device": "cpu", "torch_threads": 2, "versions": {}},
            "num_classes": 10, "sizes": {"32px": {"shape": [8, 3, 32, 32], "timings": timings}}, "ratios": []}


def test_the_table_shows_first_calls_when_the_run_recorded_them():
    with_first = format_table(_results(first_call=True))
    assert "| candidate | 32px (8, 3, 32, 32) | 32px, first call of a round |" in with_first
    assert "| a | 0.250 | 0.750 |" in with_first and "| b | 1.500 | — |" in with_first
    assert "first call" not in format_table(_results(first_call=False))


def test_results_record_the_version_of_the_code_that_ran():
    import mmt_augment
    from benchmarks.environment import machine_info

    assert machine_info(torch.device("cpu"))["versions"]["mmt-augment"] == mmt_augment.__version__
