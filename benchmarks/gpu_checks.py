"""GPU checks of MMTMix and RandomMMT: no host sync, CUDA-graph capture, fullgraph compile.

Meant for one run on a lent GPU machine (it exits with status 2 when CUDA is unavailable):

    python -m benchmarks.gpu_checks            # checks, then the GPU throughput benchmark

Each check records ``ok`` and, on failure, the error; results go to
``benchmarks/results/gpu-checks.json`` with the machine and versions.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Callable

import torch

from benchmarks.environment import machine_info
from benchmarks.results_io import LOCAL_RESULTS_DIR, write_json
from mmt_augment import MMTMix, RandomMMT

CONFIGS = [(mode, per_sample) for mode in ("cutmix", "mixup") for per_sample in (False, True)]


def _batch(device: torch.device, batch_size: int = 64, dtype: torch.dtype = torch.float32):
    head = torch.rand(batch_size, 3, 32, 32, device=device).to(dtype)
    tail = torch.rand(batch_size, 3, 32, 32, device=device).to(dtype)
    head_labels = torch.randint(10, (batch_size,), device=device)
    tail_labels = torch.randint(10, (batch_size,), device=device)
    return head, head_labels, tail, tail_labels


def check_no_sync(device: torch.device) -> None:
    """The default path runs under ``set_sync_debug_mode("error")`` for every mode and dtype."""
    for mode, per_sample in CONFIGS:
        for dtype in (torch.uint8, torch.bfloat16, torch.float32):
            mmt = MMTMix(num_classes=10, mode=mode, per_sample=per_sample, p=0.5)
            batch = _batch(device, dtype=dtype)
            torch.cuda.synchronize()
            torch.cuda.set_sync_debug_mode("error")
            try:
                for _ in range(3):
                    images, targets = mmt(*batch)
                    mmt.mix(*batch)
                RandomMMT(mode=mode, same_on_batch=not per_sample)(torch.cat([batch[0], batch[2]]),
                                                                    torch.cat([batch[1], batch[3]]))
            finally:
                torch.cuda.set_sync_debug_mode("default")
            torch.testing.assert_close(targets.sum(1), torch.ones(64, device=device))


def check_cuda_graph(device: torch.device) -> None:
    """Capture one MMTMix call in a CUDA graph; replays draw fresh parameters."""
    for mode, per_sample in CONFIGS:
        mmt = MMTMix(num_classes=10, mode=mode, per_sample=per_sample, p=1.0)
        static = _batch(device)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):  # warm up outside the graph, as the CUDA-graph docs ask
                mmt(*static)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            images, targets = mmt(*static)
        seen = []
        for _ in range(4):
            graph.replay()
            torch.cuda.synchronize()
            torch.testing.assert_close(targets.sum(1), torch.ones(64, device=device))
            seen.append(targets.clone())
        if all(torch.equal(seen[0], other) for other in seen[1:]):
            raise AssertionError(f"{mode} per_sample={per_sample}: replays repeated the same parameters")


def check_compile(device: torch.device) -> None:
    """``torch.compile(fullgraph=True)`` compiles the transform and matches the formulas."""
    for mode, per_sample in CONFIGS:
        torch._dynamo.reset()
        compiled = torch.compile(MMTMix(num_classes=10, mode=mode, per_sample=per_sample, p=1.0), fullgraph=True)
        head, tail = torch.zeros(64, 3, 32, 32, device=device), torch.ones(64, 3, 32, 32, device=device)
        zeros = torch.zeros(64, dtype=torch.long, device=device)
        images, targets = compiled(head, zeros, tail, zeros + 1)
        torch.testing.assert_close(images.mean(dim=(1, 2, 3)), targets[:, 1])


CHECKS: dict[str, Callable[[torch.device], None]] = {
    "no_host_sync": check_no_sync,
    "cuda_graph_capture": check_cuda_graph,
    "compile_fullgraph": check_compile,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-throughput", action="store_true", help="only the checks")
    parser.add_argument("--out", type=Path, default=LOCAL_RESULTS_DIR / "gpu-checks.json")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("CUDA is not available: nothing to check", file=sys.stderr)
        return 2
    device = torch.device("cuda")
    results: dict = {"machine": machine_info(device), "checks": {}}
    for name, check in CHECKS.items():
        try:
            check(device)
            results["checks"][name] = {"ok": True}
        except Exception as error:  # a failed check is a result to record, not a crash
            results["checks"][name] = {"ok": False, "error": repr(error), "traceback": traceback.format_exc()}
        print(f"{name}: {'ok' if results['checks'][name]['ok'] else 'FAILED'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, results)
    if not args.skip_throughput:
        from benchmarks import throughput

        from benchmarks.render import format_table

        print(format_table(throughput.run(device="cuda")))
    return 0 if all(check["ok"] for check in results["checks"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
