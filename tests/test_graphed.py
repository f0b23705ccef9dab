"""The CUDA-graph training step (benchmarks.graphed): its step logic, tested eagerly on the CPU.

Capture itself needs a GPU (``python -m benchmarks.gpu`` checks it there, beside the eager step);
here ``capture=False`` runs the same fused optimiser, tensor learning rate and loss phases.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from benchmarks.data import load_digits, long_tailed
from benchmarks.graphed import TOLERANCE, UPDATE_TOLERANCE, GraphedStep, agreement
from benchmarks.loop import train
from benchmarks.methods import parse_method
from benchmarks.protocols import PROTOCOLS, lr_factor, with_overrides
from benchmarks.run_config import RunConfig, result_path, run_identity
from benchmarks.step import build_run, sgd

PROTOCOL = with_overrides(PROTOCOLS["quick"], {"epochs": 10, "batch_size": 32, "architecture": "resnet8", "width": 8})
NO_DECAY = dataclasses.replace(PROTOCOL, weight_decay=0.0)


@pytest.fixture(scope="module")
def digits():
    return long_tailed(load_digits(), 10)


def _setup(digits, method: str, steps: int):
    run = build_run(digits, parse_method(method), PROTOCOL, 0, torch.device("cpu"))
    batches = run.endless_batches(digits.train_images, digits.train_labels)
    data = [batch for batch, _ in zip(batches, range(steps))]
    steps_per_epoch = len(run.recipe.sampler)
    lrs = [PROTOCOL.lr * lr_factor(PROTOCOL, 0, step, steps_per_epoch) for step in range(len(data))]
    return run.model.train(), run.recipe, data, lrs


@pytest.mark.parametrize("method", ["ce", "mmt", "mmt+la", "drw"])
def test_the_fast_step_follows_the_shared_eager_step(digits, method):
    model, recipe, data, lrs = _setup(digits, method, steps=8)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    last = PROTOCOL.epochs - 1  # DRW re-weights in the last epochs
    steps = [(images, labels, 0 if index < 4 else last, 0.05 * (index + 1)) for index, (images, labels) in enumerate(data)]
    report = agreement(model, recipe, steps, protocol=PROTOCOL, capture=False)
    assert report["steps"] == len(data) and report["captured_graphs"] == 0
    # fp32 on the CPU: fused and foreach SGD differ only by rounding.
    assert report["max_abs_diff"] < 1e-4 < TOLERANCE and report["agrees"]
    assert report["max_update_rel_diff"] < 1e-3 < UPDATE_TOLERANCE and report["integer_buffers_match"]
    assert report["eager_losses"][0] != report["eager_losses"][-1]  # the model did train
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())  # left as it was


def test_agreement_catches_a_step_that_ignores_the_learning_rate(digits, monkeypatch):
    model, recipe, data, _ = _setup(digits, "ce", steps=6)
    steps = [(images, labels, 0, 0.02 * (index + 1)) for index, (images, labels) in enumerate(data)]
    monkeypatch.setattr(GraphedStep, "__call__",  # a stale learning rate: the first one forever
                        lambda self, rows, targets, epoch, lr: self._eager(rows, targets, epoch))
    report = agreement(model, recipe, steps, protocol=PROTOCOL, capture=False)
    assert not report["agrees"] and report["max_update_rel_diff"] > UPDATE_TOLERANCE


def test_the_learning_rate_is_read_from_the_tensor_every_step(digits):
    model, recipe, data, _ = _setup(digits, "ce", steps=3)
    optimizer = sgd(model, NO_DECAY, fused=True)
    step = GraphedStep(model, optimizer, recipe, capture=False)
    step(*data[0], 0, 0.1)
    frozen = [p.detach().clone() for p in model.parameters()]
    # lr 0: no update however large the momentum buffer, so a stale lr would show.
    step(*data[1], 0, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(frozen, model.parameters()))
    assert float(optimizer.param_groups[0]["lr"]) == 0.0
    step(*data[2], 0, 0.1)
    assert not all(torch.equal(a, b) for a, b in zip(frozen, model.parameters()))


def test_bad_optimisers_and_devices_are_refused(digits):
    model, recipe, data, _ = _setup(digits, "ce", steps=1)
    with pytest.raises(TypeError, match="fused SGD with a tensor lr"):
        GraphedStep(model, torch.optim.SGD(model.parameters(), lr=0.1), recipe, capture=False)
    with pytest.raises(ValueError, match="needs a CUDA model"):
        GraphedStep(model, sgd(model, NO_DECAY, fused=True), recipe)
    float64_lr = torch.optim.SGD(model.parameters(), lr=torch.tensor(0.1, dtype=torch.float64), fused=True)
    with pytest.raises(ValueError, match="one float32 element"):
        GraphedStep(model, float64_lr, recipe, capture=False)
    optimizer = sgd(model, NO_DECAY, fused=True)
    step = GraphedStep(model, optimizer, recipe, capture=False)
    optimizer.load_state_dict(optimizer.state_dict())  # swaps the lr tensor the step writes
    with pytest.raises(RuntimeError, match="lr tensor was replaced"):
        step(*data[0], 0, 0.1)


def test_a_graph_is_keyed_by_mixing_and_the_loss_phase():
    drw = parse_method("mmt+drw").build([0] * 50 + [1] * 5, 2, PROTOCOL, 0, torch.device("cpu"))
    assert drw.phase(0) == (True, 0) and drw.phase(PROTOCOL.epochs - 1) == (True, 1)
    window = parse_method("cmo-window").build([0] * 50 + [1] * 5, 2, PROTOCOL, 0, torch.device("cpu"))
    assert window.phase(0) == (False, 0) and window.phase(5) == (True, 0)


def test_cuda_graph_runs_are_their_own_result_and_need_cuda(digits, tmp_path):
    config = RunConfig(dataset="digits", imbalance_ratio=10, method="ce", protocol=PROTOCOL,
                       results_dir=str(tmp_path), device="cpu")
    graphed = dataclasses.replace(config, cuda_graph=True)
    assert result_path(graphed).name == "ce-seed0-graph.json"
    assert run_identity(graphed)["cuda_graph"] is True and "cuda_graph" not in run_identity(config)
    with pytest.raises(ValueError, match="cuda_graph needs device='cuda'"):
        train(graphed, digits, progress=False, checkpoint=False)
