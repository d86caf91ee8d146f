"""A small CNN with heavy-tailed (Student-t) weights, shared by the compress tests."""

from __future__ import annotations

import torch
from torch import nn


class SmallNet(nn.Module):
    """conv1 (first conv, dense by default), a depthwise conv (dense by default), 3x3 and 1x1 convs
    with 32..64 channels, and a linear layer: every kind of decision the policy makes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.dw = nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.pw = nn.Conv2d(64, 64, 1, bias=True)
        self.conv3 = nn.Conv2d(64, 48, 3, stride=2, padding=1, bias=False)
        self.fc = nn.Linear(48, 40)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.dw(x))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = torch.relu(self.pw(x))
        x = torch.relu(self.conv3(x))
        return self.fc(x.mean((2, 3)))


def student_t_(model: nn.Module, df: float = 3.0, seed: int = 0, scale: float = 0.02) -> nn.Module:
    """Overwrite conv/linear weights with Student-t samples: heavy tails like trained weights."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                shape = module.weight.shape
                normal = torch.randn(shape, generator=gen)
                chi2 = torch.randn((int(df),) + tuple(shape), generator=gen).pow(2).sum(0)
                module.weight.copy_(normal / torch.sqrt(chi2 / df) * scale)
    return model
