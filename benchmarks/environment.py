"""What a result was measured on: machine, device, library versions, code revision.

Every results file carries :func:`machine_info` so numbers from different machines are never
compared by accident.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

__all__ = ["cpu_name", "git_revision", "machine_info", "resolve_device"]

_PACKAGES = ("torch", "torchvision", "kornia", "numpy", "timm", "scikit-learn", "mmt-augment")


def cpu_name() -> str:
    """The CPU model from ``/proc/cpuinfo`` (Linux), else :func:`platform.processor`."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision() -> str | None:
    """The commit of the repository holding this file, with ``-dirty`` for local changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions["torch"] = torch.__version__  # includes the build tag (+cpu, +cu130)
    # The version of the code that ran: an editable install's metadata keeps the version it was
    # installed with, and a checkout run without installing has none.
    try:
        import mmt_augment

        versions["mmt-augment"] = getattr(mmt_augment, "__version__", None) or versions["mmt-augment"]
    except ImportError:
        pass
    return versions


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU; anything else is passed to torch."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def machine_info(device: torch.device | str = "cpu") -> dict[str, Any]:
    """Platform, CPU, thread count, accelerator and library versions as a JSON-ready dict."""
    device = torch.device(device)
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        "versions": _versions(),
        "git": git_revision(),
    }
    return info
