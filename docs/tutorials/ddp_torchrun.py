"""MMT under DistributedDataParallel: one DataLoader per process feeds head and tail.

Run with ``torchrun --standalone --nproc_per_node=2 docs/tutorials/ddp_torchrun.py``. It uses the
gloo backend on the CPU and a small synthetic long-tailed dataset, so it runs anywhere; on GPUs use
``nccl`` and move the model and batches to ``cuda:LOCAL_RANK``.
"""

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, TensorDataset

from mmt_augment import MMTBatchSampler, MMTMix


def main(epochs: int = 2) -> float:
    dist.init_process_group("gloo")
    torch.manual_seed(0)  # the same data and initial weights on every rank
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate([60, 20, 6])])
    dataset = TensorDataset(torch.rand(len(labels), 3, 8, 8), labels)

    sampler = MMTBatchSampler(labels, batch_size=8, seed=0)   # shards the head by rank
    loader = DataLoader(dataset, batch_sampler=sampler)
    mmt = MMTMix(num_classes=3)
    model = DistributedDataParallel(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 3)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for paired_images, paired_labels in loader:            # 2b rows: b head, then b tail
            images, targets = mmt(paired_images, paired_labels)
            loss = F.cross_entropy(model(images), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    print(f"rank {dist.get_rank()} of {dist.get_world_size()}: {len(sampler)} steps per epoch, last loss {loss.item():.3f}")
    dist.destroy_process_group()
    return loss.item()


if __name__ == "__main__":
    main()
