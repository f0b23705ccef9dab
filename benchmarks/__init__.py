"""Benchmarks for mmt-augment: long-tailed accuracy, training and data-loading cost, the quick run.

Modules (one job each):

* Data and models: :mod:`benchmarks.data` (datasets as in-memory uint8 tensors, long-tailed
  subsets), :mod:`benchmarks.models` (CIFAR ResNets), :mod:`benchmarks.augment` (batched crop
  and flip on the training device).
* What a run is: :mod:`benchmarks.methods` (one :class:`~benchmarks.methods.Method` per name:
  ``ce``, ``la``, ``drw``, ``cmo``, ``mmt``, ``mmt+la``, ``mmt-<options>``, ...),
  :mod:`benchmarks.protocols` (recipes: ``paper``, ``quick``, ``tiny``),
  :mod:`benchmarks.run_config` (a run's settings, identity and file names).
* Training: :mod:`benchmarks.step` (the one training step and :func:`~benchmarks.step.build_run`),
  :mod:`benchmarks.loop` (epochs, checkpoints, resume, evaluation), :mod:`benchmarks.graphed`
  (the step as a CUDA graph), :mod:`benchmarks.run_result` (the result file),
  :mod:`benchmarks.train` (one run's command line), :mod:`benchmarks.runner` (many runs, two at a
  time, resumable), :mod:`benchmarks.park` (unfinished runs' checkpoints, committed).
* Reports: :mod:`benchmarks.summary` (``summary.json``), :mod:`benchmarks.render` and
  :mod:`benchmarks.report` (tables, plots, the README's results section; they only read JSON),
  :mod:`benchmarks.sampler_distribution`.
* Speed: :mod:`benchmarks.throughput` (the transforms against torchvision, kornia and timm),
  :mod:`benchmarks.cost` (training step and data loading), :mod:`benchmarks.sampler_speed`,
  :mod:`benchmarks.timing`.
* The GPU run: :mod:`benchmarks.gpu` (``prepare``, ``checks``, ``paper``, ``import``) over
  :mod:`benchmarks.gpu_payload`, :mod:`benchmarks.gpu_checks`, :mod:`benchmarks.gpu_step` and
  :mod:`benchmarks.gpu_paper`.
* ``python -m benchmarks`` — the quick run: transform throughput and a small accuracy comparison.
"""
