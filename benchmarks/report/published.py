"""The published reference points (``published.json``) as a section of their own.

They are values from papers and their code on the original CIFAR files, not runs of this
project, so they get their own heading and table, never a row in the tables of our runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.results_io import RESULTS_DIR
from benchmarks.summary import read_json

__all__ = ["FILE_NAME", "HEADING", "published_section", "read_published"]

FILE_NAME = "published.json"
HEADING = "Published reference points (original CIFAR-10 files, other code; not comparable run-for-run)"


def read_published(results_dir: str | Path = RESULTS_DIR) -> dict[str, Any] | None:
    """``published.json`` of ``results_dir``, or ``None`` when it is absent or unreadable."""
    path = Path(results_dir) / FILE_NAME
    data = read_json(path) if path.is_file() else None
    return data if isinstance(data, dict) else None


def _table(entries: list[dict[str, Any]]) -> list[str]:
    lines = ["| method | top-1 | architecture | epochs | epoch reported | data | seeds | source |",
             "| --- | ---: | --- | --- | --- | --- | --- | --- |"]
    for entry in entries:
        cells = [entry["method"], f"{entry['top1']:.2f}", entry["architecture"], str(entry["epochs"]),
                 entry["epoch_reported"], entry["data"], entry["seeds"], entry["source"]]
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |")
    return lines


def _gain(unverified: list[dict[str, Any]]) -> float | None:
    return next((item["gain_over_ce"] for item in unverified if "gain_over_ce" in item), None)


def published_section(published: dict[str, Any], *, heading: str = "##") -> str:
    """The section: what the values are, the CIFAR-10-LT table, the unverified claims, and the
    CIFAR-100-LT values with the note that CIFAR-100-LT is not measured here."""
    ratio = f"{published['imbalance_ratio']:g}"
    lines = [f"{heading} {HEADING}", "", published["about"] + " " + " ".join(published.get("reading_notes", [])),
             "", f"{published['dataset']}, imbalance ratio {ratio} ({published['profile']} profile):", ""]
    lines += _table(published["entries"])
    if published.get("unverified"):
        lines += ["", "Not verified, so not in the table: " + "; ".join(
            f"{item['method']}: {item['claimed']}" for item in published["unverified"]) + " (see `published.json`)."]
    gain = _gain(published.get("unverified", []))
    if gain is not None:
        lines += ["", f"The MMT paper reports a gain over CE of {gain:+.2f} points on {published['dataset']} at ratio "
                      f"{ratio} (the gain only; its absolute numbers could not be read)."]
    other = published.get("cifar100_lt")
    if other:
        gain = _gain(other.get("unverified", []))
        there = f"; the MMT paper reports {gain:+.2f} points over CE there (the gain only)" if gain is not None else ""
        lines += ["", f"{heading}# {other['dataset']}, imbalance ratio {other['imbalance_ratio']:g}: not measured "
                      f"here", "", f"{other['dataset']} is not measured here ({other['not_measured_because']}){there}. "
                      "Published values:", ""]
        lines += _table(other["entries"])
    return "\n".join(lines) + "\n"
