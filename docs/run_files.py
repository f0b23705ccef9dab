"""Copy the benchmark result files into the site, so the results page can link each table to its runs.

``benchmarks/results/results.md`` links a setting's table to ``runs/<setting>/`` and to
``summary.json``, relative to itself; the results page sits at the site's root, so the same links
work there once these files are at the root too. Each run folder gets an ``index.html`` listing
its files, as a web server lists no folder.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path


def stage_run_files(results_dir: Path, staging: Path) -> Path:
    """Copy ``summary.json`` and ``runs/<setting>/*.json`` of ``results_dir`` under ``staging``.

    Returns:
        ``staging``, a folder for Sphinx's ``html_extra_path`` (rewritten at every build).
    """
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "runs").mkdir(parents=True)
    shutil.copy2(results_dir / "summary.json", staging / "summary.json")
    for setting in sorted(path for path in (results_dir / "runs").iterdir() if path.is_dir()):
        target = staging / "runs" / setting.name
        target.mkdir()
        names = sorted(path.name for path in setting.glob("*.json"))
        for name in names:
            shutil.copy2(setting / name, target / name)
        items = "\n".join(f'<li><a href="{html.escape(name)}">{html.escape(name)}</a></li>' for name in names)
        title = html.escape(f"Run files of {setting.name}")
        (target / "index.html").write_text(
            f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title></head>\n"
            f"<body><h1>{title}</h1>\n<p>One JSON file per method and seed, written by "
            f"<code>python -m benchmarks.train</code>; <a href=\"../../results.html\">back to the results</a>, "
            f"<a href=\"../../summary.json\">summary.json</a>.</p>\n<ul>\n{items}\n</ul></body></html>\n")
    return staging
