"""Digests of what the mixing transforms return for a grid of seeded calls.

Run as a script in a checkout (``python tests/reference_outputs.py OUT.json``) it writes one
digest per call: the images' and targets' bytes, ``lam`` and the generator's state afterwards,
over modes, per-sample and per-batch draws, ``alpha``, ``p``, every image dtype, both memory
formats, every call form and the kernels' own entry points. ``data/reference-outputs-37bc953.json``
was written by commit 37bc953; ``test_reference_outputs.py`` recomputes the digests with today's
code and compares them, so a refactor that changes one bit anywhere in the grid fails.

Only the public API that both versions share is used. torch's CPU kernels are dispatched by the
CPU's vector extensions, so the digests are computed with ``ATEN_CPU_CAPABILITY=avx2`` (set by
the caller) on any x86 CPU.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys

import torch
from torchvision import tv_tensors

from mmt_augment import MMTMix
from mmt_augment import functional as MF

MODES = ["mixup", "cutmix", "resizemix", ("cutmix", "mixup"), ("mixup", "resizemix", "cutmix")]
DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64]


def _digest(*tensors) -> str:
    hasher = hashlib.sha256()
    for tensor in tensors:
        if isinstance(tensor, torch.Tensor):
            tensor = tensor.detach().contiguous()
            bits = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[tensor.element_size()]
            hasher.update(f"{tuple(tensor.shape)}{tensor.dtype}{tensor.stride()}".encode())
            hasher.update(tensor.view(bits).numpy().tobytes())
        else:
            hasher.update(repr(tensor).encode())
    return hasher.hexdigest()[:16]


def _batch(batch_size, size, dtype, seed, channels_last=False, special=False):
    generator = torch.Generator().manual_seed(seed)
    head = torch.rand(batch_size, 3, *size, generator=generator)
    tail = torch.rand(batch_size, 3, *size, generator=generator) * 4 - 1
    if special:  # non-finite tail pixels: an unmixed row must stay the head exactly
        tail[:, :, 0, 0] = float("nan")
        tail[:, 0, -1, -1] = float("inf")
    if dtype == torch.uint8:
        head, tail = (head * 255).to(dtype), (tail.clamp(0, 1).nan_to_num(0.5) * 255).to(dtype)
    else:
        head, tail = head.to(dtype), tail.to(dtype)
    if channels_last:
        head = head.contiguous(memory_format=torch.channels_last)
        tail = tail.contiguous(memory_format=torch.channels_last)
    head_labels = torch.randint(0, 10, (batch_size,), generator=generator)
    tail_labels = torch.randint(0, 10, (batch_size,), generator=generator)
    return head, head_labels, tail, tail_labels


def _mmtmix_calls():
    grid = itertools.product(MODES, (True, False), (1.0, 0.4, 2.0), (1.0, 0.6), DTYPES)
    for index, (mode, per_sample, alpha, p, dtype) in enumerate(grid):
        channels_last = index % 3 == 0
        size = (32, 32) if index % 2 else (7, 5)
        special = dtype != torch.uint8 and index % 4 == 1
        yield (f"mmtmix mode={mode} per_sample={per_sample} alpha={alpha} p={p} dtype={dtype} "
               f"channels_last={channels_last} size={size} special={special}",
               dict(mode=mode, per_sample=per_sample, alpha=alpha, p=p), dtype, size, channels_last, special)


def compute() -> dict[str, str]:
    out: dict[str, str] = {}
    for seed, (name, options, dtype, size, channels_last, special) in enumerate(_mmtmix_calls()):
        head, head_labels, tail, tail_labels = _batch(8, size, dtype, seed, channels_last, special)
        generator = torch.Generator().manual_seed(seed)
        mmt = MMTMix(num_classes=10, generator=generator, **options)
        images, targets = mmt(head, head_labels, tail, tail_labels)
        out[name] = _digest(images, targets, generator.get_state())
        # The other call forms on the same inputs, each from a fresh seed.
        paired_images, paired_labels = torch.cat([head, tail]), torch.cat([head_labels, tail_labels])
        generator.manual_seed(seed)
        out[name + " form=paired"] = _digest(*mmt(paired_images, paired_labels), generator.get_state())
        generator.manual_seed(seed)
        out[name + " form=tuple"] = _digest(*mmt((paired_images, paired_labels)))
        generator.manual_seed(seed)
        result = mmt({"image": paired_images, "labels": paired_labels})
        out[name + " form=dict"] = _digest(result["image"], result["labels"])
        generator.manual_seed(seed)
        mixed_images, mixed = mmt.mix(head, head_labels, tail, tail_labels)
        out[name + " form=mix"] = _digest(mixed_images, *mixed, generator.get_state())
        if seed % 3 == 0:
            generator.manual_seed(seed)
            images, targets = mmt(tv_tensors.Image(paired_images), paired_labels)
            out[name + " form=tv_tensors"] = _digest(images.as_subclass(torch.Tensor), targets, type(images).__name__)
        if dtype.is_floating_point:
            soft_head = torch.nn.functional.one_hot(head_labels, 10).to(dtype) * 0.75 + 0.025
            soft_tail = torch.nn.functional.one_hot(tail_labels, 10).to(dtype) * 0.75 + 0.025
            generator.manual_seed(seed)
            out[name + " labels=soft"] = _digest(*mmt(head, soft_head, tail, soft_tail))
            if dtype in (torch.float32, torch.float64) and seed % 5 == 0:
                # The autograd path (inputs that require grad) and the no-grad one.
                generator.manual_seed(seed)
                head_grad = head.clone().requires_grad_()
                images, targets = mmt(head_grad, head_labels, tail, tail_labels)
                images.float().square().sum().backward()
                out[name + " autograd"] = _digest(images, targets, head_grad.grad)
                generator.manual_seed(seed)
                with torch.no_grad():
                    out[name + " no_grad"] = _digest(*mmt(head, head_labels, tail, tail_labels))
        # The global RNG (no generator).
        if seed % 7 == 0:
            torch.manual_seed(seed)
            plain = MMTMix(num_classes=10, **options)
            out[name + " global_rng"] = _digest(*plain(head, head_labels, tail, tail_labels), torch.get_rng_state())
    out.update(_functional())
    out.update(_kornia())
    return out


def _kornia() -> dict[str, str]:
    try:
        from mmt_augment import RandomMMT
    except ImportError:  # without kornia the grid has no RandomMMT calls
        return {}
    out: dict[str, str] = {}
    grid = itertools.product(MODES, (False, True), (1.0, 0.5), (torch.uint8, torch.float32, torch.float64))
    for seed, (mode, same_on_batch, p, dtype) in enumerate(grid):
        head, head_labels, tail, tail_labels = _batch(6, (10, 12), dtype, seed, channels_last=seed % 2 == 1)
        generator = torch.Generator().manual_seed(seed)
        aug = RandomMMT(mode=mode, p=p, same_on_batch=same_on_batch, alpha=0.7, generator=generator)
        images, labels = aug(torch.cat([head, tail]), torch.cat([head_labels, tail_labels]))
        out[f"RandomMMT {mode} {same_on_batch} {p} {dtype}"] = _digest(images, labels, generator.get_state())
    return out


def _functional() -> dict[str, str]:
    out: dict[str, str] = {}
    for seed, (mode, per_sample, alpha, p) in enumerate(itertools.product(MODES, (True, False), (1.0, 0.3),
                                                                         (1.0, 0.5))):
        generator = torch.Generator().manual_seed(seed)
        params = MF.sample_mix_params(16, 24, 20, mode=mode, alpha=alpha, p=p, per_sample=per_sample,
                                      generator=generator)
        out[f"sample_mix_params {mode} {per_sample} {alpha} {p}"] = _digest(
            params.lam, params.apply, params.mode, params.boxes, params.modes, params.mixes_all, generator.get_state())
    generator = torch.Generator().manual_seed(1)
    lam = torch.rand(64, generator=generator)
    lam[:4] = torch.tensor([0.0, 1.0, 1e-7, 1 - 1e-7])
    centres = torch.rand(64, 2, generator=generator)
    for height, width in ((32, 32), (7, 5), (1, 1), (224, 160)):
        boxes = MF.cutmix_boxes(lam, centres, height, width)
        out[f"cutmix_boxes {height}x{width}"] = _digest(boxes, MF.box_area_lam(boxes, height, width))
        draws = torch.rand(64, 3, generator=generator)
        out[f"resize_boxes {height}x{width}"] = _digest(MF.resize_boxes(draws, height, width, (0.1, 0.8)))
    for dtype in DTYPES:
        head, _, tail, _ = _batch(6, (9, 11), dtype, 3)
        boxes = torch.tensor([[0, 0, 11, 9], [2, 3, 5, 7], [0, 0, 0, 0], [-3, -2, 4, 20], [5, 5, 2, 2], [1, 0, 11, 1]])
        rows = torch.tensor([True, False, True, True, False, True])
        weights = torch.linspace(0, 1, 6)
        out[f"kernels {dtype}"] = _digest(
            MF.mixup(head, tail, weights), MF.mixup(head, tail, 0.3), MF.mixup(head, tail, weights, rows),
            MF.cutmix(head, tail, boxes), MF.cutmix_(head.clone(), tail, boxes), MF.paste_box(head, tail, (2, 1, 8, 6)),
            MF.resize_paste(head, tail, boxes.clamp(0, 9)), MF.box_masks(boxes, 9, 11),
            MF.keep_rows(MF.mixup(head, tail, weights), head, rows))
    labels = torch.arange(8) % 5
    out["mix_index_labels"] = _digest(MF.mix_index_labels(labels, labels.flip(0), torch.linspace(0, 1, 8), 5),
                                      MF.mix_index_labels(labels, labels.flip(0), 0.25, 5))
    return out


if __name__ == "__main__":
    digests = compute()
    with open(sys.argv[1], "w") as file:
        json.dump(digests, file, indent=0, sort_keys=True)
    print(f"{len(digests)} digests -> {sys.argv[1]}")
