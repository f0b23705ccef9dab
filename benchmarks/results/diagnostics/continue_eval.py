"""One-off diagnosis of the CE sanity gate (not part of the benchmark suite; a tidied copy of the
script that wrote ce-seed0-gate.json, not rerun after tidying).

Continues a parked standard-protocol checkpoint to the protocol's last epoch with the run's own
step, and after every epoch evaluates the model on the whole test set and on its two parts: the
1,000 images whose pixels are bit-exact and the 9,000 decoded from JPEG copies
(``exact_pixels_test`` in ``../shared/data/cifar10.npz``). Run from the repository root:

    PYTHONPATH=. python benchmarks/results/diagnostics/continue_eval.py CHECKPOINT OUT.json THREADS

With another thread count than the run's, the bits differ from the run's own epochs.
"""

import json
import sys
import time

import numpy as np
import torch

from benchmarks.augment import normalize
from benchmarks.data import DEFAULT_NPZ, load_npz, long_tailed
from benchmarks.loop import evaluate, read_checkpoint
from benchmarks.methods import parse_method
from benchmarks.protocols import PROTOCOLS, lr_factor
from benchmarks.step import build_run, device_batches


def main(path: str, out: str, threads: int) -> None:
    torch.set_num_threads(threads)
    state = read_checkpoint(path)
    config = state["config"]
    protocol = PROTOCOLS[config["protocol"]["name"]]
    assert protocol.to_dict() == config["protocol"], "the checkpoint's protocol is not the named one"
    exact = torch.from_numpy(np.load(DEFAULT_NPZ)["exact_pixels_test"].astype(bool))
    dataset = long_tailed(load_npz(DEFAULT_NPZ), config["imbalance_ratio"], profile=config["profile"],
                          seed=config.get("lt_seed", 0))
    run = build_run(dataset, parse_method(config["method"]), protocol, config["seed"], torch.device("cpu"))
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    run.augment_generator.set_state(state["augment_rng"])
    if run.recipe.generator is not None:
        run.recipe.generator.set_state(state["mix_rng"])

    def scores() -> dict[str, float]:
        parts = {"all": torch.ones_like(exact), "exact": exact, "jpeg": ~exact}
        return {name: round(evaluate(run.model, dataset.test_images[mask], dataset.test_labels[mask], run.mean,
                                     run.std, num_classes=dataset.num_classes)[0], 2)
                for name, mask in parts.items()}

    records = [{"epoch": state["epoch"], **scores()}]
    sampler, steps = run.recipe.sampler, len(run.recipe.sampler)
    run.model.train()
    for epoch in range(state["epoch"], protocol.epochs):
        start = time.perf_counter()
        sampler.set_epoch(epoch)
        batches = device_batches(sampler, dataset.train_images, dataset.train_labels, run.padding,
                                 run.augment_generator)
        for step, (images, labels) in enumerate(batches):
            for group in run.optimizer.param_groups:
                group["lr"] = protocol.lr * lr_factor(protocol, epoch, step, steps)
            run.step(normalize(images, run.mean, run.std), labels, epoch)
        records.append({"epoch": epoch + 1, **scores(), "seconds": round(time.perf_counter() - start, 1)})
        print(records[-1], flush=True)
        with open(out, "w") as handle:
            json.dump({"checkpoint": path.rsplit("/", 1)[-1], "method": config["method"], "seed": config["seed"],
                       "threads": threads, "records": records}, handle, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
