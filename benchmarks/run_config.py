"""What defines a training run, and where its result goes.

:class:`RunConfig` holds every setting of a run; :func:`result_path` names its result file by
every setting that changes the result (method, seed, data path, autocast, compile, memory
format, device type and data source), so a rerun with another setting never skips or
overwrites a result that does not match it; :func:`run_identity` is that identity as a dict,
recorded in each result file.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.data import DEFAULT_NPZ, setting_key
from benchmarks.environment import resolve_device
from benchmarks.protocols import Protocol
from benchmarks.results_io import LOCAL_RESULTS_DIR

__all__ = [
    "RunConfig",
    "checkpoint_path",
    "identity_differences",
    "result_problem",
    "setting_of",
    "parked_checkpoint_path",
    "data_source",
    "portable_config",
    "read_result",
    "recorded_digest",
    "recorded_identity",
    "result_path",
    "run_identity",
]


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that defines one run.

    Attributes:
        dataset: a name from :data:`benchmarks.data.DATASETS`.
        imbalance_ratio, profile: the long-tailed subset (:func:`mmt_augment.make_long_tailed`).
        method: a method name (:mod:`benchmarks.methods`).
        seed: seeds the model, the samplers, the augmentation and the mixing.
        protocol: the training recipe.
        npz, root: data locations (see :func:`benchmarks.data.load_dataset`).
        path: ``"device"`` or ``"loader"`` (see the module docstring).
        workers: DataLoader workers on the ``loader`` path.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        threads: ``torch.set_num_threads`` (0: leave torch's default).
        amp: ``"none"`` or ``"bf16"`` autocast.
        channels_last: run the model in channels_last (1.5x faster on CPU here).
        compile: wrap the model in ``torch.compile``.
        cuda_graph: replay each training step from a CUDA graph (:mod:`benchmarks.graphed`;
            CUDA only, fused SGD).
        results_dir: where ``runs/`` and ``checkpoints/`` live.
        lt_seed: seed of the long-tailed subset (0 for every run, so all methods see the same data).
    """

    dataset: str = "cifar10"
    imbalance_ratio: float = 100
    profile: str = "exp"
    method: str = "ce"
    seed: int = 0
    protocol: Protocol = dataclasses.field(default_factory=lambda: Protocol("quick"))
    npz: str | None = None
    root: str | None = None
    path: str = "device"
    workers: int = 2
    device: str = "auto"
    threads: int = 0
    amp: str = "none"
    channels_last: bool = True
    compile: bool = False
    cuda_graph: bool = False
    results_dir: str = str(LOCAL_RESULTS_DIR)
    lt_seed: int = 0

    @property
    def setting(self) -> str:
        return setting_key(self.dataset, self.imbalance_ratio, self.profile, self.protocol.name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def data_source(config: RunConfig | dict[str, Any]) -> str:
    """The data source by the option that loads it: ``"npz:cifar10.npz"``, ``"torchvision"``, ...

    Only the file or folder name is kept, never a machine path.
    """
    record = config.to_dict() if isinstance(config, RunConfig) else config
    if record["dataset"] == "digits":
        return "sklearn"
    if record["dataset"] == "imagefolder":
        return f"imagefolder:{Path(record['root']).name}"
    if record["root"] is not None:
        return "torchvision"
    return f"npz:{Path(record['npz'] or DEFAULT_NPZ).name}"


def run_identity(config: RunConfig | dict[str, Any], *, method_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every setting that changes a run's result (not threads, progress or where it is written).

    Accepts a :class:`RunConfig` or the ``config`` dict of a result file (also files written
    before the identity was recorded). The method's meaning is part of it (``mmt`` follows the
    library's defaults): ``method_config`` as recorded, else what the name means today.
    """
    from benchmarks.methods import parse_method

    record = config.to_dict() if isinstance(config, RunConfig) else dict(config)
    device = record.get("device_type") or resolve_device(record["device"]).type
    identity = {key: record[key] for key in ("dataset", "imbalance_ratio", "profile", "method", "seed", "path",
                                              "amp", "channels_last", "compile", "lt_seed")}
    identity["imbalance_ratio"] = float(identity["imbalance_ratio"])
    if record.get("cuda_graph"):  # recorded only when set, so earlier files keep their identity
        identity["cuda_graph"] = True
    identity["protocol"] = dict(record["protocol"])
    identity["protocol"]["milestones"] = list(identity["protocol"]["milestones"])
    identity["protocol"]["decay"] = list(identity["protocol"]["decay"])
    identity["data"] = data_source(record)
    identity["device_type"] = device
    if record["path"] == "loader":
        identity["workers"] = record["workers"]  # which worker draws which batch's augmentation
    identity["method_config"] = method_config if method_config is not None else parse_method(record["method"]).to_dict()
    return identity


def recorded_identity(result: dict[str, Any]) -> dict[str, Any]:
    """The identity of an existing result file, also of files written before it was recorded."""
    from benchmarks.methods import Method

    identity = dict(result.get("identity") or run_identity(result["config"], method_config=result["method_config"]))
    # A record written before a Method field existed lacks it: the field's default is what it meant.
    identity["method_config"] = Method.from_dict(identity.get("method_config") or result["method_config"]).to_dict()
    return identity


def read_result(path: str | Path) -> dict[str, Any]:
    """An existing result file, checked far enough to compare it with a run (its identity).

    Raises:
        ValueError: naming the file, when it is not JSON (truncated, say) or not a result
            (``[]``, ``null``, ``{}``, no recorded settings).
    """
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a readable result file ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''})") from None
    if not isinstance(result, dict):
        raise ValueError(f"{path} is not a result file (a JSON {type(result).__name__}, not an object)")
    try:
        recorded_identity(result)
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as error:
        raise ValueError(f"{path} is not a result file (no readable run settings: {type(error).__name__} "
                         f"{error})") from None
    return result


def recorded_digest(result: dict[str, Any]) -> str | None:
    """The content digest of the data a result was made from (``None`` in files written before it was recorded)."""
    dataset = result.get("dataset")
    digest = dataset.get("digest") if isinstance(dataset, dict) else None
    return digest or None


def result_path(config: RunConfig) -> Path:
    """``<results_dir>/runs/<setting>/<method>-seed<seed>[-<setting>...].json``.

    Settings other than the defaults (device data path, no autocast, no compile, channels_last,
    CPU, the default CIFAR-10 ``.npz``) add a part: ``-loader``, ``-bf16``, ``-compile``,
    ``-graph``, ``-nchw``, ``-cuda``, ``-torchvision``, ``-npz-<name>``, ``-imagefolder-<name>``.
    """
    identity = run_identity(config)
    parts = [f"{config.method}-seed{config.seed}"]
    if config.path == "loader":
        parts.append("loader")
    if config.amp != "none":
        parts.append(config.amp)
    if config.compile:
        parts.append("compile")
    if config.cuda_graph:
        parts.append("graph")
    if not config.channels_last:
        parts.append("nchw")
    if identity["device_type"] != "cpu":
        parts.append(identity["device_type"])
    source = identity["data"]
    if source not in ("sklearn", f"npz:{DEFAULT_NPZ.name}"):
        parts.append(source.replace(":", "-"))
    return Path(config.results_dir) / "runs" / config.setting / ("-".join(parts) + ".json")


def portable_config(config: RunConfig) -> dict[str, Any]:
    """The run's configuration for its result file, without machine paths.

    Where results are written does not change them, so ``results_dir`` is left out; data files
    are named by file name (the result's ``dataset`` entry holds their content digest).
    """
    record = config.to_dict()
    del record["results_dir"]
    for key in ("npz", "root"):
        if record[key] is not None:
            record[key] = Path(record[key]).name
    return record


def checkpoint_path(config: RunConfig) -> Path:
    """``<results_dir>/checkpoints/<setting>/<result file stem>.pt``."""
    return Path(config.results_dir) / "checkpoints" / config.setting / (result_path(config).stem + ".pt")


def parked_checkpoint_path(config: RunConfig) -> Path:
    """``<results_dir>/in-progress/<result file stem>.pt``: where an unfinished run's checkpoint is
    committed so that a new checkout, on another machine, resumes it (:mod:`benchmarks.park`)."""
    return Path(config.results_dir) / "in-progress" / (result_path(config).stem + ".pt")


def setting_of(record: dict[str, Any]) -> str:
    """The setting key of a run's recorded ``config`` (a checkpoint's or a result's)."""
    return setting_key(record["dataset"], record["imbalance_ratio"], record["profile"], record["protocol"]["name"])


def identity_differences(recorded: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """The fields in which two run identities differ, sorted."""
    return sorted(key for key in set(recorded) | set(wanted) if recorded.get(key) != wanted.get(key))


def result_problem(path: Path, config: RunConfig, data_digest: Callable[[], str]) -> str | None:
    """Why the existing result at ``path`` is not this run's, in one line, or ``None`` when it is
    (and the run may be skipped): other settings (named), or other data of the same name (its
    recorded content digest against ``data_digest()``, called only for a result that records one).

    Raises:
        ValueError: naming the file, when it is not a readable result (:func:`read_result`).
    """
    existing = read_result(path)
    differences = identity_differences(recorded_identity(existing), run_identity(config))
    if differences:
        return f"{path} exists but was made with other settings ({', '.join(differences)})"
    recorded = recorded_digest(existing)
    if recorded is not None and recorded != data_digest():
        return (f"{path} exists but was made from other data (digest {recorded}; {data_source(config)} now has "
                f"{data_digest()})")
    return None
