"""Bad input for the activation-sparse designs: one clear `ArchsimInputError` each, naming the field and the fix."""

from __future__ import annotations

import dataclasses

import pytest
from s2ta_helpers import design, small_net

from archsim.api import compression_traces, simulate
from archsim.design import load_design
from archsim.mapping import map_layer
from compress.trace import Trace
from workloads.errors import ArchsimInputError

NET = small_net()
B1 = NET.layers[1]


def _trace(name: str = "s2ta") -> Trace:
    return {t.layer.name: t for t in compression_traces(NET, design(name))}[B1.name]


@pytest.mark.parametrize("density", [0.0, -0.1, 1.5])
def test_trace_activation_density_outside_0_1(density):
    with pytest.raises(ArchsimInputError, match=r"act_density must be in \(0, 1\]"):
        dataclasses.replace(_trace(), act_density=density)


@pytest.mark.parametrize("density", [0, 1.2])
def test_design_default_density_outside_0_1(density):
    with pytest.raises(ArchsimInputError, match="activations.default_density"):
        load_design("s2ta").with_overrides(**{"activations.default_density": density})


def test_activation_dbb_n_above_m_but_n_equal_m_means_no_pruning():
    with pytest.raises(ArchsimInputError, match="1 <= act_dbb_n <= act_dbb_m"):
        dataclasses.replace(_trace(), act_dbb_n=9, act_dbb_m=8)
    full = map_layer(B1, design("s2ta"), dataclasses.replace(_trace(), act_dbb_n=8, act_dbb_m=8))
    plain = map_layer(B1, design("s2ta-w"), _trace("s2ta-w"))
    assert full.macs == plain.macs and "N = M, no pruning" in full.notes


def test_weight_dbb_keeps_n_below_m():
    with pytest.raises(ArchsimInputError, match="weights.n"):
        load_design("s2ta").with_overrides(**{"weights.n": 4})
    with pytest.raises(ArchsimInputError, match=r"array.sparse_n \(4\) must be < array.sparse_m"):
        load_design("s2ta").with_overrides(**{"array.sparse_n": 4})


def test_dbb_block_of_the_trace_must_be_the_dbbizers():
    with pytest.raises(ArchsimInputError, match="activations.dbb_m = 8"):
        map_layer(B1, design("s2ta"), dataclasses.replace(_trace(), act_dbb_n=2, act_dbb_m=4))
    with pytest.raises(ArchsimInputError, match="activations.dbb_m"):
        load_design("s2ta").with_overrides(**{"activations.dbb_m": 1})


@pytest.mark.parametrize("name", ["s2ta", "sa-zvcg"])
def test_trace_without_statistics_and_no_default(name):
    bare = design(name, **{"activations.default_density": None})
    with pytest.raises(ArchsimInputError, match=r"no activation statistics .*compress\.activations"):
        simulate(NET, bare)


def test_activation_sparsity_needs_its_dataflow():
    with pytest.raises(ArchsimInputError, match="needs dataflow ews_compressed_act"):
        simulate(NET, design("s2ta", dataflow="ews_compressed"))


def test_unknown_activation_mode():
    with pytest.raises(ArchsimInputError, match="activations.sparsity"):
        load_design("s2ta").with_overrides(**{"activations.sparsity": "topk"})
