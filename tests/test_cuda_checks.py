"""What only a CUDA device shows: no host synchronisation, CUDA graphs, compile, generators across devices.

The CUDA tests skip without CUDA; ``python -m benchmarks.gpu checks`` runs this file with pytest on
the GPU machine and records each test's outcome in ``gpu-checks.json``
(:mod:`benchmarks.gpu_checks`). One test runs everywhere: on the meta device (tensors without
data, where any read of a value raises) MMTMix takes the device path that CUDA takes, so a host
read added to that path fails here on the CPU too.
"""

from __future__ import annotations

import contextlib

import pytest
import torch

from mmt_augment import MMTMix

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")

MODES = ("mixup", "cutmix", "resizemix", ("cutmix", "mixup"))
MODE_IDS = ["mixup", "cutmix", "resizemix", "cutmix+mixup"]
DTYPES = (torch.uint8, torch.bfloat16, torch.float32)
DTYPE_IDS = ["uint8", "bfloat16", "float32"]


def _batch(device: torch.device | str, dtype: torch.dtype, batch_size: int = 64, size: int = 32):
    """``(head, labels, tail, tail_labels)`` of random images, drawn on the CPU from seed 0."""
    generator = torch.Generator().manual_seed(0)
    head = torch.rand(batch_size, 3, size, size, generator=generator)
    tail = torch.rand(batch_size, 3, size, size, generator=generator)
    if dtype == torch.uint8:
        head, tail = (head * 255).to(dtype), (tail * 255).to(dtype)
    labels = torch.randint(10, (2, batch_size), generator=generator)
    return head.to(device, dtype), labels[0].to(device), tail.to(device, dtype), labels[1].to(device)


@contextlib.contextmanager
def _syncs_raise():
    """Every host synchronisation inside raises (``torch.cuda.set_sync_debug_mode("error")``)."""
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("per_sample", [False, True], ids=["batch", "row"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_no_host_read_on_a_device_without_data(mode, dtype, per_sample):
    mmt = MMTMix(num_classes=10, mode=mode, per_sample=per_sample, p=0.5)
    head, labels, tail, tail_labels = (torch.empty_like(tensor, device="meta") for tensor in _batch("cpu", dtype, 8))
    images, targets = mmt(head, labels, tail, tail_labels)
    mixed_images, mixed = mmt.mix(head, labels, tail, tail_labels)
    assert images.shape == head.shape and targets.shape == (8, 10) and mixed_images.shape == head.shape


def test_random_mmt_reads_nothing_on_a_device_without_data():
    pytest.importorskip("kornia", reason="kornia is not importable")
    from mmt_augment import RandomMMT

    head, labels, tail, tail_labels = (torch.empty_like(tensor, device="meta") for tensor in _batch("cpu", torch.float32, 8))
    for mode in MODES:
        images, mix_labels = RandomMMT(mode=mode, p=0.5)(torch.cat([head, tail]), torch.cat([labels, tail_labels]))
        assert images.shape == head.shape and mix_labels.shape == (8, 3)


def test_a_host_read_on_the_meta_device_raises():
    # What the test above relies on: a read of a value (here, by float()) fails on the meta device.
    targets = MMTMix(num_classes=10, mode="mixup", p=0.5)(*(torch.empty_like(tensor, device="meta")
                                                           for tensor in _batch("cpu", torch.float32, 8)))[1]
    with pytest.raises((RuntimeError, NotImplementedError)):
        float(targets.sum())


@needs_cuda
def test_the_sync_check_catches_a_host_read():
    values = torch.ones(4, device="cuda")
    with pytest.raises(RuntimeError), _syncs_raise():
        values.sum().item()


@needs_cuda
@pytest.mark.parametrize("per_sample", [False, True], ids=["batch", "row"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_no_host_sync(mode, dtype, per_sample):
    mmt = MMTMix(num_classes=10, mode=mode, per_sample=per_sample, p=0.5)
    batch = _batch("cuda", dtype)
    with _syncs_raise():
        for _ in range(2):
            images, targets = mmt(*batch)
            mmt.mix(*batch)
    torch.testing.assert_close(targets.sum(1), torch.ones(len(targets), device="cuda"))


@needs_cuda
@pytest.mark.parametrize("per_sample", [False, True], ids=["batch", "row"])
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_cuda_graph_capture_and_replay(mode, per_sample):
    mmt = MMTMix(num_classes=10, mode=mode, per_sample=per_sample, p=1.0)
    static = _batch("cuda", torch.float32)
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
        torch.testing.assert_close(targets.sum(1), torch.ones(len(targets), device="cuda"))
        seen.append(targets.clone())
    assert not all(torch.equal(seen[0], other) for other in seen[1:]), "replays repeated the same parameters"


@needs_cuda
@pytest.mark.parametrize(("mode", "per_sample"), [("mixup", True), ("cutmix", False)], ids=["mixup-row", "cutmix-batch"])
def test_compile_fullgraph_same_draws(mode, per_sample):
    # A cold compile costs tens of seconds on a fresh machine: two cases only.
    torch._dynamo.reset()
    mmt = MMTMix(num_classes=10, mode=mode, per_sample=per_sample, p=0.7)
    compiled = torch.compile(mmt, fullgraph=True)
    batch = _batch("cuda", torch.float32)
    torch.manual_seed(3)
    eager = mmt(*batch)
    torch.manual_seed(3)
    got = compiled(*batch)
    assert torch.equal(eager[1], got[1]), "compiled draws differ from eager ones"


@needs_cuda
@pytest.mark.parametrize(("generator_device", "image_device"), [("cuda", "cpu"), ("cpu", "cuda")],
                         ids=["generator_cuda-images_cpu", "generator_cpu-images_cuda"])
def test_generators_across_devices(generator_device, image_device):
    """Right and reproducible: with a zero head and a one tail, the mean of a row is its tail share,
    which must equal ``1 - lam`` of the same draw (parameters read before their copy landed would not)."""
    head, labels, tail, tail_labels = _batch(image_device, torch.float32)
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
    assert torch.equal(outputs[0][0], outputs[1][0]) and torch.equal(outputs[0][1], outputs[1][1])


@needs_cuda
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_random_mmt_no_host_sync(mode):
    pytest.importorskip("kornia", reason="kornia is not importable (install the carried wheels first)")
    from mmt_augment import RandomMMT

    head, labels, tail, tail_labels = _batch("cuda", torch.float32)
    with _syncs_raise():
        images, mix_labels = RandomMMT(mode=mode, p=0.5)(torch.cat([head, tail]), torch.cat([labels, tail_labels]))
    assert images.shape == head.shape and mix_labels.shape == (len(head), 3)
