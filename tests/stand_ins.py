"""Stand-ins for ``torchvision.datasets.CIFAR10`` in the README's and the documentation's examples.

The examples download CIFAR-10 as a reader would; the tests have no network, so they replace the
class by one of the same interface (``data`` HWC uint8, ``targets`` a list, PIL images through
``transform``): random pixels (:class:`SmallCIFAR10`, always), or real CIFAR-10 pixels from the
project's offline copy (:class:`NpzCIFAR10`, where ``../shared/data/cifar10.npz`` exists).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

#: The project's offline copy of CIFAR-10 (``../shared/data/README.md``); present on some machines only.
CIFAR10_NPZ = ROOT.parent / "shared" / "data" / "cifar10.npz"


class SmallCIFAR10(torch.utils.data.Dataset):
    """CIFAR-10's interface on random pixels: 100 images a class (the fewest a class keeps at
    imbalance ratio 100 is then 1, as every class must keep some), 20 a class for the test set."""

    per_class = {True: 100, False: 20}

    def __init__(self, root, train=True, download=False, transform=None):
        rng = np.random.default_rng(0 if train else 1)
        self.targets = [c for c in range(10) for _ in range(self.per_class[train])]
        self.data = rng.integers(0, 256, size=(len(self.targets), 32, 32, 3), dtype=np.uint8)
        self.classes = [f"class {c}" for c in range(10)]
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        image = Image.fromarray(self.data[index])
        return (self.transform(image) if self.transform else image), self.targets[index]


class NpzCIFAR10(SmallCIFAR10):
    """CIFAR-10's interface on the first 100 training (20 test) images of each class of the
    offline copy: real pixels and labels, few enough for a test."""

    def __init__(self, root, train=True, download=False, transform=None):
        with np.load(CIFAR10_NPZ) as arrays:
            images, labels = (arrays["x_train"], arrays["y_train"]) if train else (arrays["x_test"], arrays["y_test"])
            self.classes = [str(name) for name in arrays["class_names"]]
        keep = np.concatenate([np.flatnonzero(labels == c)[: self.per_class[train]] for c in range(10)])
        self.data = images[keep]
        self.targets = labels[keep].tolist()
        self.transform = transform


def shorten(code: str) -> str:
    """The example as a test runs it: ``num_epochs = <N>`` becomes ``num_epochs = 1``."""
    shortened, count = re.subn(r"^num_epochs = \d+", "num_epochs = 1", code, flags=re.M)
    return shortened
