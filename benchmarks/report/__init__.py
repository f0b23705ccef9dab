"""The accuracy report: reads the JSON under ``benchmarks/results/`` and writes Markdown and PNG.

One module per job; :mod:`benchmarks.render` calls them in order and is the command line.

* :mod:`~benchmarks.report.stats`: mean ± sd over seeds, differences of means and their errors.
* :mod:`~benchmarks.report.names`: method order, variants (``"la [bf16, cuda]"``) and base names.
* :mod:`~benchmarks.report.recipe`: ``recommendation.json`` (keyed by setting), reading and choosing.
* :mod:`~benchmarks.report.progress`: how many of the standard protocol's planned runs finished.
* :mod:`~benchmarks.report.words`: a method config in words.
* :mod:`~benchmarks.report.tables`: the accuracy tables (summary across settings, one per setting).
* :mod:`~benchmarks.report.headline`: the standard protocol's table and command, once its seed 0 is in.
* :mod:`~benchmarks.report.published`: the published reference points (``published.json``).
* :mod:`~benchmarks.report.cost_tables`: the cost and throughput tables.
* :mod:`~benchmarks.report.plots`: per-class, sampler, top-1 against ratio, quick against standard.
* :mod:`~benchmarks.report.readme`: replacing a generated section of the README.

Nothing here trains or samples: the sampler shares come from ``sampler-distribution.json``
(:mod:`benchmarks.sampler_distribution`).
"""
