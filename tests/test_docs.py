"""The documentation's tutorials run (the site itself is built by CI with warnings as errors)."""

from __future__ import annotations

import math
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"


def test_timm_loop_tutorial_trains():
    pytest.importorskip("timm")
    loss = runpy.run_path(str(TUTORIALS / "timm_loop.py"))["main"](steps=2)
    assert math.isfinite(loss)


def test_ddp_tutorial_runs_under_torchrun_on_two_processes():
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(TUTORIALS / "ddp_torchrun.py")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rank 0 of 2" in done.stdout and "rank 1 of 2" in done.stdout
