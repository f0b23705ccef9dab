"""Throughput of MMTMix against torchvision, kornia and timm mixing, on the same tensors.

Every candidate mixes the same head batch (torchvision, kornia and timm pair it with itself,
as they do; MMTMix pairs it with an equally shaped tail batch). Candidates are timed in
interleaved rounds, one call each per round, so drift of the machine (other processes, CPU
quota) reaches all of them alike; each reports the median over rounds. The mixing probability
is 1 everywhere, so every call does the full work.

Each target's speed-up is the median over rounds of the per-round ratio, with its quartiles:
a target is met when the lower quartile clears it, missed when the upper quartile does not,
and otherwise the run is reported as too noisy to tell.

Run ``python -m benchmarks.throughput --help``. Results go to
``benchmarks/results/local/throughput-<device>.json`` unless ``--out`` names a file (the
committed results are written with ``--out benchmarks/results/throughput-<device>.json``);
``benchmarks.render.format_table`` renders them.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Callable

import torch

from benchmarks.environment import machine_info, resolve_device
from benchmarks.results_io import LOCAL_RESULTS_DIR, write_json
from benchmarks.timing import interleaved, ratio_summary, summary
from mmt_augment import MMTMix

__all__ = ["SIZES", "TARGETS", "measure", "run", "speedup", "verdict"]

SIZES = {"32px": (128, 3, 32, 32), "224px": (256, 3, 224, 224)}

# (numerator candidate, denominator candidate, size, minimum speed-up, description). A speed-up is
# denominator time / numerator time, so "at least 1.5" means the numerator is 1.5x faster.
TARGETS = [
    ("mmt_cutmix", "tv_cutmix", "32px", 1.5, "MMTMix cutmix vs torchvision CutMix"),
    ("mmt_mixup", "tv_mixup", "32px", 1.5, "MMTMix mixup vs torchvision MixUp"),
    ("mmt_cutmix", "tv_cutmix", "224px", 1.5, "MMTMix cutmix vs torchvision CutMix"),
    ("mmt_mixup", "tv_mixup", "224px", 1.5, "MMTMix mixup vs torchvision MixUp"),
    ("mmt_cutmix_per_sample", "timm_elem_cutmix", "32px", 10.0, "per-sample cutmix vs timm elem cutmix"),
    ("mmt_mixup_per_sample", "timm_elem_mixup", "32px", 10.0, "per-sample mixup vs timm elem mixup"),
    # The 10x targets against timm's switching mode were retired with the one-path refactor
    # (issue 17: one rule in one place is worth more than the last quarter of a call): reported.
    ("mmt_cutmix_per_sample", "timm_elem_both", "32px", None, "per-sample cutmix vs timm elem (mixup+cutmix)"),
    ("mmt_mixup_per_sample", "timm_elem_both", "32px", None, "per-sample mixup vs timm elem (mixup+cutmix)"),
    ("mmt_cutmix_mixup_per_sample", "timm_elem_both", "32px", None,
     "per-sample (cutmix, mixup) vs timm elem (mixup+cutmix)"),
    ("mmt_mixup", "lerp", "224px", 1 / 1.5, "MMTMix mixup within 1.5x of torch.lerp"),
    ("mmt_cutmix", "lerp", "224px", 1 / 1.5, "MMTMix cutmix within 1.5x of torch.lerp"),
    ("mmt_mixup_per_sample", "lerp", "224px", 1 / 1.5, "per-sample mixup within 1.5x of torch.lerp"),
    ("mmt_cutmix_per_sample", "lerp", "224px", 1 / 1.5, "per-sample cutmix within 1.5x of torch.lerp"),
    ("mmt_cutmix", "kornia_cutmix", "32px", 5.0, "MMTMix cutmix vs kornia RandomCutMixV2"),
    ("mmt_mixup", "kornia_mixup", "32px", 5.0, "MMTMix mixup vs kornia RandomMixUpV2"),
    ("mmt_cutmix", "kornia_cutmix", "224px", 2.0, "MMTMix cutmix vs kornia RandomCutMixV2"),
    ("mmt_mixup", "kornia_mixup", "224px", 2.0, "MMTMix mixup vs kornia RandomMixUpV2"),
    # Bandwidth (3N / t_mix) / (2N / t_clone) >= 0.8 is clone time / mix time >= 0.8 / 1.5.
    ("mmt_mixup", "clone", "224px", 0.8 / 1.5, "MixUp bandwidth >= 0.8 of a clone's (t_clone / t_mix >= 0.53)"),
    ("mmt_cutmix_per_sample", "timm_elem_cutmix", "224px", None, "per-sample cutmix vs timm elem cutmix"),
    ("mmt_mixup_per_sample", "timm_elem_mixup", "224px", None, "per-sample mixup vs timm elem mixup"),
    ("mmt_resizemix_per_sample", "mmt_cutmix_per_sample", "32px", None, "per-sample resizemix vs per-sample cutmix"),
    ("mmt_resizemix_per_sample", "mmt_cutmix_per_sample", "224px", None, "per-sample resizemix vs per-sample cutmix"),
]


def _candidates(head: torch.Tensor, tail: torch.Tensor, labels: torch.Tensor, tail_labels: torch.Tensor,
                num_classes: int) -> dict[str, Callable[[], object]]:
    """Name -> zero-argument callable performing one mixing call on the shared tensors."""
    from torchvision.transforms import v2

    candidates: dict[str, Callable[[], object]] = {
        "clone": lambda: head.clone(),
        "lerp": lambda: torch.lerp(tail, head, 0.3),
    }
    for mode in ("cutmix", "mixup", "resizemix", ("cutmix", "mixup")):
        for per_sample in (False, True):
            mmt = MMTMix(num_classes=num_classes, mode=mode, p=1.0, per_sample=per_sample)
            name = "mmt_" + (mode if isinstance(mode, str) else "_".join(mode)) + ("_per_sample" if per_sample else "")
            candidates[name] = lambda mmt=mmt: mmt(head, labels, tail, tail_labels)
    tv_cutmix, tv_mixup = v2.CutMix(num_classes=num_classes), v2.MixUp(num_classes=num_classes)
    candidates["tv_cutmix"] = lambda: tv_cutmix(head, labels)
    candidates["tv_mixup"] = lambda: tv_mixup(head, labels)
    try:
        import kornia.augmentation as K

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kornia_cutmix = K.RandomCutMixV2(p=1.0, data_keys=["input", "class"], use_correct_lambda=True)
        kornia_mixup = K.RandomMixUpV2(p=1.0, data_keys=["input", "class"])
        candidates["kornia_cutmix"] = lambda: kornia_cutmix(head, labels)
        candidates["kornia_mixup"] = lambda: kornia_mixup(head, labels)
    except ImportError:
        pass
    try:
        from timm.data import Mixup

        # timm mixes in place; it gets a scratch copy of the head batch, refilled outside the timer.
        scratch = head.clone()
        for mode in ("batch", "elem"):
            for kind in ("cutmix", "mixup", "both"):
                if kind == "both" and mode == "batch":
                    continue
                mixer = Mixup(
                    mixup_alpha=1.0 if kind in ("mixup", "both") else 0.0,
                    cutmix_alpha=1.0 if kind in ("cutmix", "both") else 0.0,
                    prob=1.0,
                    mode=mode,
                    num_classes=num_classes,
                    label_smoothing=0.0,
                )
                candidates[f"timm_{mode}_{kind}"] = _InPlace(lambda mixer=mixer: mixer(scratch, labels), scratch, head)
    except ImportError:
        pass
    return candidates


class _InPlace:
    """A candidate that mixes a scratch buffer in place; ``reset`` refills it (untimed)."""

    def __init__(self, call: Callable[[], object], scratch: torch.Tensor, source: torch.Tensor) -> None:
        self.call, self.scratch, self.source = call, scratch, source

    def reset(self) -> None:
        self.scratch.copy_(self.source)

    def __call__(self) -> object:
        return self.call()


def measure(candidates: dict[str, Callable[[], object]], rounds: int, warmup: int, device: torch.device,
            calls_per_round: int = 1) -> dict[str, dict[str, float]]:
    """Time each candidate in interleaved rounds; return median and quartiles in milliseconds.

    With several calls per round, each candidate also reports the median of its rounds' first
    calls (``first_call_median_ms``): the call that runs after the other candidates' work, when
    the caches hold their code and data, like a mixing call after a model's training step.
    """

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def refill(name: str) -> None:
        if isinstance(candidates[name], _InPlace):
            candidates[name].reset()

    first_calls: dict[str, list[float]] = {}
    samples = interleaved(candidates, rounds=rounds, warmup=warmup, repeat=calls_per_round, sync=sync, before=refill,
                          cuda_events=device.type == "cuda", first_calls=first_calls if calls_per_round > 1 else None)
    timings = {name: {**summary(values), "samples_ms": [1e3 * value for value in values]}
               for name, values in samples.items()}
    for name, values in first_calls.items():
        timings[name]["first_call_median_ms"] = summary(values)["median_ms"]
    return timings


def speedup(timings: dict[str, dict], candidate: str, baseline: str) -> dict[str, float]:
    """Median and quartiles over rounds of ``baseline time / candidate time`` (same round each)."""
    ratio = ratio_summary(timings[baseline]["samples_ms"], timings[candidate]["samples_ms"])
    return {"speedup": ratio["ratio"], "q1": ratio["q1"], "q3": ratio["q3"]}


def verdict(ratio: dict) -> str:
    """``"yes"`` when the lower quartile clears the target, ``"no"`` when the upper quartile
    misses it, else ``"noisy"``: the spread straddles the target, so this run cannot tell."""
    if ratio["target"] is None:
        return "report"
    if ratio["q1"] >= ratio["target"]:
        return "yes"
    if ratio["q3"] < ratio["target"]:
        return "no"
    return "noisy"


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def run(*, quick: bool = False, out_path: str | Path | None = None, device: str = "auto",
        sizes: list[str] | None = None, num_classes: int = 100, seed: int = 0,
        dtypes: tuple[str, ...] = ("float32",), rounds: int | dict[str, int] | None = None) -> dict:
    """Measure every candidate at each size and write the JSON results file.

    Args:
        quick: fewer rounds (the quick run of ``python -m benchmarks``).
        out_path: where to write the JSON; default ``benchmarks/results/throughput-<device>.json``
            (``throughput-<device>-quick.json`` for quick runs).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        sizes: keys of :data:`SIZES` to run; default all.
        num_classes: label space for the one-hot targets.
        seed: seed of the shared tensors.
        dtypes: image dtypes to run (keys of :data:`DTYPES`); results of a dtype other than
            float32 are keyed ``<size>-<dtype>``.
        rounds: timed rounds, for every size or per size name (default: by size and ``quick``).

    Returns:
        The results dict that was written.
    """
    torch_device = resolve_device(device)
    generator = torch.Generator().manual_seed(seed)
    results: dict = {"benchmark": "throughput", "quick": quick, "num_classes": num_classes, "p": 1.0,
                     "machine": machine_info(torch_device), "sizes": {}, "ratios": []}
    for dtype_name in dtypes:
        for size_name in sizes or list(SIZES):
            shape = SIZES[size_name]
            head = torch.rand(shape, generator=generator).to(torch_device, DTYPES[dtype_name])
            tail = torch.rand(shape, generator=generator).to(torch_device, DTYPES[dtype_name])
            labels = torch.randint(num_classes, (shape[0],), generator=generator).to(torch_device)
            tail_labels = torch.randint(num_classes, (shape[0],), generator=generator).to(torch_device)
            small = shape[-1] <= 64
            chosen = rounds.get(size_name) if isinstance(rounds, dict) else rounds
            size_rounds = chosen or ((30 if quick else 200) if small else (5 if quick else 25))
            calls = 5 if small else 1
            candidates = _candidates(head, tail, labels, tail_labels, num_classes)
            key = size_name if dtype_name == "float32" else f"{size_name}-{dtype_name}"
            results["sizes"][key] = {"shape": list(shape), "dtype": dtype_name, "rounds": size_rounds,
                                     "calls_per_round": calls,
                                     "timings": measure(candidates, size_rounds, warmup=2, device=torch_device,
                                                        calls_per_round=calls)}
            del head, tail, candidates
    for key, entry in results["sizes"].items():
        size_name = key.split("-")[0]
        for numerator, denominator, target_size, minimum, description in TARGETS:
            timings = entry["timings"]
            if target_size != size_name or numerator not in timings or denominator not in timings:
                continue
            ratio = {"what": description, "size": key, "candidate": numerator, "baseline": denominator,
                     **speedup(timings, numerator, denominator), "target": minimum}
            ratio["met"] = verdict(ratio)
            results["ratios"].append(ratio)
    if out_path is None:
        suffix = "-quick" if quick else ""
        out_path = LOCAL_RESULTS_DIR / f"throughput-{torch_device.type}{suffix}.json"
    out_path = write_json(out_path, results)
    results["path"] = str(out_path)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), help="sizes to run (default: all)")
    parser.add_argument("--num-classes", type=int, default=100)
    parser.add_argument("--dtypes", nargs="+", choices=list(DTYPES), default=["float32"])
    parser.add_argument("--out", help="JSON path (default: benchmarks/results/local/throughput-<device>.json)")
    args = parser.parse_args(argv)
    from benchmarks.render import format_table  # the command line prints the table

    results = run(quick=args.quick, out_path=args.out, device=args.device, sizes=args.sizes,
                  num_classes=args.num_classes, dtypes=tuple(args.dtypes))
    print(format_table(results))
    print(f"\nwrote {results['path']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
