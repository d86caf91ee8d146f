"""The CIFAR-10 ResNets of He et al., "Deep Residual Learning for Image Recognition" (2016), §4.2.

Three stages of ``n`` basic blocks with 16, 32 and 64 channels on 32x32 inputs (ResNet-20: n = 3,
6n + 2 = 20 weighted layers), a 3x3 stem conv, global average pooling and a 10-way linear layer.

Shortcut: **option A** of the paper — the CIFAR choice the paper itself uses for these networks —
an identity shortcut that, where the block halves the resolution and doubles the channels,
subsamples the input with stride 2 and zero-pads the new channels. It has no parameters and no
MACs, which is why ResNet-20 has 0.27 M parameters (269,722) and about 41 M MACs. (Option B would
add two 1x1 projection convs, +2,560 weights and +0.5 M MACs.)
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class _PadShortcut(nn.Module):
    """Option-A shortcut: stride-2 subsampling plus zero channels (no parameters)."""

    def __init__(self, extra_channels: int) -> None:
        super().__init__()
        self.extra_channels = extra_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.extra_channels // 2
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, half, self.extra_channels - half))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a residual connection."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = _PadShortcut(out_channels - in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    """ResNet-(6n+2) for 32x32 inputs."""

    def __init__(self, blocks_per_stage: int = 3, num_classes: int = 10, widths: tuple[int, int, int] = (16, 32, 64)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers = []
        in_channels = widths[0]
        for stage, width in enumerate(widths):
            blocks = []
            for i in range(blocks_per_stage):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(in_channels, width, stride))
                in_channels = width
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(widths[-1], num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.fc(out)


def resnet20(num_classes: int = 10) -> ResNetCifar:
    """ResNet-20 for CIFAR-10 (option-A shortcuts, see module docstring)."""
    return ResNetCifar(blocks_per_stage=3, num_classes=num_classes)
