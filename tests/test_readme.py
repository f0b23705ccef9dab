"""The README's examples run, so they cannot rot.

Each code block after an ``<!-- example:NAME -->`` marker is executed as written, with the two
stand-ins of ``stand_ins.py``: ``torchvision.datasets.CIFAR10`` is a small dataset of the same
interface (no download in tests), and ``num_epochs = 200`` becomes 1. Every Python block of the
README is such an example.
"""

import re
from pathlib import Path

import pytest
import torch
import torchvision
from stand_ins import CIFAR10_NPZ, NpzCIFAR10, SmallCIFAR10, shorten

README = Path(__file__).resolve().parents[1] / "README.md"


def example(name: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- example:{name} -->\s*```python\n(.*?)```", text, flags=re.S)
    assert match, f"README has no example marked {name}"
    return match.group(1)


def run_example(name: str, dataset, monkeypatch, tmp_path) -> dict:
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", dataset)
    monkeypatch.chdir(tmp_path)
    code = example(name)
    assert "num_epochs = 200" in code
    namespace: dict = {}
    exec(compile(shorten(code), f"README:{name}", "exec"), namespace)
    return namespace


EXAMPLES = re.findall(r"<!-- example:([a-z]+) -->\s*```python\n", README.read_text())


def test_every_python_block_of_the_readme_is_an_executed_example():
    blocks = len(re.findall(r"^```python$", README.read_text(), flags=re.M))
    assert blocks == len(EXAMPLES) == len(set(EXAMPLES)) and "torchvision" in EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_readme_example_trains(name, monkeypatch, tmp_path):
    namespace = run_example(name, SmallCIFAR10, monkeypatch, tmp_path)
    assert torch.isfinite(namespace["loss"]).item()


@pytest.mark.skipif(not CIFAR10_NPZ.is_file(), reason=f"real CIFAR-10 pixels need {CIFAR10_NPZ} (on some machines only)")
def test_the_readme_loop_trains_on_real_cifar10_images(monkeypatch, tmp_path):
    namespace = run_example("torchvision", NpzCIFAR10, monkeypatch, tmp_path)
    assert torch.isfinite(namespace["loss"]).item()


def test_the_readme_links_into_the_site_and_the_site_links_back():
    text = README.read_text()
    for page in ("docs/index.md", "docs/getting-started.md", "docs/tutorials/index.md", "docs/api/index.md",
                 "docs/results.md"):
        assert f"]({page})" in text and (README.parent / page).is_file(), page
    assert "README.md" in (README.parent / "docs" / "index.md").read_text()


def test_the_readme_is_a_short_front_door():
    assert len(README.read_text().splitlines()) <= 200
