"""The README's examples run, so they cannot rot.

Each code block after an ``<!-- example:NAME -->`` marker is executed as written, with two
stand-ins stated here: ``torchvision.datasets.CIFAR10`` is replaced by a small random dataset of
the same interface (no download in tests), and ``num_epochs = 200`` becomes 1.
"""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

README = Path(__file__).resolve().parents[1] / "README.md"


def example(name: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- example:{name} -->\s*```python\n(.*?)```", text, flags=re.S)
    assert match, f"README has no example marked {name}"
    return match.group(1)


class SmallCIFAR10(torch.utils.data.Dataset):
    """CIFAR-10's interface (``data`` HWC uint8, ``targets`` list, PIL images) on 100 images a class
    (the fewest a class keeps at imbalance ratio 100 is then 1, as every class must keep some)."""

    def __init__(self, root, train=True, download=False, transform=None):
        rng = np.random.default_rng(0)
        self.targets = [c for c in range(10) for _ in range(100)]
        self.data = rng.integers(0, 256, size=(len(self.targets), 32, 32, 3), dtype=np.uint8)
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        image = Image.fromarray(self.data[index])
        return (self.transform(image) if self.transform else image), self.targets[index]


@pytest.mark.parametrize("name", ["torchvision", "kornia"])
def test_readme_example_runs(name, monkeypatch, tmp_path):
    if name == "kornia":
        pytest.importorskip("kornia", reason="the README's kornia example needs kornia (the [kornia] extra)")
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", SmallCIFAR10)
    monkeypatch.chdir(tmp_path)
    code = example(name)
    assert "num_epochs = 200" in code
    namespace: dict = {}
    exec(compile(code.replace("num_epochs = 200", "num_epochs = 1"), f"README:{name}", "exec"), namespace)
    assert torch.isfinite(namespace["loss"]).item()
