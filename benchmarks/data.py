"""Datasets for the benchmarks, held whole in memory as uint8 tensors.

Every loader returns an :class:`ImageDataset`: ``(N, C, H, W)`` uint8 train and test images,
int64 labels, class names and the per-channel mean/std of the training images (0..1 scale).
The training code moves the tensors to the training device once and gathers batches from
them by index, so the same object serves the device-resident and the DataLoader paths.

Sources:

* ``cifar10`` from an ``.npz`` file (the format in ``../shared/data/README.md``), the default
  when no ``root`` is given;
* ``cifar10`` / ``cifar100`` through ``torchvision.datasets`` with ``root`` (downloads when the
  network allows);
* any ``ImageFolder`` directory with ``train/`` and ``test/`` (or ``val/``) sub-directories;
* ``digits``: scikit-learn's 8x8 hand-written digits, which ship inside the package, so the
  quick run works offline on a fresh machine.

:func:`long_tailed` then keeps the long-tailed training subset chosen by
:func:`mmt_augment.make_long_tailed`; the test set stays balanced.
"""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "DATASETS",
    "DEFAULT_NPZ",
    "ImageDataset",
    "TensorImageDataset",
    "cifar_train_transform",
    "load_dataset",
    "load_digits",
    "load_image_folder",
    "load_npz",
    "load_torchvision",
    "long_tailed",
    "setting_key",
]

DATASETS = ("digits", "cifar10", "cifar100", "imagefolder")

# ``../shared/data/cifar10.npz`` relative to the repository root.
DEFAULT_NPZ = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10.npz"


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """A train/test image classification dataset held as uint8 tensors.

    Attributes:
        name: short name used in result keys (``"cifar10"``, ``"digits"``).
        train_images, test_images: ``(N, C, H, W)`` uint8.
        train_labels, test_labels: ``(N,)`` int64 class indices.
        class_names: one name per class.
        mean, std: per-channel statistics of the full (balanced) training set, 0..1 scale.
        source: where the data came from, by the option or package that loads it (``npz:cifar10.npz``,
            ``torchvision:cifar10``, ``sklearn.datasets.load_digits``), never a machine path.
        digest: SHA-256 (first 16 hex digits) of the images and labels, train then test: the
            data's identity in result files, whatever path it was read from.
        train_indices: indices of ``train_images`` in the source's training set (after
            :func:`long_tailed`; ``None`` for the full set).
    """

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str
    digest: str = ""
    train_indices: torch.Tensor | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[-1])

    @property
    def in_channels(self) -> int:
        return int(self.train_images.shape[1])


def _channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 ``(N, C, H, W)`` images on the 0..1 scale."""
    flat = images.transpose(0, 1).reshape(images.shape[1], -1).double() / 255.0
    return tuple(flat.mean(1).tolist()), tuple(flat.std(1).tolist())


def _from_arrays(
    name: str,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    class_names: tuple[str, ...],
    source: str,
) -> ImageDataset:
    """Build an :class:`ImageDataset` from NHWC uint8 arrays."""
    train = torch.from_numpy(np.ascontiguousarray(train_images)).permute(0, 3, 1, 2).contiguous()
    test = torch.from_numpy(np.ascontiguousarray(test_images)).permute(0, 3, 1, 2).contiguous()
    mean, std = _channel_stats(train)
    digest = hashlib.sha256()
    for array in (train_images, train_labels, test_images, test_labels):
        digest.update(np.ascontiguousarray(array).tobytes())
    return ImageDataset(
        name=name,
        train_images=train,
        train_labels=torch.as_tensor(np.asarray(train_labels), dtype=torch.int64),
        test_images=test,
        test_labels=torch.as_tensor(np.asarray(test_labels), dtype=torch.int64),
        class_names=class_names,
        mean=mean,
        std=std,
        source=source,
        digest=digest.hexdigest()[:16],
    )


NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def load_npz(path: str | Path = DEFAULT_NPZ, *, name: str = "cifar10") -> ImageDataset:
    """Load CIFAR-style arrays (``x_train``, ``y_train``, ``x_test``, ``y_test``, NHWC uint8).

    Pickled data is never loaded (``allow_pickle=False``).

    Raises:
        FileNotFoundError: when ``path`` does not exist (the message says how to get data).
        ValueError: naming the file, when it is not an ``.npz`` of those arrays (other keys,
            pickled or object arrays, images that are not ``(N, H, W, C)`` uint8, labels that are
            not one integer per image).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no dataset file at {path}; pass --npz PATH, or --root DIR to use torchvision's CIFAR"
        )
    expected = f"expected an .npz of {', '.join(NPZ_ARRAYS)} (NHWC uint8 images, integer labels)"
    try:
        arrays = np.load(path, allow_pickle=False)
        if not isinstance(arrays, np.lib.npyio.NpzFile):  # a single .npy array
            raise ValueError("one array, not an .npz archive")
        with arrays:
            missing = [key for key in NPZ_ARRAYS if key not in arrays.files]
            if missing:
                raise ValueError(f"no {', '.join(missing)} (it has {', '.join(arrays.files) or 'nothing'})")
            loaded = {key: arrays[key] for key in NPZ_ARRAYS}
            class_names = tuple(str(n) for n in arrays["class_names"]) if "class_names" in arrays.files else None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "pickle" in reason:  # numpy's message suggests loading it anyway; never here
            reason = "not an .npz archive of plain arrays (pickled data is never loaded)"
        raise ValueError(f"{path}: {reason}; {expected}") from None
    for split in ("train", "test"):
        images, labels = loaded[f"x_{split}"], loaded[f"y_{split}"]
        if images.dtype != np.uint8 or images.ndim != 4:
            raise ValueError(f"{path}: x_{split} is {images.dtype} {images.shape}; {expected}")
        if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(images) or (labels < 0).any():
            raise ValueError(f"{path}: y_{split} is {labels.dtype} {labels.shape} for {len(images)} images; {expected}")
    if class_names is None:
        class_names = tuple(str(c) for c in range(int(loaded["y_train"].max()) + 1))
    return _from_arrays(name, loaded["x_train"], loaded["y_train"], loaded["x_test"], loaded["y_test"], class_names,
                        f"npz:{path.name}")


def load_torchvision(name: str, root: str | Path, *, download: bool = True) -> ImageDataset:
    """Load ``cifar10`` or ``cifar100`` through ``torchvision.datasets`` (downloading if allowed)."""
    import torchvision

    classes = {"cifar10": torchvision.datasets.CIFAR10, "cifar100": torchvision.datasets.CIFAR100}
    if name not in classes:
        raise ValueError(f"name must be 'cifar10' or 'cifar100', got {name!r}")
    train = classes[name](str(root), train=True, download=download)
    test = classes[name](str(root), train=False, download=download)
    return _from_arrays(
        name, train.data, train.targets, test.data, test.targets, tuple(train.classes), f"torchvision:{name}"
    )


def load_image_folder(root: str | Path, *, image_size: int = 32, name: str | None = None) -> ImageDataset:
    """Load an ``ImageFolder`` tree (``root/train/<class>/*``, ``root/test/<class>/*``) resized.

    Images are converted to RGB and resized to ``image_size`` x ``image_size``; ``val/`` is
    used when there is no ``test/``.
    """
    import torchvision
    from torchvision.transforms import v2

    root = Path(root)
    test_dir = root / "test" if (root / "test").is_dir() else root / "val"
    if not (root / "train").is_dir() or not test_dir.is_dir():
        raise FileNotFoundError(f"expected {root}/train and {root}/test (or val) ImageFolder directories")
    transform = v2.Compose([v2.PILToTensor(), v2.Resize((image_size, image_size), antialias=True)])

    def read(directory: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
        folder = torchvision.datasets.ImageFolder(str(directory), transform=transform)  # RGB PIL loader
        images = torch.stack([folder[i][0] for i in range(len(folder))]).permute(0, 2, 3, 1).numpy()
        return images, np.asarray(folder.targets), folder.classes

    train_images, train_labels, classes = read(root / "train")
    test_images, test_labels, test_classes = read(test_dir)
    if test_classes != classes:
        raise ValueError(f"train and test class folders differ: {classes} vs {test_classes}")
    return _from_arrays(name or root.name, train_images, train_labels, test_images, test_labels,
                        tuple(classes), f"imagefolder:{root.name}")


def load_digits(*, test_fraction: float = 1 / 3, seed: int = 0) -> ImageDataset:
    """scikit-learn's 8x8 digits (1,797 grey-scale images, 10 classes), split per class.

    The 0..16 pixel values are rescaled to 0..255. A ``test_fraction`` of each class, chosen by
    ``numpy.random.RandomState(seed)``, forms the test set.
    """
    from sklearn.datasets import load_digits as _sklearn_digits

    bunch = _sklearn_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]  # NHWC, C=1
    labels = bunch.target.astype(np.int64)
    rng = np.random.RandomState(seed)
    test_mask = np.zeros(len(labels), dtype=bool)
    for label in range(10):
        members = rng.permutation(np.flatnonzero(labels == label))
        test_mask[members[: int(round(len(members) * test_fraction))]] = True
    return _from_arrays("digits", images[~test_mask], labels[~test_mask], images[test_mask], labels[test_mask],
                        tuple(str(d) for d in range(10)), "sklearn.datasets.load_digits")


def load_dataset(
    name: str = "digits",
    *,
    npz: str | Path | None = None,
    root: str | Path | None = None,
    download: bool = True,
    image_size: int = 32,
) -> ImageDataset:
    """Load a dataset by name; see the module docstring for the sources.

    ``cifar10`` reads ``npz`` (default :data:`DEFAULT_NPZ`) unless ``root`` is given.
    """
    if name == "digits":
        return load_digits()
    if name == "cifar10" and root is None:
        return load_npz(npz if npz is not None else DEFAULT_NPZ)
    if name in ("cifar10", "cifar100"):
        if root is None:
            raise ValueError(f"dataset {name!r} needs root (a torchvision download directory)")
        return load_torchvision(name, root, download=download)
    if name == "imagefolder":
        if root is None:
            raise ValueError("dataset 'imagefolder' needs root (a directory with train/ and test/)")
        return load_image_folder(root, image_size=image_size)
    raise ValueError(f"dataset must be one of {DATASETS}, got {name!r}")


def long_tailed(dataset: ImageDataset, imbalance_ratio: float, *, profile: str = "exp", seed: int = 0) -> ImageDataset:
    """Keep the long-tailed training subset of ``dataset`` (the test set is unchanged).

    The subset is :func:`mmt_augment.make_long_tailed` of the training labels, which follows
    the LDAM-DRW/BBN/CMO convention (for CIFAR-10 at ratio 100: 5000, 2997, ..., 50 images).
    """
    from mmt_augment import make_long_tailed

    indices = torch.as_tensor(
        np.asarray(make_long_tailed(dataset.train_labels.numpy(), imbalance_ratio, profile=profile, seed=seed)),
        dtype=torch.int64,
    )
    return dataclasses.replace(
        dataset,
        train_images=dataset.train_images[indices],
        train_labels=dataset.train_labels[indices],
        train_indices=indices,
    )


def setting_key(dataset: str, imbalance_ratio: float, profile: str, protocol: str) -> str:
    """The results key ``<dataset>-lt-ir<ratio>-<profile>-<protocol>``, e.g. ``cifar10-lt-ir100-exp-quick``."""
    ratio = int(imbalance_ratio) if float(imbalance_ratio).is_integer() else imbalance_ratio
    return f"{dataset}-lt-ir{ratio}-{profile}-{protocol}"


class TensorImageDataset(torch.utils.data.Dataset):
    """A map-style dataset over uint8 ``(N, C, H, W)`` images with a per-image transform.

    ``dataset[i]`` is ``(transform(images[i]), labels[i])``; this is what a ``DataLoader`` with a
    ``batch_sampler`` (e.g. :class:`mmt_augment.MMTBatchSampler`) reads from in its workers.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform=None) -> None:
        if len(images) != len(labels):
            raise ValueError(f"images and labels differ in length: {len(images)} vs {len(labels)}")
        self.images = images
        self.labels = labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]


def cifar_train_transform(mean, std, *, padding: int = 4, size: int = 32):
    """The standard CIFAR training transform in torchvision v2, for one uint8 ``(C, H, W)`` image.

    Random crop (zero padding ``padding``), horizontal flip, float in 0..1, normalisation.
    """
    from torchvision.transforms import v2

    return v2.Compose([
        v2.RandomCrop(size, padding=padding),
        v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(list(mean), list(std)),
    ])
