"""CIFAR ResNets (He et al. 2016, section 4.2): depth 6n+2, widths 16/32/64.

The long-tailed CIFAR literature (LDAM-DRW, BBN, CMO, MMT) trains ResNet-32 with the
option-A shortcut: when a block halves the resolution and doubles the width, the identity
path is subsampled by 2 and zero-padded in the channel dimension, so the shortcut has no
parameters. Option B uses a 1x1 convolution with batch norm instead.

Example:
    >>> import torch
    >>> model = cifar_resnet("resnet8", num_classes=10)
    >>> model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ARCHITECTURES", "CifarResNet", "cifar_resnet"]

# Blocks per stage for each named depth (depth = 6 * blocks + 2).
ARCHITECTURES = {"resnet8": 1, "resnet14": 2, "resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9}


class _OptionAShortcut(nn.Module):
    """Parameter-free shortcut: subsample by ``stride`` and zero-pad the new channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        subsampled = features[:, :, :: self.stride, :: self.stride]
        # Pad half the extra channels on each side, as the reference implementation does.
        half = self.extra_channels // 2
        return F.pad(subsampled, (0, 0, 0, 0, half, self.extra_channels - half))


class _BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a residual connection."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, shortcut: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride == 1 and in_channels == out_channels:
            self.shortcut: nn.Module = nn.Identity()
        elif shortcut == "A":
            self.shortcut = _OptionAShortcut(in_channels, out_channels, stride)
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(features)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(features))


class CifarResNet(nn.Module):
    """A CIFAR ResNet: a 3x3 stem, three stages of basic blocks, global pooling, a linear head.

    Args:
        blocks_per_stage: basic blocks in each of the three stages (depth = 6 * blocks + 2).
        num_classes: output logits.
        in_channels: image channels (3 for CIFAR, 1 for grey-scale data).
        width: channels of the first stage; the others use 2x and 4x.
        shortcut: ``"A"`` (zero-padded identity, the CIFAR-LT convention) or ``"B"`` (1x1 conv).

    Raises:
        ValueError: for a non-positive size or an unknown shortcut.
    """

    def __init__(
        self,
        blocks_per_stage: int,
        num_classes: int,
        *,
        in_channels: int = 3,
        width: int = 16,
        shortcut: str = "A",
    ) -> None:
        super().__init__()
        for name, value in (("blocks_per_stage", blocks_per_stage), ("num_classes", num_classes),
                            ("in_channels", in_channels), ("width", width)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if shortcut not in ("A", "B"):
            raise ValueError(f"shortcut must be 'A' or 'B', got {shortcut!r}")
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()
        )
        layers = []
        channels = width
        for stage in range(3):
            out_channels = width * 2**stage
            for block in range(blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(_BasicBlock(channels, out_channels, stride, shortcut))
                channels = out_channels
        self.stages = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)
        self._initialise()

    def _initialise(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.stages(self.stem(images))
        return self.classifier(features.mean(dim=(2, 3)))


def cifar_resnet(
    architecture: str, num_classes: int, *, in_channels: int = 3, width: int = 16, shortcut: str = "A"
) -> CifarResNet:
    """Build a named CIFAR ResNet (``"resnet8"``, ``"resnet20"``, ``"resnet32"``, ...).

    Raises:
        ValueError: for an architecture not in :data:`ARCHITECTURES`.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {sorted(ARCHITECTURES)}, got {architecture!r}")
    return CifarResNet(
        ARCHITECTURES[architecture], num_classes, in_channels=in_channels, width=width, shortcut=shortcut
    )
