"""MMT under DistributedDataParallel: one DataLoader per process feeds head and tail.

Run with ``torchrun --standalone --nproc_per_node=2 docs/tutorials/ddp_torchrun.py``. It uses the
gloo backend on the CPU and a small synthetic long-tailed dataset, so it runs anywhere; the
comments say what changes on GPUs. ``docs/tutorials/ddp.md`` explains it section by section.
"""

# [imports]
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, TensorDataset

from mmt_augment import (
    MMTBatchSampler,
    MMTMix,
    class_counts,
    logit_adjustment,
    mixed_class_prior,
)

# [end-imports]


def main(num_epochs: int = 2) -> float:
    # [process-group]
    dist.init_process_group("gloo")          # "nccl" on GPUs
    rank, world_size = dist.get_rank(), dist.get_world_size()
    # [end-process-group]

    # [data]
    torch.manual_seed(0)                     # the same data and weights on every rank
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate([60, 20, 6])])
    dataset = TensorDataset(torch.rand(len(labels), 3, 8, 8), labels)
    # The sampler reads the rank and the world size from the process group.
    sampler = MMTBatchSampler(labels, batch_size=8, seed=0)
    loader = DataLoader(dataset, batch_sampler=sampler)   # GPUs: pin_memory=True
    # [end-data]

    # [model]
    mmt = MMTMix(num_classes=3)
    prior = mixed_class_prior(class_counts(labels), sampler.weighting, head_share=0.5)
    adjustment = logit_adjustment(prior)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 3))
    model = DistributedDataParallel(model)   # GPUs: device_ids=[local_rank]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    # [end-model]

    # [loop]
    for epoch in range(num_epochs):
        sampler.set_epoch(epoch)             # the same epoch on every rank
        for paired_images, paired_labels in loader:   # b head rows, b tail rows
            images, targets = mmt(paired_images, paired_labels)
            loss = F.cross_entropy(model(images) + adjustment, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()                  # DDP averages the gradients here
            optimizer.step()
    # [end-loop]
    print(f"rank {rank} of {world_size}: {len(sampler)} steps per epoch, "
          f"last loss {loss.item():.3f}")
    dist.destroy_process_group()
    return loss.item()


if __name__ == "__main__":
    main()
