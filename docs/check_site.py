"""Check the built site for what a warning-free Sphinx build does not catch.

Run after the README's build command: ``python docs/check_site.py docs/_build/html`` (CI does).
It reads the HTML only (no Sphinx import) and exits 1 naming every problem it finds:

* the API documents what every loop calls (the samplers' ``set_epoch``, ``state_dict`` and
  ``load_state_dict``, ``MMTMix.mix``, ...) and every public name, each object once;
* no torch or kornia boilerplate (``extra_repr``, ``forward``'s "should be overridden"), no
  private class, no named-tuple field aliases ("Alias for field number N");
* ``MMTMix`` and ``RandomMMT`` list their parameters once;
* the landing page has the install line and a training loop, and links the README;
* on the results page every image appears once, no table has a column without a value, and
  the links to run files resolve inside the site.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from html import unescape
from pathlib import Path

#: Objects each API page must document (the ``id`` Sphinx gives their entry).
REQUIRED = {
    "api/transforms.html": ["mmt_augment.MMTMix", "mmt_augment.MMTMix.mix", "mmt_augment.MMTMix.make_params",
                            "mmt_augment.MMTMix.apply_params", "mmt_augment.RandomMMT",
                            "mmt_augment.RandomMMT.labels_for"],
    "api/samplers.html": [f"mmt_augment.{cls}.{member}"
                          for cls in ("MMTBatchSampler", "UniformBatchSampler", "DifferentialBatchSampler")
                          for member in ("set_epoch", "state_dict", "load_state_dict")]
                         + ["mmt_augment.MMTBatchSampler.class_probabilities", "mmt_augment.UniformBatchSampler.shard"],
    "api/losses.html": ["mmt_augment." + name for name in (
        "mixed_cross_entropy", "MixedLabels", "MixedLabels.to_dense", "MixedLabels.from_kornia", "logit_adjustment",
        "logit_adjusted_cross_entropy", "class_balanced_weights", "class_weighted_cross_entropy", "remix_labels")],
    "api/long-tailed.html": ["mmt_augment." + name for name in (
        "make_long_tailed", "class_counts", "shot_splits", "ShotSplits", "weighting.class_probabilities",
        "weighting.mixed_class_prior", "mean_head_share", "weighting")],
    "api/functional.html": ["mmt_augment.functional", "mmt_augment.functional.mixup", "mmt_augment.functional.cutmix",
                            "mmt_augment.functional.sample_mix_params", "mmt_augment.modes", "mmt_augment.modes.MixMode",
                            "mmt_augment.modes.MixParams", "mmt_augment.modes.apply", "mmt_augment.modes.MODES"],
}

#: Text no page may show.
FORBIDDEN = {
    "Alias for field number": "a named tuple's field alias",
    "should be overridden by all subclasses": "torch's forward() boilerplate",
    "extra_repr": "torch's extra_repr",
    "_EpochBatchSampler": "the samplers' private base class",
    "apply_transform_class": "kornia's hook",
}

#: Examples the API pages must carry (a code block after the object's entry names the call).
EXAMPLES = {
    "api/losses.html": ["mixed_cross_entropy(", "class_weighted_cross_entropy(", "MixedLabels("],
    "api/transforms.html": ["mmt.mix("],
    "api/long-tailed.html": ["mixed_class_prior(", "mean_head_share("],
}


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


def _entries(html: str) -> list[str]:
    return re.findall(r'<dt class="sig sig-object py" id="([^"]+)"', html) + re.findall(r'id="module-([^"]+)"', html)


def _class_body(html: str, object_id: str) -> str:
    """The HTML of a class's entry up to its first member's entry."""
    start = html.index(f'id="{object_id}"')
    following = html.find('<dt class="sig sig-object py" id="', start + 1)
    return html[start:following if following > 0 else len(html)]


def _tables(html: str) -> list[list[list[str]]]:
    tables = []
    for table in re.findall(r"<table.*?</table>", html, flags=re.S):
        rows = [[_text(cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)]
                for row in re.findall(r"<tr.*?</tr>", table, flags=re.S)]
        tables.append(rows)
    return tables


def check(site: Path) -> list[str]:
    problems = []
    pages = {path.relative_to(site).as_posix(): path.read_text() for path in site.rglob("*.html")
             if not {"_modules", "_sources", "_static", "runs"} & set(path.relative_to(site).parts)}
    for page, ids in REQUIRED.items():
        have = set(_entries(pages.get(page, "")))
        problems += [f"{page}: {object_id} is not documented" for object_id in ids if object_id not in have]
    documented = Counter(object_id for page, html in pages.items() if page.startswith("api/")
                         for object_id in _entries(html))
    problems += [f"{object_id} is documented {count} times" for object_id, count in documented.items() if count > 1]
    for page, html in pages.items():
        text = _text(html)
        problems += [f"{page}: shows {what} ({needle!r})" for needle, what in FORBIDDEN.items() if needle in text]
    for page, needles in EXAMPLES.items():
        code = "".join(_text(block) for block in re.findall(r'<div class="highlight-python.*?</pre>',
                                                             pages.get(page, ""), flags=re.S))
        problems += [f"{page}: no example calls {needle}" for needle in needles if needle not in code]
    for object_id in ("mmt_augment.MMTMix", "mmt_augment.RandomMMT"):
        body = _class_body(pages["api/transforms.html"], object_id)
        count = len(re.findall(r"<dt class=\"field-[a-z]+\">Parameters", body))
        if count != 1:
            problems.append(f"api/transforms.html: {object_id} lists its parameters {count} times")
    index = _text(pages.get("index.html", ""))
    for needle in ("pip install mmt-augment", "optimizer.zero_grad()", "loss.backward()", "optimizer.step()"):
        if needle not in index:
            problems.append(f"index.html: no {needle!r}")
    if "README.md" not in pages.get("index.html", ""):
        problems.append("index.html: does not link the README")
    results = pages.get("results.html", "")
    images = Counter(re.findall(r'<img[^>]* src="([^"]+)"', results))
    problems += [f"results.html: image {src} appears {count} times" for src, count in images.items() if count > 1]
    for number, rows in enumerate(_tables(results)):
        if len(rows) > 1:
            for column, name in enumerate(rows[0]):
                cells = [row[column] for row in rows[1:] if column < len(row)]
                if cells and all(cell in ("—", "") for cell in cells):
                    problems.append(f"results.html: table {number + 1}'s column {name!r} has no value")
    for link in re.findall(r'href="(runs/[^"#]*|summary\.json)"', results):
        target = site / link / ("index.html" if link.endswith("/") else "")
        if not target.is_file():
            problems.append(f"results.html: links {link}, which the site does not have")
    if not re.search(r'href="runs/[^"]+/"', results):
        problems.append("results.html: no table links its run files")
    return problems


def main(argv: list[str]) -> int:
    site = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "_build" / "html"
    problems = check(site)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{site}: {'OK' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
