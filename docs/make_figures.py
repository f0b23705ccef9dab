"""The figures of the documentation, drawn from scikit-learn's sample images at build time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def _sample_images(size: int = 160) -> torch.Tensor:
    """scikit-learn's two sample photographs (a temple, a flower) as a (2, 3, size, size) uint8 batch."""
    from sklearn.datasets import load_sample_images

    images = []
    for image in load_sample_images().images:
        height, width = image.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        square = torch.from_numpy(np.ascontiguousarray(image[top:top + side, left:left + side])).permute(2, 0, 1)
        images.append(torch.nn.functional.interpolate(square[None].float(), size=(size, size), mode="bilinear",
                                                      antialias=True, align_corners=False)[0])
    return torch.stack(images).round().clamp(0, 255).to(torch.uint8)


def make_figures(folder: Path) -> list[Path]:
    """Write ``modes.png``: a head image, a tail image and what each mode makes of them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mmt_augment import MMTMix

    folder.mkdir(parents=True, exist_ok=True)
    head, tail = _sample_images()[:1], _sample_images()[1:]
    labels = torch.tensor([0])
    panels = [("head (class 0)", head[0], None), ("tail (class 1)", tail[0], None)]
    for mode in ("mixup", "cutmix", "resizemix"):
        # The first seed whose draw shows a visible mix (head share between 0.3 and 0.9).
        for seed in range(100):
            mmt = MMTMix(num_classes=2, mode=mode, generator=torch.Generator().manual_seed(seed))
            images, targets = mmt(head, labels, tail, labels + 1)
            if 0.3 < float(targets[0, 0]) < 0.9:
                break
        panels.append((mode, images[0], targets[0]))
    figure, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 2.9))
    for axis, (title, image, target) in zip(axes, panels):
        axis.imshow(image.permute(1, 2, 0).numpy())
        subtitle = "" if target is None else f"\ntarget: {target[0]:.2f} head, {target[1]:.2f} tail"
        axis.set_title(title + subtitle, fontsize=9)
        axis.axis("off")
    figure.tight_layout()
    path = folder / "modes.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return [path]
