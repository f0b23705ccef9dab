"""Valid input gives the same bits as commit 37bc953: every call of the grid in
``reference_outputs.py`` (modes, draws, alpha, p, dtypes, layouts, call forms, the autograd
and global-RNG paths, the kernels) against the digests that commit wrote."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).parent


@pytest.mark.skipif(not torch.backends.cpu.get_cpu_capability().startswith("AVX"),
                    reason="the digests were computed with torch's AVX2 CPU kernels, which need an x86 CPU with AVX2")
def test_every_call_of_the_grid_gives_the_bits_of_37bc953(tmp_path):
    out = tmp_path / "now.json"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "PYTHONPATH": str(HERE.parent)}
    done = subprocess.run([sys.executable, str(HERE / "reference_outputs.py"), str(out)], env=env, cwd=HERE.parent,
                          capture_output=True, text=True)
    assert done.returncode == 0, f"the grid failed to run:\n{done.stderr[-3000:]}"
    expected = json.loads((HERE / "data" / "reference-outputs-37bc953.json").read_text())
    now = json.loads(out.read_text())
    assert now.keys() == expected.keys()
    differing = sorted(name for name in expected if now[name] != expected[name])
    assert not differing, f"{len(differing)} of {len(expected)} calls changed, e.g. {differing[:5]}"
