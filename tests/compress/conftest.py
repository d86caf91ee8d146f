"""Fixtures for the compress tests (helpers live in compress_helpers.py: a unique module name,
because several test folders have a conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from compress_helpers import SmallNet, student_t_  # noqa: E402


@pytest.fixture
def small_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return student_t_(SmallNet()).eval()


@pytest.fixture
def small_input() -> torch.Tensor:
    return torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
