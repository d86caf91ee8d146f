"""Measured activation density flows from `compress.activations` through the traces into SparTen's timing.

The inputs are built with exactly ``keep`` non-zeros per 8 features, so fc1's measured density is keep/8 by
construction; SparTen's matched pairs (= executed MACs) are the expected inner-join size, dense MACs x weight
density x activation density (independence, archsim/mapping/sparten.py), so they must scale exactly with it.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from archsim.api import simulate
from compress.activations import attach_activation_stats, measure_activation_stats
from compress.config import CompressionConfig
from compress.traces import structural_traces
from workloads import from_torch

torch.set_num_threads(1)
ROWS = 64
UNLIMITED = {"dram.unlimited": True}


class Fc(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(128, 64, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc1(x)


def _data(keep: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(keep)
    x = torch.rand(ROWS, 16, 8, generator=g) + 0.5
    pos = torch.rand(ROWS, 16, 8, generator=g).argsort(dim=-1)[..., :keep]
    mask = torch.zeros(ROWS, 16, 8).scatter_(-1, pos, 1.0)
    return [((x * mask).reshape(ROWS, 128), torch.zeros(ROWS))]


@pytest.fixture(scope="module")
def setup():
    model = Fc()
    network = from_torch(model, torch.zeros(ROWS, 128))
    traces = structural_traces(network, CompressionConfig(method="sparse", density=0.25))
    return model, network, traces


@pytest.mark.parametrize("keep", [2, 3, 6])
def test_measured_density_sets_sparten_matched_pairs(setup, keep):
    model, network, traces = setup
    stats = measure_activation_stats(model, _data(keep))
    assert stats["fc1"].density == keep / 8
    measured = attach_activation_stats(traces, stats)
    r = simulate(network, "sparten-40nm", traces=measured, overrides=UNLIMITED)
    dense = network.layers[0].macs
    expected = dense * measured[0].density * keep / 8
    assert r.macs == pytest.approx(expected, rel=1e-3)
    # a denser measured input means proportionally more matched pairs and more time, never less
    denser = attach_activation_stats(traces, measure_activation_stats(model, _data(8)))
    r8 = simulate(network, "sparten-40nm", traces=denser, overrides=UNLIMITED)
    assert r8.macs == pytest.approx(r.macs * 8 / keep, rel=1e-3) and r8.cycles >= r.cycles
