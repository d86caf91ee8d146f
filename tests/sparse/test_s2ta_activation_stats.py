"""Activation density measured from data flows from `compress` through the traces into S2TA's timing.

The model's activation density is known by construction: its inputs have exactly ``keep`` non-zeros in
every block of 8 features, so the measured density is keep/8, every block holds keep non-zeros, and the
S2TA model must run the layer at N = keep of 8: executed MACs = dense x 1/4 (weights) x keep/8
(activations), and the stream time scales by keep/8 exactly.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
from torch import nn

from archsim.api import simulate
from archsim.design import load_design
from archsim.mapping import map_layer
from compress.activations import attach_activation_stats, measure_activation_stats
from compress.config import CompressionConfig
from compress.trace import load_traces, save_traces
from compress.traces import structural_traces
from workloads import from_torch
from workloads.errors import ArchsimInputError

torch.set_num_threads(1)
ROWS = 64          # rows per batch: the stream of every fold is a multiple of 8 cycles
UNLIMITED = {"dram.unlimited": True}


class TwoFc(nn.Module):
    """fc1 reads the constructed input; fc2 reads relu(fc1(x)) (measured, not constructed); fc1 is called
    twice so its second call (``fc1#2``) is a layer of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, 64, bias=False)
        self.fc2 = nn.Linear(64, 64, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(self.fc1(x))))


def blocks_with(keep: int, batches: int = 3, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(input, label) batches whose every block of 8 features holds exactly ``keep`` non-zeros."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(batches):
        x = torch.rand(ROWS, 8, 8, generator=g) + 0.5                     # never zero
        pos = torch.rand(ROWS, 8, 8, generator=g).argsort(dim=-1)[..., :keep]
        mask = torch.zeros(ROWS, 8, 8).scatter_(-1, pos, 1.0)
        out.append(((x * mask).reshape(ROWS, 64), torch.zeros(ROWS)))
    return out


@pytest.fixture(scope="module")
def setup():
    model = TwoFc()
    network = from_torch(model, torch.zeros(ROWS, 64))
    traces = structural_traces(network, CompressionConfig(method="nm", n=1, m=4, mask_encoding="index"))
    return model, network, traces


def r_design():
    return load_design("s2ta").with_overrides(**UNLIMITED)


def _fc1(result):
    return next(lr for lr in result.layers if lr.name == "fc1")


@pytest.mark.parametrize("keep", [2, 3, 5])
def test_measured_density_sets_the_executed_macs_exactly(setup, keep):
    model, network, traces = setup
    stats = measure_activation_stats(model, blocks_with(keep), block_m=8)
    assert stats["fc1"].density == keep / 8 and stats["fc1"].nonzero == 3 * ROWS * 64 * keep // 8
    assert stats["fc1"].block_hist[keep] == 3 * ROWS * 8 and sum(stats["fc1"].block_hist) == 3 * ROWS * 8
    assert set(stats) == {"fc1", "fc1#2", "fc2"}                       # from_torch's layer names
    measured = attach_activation_stats(traces, stats)
    assert {t.layer.name: t.act_density for t in measured}["fc1"] == keep / 8
    r = simulate(network, "s2ta", traces=measured, overrides=UNLIMITED)
    fc1 = _fc1(r)
    dense = network.layers[0].macs
    assert fc1.counters.macs == dense * Fraction(1, 4) * Fraction(keep, 8)
    note = map_layer(network.layers[0], r_design(), measured[0]).notes
    assert f"activations DBB {keep}:8 (trace act_density {keep / 8:.3g})" in note
    # the same layer without statistics runs at the design's stated default (0.5 -> N = 4 of 8)
    default = _fc1(simulate(network, "s2ta", traces=traces, overrides=UNLIMITED))
    assert default.counters.macs == dense * Fraction(1, 4) * Fraction(4, 8)


def test_stream_time_scales_by_the_measured_bound(setup):
    """cycles(N) = overhead + (N/8) x stream, so the drops from N = 8 are in the ratio of (1 - N/8)."""
    model, network, traces = setup
    cycles = {}
    for keep in (3, 4, 8):
        stats = measure_activation_stats(model, blocks_with(keep), block_m=8)
        measured = attach_activation_stats(traces, stats, dbb_coverage=1.0)
        assert measured[0].act_dbb_n == keep and measured[0].act_dbb_m == 8
        cycles[keep] = _fc1(simulate(network, "s2ta", traces=measured, overrides=UNLIMITED)).counters.cycles
    weight_only = _fc1(simulate(network, "s2ta-w", traces=traces, overrides=UNLIMITED)).counters.cycles
    assert cycles[8] == weight_only                                    # N = M: no pruning, the s2ta-w array
    assert (cycles[8] - cycles[4]) * 5 == (cycles[8] - cycles[3]) * 4 and cycles[3] < cycles[4] < cycles[8]


def test_statistics_survive_the_trace_file(setup, tmp_path):
    """The Trace (JSON/Parquet) is the only compress -> archsim contract: the numbers must survive it."""
    model, network, traces = setup
    measured = attach_activation_stats(traces, measure_activation_stats(model, blocks_with(3), block_m=8),
                                       dbb_coverage=1.0)
    for suffix in (".json", ".parquet"):
        back = load_traces(save_traces(measured, tmp_path / f"t{suffix}"))
        assert [(t.act_density, t.act_dbb_n, t.act_dbb_m) for t in back] == \
               [(t.act_density, t.act_dbb_n, t.act_dbb_m) for t in measured]
        r = simulate(network, "s2ta", traces=tmp_path / f"t{suffix}", overrides=UNLIMITED)
        assert _fc1(r).counters.macs == network.layers[0].macs * 3 // 32


def test_conv_blocks_are_channels_of_one_pixel_per_group():
    """Grouped conv: a block is 8 consecutive channels of one group at one pixel; ReLU of a symmetric
    input is measured, not assumed; a 4-channel group has no 8-block (no histogram)."""
    conv = nn.Conv2d(32, 16, 3, padding=1, groups=2, bias=False)
    x = torch.zeros(2, 32, 5, 5)
    x[:, 0:3] = 1.0          # group 0, block 0: 3 non-zeros per pixel
    x[:, 16:24] = 1.0        # group 1, block 0: 8 non-zeros per pixel
    stats = measure_activation_stats(nn.Sequential(conv), x, block_m=8)["0"]
    assert stats.density == (3 + 8) / 32
    pixels = 2 * 5 * 5
    assert stats.block_hist[0] == 2 * pixels and stats.block_hist[3] == pixels and stats.block_hist[8] == pixels
    assert stats.dbb_n(0.75) == 3 and stats.dbb_n(1.0) == 8
    thin = measure_activation_stats(nn.Sequential(nn.Conv2d(8, 8, 1, groups=2)), torch.ones(1, 8, 2, 2),
                                    block_m=8)["0"]
    assert thin.block_hist is None and thin.density == 1.0
    with pytest.raises(ArchsimInputError, match="per-block"):
        thin.dbb_n()


def test_bad_measurement_input():
    with pytest.raises(ArchsimInputError, match="every input activation was zero"):
        model = nn.Sequential(nn.Linear(8, 8))
        stats = measure_activation_stats(model, torch.zeros(4, 8))
        network = from_torch(model, torch.zeros(4, 8))
        attach_activation_stats(structural_traces(network, CompressionConfig(method="nm", n=1, m=4)), stats)
    with pytest.raises(ArchsimInputError, match="block_m"):
        measure_activation_stats(nn.Linear(8, 8), torch.ones(1, 8), block_m=1)
    with pytest.raises(ArchsimInputError, match="no batch"):
        measure_activation_stats(nn.Linear(8, 8), [])
    with pytest.raises(ArchsimInputError, match="no Conv1d/Conv2d/Linear"):
        measure_activation_stats(nn.ReLU(), torch.ones(1, 8))
