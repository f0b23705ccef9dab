"""The GPU run: checks, throughput and the ``paper`` protocol, prepared here, run in two commands there.

A lent GPU machine is rare and brief (15 minutes in all, 10 per command, nothing to install
from the network, only the working tree and carried paths travel, 8 files come back from
``$OUT``). So everything is prepared and smoke-tested on the CPU, then run as two commands:

``prepare`` (here)
    Writes into the git-ignored ``benchmarks/gpu_payload/``: CIFAR-10-LT (ratio 100,
    exponential, the runs' subset) and the full test set, losslessly compressed (NHWC bytes,
    delta filter, LZMA: 68.8 MB raw to about 42 MB), and the kornia wheels the GPU machine lacks.
    Checks that the tree plus the payload fit the 64 MiB transfer limit and prints the two
    commands, the path to carry and each command's time limit.
``checks`` (call 1, about 3 minutes)
    ``gpu-checks.json``: no host synchronisation under ``torch.cuda.set_sync_debug_mode("error")``
    for every mode x dtype x per-sample; CUDA-graph capture and replay with fresh parameters per
    replay; ``torch.compile(fullgraph=True)``; generators on another device than the images;
    ``RandomMMT`` likewise. ``throughput-cuda.json``: CUDA-event medians against torchvision,
    kornia and timm in fp32 and bf16. ``step-timing.json``: 50 steps of the paper training step,
    eager and as a CUDA graph (:mod:`benchmarks.graphed`), and 20 steps of each beside the
    other from the same weights on the same batches (the largest loss difference).
``paper`` (call 2, ``--budget-s``)
    The ``paper`` protocol (CIFAR ResNet-32, 200 epochs) on CIFAR-10-LT ratio 100 in bf16:
    ``ce``, ``cmo``, ``mmt`` seed 0 first, concurrently, then ``la`` and the recommended recipe,
    then seeds 1 and 2, then ``mmt-mixup-p1-per-batch-inverse``, as the budget allows. Each run
    first checks the CUDA-graph step against the eager one on its own method and seed (20 steps)
    and uses it only if they agree; the check is recorded in the run. Runs go to
    ``paper-runs.json``, rewritten atomically whenever one finishes, so a time-out keeps them.
``import`` (here)
    Merges what came back into ``benchmarks/results/`` and renders the README.

``--smoke`` runs ``checks`` and ``paper`` end to end on the CPU with tiny settings; checks that
need CUDA record ``"ok": null, "skipped": "no CUDA"``, and every file records its device, so a
CPU file never passes for GPU evidence.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.data import DEFAULT_NPZ, ImageDataset
from benchmarks.environment import machine_info
from benchmarks.results_io import REPO_ROOT, RESULTS_DIR, relative_to_repo, write_json

__all__ = ["PAYLOAD_DIR", "load_payload", "main", "paper_plan", "write_payload"]

PAYLOAD_DIR = REPO_ROOT / "benchmarks" / "gpu_payload"
TRANSFER_LIMIT = 64 * 2**20
CHECKS_LIMIT_S, PAPER_LIMIT_S = 180, 560
PAPER_BUDGET_S = 500
AGREEMENT_STEPS = 20  # a fast path runs this many steps beside the eager one before it is used
PAPER_SETTING = "cifar10-lt-ir100-exp-paper"
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


# -- call 1: checks, throughput, step timing -------------------------------------------------------


def _record(checks: dict[str, Any], name: str, check: Callable[[], dict[str, Any] | None], cuda_only: bool,
            device: torch.device) -> None:
    if cuda_only and device.type != "cuda":
        checks[name] = {"ok": None, "skipped": "no CUDA"}
    else:
        try:
            checks[name] = {"ok": True, **(check() or {})}
        except Exception as error:  # a failed check is a result, not a crash
            checks[name] = {"ok": False, "error": repr(error)[:500], "traceback": traceback.format_exc()[-3000:]}
    print(f"{name}: {checks[name]['ok']}", flush=True)


def _batch(device: torch.device, dtype: torch.dtype, batch_size: int = 64, size: int = 32):
    generator = torch.Generator().manual_seed(0)
    head = torch.rand(batch_size, 3, size, size, generator=generator)
    tail = torch.rand(batch_size, 3, size, size, generator=generator)
    if dtype == torch.uint8:
        head, tail = (head * 255).to(dtype), (tail * 255).to(dtype)
    labels = torch.randint(10, (2, batch_size), generator=generator)
    return head.to(device, dtype), labels[0].to(device), tail.to(device, dtype), labels[1].to(device)


MODES = ("mixup", "cutmix", "resizemix", ("cutmix", "mixup"))


def _check_no_sync(device: torch.device) -> dict[str, Any]:
    from mmt_augment import MMTMix

    passed = []
    for mode in MODES:
        for dtype in (torch.uint8, torch.bfloat16, torch.float32):
            for per_sample in (False, True):
                mmt = MMTMix(num_classes=10, mode=mode, per_sample=per_sample, p=0.5)
                batch = _batch(device, dtype)
                torch.cuda.synchronize()
                torch.cuda.set_sync_debug_mode("error")
                try:
                    for _ in range(2):
                        images, targets = mmt(*batch)
                        mmt.mix(*batch)
                finally:
                    torch.cuda.set_sync_debug_mode("default")
                torch.testing.assert_close(targets.sum(1), torch.ones(len(targets), device=device))
                passed.append(f"{mode}/{str(dtype).removeprefix('torch.')}/{'row' if per_sample else 'batch'}")
    return {"cases": passed}


def _check_cuda_graph(device: torch.device) -> dict[str, Any]:
    from mmt_augment import MMTMix

    for mode in MODES:
        for per_sample in (False, True):
            mmt = MMTMix(num_classes=10, mode=mode, per_sample=per_sample, p=1.0)
            static = _batch(device, torch.float32)
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
                torch.testing.assert_close(targets.sum(1), torch.ones(len(targets), device=device))
                seen.append(targets.clone())
            if all(torch.equal(seen[0], other) for other in seen[1:]):
                raise AssertionError(f"{mode} per_sample={per_sample}: replays repeated the same parameters")
    return {"replays": 4}


def _check_compile(device: torch.device) -> dict[str, Any]:
    from mmt_augment import MMTMix

    # Two cold compiles (each costs tens of seconds on a fresh machine): per-row MixUp, per-batch CutMix.
    for mode, per_sample in (("mixup", True), ("cutmix", False)):
        torch._dynamo.reset()
        mmt = MMTMix(num_classes=10, mode=mode, per_sample=per_sample, p=0.7)
        compiled = torch.compile(mmt, fullgraph=True)
        head, labels, tail, tail_labels = _batch(device, torch.float32)
        torch.manual_seed(3)
        eager = mmt(head, labels, tail, tail_labels)
        torch.manual_seed(3)
        got = compiled(head, labels, tail, tail_labels)
        if not torch.equal(eager[1], got[1]):
            raise AssertionError(f"{mode} per_sample={per_sample}: compiled draws differ from eager ones")
    return {"same_draws_as_eager": True}


def _check_cross_device_generators(device: torch.device) -> dict[str, Any]:
    """A CUDA generator with CPU images and a CPU generator with CUDA images: right and reproducible.

    Right: with a zero head and a one tail, the mean of a row is its tail share, which must equal
    ``1 - lam`` of the same draw (parameters read before their copy landed would not).
    """
    from mmt_augment import MMTMix

    results = {}
    for generator_device, image_device in (("cuda", "cpu"), ("cpu", "cuda")):
        head, labels, tail, tail_labels = _batch(torch.device(image_device), torch.float32)
        zeros, ones = torch.zeros_like(head), torch.ones_like(head)
        outputs = []
        for _ in range(2):
            generator = torch.Generator(generator_device).manual_seed(11)
            mmt = MMTMix(num_classes=10, mode="cutmix", per_sample=True, p=0.8, generator=generator)
            images, mixed = mmt.mix(head, labels, tail, tail_labels)
            generator.manual_seed(11)
            blocks, same = mmt.mix(zeros, labels, ones, tail_labels)
            torch.testing.assert_close(same.lam, mixed.lam)
            torch.testing.assert_close(1 - blocks.mean(dim=(1, 2, 3)), mixed.lam)
            outputs.append((images.cpu(), mixed.lam.cpu()))
        if not (torch.equal(outputs[0][0], outputs[1][0]) and torch.equal(outputs[0][1], outputs[1][1])):
            raise AssertionError(f"generator on {generator_device}, images on {image_device}: not reproducible")
        results[f"generator_{generator_device}_images_{image_device}"] = "right and reproducible"
    return results


def _kornia_available() -> bool:
    try:
        import kornia  # noqa: F401
    except ImportError:
        return False
    return True


def _check_random_mmt(device: torch.device) -> dict[str, Any]:
    if not _kornia_available():
        raise RuntimeError("kornia is not importable (install the carried wheels first)")
    from mmt_augment import RandomMMT

    for mode in MODES:
        head, labels, tail, tail_labels = _batch(device, torch.float32)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            images, mix_labels = RandomMMT(mode=mode, p=0.5)(torch.cat([head, tail]), torch.cat([labels, tail_labels]))
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert images.shape == head.shape and mix_labels.shape == (len(head), 3)
    return {"modes": [str(mode) for mode in MODES]}


def _paper_setup(device: torch.device, dataset: ImageDataset, method: str, smoke: bool, seed: int = 0):
    """The paper run's parts (:func:`benchmarks.step.build_run`) and endless normalised batches of ``method``."""
    from benchmarks.methods import parse_method
    from benchmarks.step import build_run

    protocol = _paper_protocol(smoke)
    run = build_run(dataset, parse_method(method), protocol, seed, device, amp=_amp(device))
    return protocol, run, run.endless_batches(dataset.train_images.to(device), dataset.train_labels.to(device))


def fast_path_agreement(device: torch.device, dataset: ImageDataset, method: str, smoke: bool,
                        steps: int = AGREEMENT_STEPS, seed: int = 0) -> dict[str, Any]:
    """``steps`` paper training steps of ``method``, eager beside the CUDA-graph step (captured on
    CUDA; on the CPU the same step logic runs eagerly), from the same weights on the same batches."""
    from benchmarks.graphed import agreement
    from benchmarks.protocols import lr_factor

    steps = min(steps, 12) if smoke else steps
    protocol, run, batches = _paper_setup(device, dataset, method, smoke, seed)
    recipe = run.recipe
    # Learning rates from across the schedule (warm-up, peak, decayed), so a stale one shows;
    # the last steps take half batches in the last epoch: another graph (shape, and for DRW the
    # re-weighted loss) that must be captured and replayed too.
    lrs = [protocol.lr * lr_factor(protocol, index * protocol.epochs // steps, 0, len(recipe.sampler))
           for index in range(steps)]
    tail = steps // 2 if smoke else 8
    # The first steps in a mixing epoch (cmo-window does not mix in epoch 0), the last ones in
    # the last epoch.
    first_epoch = min(recipe.active_epochs) if recipe.active_epochs else 0
    plan = []
    for index in range(steps):
        images, labels = next(batches)
        if index >= steps - tail:
            half = len(images) // 4 * 2  # even: paired methods split it into head and tail rows
            images, labels, epoch = images[:half], labels[:half], protocol.epochs - 1
        else:
            epoch = first_epoch
        plan.append((images, labels, epoch, lrs[index]))
    report = agreement(run.model, recipe, plan, protocol=protocol, amp=_amp(device), capture=device.type == "cuda")
    return {"method": method, "amp": _amp(device), "captured": device.type == "cuda", **report}


def _amp(device: torch.device) -> str:
    return "bf16" if device.type == "cuda" else "none"


def _step_timing(device: torch.device, dataset: ImageDataset, smoke: bool) -> dict[str, Any]:
    """Milliseconds per step of the paper training step (bf16 on CUDA) for ce and mmt: the shared
    eager step and, on CUDA, the CUDA-graph step; and the graph step's agreement with the eager one."""
    from benchmarks.graphed import WARMUP_STEPS, GraphedStep
    from benchmarks.step import sgd

    steps = 5 if smoke else 50
    amp = _amp(device)
    timings: dict[str, Any] = {}

    def timed(step: Callable[[], Any], count: int) -> float:
        elapsed = []
        for index in range(count + WARMUP_STEPS + 1):  # the first ones warm up (and capture)
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if index > WARMUP_STEPS:
                elapsed.append(time.perf_counter() - start)
        return 1e3 * float(np.median(elapsed))

    def method_timing(name: str) -> tuple[dict[str, Any], int]:
        protocol, run, batches = _paper_setup(device, dataset, name, smoke)
        eager = timed(lambda: run.step(*next(batches), 0), steps)
        timing = {"eager_ms_per_step": eager, "steps": steps, "amp": amp}
        if device.type == "cuda":
            try:  # a capture error keeps the eager timing and the agreement report
                graphed = GraphedStep(run.model, sgd(run.model, protocol, fused=True), run.recipe, amp=amp)
                fast = timed(lambda: graphed(*run.recipe.rows(*next(batches), 0), 0, protocol.lr), steps)
                timing.update(graph_ms_per_step=fast, graph_speedup=eager / fast)
            except Exception as error:
                timing["graph_error"] = repr(error)[:500]
        return timing, protocol.epochs * len(run.recipe.sampler)

    for name in ("ce", "mmt"):
        timings[name], steps_per_run = method_timing(name)
    timings["steps_per_run"] = steps_per_run
    for path in ("eager", "graph"):
        if f"{path}_ms_per_step" in timings["mmt"]:
            timings[f"{path}_minutes_per_run"] = timings["mmt"][f"{path}_ms_per_step"] * timings["steps_per_run"] / 6e4
    timings["fast_path_agreement"] = {name: fast_path_agreement(device, dataset, name, smoke)
                                      for name in ("ce", "mmt")}
    return timings


def checks(args: argparse.Namespace) -> int:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out = Path(args.results_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": {**machine_info(device), "gpu": torch.cuda.get_device_name()
                                           if device.type == "cuda" else None},
                               "smoke": args.smoke, "checks": {}}
    table = results["checks"]
    _record(table, "no_host_sync", lambda: _check_no_sync(device), True, device)
    _record(table, "cuda_graph_capture_and_replay", lambda: _check_cuda_graph(device), True, device)
    _record(table, "compile_fullgraph_same_draws", lambda: _check_compile(device), False, device)
    _record(table, "generators_across_devices", lambda: _check_cross_device_generators(device), True, device)
    _record(table, "random_mmt_no_host_sync", lambda: _check_random_mmt(device), True, device)
    write_json(out / "gpu-checks.json", results)

    # Step timing next (it sizes call 2), then throughput one dtype at a time, each written when
    # done, so a command stopped at its limit still returns what finished.
    dataset = load_payload(Path(args.payload) / "data.xz")
    try:
        timing = _step_timing(device, dataset, args.smoke)
        write_json(out / "step-timing.json", {"machine": machine_info(device), "smoke": args.smoke, **timing})
        if device.type == "cuda":
            agreement = timing["fast_path_agreement"]
            table["cuda_graph_training_step_agrees"] = {
                "ok": all(report["agrees"] for report in agreement.values()),
                **{name: {key: report[key] for key in ("max_abs_diff", "max_update_rel_diff",
                                                          "integer_buffers_match", "captured_graphs")}
                   for name, report in agreement.items()}}
        else:
            table["cuda_graph_training_step_agrees"] = {"ok": None, "skipped": "no CUDA"}
    except Exception:
        (out / "step-timing-error.txt").write_text(traceback.format_exc())
        table["cuda_graph_training_step_agrees"] = {"ok": False, "error": "see step-timing-error.txt"}
    write_json(out / "gpu-checks.json", results)
    from benchmarks import throughput

    for dtype in ("float32",) if args.smoke else ("float32", "bfloat16"):
        if time.perf_counter() - started > CHECKS_LIMIT_S * 0.6:
            print(f"throughput {dtype}: skipped, {time.perf_counter() - started:.0f} s used", flush=True)
            continue
        suffix = "" if dtype == "float32" else f"-{dtype}"
        try:
            throughput.run(out_path=out / f"throughput-{device.type}{suffix}.json", device=device.type,
                           sizes=["32px"] if args.smoke else None, dtypes=(dtype,),
                           rounds=3 if args.smoke else {"32px": 60, "224px": 12})
        except Exception:  # keep the checks and the timing even if a throughput run breaks
            (out / f"throughput-error{suffix}.txt").write_text(traceback.format_exc())
    print(f"checks done in {time.perf_counter() - started:.0f} s -> {out}")
    return 0 if all(check["ok"] is not False for check in table.values()) else 1


# -- call 2: the paper protocol ----------------------------------------------------------------------


def _paper_protocol(smoke: bool):
    from benchmarks.protocols import PROTOCOLS, with_overrides

    protocol = PROTOCOLS["paper"]
    if smoke:  # a few steps of every code path on the CPU
        protocol = with_overrides(protocol, {"architecture": "resnet8", "epochs": 2, "warmup_epochs": 1,
                                             "milestones": (1,), "decay": (0.1,), "batch_size": 64})
    return protocol


def paper_plan(recommended: str | None) -> list[tuple[str, int]]:
    """(method, seed) in the order of the issue: ce, cmo, mmt seed 0; la and the recommended
    recipe; seeds 1 and 2 of those; then the BBN-lineage variant."""
    first = ["ce", "cmo", "mmt"]
    second = ["la"] + ([recommended] if recommended and recommended not in ("mmt", "la") else [])
    plan = [(method, 0) for method in first + second]
    plan += [(method, seed) for seed in (1, 2) for method in first + second]
    plan.append(("mmt-mixup-p1-per-batch-inverse", 0))
    return plan


def _run_one(args: argparse.Namespace) -> int:
    """One paper run in its own process (``paper --one METHOD SEED``); writes the result JSON."""
    from benchmarks.loop import train
    from benchmarks.run_config import RunConfig, result_path

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dataset = load_payload(Path(args.payload) / "data.xz")
    method, seed = args.one[0], int(args.one[1])
    # The CUDA-graph step is used only when it agrees with the shared eager step on this run's
    # method and seed (on the CPU the check runs the step logic uncaptured, and runs are eager).
    try:
        check = fast_path_agreement(device, dataset, method, args.smoke, seed=seed)
    except Exception as error:  # a failed capture means an eager run, not a lost one
        check = {"method": method, "agrees": False, "error": repr(error)[:500],
                 "traceback": traceback.format_exc()[-2000:]}
    config = RunConfig(dataset="cifar10", imbalance_ratio=100, method=method, seed=seed,
                       protocol=_paper_protocol(args.smoke), device=device.type, amp=_amp(device),
                       cuda_graph=device.type == "cuda" and check["agrees"], results_dir=args.work_dir,
                       threads=2 if device.type == "cuda" else 1)
    result = train(config, dataset, progress=False, checkpoint=False, log_epochs=False)
    result["fast_path_check"] = {key: value for key, value in check.items() if not key.endswith("_losses")}
    write_json(result_path(config), result)
    print(f"{method} seed {seed}: top-1 {result['metrics']['top1']:.2f} in {result['timing']['wall_seconds']:.0f} s",
          flush=True)
    return 0


def paper(args: argparse.Namespace) -> int:
    if args.one:
        return _run_one(args)
    out = Path(args.results_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mmt-paper-"))
    recommendation = RESULTS_DIR / "recommendation.json"
    recommended = json.loads(recommendation.read_text())["recommended"] if recommendation.is_file() else None
    plan = paper_plan(recommended)
    if args.smoke:
        plan = plan[:4]
    started = time.monotonic()
    deadline = started + args.budget_s
    runs: list[dict[str, Any]] = []
    pending, running, log = list(plan), [], []
    estimate = None  # seconds one run takes, learnt from the first finished ones
    report_path = out / "paper-runs.json"

    def write_report() -> None:
        write_json(report_path, {"machine": machine_info("cuda" if torch.cuda.is_available() else "cpu"),
                                 "smoke": args.smoke, "plan": plan, "budget_s": args.budget_s,
                                 "elapsed_s": time.monotonic() - started, "log": log, "runs": runs})

    write_report()
    try:
        while pending or running:
            while pending and len(running) < args.jobs:
                remaining = deadline - time.monotonic()
                if estimate is not None and remaining < estimate * 1.1:
                    log.append(f"not started (budget): {pending}")
                    pending = []
                    break
                method, seed = pending.pop(0)
                command = [sys.executable, "-m", "benchmarks.gpu", "paper", "--payload", str(args.payload),
                           "--work-dir", str(work), "--one", method, str(seed), *(["--smoke"] if args.smoke else [])]
                process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           text=True)
                running.append((method, seed, process, time.monotonic()))
            time.sleep(0.5)
            for entry in list(running):
                method, seed, process, began = entry
                if process.poll() is None:
                    if time.monotonic() > deadline:
                        process.terminate()
                    continue
                running.remove(entry)
                output = process.stdout.read() if process.stdout else ""
                seconds = time.monotonic() - began
                files = list(work.rglob(f"{method}-seed{seed}*.json"))
                if process.returncode == 0 and files:
                    runs.append(json.loads(files[0].read_text()))
                    estimate = seconds if estimate is None else max(estimate, seconds)
                    log.append(f"done {method} seed {seed} in {seconds:.0f} s")
                else:
                    log.append(f"failed {method} seed {seed} (exit {process.returncode}): {output[-1500:]}")
                write_report()
                print(log[-1], flush=True)
    finally:
        for _, _, process, _ in running:
            if process.poll() is None:
                process.kill()
        write_report()
        shutil.rmtree(work, ignore_errors=True)
    return 0


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


# -- command line ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.split("\n\n")[0])
    commands_ = parser.add_subparsers(dest="command", required=True)
    step = commands_.add_parser("prepare", help="write the payload, check its size, print the two commands")
    step.add_argument("--npz", default=None, help="CIFAR-10 .npz (default ../shared/data/cifar10.npz)")
    step.add_argument("--no-wheels", action="store_true", help="do not download the kornia wheels")
    for name, help_text in (("checks", "call 1: checks, throughput, step timing"),
                            ("paper", "call 2: the paper protocol within --budget-s")):
        sub = commands_.add_parser(name, help=help_text)
        sub.add_argument("--results-dir", default=str(RESULTS_DIR / "local" / "gpu"), help="$OUT on the GPU machine")
        if name == "paper":
            sub.add_argument("--budget-s", type=float, default=PAPER_BUDGET_S, help="start no run that cannot finish")
            sub.add_argument("--jobs", type=int, default=3, help="runs at the same time on the GPU")
            sub.add_argument("--one", nargs=2, metavar=("METHOD", "SEED"), help=argparse.SUPPRESS)
            sub.add_argument("--work-dir", default=None, help=argparse.SUPPRESS)
    for sub in (step, commands_.choices["checks"], commands_.choices["paper"]):
        sub.add_argument("--payload", default=str(PAYLOAD_DIR), help="the prepared folder (carried to the machine)")
        sub.add_argument("--smoke", action="store_true", help="tiny settings, on the CPU, end to end")
    merge = commands_.add_parser("import", help="merge what came back into benchmarks/results and render")
    merge.add_argument("source", help="the folder the device call's files landed in")
    merge.add_argument("--into", default=str(RESULTS_DIR))
    merge.add_argument("--no-render", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"prepare": prepare, "checks": checks, "paper": paper, "import": import_results}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
