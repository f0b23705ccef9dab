"""Specification of the samplers under torch.distributed.

The first tests pass ``num_replicas``/``rank`` explicitly. The last one starts two real
processes with the gloo backend, lets the samplers read the process group, and trains a tiny
model with ``DistributedDataParallel``, ``MMTBatchSampler`` and ``MMTMix`` for a full epoch.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from hypothesis import given, settings
from hypothesis import strategies as st

from mmt_augment.samplers import DifferentialBatchSampler, MMTBatchSampler, UniformBatchSampler

LABELS = np.random.default_rng(0).permutation(np.repeat(np.arange(5), [50, 25, 15, 8, 5]))  # N = 103


def shards(sampler_class, labels, num_replicas, **kwargs):
    """Each rank's flattened indices for epoch 0, and each rank's batch sizes."""
    indices, sizes = [], []
    for rank in range(num_replicas):
        batches = list(sampler_class(labels, num_replicas=num_replicas, rank=rank, **kwargs))
        indices.append(np.array([index for batch in batches for index in batch], dtype=np.int64))
        sizes.append([len(batch) for batch in batches])
    return indices, sizes


def test_without_a_process_group_the_sampler_is_a_single_replica():
    assert not dist.is_initialized()
    sampler = MMTBatchSampler(LABELS, 8)
    assert (sampler.num_replicas, sampler.rank) == (1, 0)


@pytest.mark.parametrize("num_samples, num_replicas, batch_size", [(103, 2, 8), (103, 4, 8), (100, 4, 5), (3, 5, 2)])
def test_head_shards_are_disjoint_complete_and_equally_long(num_samples, num_replicas, batch_size):
    labels = np.zeros(num_samples, dtype=np.int64)
    indices, sizes = shards(UniformBatchSampler, labels, num_replicas, batch_size=batch_size, seed=4)
    per_rank = math.ceil(num_samples / num_replicas)
    assert all(len(shard) == per_rank for shard in indices)
    assert all(batch_sizes == sizes[0] for batch_sizes in sizes)
    everything = np.concatenate(indices)
    assert set(everything.tolist()) == set(range(num_samples))
    # Only the padding repeats indices: per_rank * num_replicas - num_samples extra slots.
    assert len(everything) - len(np.unique(everything)) == per_rank * num_replicas - num_samples


@settings(max_examples=60, deadline=None)
@given(
    num_samples=st.integers(1, 300),
    num_replicas=st.integers(1, 8),
    batch_size=st.integers(1, 40),
    drop_last=st.booleans(),
)
def test_shards_for_any_sizes_are_disjoint_up_to_padding_and_equal(num_samples, num_replicas, batch_size, drop_last):
    labels = np.zeros(num_samples, dtype=np.int64)
    if drop_last and num_samples < num_replicas * batch_size:
        with pytest.raises(ValueError, match="drop_last=True leaves no full batch"):
            UniformBatchSampler(labels, batch_size, drop_last=True, num_replicas=num_replicas, rank=0)
        return
    indices, sizes = shards(UniformBatchSampler, labels, num_replicas, batch_size=batch_size, drop_last=drop_last)
    assert all(batch_sizes == sizes[0] for batch_sizes in sizes)
    everything = np.concatenate(indices)
    if drop_last:
        assert len(np.unique(everything)) == len(everything)
        assert all(size == batch_size for size in sizes[0])
    else:
        assert set(everything.tolist()) == set(range(num_samples))
        assert len(everything) == num_replicas * math.ceil(num_samples / num_replicas)


def test_padding_repeats_the_beginning_of_the_shuffled_order():
    num_replicas = 4
    indices, _ = shards(UniformBatchSampler, LABELS, num_replicas, batch_size=8, seed=1)
    # Rank r holds positions r, r + R, r + 2R, ... of the padded order; interleave to rebuild it.
    padded_order = np.stack(indices, axis=1).ravel()
    num_samples = len(LABELS)
    assert np.array_equal(np.sort(padded_order[:num_samples]), np.arange(num_samples))
    assert np.array_equal(padded_order[num_samples:], padded_order[: len(padded_order) - num_samples])


def test_drop_last_shards_repeat_nothing_and_hold_only_full_batches():
    indices, sizes = shards(UniformBatchSampler, LABELS, 3, batch_size=8, drop_last=True)
    assert all(batch_sizes == [8] * 4 for batch_sizes in sizes)  # 103 // (3 * 8) = 4 batches each
    everything = np.concatenate(indices)
    assert len(np.unique(everything)) == len(everything) == 96


def test_single_replica_shard_is_the_whole_epoch():
    indices, _ = shards(UniformBatchSampler, LABELS, 1, batch_size=8, seed=2)
    assert np.array_equal(np.sort(indices[0]), np.arange(len(LABELS)))


def test_every_rank_of_mmt_yields_the_same_number_of_equally_sized_batches():
    _, sizes = shards(MMTBatchSampler, LABELS, 3, batch_size=8)
    assert sizes[0] == sizes[1] == sizes[2] == [16, 16, 16, 16, 6]  # 35 = 4 * 8 + 3 head indices per rank


def test_tail_streams_differ_across_ranks():
    indices, sizes = shards(DifferentialBatchSampler, LABELS, 2, batch_size=16, seed=3)
    assert sizes[0] == sizes[1] == [16] * 4  # ceil(ceil(103 / 2) / 16) batches on each rank
    assert not np.array_equal(indices[0], indices[1])


def test_tail_stream_of_a_rank_is_reproducible():
    first, _ = shards(DifferentialBatchSampler, LABELS, 2, batch_size=16, seed=3)
    second, _ = shards(DifferentialBatchSampler, LABELS, 2, batch_size=16, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


# --- Two real processes ------------------------------------------------------------------------


WORLD_SIZE = 2
BATCH_SIZE = 8
NUM_CLASSES = 5


def _ddp_worker(rank: int, init_file: str, out_dir: str) -> None:
    """One rank: record the sampler's batches, then train a tiny model with DDP + MMTMix."""
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, TensorDataset

    from mmt_augment import MMTMix

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE)
    try:
        sampler = MMTBatchSampler(LABELS, BATCH_SIZE, seed=0)  # num_replicas and rank from the group
        record = {"num_replicas": sampler.num_replicas, "rank": sampler.rank, "batches": {}}
        for epoch in (0, 1):
            sampler.set_epoch(epoch)
            record["batches"][epoch] = list(sampler)

        images = torch.randn(len(LABELS), 3, 8, 8, generator=torch.Generator().manual_seed(0))
        dataset = TensorDataset(images, torch.as_tensor(LABELS))
        torch.manual_seed(rank)  # different initial weights: DDP must broadcast rank 0's
        model = DistributedDataParallel(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, NUM_CLASSES)))
        initial = [parameter.detach().clone() for parameter in model.parameters()]
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        mmt = MMTMix(num_classes=NUM_CLASSES, mode="cutmix", alpha=1.0, p=1.0, generator=torch.Generator().manual_seed(rank))
        sampler.set_epoch(2)
        losses, shapes = [], []
        for paired_images, paired_labels in DataLoader(dataset, batch_sampler=sampler):
            mixed_images, targets = mmt(paired_images, paired_labels)
            shapes.append((tuple(paired_images.shape), tuple(mixed_images.shape), tuple(targets.shape)))
            loss = torch.nn.functional.cross_entropy(model(mixed_images), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        record.update(
            initial=initial,
            final=[parameter.detach().clone() for parameter in model.parameters()],
            losses=losses,
            shapes=shapes,
        )
        torch.save(record, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_get_disjoint_complete_shards_and_train_with_ddp(tmp_path):
    context = mp.spawn(
        _ddp_worker, args=(str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=WORLD_SIZE, join=False
    )
    deadline = time.monotonic() + 90
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("the DDP workers did not finish within 90 s (a hang means unequal batch counts)")
    records = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(WORLD_SIZE)]

    assert [(record["num_replicas"], record["rank"]) for record in records] == [(2, 0), (2, 1)]
    for epoch in (0, 1):
        batches = [record["batches"][epoch] for record in records]
        assert len(batches[0]) == len(batches[1]) == 7  # ceil(ceil(103 / 2) / 8)
        heads = [np.array([i for batch in rank_batches for i in batch[: len(batch) // 2]]) for rank_batches in batches]
        tails = [np.array([i for batch in rank_batches for i in batch[len(batch) // 2 :]]) for rank_batches in batches]
        assert len(heads[0]) == len(heads[1]) == 52
        assert set(heads[0].tolist()) | set(heads[1].tolist()) == set(range(len(LABELS)))
        assert len(set(heads[0].tolist()) & set(heads[1].tolist())) <= 1  # one padding index
        assert not np.array_equal(tails[0], tails[1])
    assert records[0]["batches"][0] != records[0]["batches"][1]  # set_epoch reshuffled

    for record in records:
        assert len(record["losses"]) == 7 and all(math.isfinite(loss) for loss in record["losses"])
        assert record["shapes"][0] == ((16, 3, 8, 8), (8, 3, 8, 8), (8, NUM_CLASSES))
        assert record["shapes"][-1] == ((8, 3, 8, 8), (4, 3, 8, 8), (4, NUM_CLASSES))  # 52 = 6 * 8 + 4
    for initial_0, initial_1, final_0, final_1 in zip(records[0]["initial"], records[1]["initial"], records[0]["final"], records[1]["final"]):
        assert torch.equal(initial_0, initial_1)  # DDP broadcast rank 0's weights
        assert torch.equal(final_0, final_1)  # gradients were averaged: replicas stay identical
        assert not torch.equal(initial_0, final_0)  # and training moved them
