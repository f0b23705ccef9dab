"""Batch samplers that feed MMT from one ``DataLoader``, on one process or under DDP.

MMT mixes a *head* stream, drawn instance-uniformly (:class:`UniformBatchSampler`), with a *tail*
stream drawn by a differential sampler that reverses the long tail (:class:`DifferentialBatchSampler`);
:class:`MMTBatchSampler` yields both as one paired batch, ``b`` head then ``b`` tail indices.

All three are ``Sampler[list[int]]`` for ``DataLoader(dataset, batch_sampler=...)``, follow
``DistributedSampler``'s protocol (``set_epoch``, ``num_replicas``/``rank`` from the process
group, padding so every rank yields as many batches) and keep ``state_dict()``/``load_state_dict()``
for an exact mid-epoch resume. Randomness comes only from NumPy generators seeded by ``(seed,
epoch)`` (head) and ``(seed, epoch, rank)`` (tail).
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from mmt_augment._checks import LabelsLike, as_label_array, check_flag, check_int, check_weighting
from mmt_augment.weighting import Weighting, alias_table, draw_from_classes
from mmt_augment.weighting import class_probabilities as _class_probabilities

__all__ = ["DifferentialBatchSampler", "MMTBatchSampler", "UniformBatchSampler"]

# Tags in the seed sequences keep the head and tail streams independent for the same seed.
_HEAD_STREAM = 0
_TAIL_STREAM = 1
# Indices are drawn and turned into lists this many at a time: big enough to amortise NumPy's
# per-call cost, small enough to stay in cache; a resume only redraws the chunk it lands in.
_CHUNK_SAMPLES = 2**14


def _resolve_replicas(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    """Fill ``num_replicas``/``rank`` from the process group (else 1/0) and validate them."""
    group_ready = dist.is_available() and dist.is_initialized()
    if num_replicas is None:
        num_replicas = dist.get_world_size() if group_ready else 1
    if rank is None:
        rank = dist.get_rank() if group_ready else 0
    num_replicas = check_int(num_replicas, "num_replicas", minimum=1)
    rank = check_int(rank, "rank")
    if not 0 <= rank < num_replicas:
        raise ValueError(f"rank must be in [0, num_replicas) = [0, {num_replicas}), got rank={rank}")
    return num_replicas, rank


def _iter_batches(indices: np.ndarray, batch_size: int, start_batch: int) -> Iterator[list[int]]:
    """Yield ``indices`` from batch ``start_batch`` on as lists of ``batch_size`` (the last may be short)."""
    chunk = max(1, _CHUNK_SAMPLES // batch_size) * batch_size
    for begin in range(start_batch * batch_size, len(indices), chunk):
        block = indices[begin : begin + chunk]
        full = len(block) - len(block) % batch_size
        yield from block[:full].reshape(-1, batch_size).tolist()
        if full < len(block):
            yield block[full:].tolist()


# The int keys of every state (all that states saved before the configuration keys hold).
_POSITION_KEYS = ("epoch", "batches_yielded", "seed", "num_replicas", "num_batches")


def _same(saved: object, current: object) -> bool:
    """Whether a saved configuration value equals ours (False for values that do not compare)."""
    try:
        return bool(saved == current)
    except (TypeError, ValueError):  # e.g. an array, whose == is elementwise
        return False


def _mismatch(key: str, saved: object, current: object) -> ValueError:
    return ValueError(f"state_dict[{key!r}] is {saved!r} but this sampler has {key}={current!r}; "
                      "the state was saved by a differently configured sampler")


def _compact_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, compact)``: the sorted distinct labels and each label's index among them.

    A dense table (O(N + C)) unless label ids are sparse and huge, which take ``np.unique``.
    """
    largest = int(labels.max())
    if largest < 4 * len(labels) + 2**16:
        present = np.bincount(labels, minlength=largest + 1) > 0
        classes = np.flatnonzero(present)
        table = np.zeros(largest + 1, dtype=np.int64)
        table[classes] = np.arange(len(classes))
        return classes, table[labels]
    classes, compact = np.unique(labels, return_inverse=True)
    return classes, compact.reshape(-1)


class _EpochBatchSampler(Sampler[list[int]]):
    """Epoch, resume position and state shared by the three samplers.

    Subclasses set ``seed``, ``num_replicas`` and ``rank`` and implement ``__len__`` and
    ``_batches(start)``, which yields the current epoch's batches from batch ``start`` on.
    """

    seed: int
    num_replicas: int
    rank: int

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0
        self._batches_yielded = 0
        self._resume_from = 0

    def __len__(self) -> int:
        raise NotImplementedError

    def _batches(self, start: int) -> Iterator[list[int]]:
        raise NotImplementedError

    def _epoch_changed(self) -> None:
        """Hook run after ``epoch`` changes (by ``set_epoch`` or ``load_state_dict``)."""

    def _configuration(self) -> dict[str, Any]:
        """What, besides seed, replicas and batch count, decides this sampler's batches."""
        raise NotImplementedError

    def _enter_epoch(self, epoch: int) -> None:
        """Set ``epoch`` and run the hook; a hook (schedule) that raises leaves the sampler as it was."""
        previous = self.epoch
        self.epoch = epoch
        try:
            self._epoch_changed()
        except BaseException:
            self.epoch = previous
            raise

    def __iter__(self) -> Iterator[list[int]]:
        start, self._resume_from = self._resume_from, 0
        self._batches_yielded = start
        for batch in self._batches(start):
            self._batches_yielded += 1
            yield batch

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch, which (with ``seed``) determines the next iteration's batches.

        Call it before each epoch, as with ``DistributedSampler``. Only a different epoch discards
        a position restored by :meth:`load_state_dict`, so a loop that calls ``set_epoch`` after
        restoring resumes mid-epoch.

        Args:
            epoch: non-negative epoch number.

        Raises:
            TypeError: if ``epoch`` is not an int.
            ValueError: if ``epoch`` is negative.
        """
        epoch = check_int(epoch, "epoch", minimum=0)
        previous = self.epoch
        self._enter_epoch(epoch)
        if epoch != previous:
            self._batches_yielded = 0
            self._resume_from = 0

    def state_dict(self) -> dict[str, Any]:
        """Return the position in the current epoch, for an exact mid-epoch resume.

        ``batches_yielded`` counts the batches handed out this epoch. A ``DataLoader`` with
        workers fetches ahead of the loop: use ``torchdata``'s ``StatefulDataLoader`` or overwrite
        ``batches_yielded`` with the number of batches your loop has finished.

        Returns:
            ``{"epoch", "batches_yielded"}`` and the keys that let :meth:`load_state_dict` reject
            a differently configured sampler: ``"seed"``, ``"num_replicas"``, ``"num_batches"``,
            ``"sampler"`` (the class name), ``"batch_size"`` and the sampler's own (``"num_samples"``,
            ``"drop_last"``, ``"weighting"``, ``"labels_digest"``, a hash of the labels). Not the
            rank (every rank may load rank 0's state) nor a ``schedule``.
        """
        return {"epoch": self.epoch, "batches_yielded": self._batches_yielded, "seed": self.seed,
                "num_replicas": self.num_replicas, "num_batches": len(self), "sampler": type(self).__name__,
                **self._configuration()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a position saved by :meth:`state_dict`: the next iteration yields the rest of its epoch.

        Args:
            state_dict: a mapping returned by :meth:`state_dict` (one with only the five int keys,
                saved before the configuration keys existed, is accepted).

        Raises:
            TypeError: if ``state_dict`` is not a mapping or holds non-int positions.
            ValueError: if a key is missing, the state names another sampler class or
                configuration (the message names the key), or ``batches_yielded`` is outside
                ``[0, len(self)]``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict must be a mapping, got {type(state_dict).__name__}")
        expected = self.state_dict()
        missing = sorted(set(_POSITION_KEYS) - set(state_dict))
        if missing:
            raise ValueError(f"state_dict is missing keys {missing}; expected keys {sorted(expected)}")
        # The class first: another class's configuration keys differ from ours anyway.
        for key in ("sampler", *self._configuration()):
            if key in state_dict and not _same(state_dict[key], expected[key]):
                raise _mismatch(key, state_dict[key], expected[key])
        values = {key: check_int(state_dict[key], f"state_dict[{key!r}]") for key in _POSITION_KEYS}
        for key in ("seed", "num_replicas", "num_batches"):
            if values[key] != expected[key]:
                raise _mismatch(key, values[key], expected[key])
        epoch = check_int(values["epoch"], "state_dict['epoch']", minimum=0)
        position = values["batches_yielded"]
        if not 0 <= position <= len(self):
            raise ValueError(f"state_dict['batches_yielded'] must be in [0, {len(self)}], got {position}")
        self._restore(epoch, position)

    def _restore(self, epoch: int, position: int) -> None:
        """Go to batch ``position`` of ``epoch`` (both already validated)."""
        self._enter_epoch(epoch)
        self._batches_yielded = position
        self._resume_from = position


class UniformBatchSampler(_EpochBatchSampler):
    """Instance-uniform batches: every index once per epoch, in a shuffled order.

    The order depends only on ``(seed, epoch)``. Under ``torch.distributed`` each rank takes
    every ``num_replicas``-th index of the shuffled order (disjoint shards); with
    ``drop_last=False`` the order is first padded by repeating its beginning, as
    ``DistributedSampler`` does, so every rank gets as many batches (unequal counts hang DDP).
    With ``drop_last=True`` each rank gets ``floor(N / (num_replicas * batch_size))`` full
    batches and the remaining indices are left out of that epoch.

    Args:
        labels: 1-D sequence, NumPy array or tensor with the class index of every sample of
            the dataset (e.g. ``dataset.targets``); only its length is used. Never modified.
        batch_size: indices per batch, >= 1.
        drop_last: drop the short last batch (see above) instead of yielding it.
        seed: non-negative seed; must be the same on every rank.
        num_replicas: number of processes (``None``: the process group's world size, else 1).
        rank: this process's rank in ``[0, num_replicas)`` (``None``: the process group's, else 0).

    Raises:
        TypeError: if ``labels`` are not integers, an int argument is not an int, or
            ``drop_last`` is not a bool.
        ValueError: if ``labels`` are empty, not 1-D or negative, an int argument is below its
            minimum, ``rank`` is outside ``[0, num_replicas)``, or ``drop_last=True`` leaves no
            full batch.

    Example:
        >>> sampler = UniformBatchSampler([0, 0, 0, 1, 1, 2, 2], batch_size=3, seed=1)
        >>> len(sampler)
        3
        >>> sorted(sum(sampler, []))
        [0, 1, 2, 3, 4, 5, 6]
    """

    def __init__(self, labels: LabelsLike, batch_size: int, *, drop_last: bool = False, seed: int = 0,
                 num_replicas: int | None = None, rank: int | None = None) -> None:
        super().__init__()
        self.num_samples = len(as_label_array(labels))
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.drop_last = check_flag("drop_last", drop_last)
        self.seed = check_int(seed, "seed", minimum=0)
        self.num_replicas, self.rank = _resolve_replicas(num_replicas, rank)
        if drop_last:
            self._num_batches = self.num_samples // (self.num_replicas * self.batch_size)
            self._samples_per_rank = self._num_batches * self.batch_size
            if self._num_batches == 0:
                raise ValueError(f"drop_last=True leaves no full batch: {self.num_samples} samples over "
                                 f"num_replicas={self.num_replicas} with batch_size={self.batch_size}")
        else:
            self._samples_per_rank = -(-self.num_samples // self.num_replicas)
            self._num_batches = -(-self._samples_per_rank // self.batch_size)

    def __len__(self) -> int:
        """Number of batches per epoch on this rank (the same on every rank)."""
        return self._num_batches

    def shard(self) -> np.ndarray:
        """Return this rank's indices for the current epoch, in the order they are batched.

        Returns:
            ``(samples_per_rank,)`` int64 array: ``padded_order[rank::num_replicas]``.
        """
        order = np.random.default_rng([_HEAD_STREAM, self.seed, self.epoch]).permutation(self.num_samples)
        total = self._samples_per_rank * self.num_replicas
        # np.resize repeats the order from its start when padding and truncates otherwise.
        order = np.resize(order, total) if total != self.num_samples else order
        return order[self.rank :: self.num_replicas]

    def _batches(self, start: int) -> Iterator[list[int]]:
        return _iter_batches(self.shard(), self.batch_size, start)

    def _configuration(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "drop_last": self.drop_last, "num_samples": self.num_samples}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(num_samples={self.num_samples}, batch_size={self.batch_size}, "
                f"drop_last={self.drop_last}, seed={self.seed}, num_replicas={self.num_replicas}, "
                f"rank={self.rank}, epoch={self.epoch})")


class DifferentialBatchSampler(_EpochBatchSampler):
    """Batches drawn with replacement: a class by ``weighting``, then an instance uniformly.

    Class ``c`` with ``n_c`` samples is drawn with probability ``p_c``:

    - ``"inverse"``: ``p_c ∝ 1 / n_c``, BBN's reversed sampler;
    - ``"reverse"``: ``p_c ∝`` the count at the mirrored rank of the sorted counts (the largest
      class gets the smallest; tied counts share the mean), the literal reversal of the profile;
    - ``"balanced"``: ``p_c ∝ 1``, CMO's minority sampler;
    - a float ``gamma``: ``p_c ∝ n_c ** -gamma`` (1 is ``"inverse"``, 0 is ``"balanced"``). The
      default, ``0.5``, trained best with ``MMTMix``'s defaults in the project's CIFAR-10-LT
      benchmarks (the results page of the docs), where ``"inverse"`` over-drew the rarest classes.

    Empty classes get ``p_c = 0``. A Walker alias table and ``floor(u * n_c)`` in float64 make
    sampling O(1) per index for any number of classes, far beyond the 2**24 categories where
    ``torch.multinomial`` stops. Each rank draws from a stream seeded by ``(seed, epoch, rank)``.

    Curriculum (off by default): ``schedule`` maps the epoch to ``t`` in ``[0, 1]`` and that
    epoch's class probabilities become ``(1 - t) * n_c / N + t * p_c``. BBN's cumulative
    learning is ``schedule=lambda epoch: min(1.0, (epoch / total_epochs) ** 2)``.

    Args:
        labels: the class index of every sample (as :class:`UniformBatchSampler`). Never modified.
        batch_size: indices per batch, >= 1.
        weighting: ``"inverse"``, ``"reverse"``, ``"balanced"`` or a float ``gamma`` (above).
        num_batches: batches per epoch on each rank, >= 1; ``None`` takes the length of a
            :class:`UniformBatchSampler` with the same labels, batch size and replicas.
        seed: non-negative seed.
        num_replicas: number of processes, as :class:`UniformBatchSampler`.
        rank: this process's rank, as :class:`UniformBatchSampler`.
        schedule: optional callable ``epoch -> t`` in ``[0, 1]`` (curriculum, above); ``None``: 1.

    Attributes:
        class_counts: ``(C,)`` int64 tensor, samples per class id in ``labels`` (``C = max + 1``).
        class_probabilities: ``(C,)`` float64 tensor, this epoch's class probabilities.
        num_batches: batches per epoch on this rank.

    Raises:
        TypeError: if ``labels`` are not integers, an int argument is not an int, ``weighting``
            is neither a str nor a real number, or ``schedule`` is not callable.
        ValueError: if ``labels`` are empty, not 1-D or negative, an int argument is below its
            minimum, ``weighting`` is an unknown name or not finite, ``rank`` is outside
            ``[0, num_replicas)``, or ``schedule`` returns a value outside ``[0, 1]``.

    Example:
        >>> labels = [0] * 90 + [1] * 9 + [2] * 1
        >>> sampler = DifferentialBatchSampler(labels, batch_size=4, num_batches=2, weighting="inverse")
        >>> sampler.class_probabilities
        tensor([0.0099, 0.0990, 0.8911], dtype=torch.float64)
        >>> [len(batch) for batch in sampler]
        [4, 4]
    """

    def __init__(self, labels: LabelsLike, batch_size: int, *, weighting: Weighting = 0.5,
                 num_batches: int | None = None, seed: int = 0, num_replicas: int | None = None,
                 rank: int | None = None, schedule: Callable[[int], float] | None = None) -> None:
        super().__init__()
        label_array = as_label_array(labels)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.weighting = check_weighting(weighting)
        self.seed = check_int(seed, "seed", minimum=0)
        self.num_replicas, self.rank = _resolve_replicas(num_replicas, rank)
        if num_batches is None:  # ceil(ceil(N / replicas) / batch_size), as UniformBatchSampler's
            num_batches = -(-len(label_array) // (self.num_replicas * self.batch_size))
        self.num_batches = check_int(num_batches, "num_batches", minimum=1)
        if schedule is not None and not callable(schedule):
            raise TypeError(f"schedule must be callable (epoch -> float in [0, 1]) or None, got {type(schedule).__name__}")
        self.schedule = schedule

        # On the K classes that occur, not label ids: labels [0, 1, 50_000_000] cost three classes.
        self._classes, compact = _compact_labels(label_array)
        counts = np.bincount(compact, minlength=len(self._classes))
        self._num_label_ids = int(self._classes[-1]) + 1
        # A stable sort on the narrowest unsigned dtype lets NumPy use its radix sort.
        narrow_labels = compact.astype(np.min_scalar_type(len(counts) - 1), copy=False)
        self._indices_by_class = np.argsort(narrow_labels, kind="stable").astype(np.int64, copy=False)
        self._counts = counts
        self._class_sizes = counts.astype(np.float64)
        self._class_starts = np.cumsum(counts) - counts
        self._natural_probabilities = counts / len(label_array)
        self._target_probabilities = _class_probabilities(counts, self.weighting)
        self._mix = math.nan
        self._labels_hash: str | None = None  # computed when a state first needs it
        self._probabilities: np.ndarray = self._target_probabilities
        self._thresholds: np.ndarray
        self._alias: np.ndarray
        self._epoch_changed()

    def _epoch_changed(self) -> None:
        mix = 1.0 if self.schedule is None else self.schedule(self.epoch)
        if isinstance(mix, bool) or not isinstance(mix, numbers.Real):
            raise TypeError(f"schedule must return a float in [0, 1], got {type(mix).__name__} {mix!r} "
                            f"for epoch {self.epoch}")
        if not 0.0 <= mix <= 1.0:
            raise ValueError(f"schedule must return a float in [0, 1], got {mix!r} for epoch {self.epoch}")
        if mix == self._mix:
            return
        self._mix = float(mix)
        natural, target = self._natural_probabilities, self._target_probabilities
        self._probabilities = target if mix == 1.0 else (1.0 - mix) * natural + mix * target
        self._thresholds, self._alias = alias_table(self._probabilities)

    @property
    def class_probabilities(self) -> torch.Tensor:
        """``(C,)`` float64 tensor: probability of drawing each class id in the current epoch."""
        return torch.from_numpy(self._by_label_id(self._probabilities, np.float64))

    @property
    def class_counts(self) -> torch.Tensor:
        """``(C,)`` int64 tensor: samples of each class id in ``labels`` (``C = max label + 1``)."""
        return torch.from_numpy(self._by_label_id(self._counts, np.int64))

    def _by_label_id(self, values: np.ndarray, dtype: type) -> np.ndarray:
        dense: np.ndarray = np.zeros(self._num_label_ids, dtype=dtype)
        dense[self._classes] = values
        return dense

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(batch_size={self.batch_size}, num_batches={self.num_batches}, "
                f"weighting={self.weighting!r}, classes={len(self._classes)}, seed={self.seed}, "
                f"num_replicas={self.num_replicas}, rank={self.rank}, epoch={self.epoch})")

    def __len__(self) -> int:
        """Number of batches per epoch on this rank, ``num_batches``."""
        return self.num_batches

    def _configuration(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "weighting": self.weighting, "labels_digest": self._labels_digest()}

    def _labels_digest(self) -> str:
        """A hash (hex, 32 characters) of the class ids, counts and indices, which determine every label."""
        if self._labels_hash is None:
            digest = hashlib.blake2b(digest_size=16)
            for part in (self._classes, self._counts, self._indices_by_class):
                digest.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
            self._labels_hash = digest.hexdigest()
        return self._labels_hash

    def _batches(self, start: int) -> Iterator[list[int]]:
        chunk_batches = max(1, _CHUNK_SAMPLES // self.batch_size)
        for first in range(start - start % chunk_batches, self.num_batches, chunk_batches):
            count = min(chunk_batches, self.num_batches - first)
            chunk_index = first // chunk_batches
            rng = np.random.default_rng([_TAIL_STREAM, self.seed, self.epoch, self.rank, chunk_index])
            indices = draw_from_classes(rng, count * self.batch_size, self._thresholds, self._alias,
                                        self._class_starts, self._class_sizes, self._indices_by_class)
            yield from _iter_batches(indices, self.batch_size, max(0, start - first))


class MMTBatchSampler(_EpochBatchSampler):
    """Paired batches for MMT: ``b`` head indices then ``b`` tail indices per step.

    The head half comes from a :class:`UniformBatchSampler` (this rank's shard, once per epoch)
    and the tail half from a :class:`DifferentialBatchSampler` with as many batches. With
    ``drop_last=False`` the last, short head batch of ``b' < b`` indices is paired with ``b'``
    tail indices, so every batch has an even ``2 * b'`` rows, which :class:`mmt_augment.MMTMix`
    splits into head and tail.

    Args:
        labels: the class index of every sample (as :class:`UniformBatchSampler`). Never modified.
        batch_size: ``b``, head (and tail) indices per step; each batch has ``2 * b`` indices.
        weighting: tail class weighting, see :class:`DifferentialBatchSampler`.
        drop_last: drop the short last head batch instead of yielding it.
        seed: non-negative seed; must be the same on every rank.
        num_replicas: number of processes, as :class:`UniformBatchSampler`.
        rank: this process's rank, as :class:`UniformBatchSampler`.
        schedule: optional tail curriculum, see :class:`DifferentialBatchSampler`.

    Raises:
        TypeError, ValueError: as :class:`UniformBatchSampler` and :class:`DifferentialBatchSampler`.

    Example:
        >>> labels = [0] * 6 + [1] * 3 + [2] * 1
        >>> sampler = MMTBatchSampler(labels, batch_size=4, seed=0)
        >>> [len(batch) for batch in sampler]  # 4 + 4 head rows, then 2 + 2
        [8, 8, 4]
        >>> loader = torch.utils.data.DataLoader(range(10), batch_sampler=sampler)
    """

    def __init__(self, labels: LabelsLike, batch_size: int, *, weighting: Weighting = 0.5,
                 drop_last: bool = False, seed: int = 0, num_replicas: int | None = None,
                 rank: int | None = None, schedule: Callable[[int], float] | None = None) -> None:
        super().__init__()
        self._head = UniformBatchSampler(labels, batch_size, drop_last=drop_last, seed=seed,
                                         num_replicas=num_replicas, rank=rank)
        self._tail = DifferentialBatchSampler(
            labels, batch_size, weighting=weighting, num_batches=len(self._head), seed=seed,
            num_replicas=self._head.num_replicas, rank=self._head.rank, schedule=schedule)
        self.batch_size = self._head.batch_size
        self.drop_last = drop_last
        self.weighting = self._tail.weighting
        self.seed = self._head.seed
        self.num_replicas = self._head.num_replicas
        self.rank = self._head.rank

    @property
    def class_probabilities(self) -> torch.Tensor:
        """``(C,)`` float64 tensor: tail probability of each class in the current epoch."""
        return self._tail.class_probabilities

    @property
    def class_counts(self) -> torch.Tensor:
        """``(C,)`` int64 tensor: number of samples of each class in ``labels``."""
        return self._tail.class_counts

    def _epoch_changed(self) -> None:
        self._tail.set_epoch(self.epoch)  # first: only the tail's schedule can raise
        self._head.set_epoch(self.epoch)

    def _configuration(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "drop_last": self.drop_last, "weighting": self.weighting,
                "labels_digest": self._tail._labels_digest()}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(batch_size={self.batch_size}, batches={len(self)}, "
                f"weighting={self.weighting!r}, drop_last={self.drop_last}, seed={self.seed}, "
                f"num_replicas={self.num_replicas}, rank={self.rank}, epoch={self.epoch})")

    def __len__(self) -> int:
        """Number of paired batches per epoch on this rank (the same on every rank)."""
        return len(self._head)

    def _batches(self, start: int) -> Iterator[list[int]]:
        for part in (self._head, self._tail):  # position both parts as load_state_dict does
            part._restore(part.epoch, start)
        for head, tail in zip(self._head, self._tail):
            yield head + tail[: len(head)]
