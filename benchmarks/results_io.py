"""Where results live and how they are written.

:data:`RESULTS_DIR` holds the committed results (``benchmarks/results``); plain user runs write to
:data:`LOCAL_RESULTS_DIR` (``benchmarks/results/local``, git-ignored) unless ``--results-dir`` names
another folder, so a rerun never skips or overwrites a committed result. Every JSON file is
written atomically (:func:`write_json`): a run killed mid-write leaves the old file or none,
never a truncated one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["LOCAL_RESULTS_DIR", "REPO_ROOT", "RESULTS_DIR", "relative_to_repo", "write_atomically", "write_json"]

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
LOCAL_RESULTS_DIR = RESULTS_DIR / "local"


def write_atomically(path: str | Path, write: Callable[[str], object]) -> Path:
    """Create ``path`` by ``write(temporary)`` into a temporary file of its own beside it, then
    ``os.replace``: a process killed mid-write leaves the old file or none, never a truncated one,
    and two processes writing the same file never share a temporary."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically (:func:`write_atomically`)."""
    return write_atomically(path, lambda temporary: Path(temporary).write_text(json.dumps(data, indent=1) + "\n"))


def relative_to_repo(path: str | Path) -> str:
    """``path`` relative to the repository root (``../shared/data/cifar10.npz``), never absolute."""
    return Path(os.path.relpath(Path(path).resolve(), REPO_ROOT)).as_posix()
