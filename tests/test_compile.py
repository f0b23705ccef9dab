"""torch.compile(fullgraph=True) compiles MMTMix (CPU here; the GPU check is `python -m benchmarks.gpu checks`)."""

import pytest
import torch

from mmt_augment import MMTMix


@pytest.mark.parametrize(("mode", "per_sample"), [("cutmix", False), ("mixup", True)])
def test_fullgraph_compile_matches_the_formulas(mode, per_sample):
    torch._dynamo.reset()
    mmt = MMTMix(num_classes=10, mode=mode, per_sample=per_sample, p=1.0)
    compiled = torch.compile(mmt, fullgraph=True, backend="inductor")
    head = torch.zeros(8, 3, 16, 16)
    tail = torch.ones(8, 3, 16, 16)
    head_labels, tail_labels = torch.zeros(8, dtype=torch.long), torch.ones(8, dtype=torch.long)
    images, targets = compiled(head, head_labels, tail, tail_labels)
    assert images.shape == head.shape
    torch.testing.assert_close(targets.sum(1), torch.ones(8))
    # With a zero head and a one tail, each row's mean pixel is the tail share 1 - lam.
    torch.testing.assert_close(images.mean(dim=(1, 2, 3)), targets[:, 1])
    # Draws are not baked into the graph: a second call gives another lam.
    seen = {float(compiled(head, head_labels, tail, tail_labels)[1][0, 0]) for _ in range(6)}
    assert len(seen) > 1
