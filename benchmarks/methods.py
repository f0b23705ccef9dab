"""The training methods compared by the benchmarks: each name is one :class:`Method`.

A method is everything that differs between methods, in one object: which batches it
samples, how it turns them into training rows and targets, its loss, and how it is described
(:meth:`Method.describe`). :meth:`Method.build` returns a :class:`Recipe` that the shared training
step (:mod:`benchmarks.step`) calls; adding a method is one entry in :data:`METHODS` (or one option
in :func:`parse_method`) in this file, and the lists of methods (:data:`BASELINES`,
:data:`CORE_METHODS`, :data:`METHODS`) are written here only.

======================  ======================================================================
name                    what it trains with
======================  ======================================================================
``ce``                  instance-uniform batches, plain cross-entropy
``rs``                  class-balanced re-sampled batches (one stream), cross-entropy
``sqrt``                batches from the γ = 0.5 stream that MMT's tail uses (class ∝ n_c^0.5),
                        cross-entropy: MMT's sampling without its mixing
``drw``                 CE with deferred re-weighting: class-balanced weights (β = 0.9999) in the
                        last 20% of epochs
``la``                  logit-adjusted CE (τ = 1, training-set prior; equals Balanced Softmax)
``mixup``, ``cutmix``   uniform batches mixed in-batch by torchvision's ``v2.MixUp``/``v2.CutMix``
``remix``               in-batch MixUp (a permuted copy of the batch as the tail, one λ per
                        batch) with the Remix label rule (κ = 3, τ = 0.5)
``cmo``                 CMO: a class-balanced batch CutMixed into the uniform batch, λ ~ Beta(1, 1),
                        p = 0.5 (``weighting="balanced"`` + ``MMTMix(mode="cutmix")``)
``cmo-window``          ``cmo`` with CMO's own mixing window: off in the first and last 3 epochs
``mmt``                 MMT with the library's defaults (read from the signatures of ``MMTMix`` and
                        ``DifferentialBatchSampler``, so the name follows the defaults)
``mmt-<options>``       MMT with options changed from the defaults, joined by ``-``: ``mixup`` or
                        ``cutmix`` (mode), ``inverse``/``reverse``/``balanced`` or ``gamma<x>``
                        (tail weighting), ``per-sample``/``per-batch``, ``p<x>`` (mixing
                        probability), ``a<x>`` (Beta alpha). E.g. ``mmt-mixup-p1``.
``<method>+<loss>``     a method with another loss: ``la`` or ``drw``. The prior (and the DRW
                        counts) is the class distribution of the targets the method trains on
                        (:func:`mmt_augment.mixed_class_prior` for paired methods);
                        ``la-trainprior``/``drw-trainprior`` use the training set's instead.
                        E.g. ``mmt+la``, ``mmt+drw``, ``mmt+la-trainprior``.
======================  ======================================================================

Example:
    >>> parse_method("mmt-mixup-p1").p
    1.0
    >>> parse_method("mmt+la").loss, parse_method("mmt+la").prior
    ('la', 'targets')
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.protocols import Protocol, epoch_window

__all__ = ["BASELINES", "CORE_METHODS", "METHODS", "Loss", "Method", "Recipe", "check_methods", "library_defaults",
           "parse_method"]

#: The methods every accuracy table starts with: plain CE, the two in-batch mixers, CMO and MMT.
BASELINES = ("ce", "mixup", "cutmix", "cmo", "mmt")
#: The first comparison of every run plan: the plain baseline, the closest prior method (CMO) and MMT.
CORE_METHODS = ("ce", "cmo", "mmt")

LOSSES = ("ce", "la", "drw")
DRW_BETA = 0.9999
DRW_FRACTION = 0.2  # deferred re-weighting is on for the last 20% of the epochs
LA_TAU = 1.0
REMIX_KAPPA, REMIX_TAU = 3.0, 0.5


@dataclasses.dataclass(frozen=True)
class Method:
    """How a method samples batches, mixes them and computes its loss.

    Attributes:
        name: the method's name in results (``"mmt-mixup-p1"``).
        sampler: ``"uniform"`` (one instance-uniform stream), ``"resample"`` (one stream drawn
            by ``weighting``, as many batches as the uniform one) or ``"pair"`` (a uniform head
            stream plus a differential tail stream, :class:`mmt_augment.MMTBatchSampler`).
        mixer: ``"none"``, ``"mixup"``/``"cutmix"`` (torchvision v2, in-batch), ``"mmt"``
            (:class:`mmt_augment.MMTMix` on the head/tail pair) or ``"remix"`` (``MMTMix`` on
            the batch and a permuted copy, Remix labels).
        mode, alpha, p, per_sample: ``MMTMix`` arguments (``alpha`` also for torchvision's).
        weighting: the tail (or re-sampling) weighting (``"inverse"``, ``"reverse"``,
            ``"balanced"`` or a float exponent).
        loss: ``"ce"``, ``"la"`` (logit-adjusted) or ``"drw"`` (deferred re-weighting).
        prior: for ``la``/``drw``: ``"train"`` (the training set's class frequencies) or
            ``"targets"`` (the class distribution of the targets the method trains on).
        mix_epochs: the method's own mixing window (``"start:end"``), else the protocol's.
    """

    name: str
    sampler: str = "uniform"
    mixer: str = "none"
    mode: str | None = None
    alpha: float = 1.0
    p: float | None = None
    per_sample: bool = False
    weighting: str | float | None = None
    loss: str = "ce"
    prior: str = "train"
    mix_epochs: str | None = None

    @property
    def mixes(self) -> bool:
        return self.mixer != "none"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Method:
        """The method a ``method_config`` record (:meth:`to_dict`) describes.

        A record written before a field existed lacks it: the field's default fills it (the
        method it meant then), so one method read from old and new files is one method.
        """
        fields = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in record.items() if key in fields})

    def describe(self) -> str:
        """The method in words, for tables and notes.

        Example:
            >>> parse_method("cmo-window").describe()
            'cutmix, alpha 1, p 0.5, per-batch, tail weighting balanced; mixing epochs 3:-3'
        """
        weighting = self.weighting
        weighting = weighting if isinstance(weighting, str) or weighting is None else f"n_c^-{weighting:g}"
        if self.mixer == "none":
            words = "no mixing"
        elif self.mixer == "remix":
            words = f"in-batch mixup (a permuted copy as the tail), alpha {self.alpha:g}, Remix labels"
        elif self.mixer != "mmt":
            words = f"torchvision {self.mixer}, in-batch, alpha {self.alpha:g}"
        else:
            words = (f"{self.mode}, alpha {self.alpha:g}, p {self.p:g}, "
                     f"{'per-sample' if self.per_sample else 'per-batch'}, tail weighting {weighting}")
        if self.sampler == "resample":
            words += f"; batches re-sampled with class weighting {weighting}"
        if self.loss != "ce":
            prior = "the training set's" if self.prior == "train" else "the trained targets'"
            words += f"; {'logit-adjusted CE' if self.loss == 'la' else 'deferred re-weighting'} with {prior} class prior"
        if self.mix_epochs:
            words += f"; mixing epochs {self.mix_epochs}"
        return words

    def active_epochs(self, protocol: Protocol) -> range:
        """The epochs in which this method mixes (its own window, else the protocol's)."""
        return epoch_window(protocol.mix_epochs if self.mix_epochs is None else self.mix_epochs, protocol.epochs)

    def build(self, labels: np.ndarray, num_classes: int, protocol: Protocol, seed: int,
              device: torch.device, *, image_size: tuple[int, int] = (32, 32)) -> Recipe:
        """Everything a run of this method needs: sampler, batch rule and loss.

        Args:
            labels: ``(N,)`` training labels.
            num_classes: number of classes C.
            protocol: the training recipe (epochs, batch size, mixing window).
            seed: the run's seed (samplers and mixing generators derive from it).
            device: the training device.
            image_size: ``(H, W)``, to estimate the mean head share of CutMix boxes.
        """
        counts = np.bincount(np.asarray(labels), minlength=num_classes)
        sampler = self._batch_sampler(labels, protocol, seed)
        mixer = self._mixer(num_classes, device, seed, counts)
        prior = self._target_prior(counts, image_size)
        return Recipe(self, sampler, mixer, set(self.active_epochs(protocol)),
                      _make_loss(self.loss, prior, counts.sum(), protocol.epochs, device))

    # -- parts ----------------------------------------------------------------------------

    def _batch_sampler(self, labels: np.ndarray, protocol: Protocol, seed: int):
        from mmt_augment import DifferentialBatchSampler, MMTBatchSampler, UniformBatchSampler

        uniform = UniformBatchSampler(labels, protocol.batch_size, drop_last=protocol.drop_last, seed=seed,
                                      num_replicas=1, rank=0)
        if self.sampler == "pair":
            return MMTBatchSampler(labels, protocol.batch_size, weighting=self.weighting,
                                   drop_last=protocol.drop_last, seed=seed, num_replicas=1, rank=0)
        if self.sampler == "resample":
            return DifferentialBatchSampler(labels, protocol.batch_size, weighting=self.weighting,
                                            num_batches=len(uniform), seed=seed, num_replicas=1, rank=0)
        return uniform

    def _mixer(self, num_classes: int, device: torch.device, seed: int, counts: np.ndarray):
        if self.mixer in ("mmt", "remix"):
            from mmt_augment import MMTMix

            generator = torch.Generator(device).manual_seed(seed + 20_000)
            mix = MMTMix(num_classes=num_classes, mode=self.mode, alpha=self.alpha, p=self.p,
                         per_sample=self.per_sample, generator=generator)
            return _RemixMixer(mix, counts) if self.mixer == "remix" else mix
        if self.mixer in ("mixup", "cutmix"):
            from torchvision.transforms import v2

            # torchvision draws from the global torch RNG, which the run seeds and checkpoints.
            transform = v2.MixUp if self.mixer == "mixup" else v2.CutMix
            return transform(alpha=self.alpha, num_classes=num_classes)
        return None

    def _target_prior(self, counts: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
        """The class distribution a prior-based loss corrects for (see ``prior``)."""
        from mmt_augment import class_probabilities, mixed_class_prior

        if self.prior == "train" or self.loss == "ce":
            return counts / counts.sum()
        if self.sampler == "resample":
            return class_probabilities(counts, self.weighting)
        if self.sampler == "pair":
            return mixed_class_prior(counts, self.weighting, head_share=self._mean_head_share(image_size))
        return counts / counts.sum()  # in-batch mixing keeps the training-set distribution

    def _mean_head_share(self, image_size: tuple[int, int], draws: int = 200_000) -> float:
        """E[lam] of this method's MMTMix, estimated from the library's own parameter draws.

        MixUp with ``p`` gives ``1 - p / 2`` exactly; CutMix boxes are clipped to the image, which
        raises the head's share, so the estimate uses the real box rule. A fixed generator keeps
        it the same in every run (it depends on nothing but the method and the image size).
        """
        from mmt_augment.functional import sample_mix_params

        height, width = image_size
        params = sample_mix_params(draws, height, width, mode=self.mode, alpha=self.alpha, p=self.p,
                                   per_sample=True, generator=torch.Generator().manual_seed(0))
        return float(params.lam.double().mean())


class _RemixMixer:
    """Remix: MMTMix on the batch and a permuted copy of it, then the Remix label rule."""

    def __init__(self, mix, class_counts: np.ndarray) -> None:
        self.mix = mix
        self.generator = mix.generator
        self.class_counts = class_counts

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from mmt_augment import remix_labels

        order = torch.randperm(len(labels), generator=self.generator, device=self.generator.device)
        order = order.to(images.device)
        mixed_images, mixed = self.mix.mix(images, labels, images[order], labels[order])
        mixed = remix_labels(mixed, self.class_counts, kappa=REMIX_KAPPA, tau=REMIX_TAU)
        return mixed_images, mixed.to_dense(self.mix.num_classes)


@dataclasses.dataclass(frozen=True, eq=False)
class Loss:
    """``loss(logits, targets, epoch)``; :meth:`phase` tells the epochs whose loss differs apart.

    Attributes:
        kind: ``"ce"``, ``"la"`` or ``"drw"``.
        adjustment: the logit adjustment (``la``), on the training device.
        weights: the class weights (``drw``), on the training device.
        start: the first re-weighted epoch (``drw``).
    """

    kind: str
    adjustment: torch.Tensor | None = None
    weights: torch.Tensor | None = None
    start: int = 0

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, epoch: int) -> torch.Tensor:
        from mmt_augment import class_weighted_cross_entropy

        if self.adjustment is not None:
            return F.cross_entropy(logits + self.adjustment.to(logits.dtype), targets)
        if self.weights is not None and epoch >= self.start:
            # Soft (mixed) targets are normalised by their total weight, as index targets are.
            return class_weighted_cross_entropy(logits, targets, self.weights)
        return F.cross_entropy(logits, targets)

    def phase(self, epoch: int) -> int:
        """0, or 1 in the epochs where the loss is another function (DRW's re-weighted epochs)."""
        return int(self.weights is not None and epoch >= self.start)


def _make_loss(kind: str, prior: np.ndarray, num_samples: int, epochs: int, device: torch.device) -> Loss:
    """The :class:`Loss` of ``kind`` in :data:`LOSSES`."""
    from mmt_augment import class_balanced_weights, logit_adjustment

    if kind == "la":
        # Computed once on the device: no validation or host copy per step.
        return Loss(kind, adjustment=logit_adjustment(prior, tau=LA_TAU).to(device))
    if kind == "drw":
        return Loss(kind, weights=class_balanced_weights(prior * num_samples, beta=DRW_BETA).to(device),
                    start=epochs - int(round(DRW_FRACTION * epochs)))
    return Loss(kind)


@dataclasses.dataclass
class Recipe:
    """A method built for one run: its sampler, batch rule and loss.

    Attributes:
        method: the :class:`Method`.
        sampler: the batch sampler (``set_epoch`` before each epoch).
        mixer: the mixing callable, or ``None``; its ``generator`` (if any) is checkpointed.
        active_epochs: the epochs in which the method mixes.
        loss: ``loss(logits, targets, epoch)``.
    """

    method: Method
    sampler: Any
    mixer: Any
    active_epochs: set[int]
    loss: Loss

    def phase(self, epoch: int) -> tuple[bool, int]:
        """What makes ``epoch``'s step a different function: mixing on or off, and the loss phase."""
        return epoch in self.active_epochs, self.loss.phase(epoch)

    @property
    def generator(self) -> torch.Generator | None:
        return getattr(self.mixer, "generator", None)

    def rows(self, images: torch.Tensor, labels: torch.Tensor, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Turn a sampled batch into training rows and targets.

        Paired methods mix the ``2b`` rows into ``b`` (outside their mixing epochs they keep the
        ``b`` head rows); in-batch mixers mix the batch; the others return it unchanged.
        """
        mixing = epoch in self.active_epochs
        if self.method.sampler == "pair":
            if mixing:
                return self.mixer(images, labels)
            head = images.shape[0] // 2
            return images[:head], labels[:head]
        if self.mixer is not None and mixing:
            return self.mixer(images, labels)
        return images, labels


def library_defaults() -> dict[str, Any]:
    """The current defaults of ``MMTMix`` (mode, alpha, p, per_sample) and the tail weighting."""
    from mmt_augment import DifferentialBatchSampler, MMTMix

    mix = inspect.signature(MMTMix.__init__).parameters
    tail = inspect.signature(DifferentialBatchSampler.__init__).parameters
    return {
        "mode": mix["mode"].default,
        "alpha": float(mix["alpha"].default),
        "p": float(mix["p"].default),
        "per_sample": bool(mix["per_sample"].default),
        "weighting": tail["weighting"].default,
    }


#: The named methods other than ``mmt`` and ``mmt-<options>``.
METHODS: dict[str, Method] = {
    "ce": Method("ce"),
    "rs": Method("rs", sampler="resample", weighting="balanced"),
    "sqrt": Method("sqrt", sampler="resample", weighting=0.5),
    "drw": Method("drw", loss="drw"),
    "la": Method("la", loss="la"),
    "mixup": Method("mixup", mixer="mixup", alpha=1.0),
    "cutmix": Method("cutmix", mixer="cutmix", alpha=1.0),
    "remix": Method("remix", mixer="remix", mode="mixup", alpha=1.0, p=1.0, per_sample=False),
    "cmo": Method("cmo", sampler="pair", mixer="mmt", mode="cutmix", alpha=1.0, p=0.5, weighting="balanced"),
    "cmo-window": Method("cmo-window", sampler="pair", mixer="mmt", mode="cutmix", alpha=1.0, p=0.5,
                         weighting="balanced", mix_epochs="3:-3"),
}

_LOSS_SUFFIXES = {
    "la": ("la", "targets"),
    "drw": ("drw", "targets"),
    "la-trainprior": ("la", "train"),
    "drw-trainprior": ("drw", "train"),
}


def _number(token: str, prefix: str, name: str) -> float:
    try:
        return float(token[len(prefix):])
    except ValueError:
        raise ValueError(f"method option {token!r}: expected {prefix}<number> for {name}") from None


def _parse_mmt(name: str) -> Method:
    options = library_defaults()
    given: dict[str, str] = {}  # option -> the token that set it: each option once
    # "per-sample" is one option that contains the separator.
    tokens = [t for t in name[len("mmt"):].replace("per-sample", "per_sample").replace("per-batch", "per_batch")
              .split("-") if t]
    for token in tokens:
        if token in ("mixup", "cutmix"):
            option, value = "mode", token
        elif token in ("inverse", "reverse", "balanced"):
            option, value = "weighting", token
        elif token.startswith("gamma"):
            option, value = "weighting", _number(token, "gamma", "the weighting exponent")
        elif token in ("per_sample", "per_batch"):
            option, value = "per_sample", token == "per_sample"
        elif token.startswith("p"):
            option, value = "p", _number(token, "p", "the mixing probability")
        elif token.startswith("a"):
            option, value = "alpha", _number(token, "a", "alpha")
        else:
            raise ValueError(f"unknown option {token!r} in method {name!r}; see benchmarks.methods")
        if option in given:
            raise ValueError(f"method {name!r} sets the {option} twice ({given[option]!r} and {token!r})")
        given[option] = token
        options[option] = value
    _check_mmt_options(name, options)
    return Method(name, sampler="pair", mixer="mmt", **options)


def _check_mmt_options(name: str, options: dict[str, Any]) -> None:
    """The library's own rules for these options (``MMTMix`` and the tail weighting), at parse time."""
    from mmt_augment import MMTMix, class_probabilities

    try:
        MMTMix(num_classes=2, mode=options["mode"], alpha=options["alpha"], p=options["p"],
               per_sample=options["per_sample"])
        class_probabilities(np.ones(2), options["weighting"])
    except ValueError as error:
        raise ValueError(f"method {name!r}: {error}") from None


def parse_method(name: str) -> Method:
    """Turn a method name (see the module docstring) into a :class:`Method`.

    Raises:
        ValueError: for an unknown name, option or loss.
    """
    if not isinstance(name, str):
        raise ValueError(f"method must be a string, got {type(name).__name__}")
    base, plus, suffix = name.partition("+")
    if plus:
        if suffix not in _LOSS_SUFFIXES:
            raise ValueError(f"unknown loss {suffix!r} in method {name!r}; expected one of {sorted(_LOSS_SUFFIXES)}")
        method = parse_method(base)
        if method.loss != "ce":
            raise ValueError(f"method {name!r}: {base!r} already has the loss {method.loss!r}")
        loss, prior = _LOSS_SUFFIXES[suffix]
        return dataclasses.replace(method, name=name, loss=loss, prior=prior)
    if name in METHODS:
        return METHODS[name]
    if name == "mmt" or name.startswith("mmt-"):
        return _parse_mmt(name)
    raise ValueError(
        f"unknown method {name!r}; expected one of {sorted(METHODS)}, 'mmt', 'mmt-<options>' or "
        "'<method>+<loss>' (see benchmarks.methods)"
    )


def check_methods(names: Sequence[str]) -> list[Method]:
    """Parse every name, so a bad one fails before any training starts."""
    return [parse_method(name) for name in names]
