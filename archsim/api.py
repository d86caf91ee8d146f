"""The Python API: simulate a workload (or one layer) on a design.

::

    from archsim.api import simulate
    result = simulate("resnet18", "ws", overrides={"array.rows": 32, "array.cols": 32})
    result.cycles, result.energy_pj, result.tops_per_w(), result.layers_frame()

Pipeline per layer: mapper (``archsim.mapping.map_layer``) → `LayerSchedule` → SimPy engine
(`archsim.sim.simulate_schedule`) → `LayerCounters` → cost model (`archsim.cost.CostModel`) →
`LayerResult`. Layers run back to back from an empty pipeline, so the network is the sum of its
layers (see `archsim.sim.fsm`).

Layers that are identical except for their name (ResNet blocks repeat) are simulated once per
call and their counters reused: the simulation is deterministic, so this changes no number, only
the wall time (`SimContext.reuse_identical_layers`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from archsim.cost import CostModel, CostOptions
from archsim.design import Design, load_design
from archsim.results import LayerResult, NetworkResult
from archsim.schedule import LayerSchedule
from archsim.sim import DramTiming, FsmOptions, LayerCounters, dram_timing, simulate_schedule
from compress.trace import Trace, load_traces
from workloads.errors import ArchsimInputError
from workloads.layer import Layer
from workloads.network import Network

Mapper = Callable[..., LayerSchedule]


def _default_mapper() -> Mapper:
    from archsim.mapping import map_layer

    return map_layer


def _default_tech(name: str) -> Any:
    from archsim.tech import load_tech_table

    return load_tech_table(name)


def resolve_design(design: str | Path | Design, overrides: Mapping[str, Any] | None = None) -> Design:
    """A `Design` from a preset name, a YAML path or a Design, with dotted-path overrides applied."""
    if not isinstance(design, Design):
        design = load_design(design)
    if overrides:
        design = design.with_overrides(**dict(overrides))
    return design


def resolve_workload(workload: str | Network, batch: int | None = None) -> Network:
    if isinstance(workload, Network):
        return workload.with_batch(batch) if batch and batch != workload.batch else workload
    from workloads.zoo import get_network

    return get_network(workload, batch=batch or 1)


def resolve_traces(traces: Mapping[str, Trace] | Iterable[Trace] | str | Path | None,
                   network: Network) -> dict[str, Trace]:
    """Traces keyed by layer name; names that match no layer of the network are an input error."""
    if traces is None:
        return {}
    if isinstance(traces, (str, Path)):
        traces = load_traces(traces)
    by_name = dict(traces) if isinstance(traces, Mapping) else {t.layer.name: t for t in traces}
    names = {layer.name for layer in network}
    unknown = sorted(set(by_name) - names)
    if unknown:
        raise ArchsimInputError(f"traces for layers {unknown[:5]} that network {network.name!r} does not have; "
                                f"trace layer names must match the network's (see `archsim workloads show`)")
    return by_name


@dataclass
class SimContext:
    """Everything fixed for one design: tech table, cost model, DRAM timing, mapper, caches."""

    design: Design
    tech: Any = None
    mapper: Mapper | None = None
    fsm_options: FsmOptions = field(default_factory=FsmOptions)
    cost_options: CostOptions = field(default_factory=CostOptions)
    reuse_identical_layers: bool = True

    def __post_init__(self) -> None:
        if self.tech is None:
            self.tech = _default_tech(self.design.tech)
        if self.mapper is None:
            self.mapper = _default_mapper()
        self.cost = CostModel(self.design, self.tech, self.cost_options)
        spec = None if self.design.dram.unlimited else self.tech.dram_kind(self.design.dram.kind)
        self.timing: DramTiming = dram_timing(self.design, getattr(spec, "bandwidth_bytes_per_s", None),
                                              getattr(spec, "latency_ns", None))
        self._cache: dict[Any, LayerCounters] = {}

    def counters(self, layer: Layer, trace: Trace | None) -> LayerCounters:
        key = (dataclasses.replace(layer, name=""),
               None if trace is None else dataclasses.replace(trace, layer=dataclasses.replace(layer, name="")))
        hit = self._cache.get(key) if self.reuse_identical_layers else None
        if hit is not None:
            return dataclasses.replace(hit, layer_name=layer.name)
        schedule = self.mapper(layer, self.design, trace=trace)
        counters = simulate_schedule(schedule, self.design, self.timing, self.fsm_options)
        if self.reuse_identical_layers:
            self._cache[key] = counters
        return dataclasses.replace(counters, layer_name=layer.name)

    def layer_result(self, layer: Layer, trace: Trace | None = None) -> LayerResult:
        if trace is not None and trace.layer.name != layer.name:
            raise ArchsimInputError(f"trace is for layer {trace.layer.name!r}, not {layer.name!r}")
        counters = self.counters(layer, trace)
        return LayerResult(name=layer.name, design=self.design.name, clock_hz=self.design.clock_hz,
                           batch=layer.batch, dense_macs=layer.macs, counters=counters,
                           energy=self.cost.energy(counters), area=self.cost.area)


def simulate_layer(layer: Layer, design: str | Path | Design, trace: Trace | None = None, *,
                   overrides: Mapping[str, Any] | None = None, tech: Any = None,
                   mapper: Mapper | None = None) -> LayerResult:
    """One layer on one design. ``tech``/``mapper`` replace the design's table and dataflow mapper."""
    ctx = SimContext(resolve_design(design, overrides), tech=tech, mapper=mapper)
    return ctx.layer_result(layer, trace)


def simulate(workload: str | Network, design: str | Path | Design, *,
             traces: Mapping[str, Trace] | Iterable[Trace] | str | Path | None = None,
             overrides: Mapping[str, Any] | None = None, progress: bool = False, batch: int | None = None,
             tech: Any = None, mapper: Mapper | None = None, context: SimContext | None = None) -> NetworkResult:
    """A whole network on one design: layers back to back, results summed (see `NetworkResult`)."""
    network = resolve_workload(workload, batch)
    ctx = context or SimContext(resolve_design(design, overrides), tech=tech, mapper=mapper)
    by_name = resolve_traces(traces, network)
    layers: Iterable[Layer] = network.layers
    if progress:
        from tqdm import tqdm

        layers = tqdm(network.layers, desc=f"{network.name} on {ctx.design.name}", unit="layer")
    results = tuple(ctx.layer_result(layer, by_name.get(layer.name)) for layer in layers)
    return NetworkResult(name=network.name, design=ctx.design.name, clock_hz=ctx.design.clock_hz,
                         batch=network.batch, layers=results, area=ctx.cost.area)


__all__ = ["SimContext", "resolve_design", "resolve_traces", "resolve_workload", "simulate", "simulate_layer"]
