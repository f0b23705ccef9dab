"""Training protocols: the recipe (model, epochs, optimiser, schedule, mixing epochs) as data.

``paper`` is the standard CIFAR-LT recipe that the MMT, CMO and BBN papers build on; ``quick``
is sized for two CPU cores (one CIFAR-10-LT run in about 3-4 minutes); ``tiny`` is for the
8x8 digits that ``python -m benchmarks`` uses when no dataset is given (seconds per run). Every field can be
overridden from the command line (:func:`add_protocol_arguments`); a protocol with overridden
fields is renamed ``<base>+<field>=<value>...`` so its results never mix with the base's.

Example:
    >>> protocol = with_overrides(PROTOCOLS["quick"], {"epochs": 2})
    >>> protocol.name, protocol.epochs
    ('quick+epochs=2', 2)
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any

__all__ = [
    "PROTOCOLS",
    "Protocol",
    "ProtocolError",
    "add_protocol_arguments",
    "epoch_window",
    "lr_factor",
    "mixing_epochs",
    "protocol_from_args",
    "with_overrides",
]


class ProtocolError(ValueError):
    """A protocol field with a value no run can train with; ``field`` names it, ``detail`` says why."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field} {detail}")
        self.field, self.detail = field, detail


@dataclasses.dataclass(frozen=True)
class Protocol:
    """A training recipe.

    Attributes:
        name: the protocol's name in result keys.
        architecture: a CIFAR ResNet name from :data:`benchmarks.models.ARCHITECTURES`.
        width: channels of the first ResNet stage.
        shortcut: ``"A"`` (zero-padded identity) or ``"B"`` (1x1 conv) ResNet shortcuts.
        epochs: training epochs (one epoch = one pass of the uniform sampler).
        batch_size: images per step (for paired methods: head rows per step).
        lr, momentum, weight_decay, nesterov: SGD.
        schedule: ``"cosine"`` (per step, to 0) or ``"step"`` (``decay`` factors at ``milestones``).
        warmup_epochs: linear warm-up from ``lr / (warmup_epochs * steps)`` to ``lr``.
        milestones: epochs at which a step schedule changes the learning rate.
        decay: the learning-rate factor (relative to ``lr``) from each milestone on.
        mix_epochs: epochs in which mixing methods mix, ``"all"`` or ``"start:end"`` with Python
            slice semantics (``"3:-3"`` is CMO's: off in the first and last three epochs).
            Shared by every mixing method; in the other epochs they train like ``ce`` on the
            head (uniform) batch.
        crop_padding: random-crop padding in pixels; ``-1`` means image size / 8 (4 for CIFAR).
        drop_last: drop the last, smaller batch of each epoch.
        eval_every: also evaluate on the test set every this many epochs (0: only at the end).
        eval_batch_size: test batch size.
    """

    name: str
    architecture: str = "resnet8"
    width: int = 16
    shortcut: str = "A"
    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = False
    schedule: str = "cosine"
    warmup_epochs: int = 0
    milestones: tuple[int, ...] = ()
    decay: tuple[float, ...] = ()
    mix_epochs: str = "all"
    crop_padding: int = -1
    drop_last: bool = False
    eval_every: int = 0
    eval_batch_size: int = 1000

    def __post_init__(self) -> None:
        """Raises :class:`ProtocolError` (a ``ValueError``) for a value no run can train with."""
        if self.schedule not in ("cosine", "step"):
            raise ProtocolError("schedule", f"must be 'cosine' or 'step', got {self.schedule!r}")
        if len(self.milestones) != len(self.decay):
            raise ProtocolError("milestones", f"{self.milestones} and decay {self.decay} must have the same length")
        for field in ("epochs", "batch_size", "eval_batch_size", "width"):
            if getattr(self, field) < 1:
                raise ProtocolError(field, f"must be >= 1, got {getattr(self, field)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ProtocolError("lr", f"must be a finite number > 0, got {self.lr}")
        for field in ("momentum", "weight_decay"):
            if not (math.isfinite(getattr(self, field)) and getattr(self, field) >= 0):
                raise ProtocolError(field, f"must be a finite number >= 0, got {getattr(self, field)}")
        for field in ("warmup_epochs", "eval_every"):
            if getattr(self, field) < 0:
                raise ProtocolError(field, f"must be >= 0, got {getattr(self, field)}")
        if self.crop_padding < -1:
            raise ProtocolError("crop_padding", f"must be >= -1 (-1: image size / 8), got {self.crop_padding}")
        try:
            window = mixing_epochs(self)
        except ValueError:
            raise ProtocolError("mix_epochs", f"must be 'all' or 'start:end' (e.g. '3:-3'), got {self.mix_epochs!r}") \
                from None
        if not window:
            raise ProtocolError("mix_epochs", f"{self.mix_epochs!r} selects no epoch of {self.epochs}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def mixing_epochs(protocol: Protocol) -> range:
    """The epochs in which mixing is active, from ``protocol.mix_epochs`` (see :func:`epoch_window`)."""
    return epoch_window(protocol.mix_epochs, protocol.epochs)


def epoch_window(spec: str, epochs: int) -> range:
    """The epochs of ``range(epochs)`` that ``spec`` selects: ``"all"`` or ``"start:end"`` with Python
    slice semantics (``"3:-3"``: all but the first and last three).

    Raises:
        ValueError: when ``spec`` is neither ``"all"`` nor ``"start:end"``.
    """
    if spec == "all":
        return range(epochs)
    try:
        start, end = (int(part) if part.strip() else None for part in spec.split(":"))
    except ValueError:
        raise ValueError(f"mix_epochs must be 'all' or 'start:end' (e.g. '3:-3'), got {spec!r}") from None
    return range(epochs)[slice(start, end)]


def lr_factor(protocol: Protocol, epoch: int, step: int, steps_per_epoch: int) -> float:
    """Learning-rate multiplier for ``step`` (0-based) of ``epoch`` (0-based).

    Warm-up rises linearly per step; ``cosine`` then decays per step to 0 at the end of
    training; ``step`` multiplies by ``decay[k]`` from ``milestones[k]`` on (per epoch, as the
    reference CIFAR-LT code does).
    """
    done = epoch + step / steps_per_epoch  # epochs completed before this step
    if done < protocol.warmup_epochs:
        return (done + 1 / steps_per_epoch) / protocol.warmup_epochs
    if protocol.schedule == "cosine":
        span = max(protocol.epochs - protocol.warmup_epochs, 1e-12)
        return 0.5 * (1.0 + math.cos(math.pi * (done - protocol.warmup_epochs) / span))
    factor = 1.0
    for milestone, value in zip(protocol.milestones, protocol.decay):
        if epoch >= milestone:
            factor = value
    return factor


PROTOCOLS = {
    # LDAM-DRW / BBN / CMO / MMT CIFAR-LT recipe.
    "paper": Protocol(
        "paper",
        architecture="resnet32",
        epochs=200,
        weight_decay=2e-4,
        schedule="step",
        warmup_epochs=5,
        milestones=(160, 180),
        decay=(0.01, 0.0001),
    ),
    # Two CPU cores: ResNet-8, 30 epochs, cosine; about 6 s per CIFAR-10-LT ir100 epoch there.
    "quick": Protocol("quick"),
    # The offline default of `python -m benchmarks` (8x8 digits, ~500 training images):
    # smaller batches and more epochs give the same order of steps in a few seconds.
    "tiny": Protocol("tiny", batch_size=32, epochs=100),
}


def _parse_tuple(kind: type):
    def parse(text: str) -> tuple:
        return tuple(kind(part) for part in text.split(",") if part.strip())

    return parse


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--protocol`` and one ``--<field>`` override per :class:`Protocol` field."""
    group = parser.add_argument_group("protocol", "the recipe; every field overrides the named protocol's value")
    group.add_argument("--protocol", default="quick", choices=sorted(PROTOCOLS), help="base protocol (default: quick)")
    quick = PROTOCOLS["quick"]
    for field in dataclasses.fields(Protocol):
        if field.name == "name":
            continue
        default = getattr(quick, field.name)
        if isinstance(default, bool):
            kind, metavar = _parse_bool, "BOOL"
        elif isinstance(default, tuple):
            kind, metavar = _parse_tuple(float if field.name == "decay" else int), "A,B"
        else:
            kind, metavar = type(default), None
        group.add_argument(f"--{field.name.replace('_', '-')}", dest=f"protocol_{field.name}", type=kind,
                           metavar=metavar, default=None, help=f"(quick: {default!r})")


def with_overrides(base: Protocol, overrides: dict[str, Any]) -> Protocol:
    """``base`` with ``overrides`` applied; renamed when a value actually changes."""
    changed = {key: value for key, value in overrides.items() if getattr(base, key) != value}
    if not changed:
        return base
    suffix = "".join(
        f"+{key}={','.join(map(str, value)) if isinstance(value, tuple) else value}" for key, value in changed.items()
    )
    return dataclasses.replace(base, name=base.name + suffix, **changed)


def protocol_from_args(args: argparse.Namespace) -> Protocol:
    """The protocol selected by ``--protocol`` with the ``--<field>`` overrides applied.

    Raises:
        ValueError: naming the option (``--lr must be a finite number > 0, got nan``) when the
            protocol would be invalid (:class:`ProtocolError`).
    """
    overrides = {
        field.name: getattr(args, f"protocol_{field.name}")
        for field in dataclasses.fields(Protocol)
        if field.name != "name" and getattr(args, f"protocol_{field.name}", None) is not None
    }
    try:
        return with_overrides(PROTOCOLS[args.protocol], overrides)
    except ProtocolError as error:
        raise ValueError(f"--{error.field.replace('_', '-')} {error.detail}") from None
