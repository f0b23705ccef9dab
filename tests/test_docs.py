"""The documentation's code runs, and the numbers its prose quotes are those of the result files.

Every ```` ```python ```` block of a page under ``docs/`` runs, the page's blocks in order in one
namespace (as a reader would paste them), unless the line before it says
``<!-- not run: <reason> -->``. Two stand-ins, stated in ``stand_ins.py``:
``torchvision.datasets.CIFAR10`` is a small dataset of the same interface (no download here) and
``num_epochs = <N>`` becomes 1. The DDP tutorial is a script, run under torchrun on two processes.
The site itself is built (warnings as errors) and checked by ``docs/check_site.py`` in CI.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision
from stand_ins import CIFAR10_NPZ, NpzCIFAR10, SmallCIFAR10, shorten
from torch.optim.optimizer import register_optimizer_step_post_hook

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOT_RUN = re.compile(r"<!-- not run: \S.* -->")
#: Modules an example may need beyond the test extras' core; a page that imports one is skipped without it.
OPTIONAL = ("kornia", "timm")


def pages() -> list[Path]:
    return sorted(path for path in DOCS.rglob("*.md") if not {"_build", "_generated"} & set(path.parts))


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """``(line number, code)`` of each ```python block of ``path`` that is not marked as not run."""
    lines = path.read_text().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        if lines[index].strip() == "```python":
            start = index + 1
            end = next(i for i in range(start, len(lines)) if lines[i].strip() == "```")
            previous = next((line for line in reversed(lines[:index]) if line.strip()), "")
            if not NOT_RUN.fullmatch(previous.strip()):
                blocks.append((start + 1, "\n".join(lines[start:end]) + "\n"))
            index = end
        index += 1
    return blocks


PAGES_WITH_CODE = [path for path in pages() if python_blocks(path)]


def run_page(path: Path, monkeypatch, tmp_path, dataset=SmallCIFAR10) -> dict:
    """Run the page's blocks in one namespace; ``namespace["optimizer_steps"]`` counts optimiser steps."""
    blocks = python_blocks(path)
    for module in OPTIONAL:
        if any(re.search(rf"^\s*(import|from) {module}\b", code, flags=re.M) for _, code in blocks):
            pytest.importorskip(module, reason=f"{path.relative_to(ROOT)} needs {module}")
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", dataset)
    monkeypatch.chdir(tmp_path)
    steps = []
    handle = register_optimizer_step_post_hook(lambda *args: steps.append(1))
    namespace: dict = {"__name__": "__docs__"}
    try:
        for line, code in blocks:
            # Blank lines up to the block's first line, so a traceback names the page's own line.
            exec(compile("\n" * (line - 1) + shorten(code), str(path), "exec"), namespace)
    finally:
        handle.remove()
    namespace["optimizer_steps"] = len(steps)
    return namespace


#: Pages whose code is a training loop: it must train (zero_grad, backward, step), not only run.
TRAINING_PAGES = ("index.md", "getting-started.md", "tutorials/torchvision.md", "tutorials/kornia.md", "tutorials/timm.md")


@pytest.mark.parametrize("path", PAGES_WITH_CODE, ids=lambda path: str(path.relative_to(DOCS)))
def test_every_python_block_of_a_page_runs(path, monkeypatch, tmp_path):
    namespace = run_page(path, monkeypatch, tmp_path)
    if str(path.relative_to(DOCS)) in TRAINING_PAGES:
        code = "".join(code for _, code in python_blocks(path))
        assert all(call in code for call in ("zero_grad(", ".backward()", ".step()")), f"{path} does not train"
        assert namespace["optimizer_steps"] > 0 and torch.isfinite(namespace["loss"]).item()


def test_the_training_pages_exist():
    assert all((DOCS / page) in PAGES_WITH_CODE for page in TRAINING_PAGES)


@pytest.mark.skipif(not CIFAR10_NPZ.is_file(), reason=f"real CIFAR-10 pixels need {CIFAR10_NPZ} (on some machines only)")
def test_the_torchvision_tutorial_trains_on_real_cifar10_images(monkeypatch, tmp_path):
    namespace = run_page(DOCS / "tutorials" / "torchvision.md", monkeypatch, tmp_path, dataset=NpzCIFAR10)
    assert namespace["optimizer_steps"] > 0 and torch.isfinite(namespace["loss"]).item()


def test_a_block_that_does_not_run_says_why():
    for path in pages():
        text = path.read_text()
        for marker in re.findall(r"<!-- not run[^>]*-->", text):
            assert NOT_RUN.fullmatch(marker), f"{path}: {marker!r} gives no reason"


def test_the_ddp_tutorial_runs_under_torchrun_on_two_processes(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(DOCS / "tutorials" / "ddp_torchrun.py")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rank 0 of 2" in done.stdout and "rank 1 of 2" in done.stdout


def _quotable(summary: dict) -> set[str]:
    """Every ``mean ± sd`` of summary.json, and every difference of two methods' means ± its error (signed or not)."""
    from benchmarks.report.stats import difference, format_stats, mean_std, values

    quoted = set()
    for methods in summary.values():
        for entry in methods.values():
            for metric in ("top1", "many", "medium", "few"):
                if len(values(entry[metric])) > 1:
                    quoted.add(format_stats(mean_std(entry[metric]), 2))
        for first in methods.values():
            for second in methods.values():
                gain = difference(first, second)
                if gain is not None and gain[1] is not None:
                    quoted |= {f"{gain[0]:+.2f} ± {gain[1]:.2f}", f"{abs(gain[0]):.2f} ± {gain[1]:.2f}"}
    return quoted


def test_the_numbers_the_prose_quotes_are_those_of_the_result_files():
    quotable = _quotable(json.loads((ROOT / "benchmarks" / "results" / "summary.json").read_text()))
    readme = (ROOT / "README.md").read_text()
    generated = re.compile(r"<!-- results:start -->.*?<!-- results:end -->", flags=re.S)
    texts = {"README.md": generated.sub("", readme), **{str(path.relative_to(ROOT)): path.read_text() for path in pages()}}
    checked = 0
    for name, text in texts.items():
        for number in re.findall(r"[+-]?\d+\.\d\d ± \d+\.\d\d", text):
            assert number in quotable, f"{name} quotes {number}, which no result file gives"
            checked += 1
    assert checked >= 8


def test_the_readmes_verdict_is_rewritten_once_the_standard_protocols_seed0_set_is_in():
    """The headline table leads the generated results once seed 0 of the standard protocol's six
    methods is committed; from then on the hand-written verdict above it must speak of it too."""
    from benchmarks.report.headline import standard_headline
    from benchmarks.report.progress import STANDARD_SETTING
    from benchmarks.summary import load_runs

    readme = (ROOT / "README.md").read_text()
    verdicts = {"README.md": readme[readme.index("## Results"):readme.index("<!-- results:start -->")],
                "docs/results.md": (ROOT / "docs" / "results.md").read_text()}
    headline = standard_headline(load_runs(ROOT / "benchmarks" / "results"), STANDARD_SETTING, {})
    for name, verdict in verdicts.items():
        if headline is None:
            assert "not in yet" in verdict, f"{name}: say the standard protocol's seed-0 set is not in yet"
        else:
            assert "not in yet" not in verdict and "standard protocol" in verdict.lower(), (
                f"{name}: the results open with the standard protocol's table; rewrite the verdict on where MMT "
                "wins and where it loses from its numbers")
