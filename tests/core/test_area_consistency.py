"""Area must hold what the events use (issue 11, item 2).

For every preset and a set of layer shapes: (1) every component that a layer's schedule has events for has an
area row (hardware that does work must exist), and (2) every PE-local storage the mapper declares it uses
(`LayerSchedule.storage_bits_per_pe`, derived from the mapper's own fold decisions) fits the capacity the cost
model gives that storage in area (`CostModel.storage_capacity_bits`, derived from the design's fields). A new
design whose events touch a storage the area model forgot, or that uses more entries than it pays for, fails here.
"""

from __future__ import annotations

import pytest

from archsim.api import compression_traces
from archsim.cost import CostModel
from archsim.design import list_presets, load_design
from archsim.mapping import map_layer
from archsim.tech import load_tech_table
from workloads.layer import conv2d, linear
from workloads.network import Network

#: components that are not hardware with an area of their own
NOT_HARDWARE = {"dram", "leakage", "control"}


def _layers() -> Network:
    return Network(name="shapes", layers=(
        conv2d("conv1", 3, 32, 32, 7, stride=2, padding=3),     # first conv (left dense by the policy)
        conv2d("conv3x3", 64, 64, 14, 3, padding=1),
        conv2d("conv1x1", 128, 96, 7, 1),
        conv2d("dw", 32, 32, 14, 3, padding=1, groups=32),
        linear("fc", 256, 100),
    ))


NETWORK = _layers()


def _schedules(design_name: str):
    design = load_design(design_name)
    traces = compression_traces(NETWORK, design) or [None] * len(NETWORK.layers)
    return design, [map_layer(layer, design, trace) for layer, trace in zip(NETWORK.layers, traces)]


@pytest.mark.parametrize("name", list_presets())
def test_every_component_with_events_has_area(name: str) -> None:
    design, schedules = _schedules(name)
    cost = CostModel(design, load_tech_table(design.tech))
    area, holder = cost.area, {c: row for c, (row, _) in cost.storage_capacity_bits().items()}
    for sched in schedules:
        used = {comp for tile in sched.tiles for (comp, _), n in tile.events.items() if n}
        missing = sorted(c for c in used - NOT_HARDWARE if holder.get(c, c) not in area.index)
        assert not missing, f"{name}/{sched.layer_name}: events on {missing} but no area row"
        assert area.loc["pe_array", "area_um2"] > 0


@pytest.mark.parametrize("name", list_presets())
def test_storage_the_mapper_uses_fits_the_area(name: str) -> None:
    design, schedules = _schedules(name)
    capacity = CostModel(design, load_tech_table(design.tech)).storage_capacity_bits()
    area = CostModel(design, load_tech_table(design.tech)).area
    for sched in schedules:
        assert sched.storage_bits_per_pe, f"{name}/{sched.layer_name}: the mapper declares no PE storage"
        events = {comp for tile in sched.tiles for (comp, _), n in tile.events.items() if n}
        for comp in events & {"weight_rf", "activation_rf", "psum_rf", "weight_index"}:
            assert comp in sched.storage_bits_per_pe, f"{name}/{sched.layer_name}: events on {comp}, no declared use"
        for comp, need in sched.storage_bits_per_pe.items():
            assert comp in capacity, (f"{name}/{sched.layer_name}: uses {comp} ({need} b/PE), which has no area; "
                                      f"give it an area row (archsim.cost.AREA_ROWS) and register its capacity "
                                      f"(archsim.cost.STORAGE_CAPACITY)")
            row, bits = capacity[comp]
            assert need <= bits, f"{name}/{sched.layer_name}: {comp} needs {need} b/PE, area holds {bits} b"
            assert area.loc[row, "area_um2"] > 0


def test_sparse_pe_area_holds_candidate_windows_and_index() -> None:
    """The 1:4 sparse PE: ARF of activation_depth x 4 entries and a 2-bit index per WRF entry."""
    mvq = load_design("mvq")
    cm = CostModel(mvq, load_tech_table("40nm"))
    cap = cm.storage_capacity_bits()
    rf = mvq.register_files
    assert cap["activation_rf"] == ("activation_rf", rf.activation_depth * 4 * 8)
    assert cap["weight_index"] == ("weight_index", rf.weight_depth * 2)
    ews = CostModel(load_design("ews"), load_tech_table("40nm")).storage_capacity_bits()
    assert "weight_index" not in ews and ews["activation_rf"] == ("activation_rf", rf.activation_depth * 8)


def test_a_design_that_forgets_a_storage_fails() -> None:
    """The check is not vacuous: an area model without the sparse ARF sizing is caught."""
    design, schedules = _schedules("mvq")
    need = max(s.storage_bits_per_pe["activation_rf"] for s in schedules)
    assert need > design.register_files.activation_depth * design.precision.act_bits
