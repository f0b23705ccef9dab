"""The GPU run's payload, its two device commands, and the import of what comes back.

``prepare`` (here) writes into the git-ignored ``benchmarks/gpu_payload/``: CIFAR-10-LT (ratio
100, exponential, the runs' subset) and the full test set, losslessly compressed (NHWC bytes,
delta filter, LZMA: 68.8 MB raw to about 42 MB), and the kornia wheels the GPU machine lacks. It
checks that the tree plus the payload fit the 64 MiB transfer limit and prints the two commands
(:func:`commands`), the path to carry and each command's time limit. ``import`` (here) merges the
files that came back into ``benchmarks/results/`` (CUDA runs only) and renders the README.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.data import DEFAULT_NPZ, ImageDataset
from benchmarks.results_io import REPO_ROOT, relative_to_repo, write_json

__all__ = ["CHECKS_LIMIT_S", "PAPER_BUDGET_S", "PAPER_LIMIT_S", "PAYLOAD_DIR", "commands", "import_results",
           "load_payload", "prepare", "write_payload"]

PAYLOAD_DIR = REPO_ROOT / "benchmarks" / "gpu_payload"
TRANSFER_LIMIT = 64 * 2**20
#: Each device command's time limit, and the paper runs' budget inside the second one.
CHECKS_LIMIT_S, PAPER_LIMIT_S = 180, 560
PAPER_BUDGET_S = 500
KORNIA_WHEELS = ("kornia==0.9.0", "kornia_rs==0.2.0")
_PIP_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


# -- the payload ---------------------------------------------------------------------------------


def write_payload(dataset: ImageDataset, path: Path) -> dict[str, Any]:
    """Write ``dataset`` as one LZMA file: a JSON header line, then the arrays' bytes.

    Images are stored NHWC with a byte-delta filter of distance C (each byte against the same
    channel of the previous pixel), which LZMA compresses best; lossless.
    """
    arrays = {
        "train_images": dataset.train_images.permute(0, 2, 3, 1).contiguous().numpy(),
        "train_labels": dataset.train_labels.numpy().astype(np.int64),
        "test_images": dataset.test_images.permute(0, 2, 3, 1).contiguous().numpy(),
        "test_labels": dataset.test_labels.numpy().astype(np.int64),
    }
    header = {
        "name": dataset.name, "source": dataset.source, "digest": dataset.digest,
        "class_names": list(dataset.class_names), "mean": list(dataset.mean), "std": list(dataset.std),
        "arrays": {key: {"shape": list(value.shape), "dtype": str(value.dtype)} for key, value in arrays.items()},
    }
    payload = json.dumps(header).encode() + b"\n" + b"".join(value.tobytes() for value in arrays.values())
    channels = dataset.train_images.shape[1]
    filters = [{"id": lzma.FILTER_DELTA, "dist": channels}, {"id": lzma.FILTER_LZMA2, "preset": 6}]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(lzma.compress(payload, format=lzma.FORMAT_XZ, filters=filters))
    os.replace(temporary, path)
    return {"raw_bytes": len(payload), "compressed_bytes": path.stat().st_size}


def load_payload(path: Path) -> ImageDataset:
    """Read a file written by :func:`write_payload` back into an :class:`ImageDataset`."""
    payload = lzma.decompress(Path(path).read_bytes())
    newline = payload.index(b"\n")
    header = json.loads(payload[:newline])
    offset, arrays = newline + 1, {}
    for key, spec in header["arrays"].items():
        count = int(np.prod(spec["shape"])) * np.dtype(spec["dtype"]).itemsize
        arrays[key] = np.frombuffer(payload, dtype=spec["dtype"], count=count // np.dtype(spec["dtype"]).itemsize,
                                    offset=offset).reshape(spec["shape"])
        offset += count
    return ImageDataset(
        name=header["name"],
        train_images=torch.from_numpy(arrays["train_images"].copy()).permute(0, 3, 1, 2).contiguous(),
        train_labels=torch.from_numpy(arrays["train_labels"].copy()),
        test_images=torch.from_numpy(arrays["test_images"].copy()).permute(0, 3, 1, 2).contiguous(),
        test_labels=torch.from_numpy(arrays["test_labels"].copy()),
        class_names=tuple(header["class_names"]), mean=tuple(header["mean"]), std=tuple(header["std"]),
        source=header["source"], digest=header["digest"],
    )


def _tree_bytes() -> int:
    """Bytes of what a device call sends: tracked and untracked-not-ignored files."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=REPO_ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    return sum((REPO_ROOT / name).stat().st_size for name in listing if name and (REPO_ROOT / name).is_file())


def _download_wheels(target: Path) -> list[str]:
    """The kornia wheels for the GPU machine's Python 3.12 (pip from a package index)."""
    target.mkdir(parents=True, exist_ok=True)
    platforms = [arg for platform in _PIP_PLATFORMS for arg in ("--platform", platform)]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(target), *KORNIA_WHEELS]
    subprocess.run(command, check=True)
    return sorted(path.name for path in target.glob("*.whl"))


def commands(payload: Path) -> dict[str, Any]:
    """The two device commands, the path to carry and each command's time limit."""
    carry = relative_to_repo(payload)
    install = (f"python3 -m pip install -q --no-index --no-deps --no-compile --target .gpu_site {carry}/wheels/*.whl"
               " && export PYTHONPATH=$PWD/.gpu_site:$PYTHONPATH; export PYTHONUNBUFFERED=1; ")
    return {
        "carry": [carry],
        "call_1": {"timeout_s": CHECKS_LIMIT_S,
                   "command": install + f"python3 -m benchmarks.gpu checks --payload {carry} --results-dir $OUT"},
        "call_2": {"timeout_s": PAPER_LIMIT_S,
                   "command": install + f"python3 -m benchmarks.gpu paper --payload {carry} --results-dir $OUT "
                                        f"--budget-s {PAPER_BUDGET_S}"},
    }


def prepare(args: argparse.Namespace) -> int:
    from benchmarks.data import load_digits, load_npz, long_tailed

    payload = Path(args.payload)
    if args.smoke:
        dataset = long_tailed(load_digits(), 10)
    else:
        npz = Path(args.npz) if args.npz else DEFAULT_NPZ
        if not npz.is_file():
            print(f"python -m benchmarks.gpu prepare: error: no CIFAR-10 file at {relative_to_repo(npz)}; "
                  "pass --npz PATH", file=sys.stderr)
            return 2
        dataset = long_tailed(load_npz(npz), 100)
    sizes = write_payload(dataset, payload / "data.xz")
    wheels = [] if args.no_wheels else _download_wheels(payload / "wheels")
    payload_bytes = sum(path.stat().st_size for path in payload.rglob("*") if path.is_file())
    tree = _tree_bytes()
    total = tree + payload_bytes
    plan = commands(payload)
    report = {"data": {"train": len(dataset.train_labels), "test": len(dataset.test_labels), **sizes},
              "wheels": wheels, "tree_bytes": tree, "payload_bytes": payload_bytes, "total_bytes": total,
              "limit_bytes": TRANSFER_LIMIT, "fits": total <= TRANSFER_LIMIT, **plan}
    write_json(payload / "prepare.json", report)
    print(f"data: {sizes['raw_bytes'] / 1e6:.1f} MB raw -> {sizes['compressed_bytes'] / 1e6:.1f} MB; wheels: {wheels}")
    print(f"tree {tree / 2**20:.1f} MiB + payload {payload_bytes / 2**20:.1f} MiB = {total / 2**20:.1f} MiB "
          f"of {TRANSFER_LIMIT / 2**20:.0f} MiB ({'fits' if report['fits'] else 'DOES NOT FIT'}, "
          f"{(TRANSFER_LIMIT - total) / 2**20:+.1f} MiB to spare)")
    print(f"carry: {plan['carry']}")
    for call in ("call_1", "call_2"):
        print(f"{call} (timeout_s={plan[call]['timeout_s']}): {plan[call]['command']}")
    return 0 if report["fits"] else 1

# -- import -------------------------------------------------------------------------------------------


def import_results(args: argparse.Namespace) -> int:
    """Copy the runs, checks and throughput that came back into ``benchmarks/results`` and render."""
    source, results = Path(args.source), Path(args.into)
    imported = []
    names = ["gpu-checks.json", "step-timing.json"] + sorted(path.name for path in source.glob("throughput-*.json"))
    for name in names:
        path = source / name
        if path.is_file():
            data = json.loads(path.read_text())
            if data.get("smoke") or data.get("quick") or data.get("machine", {}).get("device") != "cuda":
                print(f"skip {name}: not a CUDA run", file=sys.stderr)
                continue
            target = (results / name) if name.startswith("throughput-") else (results / "gpu" / name)
            write_json(target, data)
            imported.append(str(target))
    report = source / "paper-runs.json"
    if report.is_file():
        data = json.loads(report.read_text())
        if data.get("smoke") or data["machine"]["device"] != "cuda":
            print("skip paper-runs.json: not a CUDA run", file=sys.stderr)
        else:
            for run in data["runs"]:
                variant = "-graph" if run["config"].get("cuda_graph") else ""
                target = results / "runs" / run["setting"] / f"{run['method']}-seed{run['seed']}-bf16{variant}-cuda.json"
                write_json(target, run)
                imported.append(str(target))
    print("\n".join(imported) or "nothing imported")
    if imported and not args.no_render:
        from benchmarks.render import render

        render(results, readme=REPO_ROOT / "README.md")
    return 0
