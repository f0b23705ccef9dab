"""MMT in a timm-style training loop: ``timm.create_model`` and ``SoftTargetCrossEntropy``.

MMTMix's targets are soft (rows sum to 1), which is what timm's loss for mixed batches takes.
Synthetic 32x32 images keep it small; replace them with your dataset.
"""

import timm
import torch
from timm.loss import SoftTargetCrossEntropy
from torch.utils.data import DataLoader, TensorDataset

from mmt_augment import MMTBatchSampler, MMTMix


def main(steps: int = 2) -> float:
    torch.manual_seed(0)
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate([40, 12, 4])])
    dataset = TensorDataset(torch.rand(len(labels), 3, 32, 32), labels)
    sampler = MMTBatchSampler(labels, batch_size=8, seed=0)
    loader = DataLoader(dataset, batch_sampler=sampler)

    model = timm.create_model("resnet18", num_classes=3, pretrained=False)
    mmt = MMTMix(num_classes=3, mode=("cutmix", "mixup"))       # a mode drawn per row
    criterion = SoftTargetCrossEntropy()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    for step, (paired_images, paired_labels) in enumerate(loader):
        images, targets = mmt(paired_images, paired_labels)     # (b, 3, 32, 32), (b, 3)
        loss = criterion(model(images), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step + 1 == steps:
            break
    print(f"{steps} steps, last loss {loss.item():.3f}")
    return loss.item()


if __name__ == "__main__":
    main()
