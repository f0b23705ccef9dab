"""Benchmarks for mmt-augment: long-tailed accuracy, training and data-loading cost, the quick run.

Modules (one idea each):

* :mod:`benchmarks.data` — datasets as in-memory uint8 tensors; long-tailed subsets.
* :mod:`benchmarks.models` — CIFAR ResNets (option-A/B shortcuts).
* :mod:`benchmarks.augment` — batched random crop + flip on the training device.
* :mod:`benchmarks.methods` — method names (``ce``, ``mixup``, ``cutmix``, ``cmo``, ``mmt``, ``mmt-<options>``).
* :mod:`benchmarks.protocols` — training recipes (``paper``, ``quick``, ``tiny``).
* :mod:`benchmarks.train` — the one training loop; a results JSON per (setting, method, seed).
* :mod:`benchmarks.runner` — many (method, seed) jobs in parallel subprocesses, resumable.
* :mod:`benchmarks.summary` / :mod:`benchmarks.render` — ``summary.json``, tables, plots, README section.
* :mod:`benchmarks.cost` — training-step and data-loading cost.
* ``python -m benchmarks`` — the quick run: transform throughput and a small accuracy comparison.
"""
