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

Compressed weights
------------------
A design whose ``weights.format`` is not ``dense`` (the presets ``ews-c``, ``ews-cm``, ``mvq``,
``s2ta``) needs a `Trace` per layer. Without ``traces=`` they are derived *structurally* from the
workload (`compression_traces`: exact sizes and densities, no clustering, via
`compress.traces.structural_traces`), with the design's format as the default compression and
``compression=`` overriding it::

    simulate("resnet18", "mvq")                                     # 1:4, d=16, k=256 from mvq.yaml
    simulate("resnet18", "mvq", compression={"d": 8, "k": 128})     # other d, k (still 1:4)
    simulate("resnet18", "ews-c", compression={"d": 8})              # other d on the VQ design
    simulate("resnet18", "mvq", traces="r18_traces.json")           # from `archsim compress`

A trace format the design cannot decode (VQ codes on ``ws``/``ews``, unstructured ``sparse`` on
``mvq``) is an input error naming the designs that can (`archsim.decode`).

Array size and iso condition
----------------------------
A design given by *name* (preset or .yaml) is sized by `archsim.sizing.size_design`, the rule
`archsim compare` uses, under ``iso`` (default ``"throughput"``, as in compare): ``array.rows``
(and an ``array.rows`` override) is the dense-equivalent reduction length, so an N:M sparse array
gets ``rows·N/M`` physical PE rows; ``iso="pes"`` reads it as physical PE rows (the preset YAML's
own convention). ``simulate("resnet18", "mvq")`` therefore gives what ``archsim compare`` reports
for "mvq"; ``iso="area"`` needs a baseline and is compare-only. A `Design` object is simulated as
built (``array.rows`` = physical rows). The result states both arrays and the iso condition
(`NetworkResult.sizing`)::

    simulate("resnet18", "mvq")                  # 64x64 dense-equivalent = 16x64 physical PEs at 1:4
    simulate("resnet18", "mvq", iso="pes")       # 64x64 physical PEs = 256x64 dense-equivalent

Layers the compression policy leaves dense (first conv, depthwise, shapes d does not tile; see
`compress.policy`) get dense traces and run dense: int8 weights, no decode, and on an N:M sparse
array one reduction row per PE row (no speed-up).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from archsim.cost import CostModel, CostOptions
from archsim.decode import check_decodable
from archsim.design import Design, load_design
from archsim.results import LayerResult, NetworkResult
from archsim.schedule import LayerSchedule
from archsim.sim import DramTiming, FsmOptions, LayerCounters, dram_timing, simulate_schedule
from archsim.sizing import AS_BUILT, DEFAULT_ISO, ArraySizing, size_design, sizing_of
from compress.trace import Trace, load_traces, with_layer
from workloads.errors import ArchsimInputError
from workloads.layer import Layer
from workloads.network import Network

Mapper = Callable[..., LayerSchedule]


def _default_mapper() -> Mapper:
    from archsim.mapping import map_layer

    return map_layer


def _default_tech(name: str, supply_voltage_v: float | None = None) -> Any:
    """The design's tech table, loaded for its supply-voltage corner (None = the table's own corner)."""
    from archsim.tech import load_tech_table

    return load_tech_table(name, supply_voltage_v=supply_voltage_v)


def resolve_design(design: str | Path | Design, overrides: Mapping[str, Any] | None = None) -> Design:
    """A `Design` from a preset name, a YAML path or a Design, with dotted-path overrides applied."""
    if not isinstance(design, Design):
        design = load_design(design)
    if overrides:
        design = design.with_overrides(**dict(overrides))
    return design


def resolve_workload(workload: str | Network, batch: int | None = None) -> Network:
    """A zoo network by name (or a `Network`) at ``batch`` (None = batch 1 / the Network's own); ``batch=0``
    and other non-positive or non-integer values are an input error, as ``--batch 0`` is in the CLI."""
    from workloads.network import check_batch

    if batch is not None:
        batch = check_batch(batch)
    if isinstance(workload, Network):
        return workload.with_batch(batch) if batch is not None and batch != workload.batch else workload
    from workloads.zoo import get_network

    return get_network(workload, batch=1 if batch is None else batch)


def resolve_traces(traces: Mapping[str, Trace] | Iterable[Trace] | str | Path | None,
                   network: Network) -> dict[str, Trace]:
    """Traces keyed by layer name; names that match no layer of the network are an input error."""
    if traces is None:
        return {}
    if isinstance(traces, (str, Path)):
        traces = load_traces(traces)
    by_name = dict(traces) if isinstance(traces, Mapping) else {t.layer.name: t for t in traces}
    layers = {layer.name: layer for layer in network}
    unknown = sorted(set(by_name) - set(layers))
    if unknown:
        raise ArchsimInputError(f"traces for layers {unknown[:5]} that network {network.name!r} does not have; "
                                f"trace layer names must match the network's (see `archsim workloads show`)")
    out: dict[str, Trace] = {}
    for name, trace in by_name.items():
        if not isinstance(trace, Trace):
            raise ArchsimInputError(f"trace for layer {name!r} must be a compress.trace.Trace, got "
                                    f"{type(trace).__name__}")
        layer = layers[name]
        if dataclasses.replace(trace.layer, name=name, batch=layer.batch) != layer:
            raise ArchsimInputError(
                f"trace for layer {name!r} has a different shape than network {network.name!r}'s layer "
                f"({_shape(trace.layer)} vs {_shape(layer)}); make the traces for this network "
                f"(`archsim compress` on the same model, or compression= for structural traces)")
        out[name] = trace if trace.layer == layer else with_layer(trace, layer)
    return out


def _shape(layer: Layer) -> str:
    return (f"{layer.kind.value} in={layer.in_channels} out={layer.out_channels} k={layer.kernel_h}x{layer.kernel_w} "
            f"groups={layer.groups} input={layer.in_h}x{layer.in_w}")


_FORMAT_METHOD = {"vq": "vq", "nm": "nm", "mvq": "mvq", "sparse": "sparse"}


def compression_config(design: Design, compression: Any = None) -> Any:
    """The `compress.config.CompressionConfig` for structural traces on ``design`` (None = none needed).

    ``compression`` is None (the design's ``weights`` section), a mapping of `CompressionConfig`
    fields that override the design's (``n``, ``m``, ``d``, ``k``, ``method``, ``mask_encoding``,
    ``exclude``, ``linear_d``, ...), or a `CompressionConfig` used as is. The value precision of
    ``nm`` weights is the design's weight precision.
    """
    from compress.config import CompressionConfig

    if isinstance(compression, CompressionConfig):
        config = compression
    else:
        if compression is not None and not isinstance(compression, Mapping):
            raise ArchsimInputError(f"compression must be a mapping of CompressionConfig fields or a "
                                    f"CompressionConfig, got {type(compression).__name__}")
        w = design.weights
        if w.format == "dense" and not compression:
            return None
        base: dict[str, Any] = {"method": _FORMAT_METHOD.get(w.format, "mvq"), "n": w.n if w.format in ("nm", "mvq")
                                else 1, "m": w.m if w.format in ("nm", "mvq") else 4, "d": w.d, "k": w.k,
                                "codebook_bits": w.codebook_bits, "mask_encoding": w.mask_encoding,
                                "value_bits": design.precision.weight_bits}
        if w.format == "dense":
            base.update(n=1, m=4)
        if w.format == "sparse":     # unstructured pruning at the design's weight density (SparTen)
            base["density"] = w.density
        fields = set(CompressionConfig.__dataclass_fields__)
        unknown = sorted(set(compression or {}) - fields)
        if unknown:
            raise ArchsimInputError(f"compression: unknown field(s) {unknown}; known: n, m, d, k, method, "
                                    f"mask_encoding, codebook_bits, exclude, linear_d, linear_k, ... "
                                    f"(compress.config.CompressionConfig)")
        base.update(compression or {})
        config = CompressionConfig(**base)
    if config.method in ("mvq", "prune_vq") and config.d % config.m:
        raise ArchsimInputError(f"compression: d={config.d} is not a multiple of M={config.m}; N:M groups lie inside "
                                f"each d-dim subvector, so pick d as a multiple of M (e.g. d=16 for M=4)")
    return config


def compression_traces(network: Network, design: Design, compression: Any = None) -> list[Trace] | None:
    """Structural traces of ``network`` for ``design`` (see `compression_config`); None for a dense design."""
    config = compression_config(design, compression)
    if config is None:
        return None
    from compress.traces import structural_traces

    return structural_traces(network, config)


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
            self.tech = _default_tech(self.design.tech, self.design.supply_voltage_v)
        elif self.design.supply_voltage_v is not None:
            loaded_for = getattr(getattr(self.tech, "meta", None), "supply_voltage_v", None)
            if loaded_for != self.design.supply_voltage_v:
                raise ArchsimInputError(
                    f"design {self.design.name!r} has supply_voltage_v={self.design.supply_voltage_v:g} but the tech "
                    f"table passed in was loaded for {loaded_for!r}; pass load_tech_table(..., supply_voltage_v="
                    f"{self.design.supply_voltage_v:g}) or leave tech unset")
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
        if trace is not None:   # issue 13.3: a format the design cannot decode is an error (archsim.decode)
            check_decodable(self.design, layer.name, trace.format)
        counters = self.counters(layer, trace)
        return LayerResult(name=layer.name, design=self.design.name, clock_hz=self.design.clock_hz,
                           batch=layer.batch, dense_macs=layer.macs, counters=counters,
                           energy=self.cost.energy(counters), area=self.cost.area)


def simulate_layer(layer: Layer, design: str | Path | Design, trace: Trace | None = None, *,
                   overrides: Mapping[str, Any] | None = None, tech: Any = None,
                   mapper: Mapper | None = None, iso: str = DEFAULT_ISO) -> LayerResult:
    """One layer on one design. ``tech``/``mapper`` replace the design's table and dataflow mapper; a design
    given by name is sized under ``iso`` exactly as in `simulate` (`archsim.sizing`)."""
    ctx = SimContext(sized_design(design, overrides, iso=iso)[0], tech=tech, mapper=mapper)
    return ctx.layer_result(layer, trace)


def sized_design(design: str | Path | Design, overrides: Mapping[str, Any] | None = None, *,
                 iso: str = DEFAULT_ISO) -> tuple[Design, ArraySizing]:
    """The design `simulate` runs and how it was sized: a name through `archsim.sizing.size_design` (the
    rule compare uses, at the design's own compression parameters), a `Design` object as built with
    ``overrides`` applied."""
    if isinstance(design, Design):
        built = resolve_design(design, overrides)
        return built, sizing_of(built, AS_BUILT)
    return size_design(design, iso=iso, overrides=overrides)


def simulate(workload: str | Network, design: str | Path | Design, *,
             traces: Mapping[str, Trace] | Iterable[Trace] | str | Path | None = None,
             compression: Any = None,
             overrides: Mapping[str, Any] | None = None, progress: bool = False, batch: int | None = None,
             tech: Any = None, mapper: Mapper | None = None, context: SimContext | None = None,
             iso: str = DEFAULT_ISO) -> NetworkResult:
    """A whole network on one design: layers back to back, results summed (see `NetworkResult`).

    ``traces``: per-layer compression traces (mapping, iterable or a .json/.parquet file). Without
    them, a compressed-weight design gets structural traces (``compression``: overrides of the
    design's ``weights`` format; see `compression_config`). Giving both is an input error.

    ``iso``: how a design given by name is sized (module docstring, `archsim.sizing`); ignored for a
    `Design` object or a ``context`` (already built)."""
    network = resolve_workload(workload, batch)
    if context is not None:
        ctx, sizing = context, sizing_of(context.design, AS_BUILT)
    else:
        built, sizing = sized_design(design, overrides, iso=iso)
        ctx = SimContext(built, tech=tech, mapper=mapper)
    if traces is not None and compression is not None:
        raise ArchsimInputError("give either traces= (from `archsim compress`) or compression= (structural "
                                "traces), not both")
    if traces is None:
        traces = compression_traces(network, ctx.design, compression)
    by_name = resolve_traces(traces, network)
    if traces is not None and not by_name and ctx.design.weights.format != "dense":   # e.g. traces=[]
        raise ArchsimInputError(f"traces= holds no trace; design {ctx.design.name!r} stores compressed weights, so "
                                f"give one trace per layer or leave traces= unset for structural traces")
    for layer in network.layers:   # fail before simulating anything (issue 13.3; archsim.decode)
        if layer.name in by_name:
            check_decodable(ctx.design, layer.name, by_name[layer.name].format)
    layers: Iterable[Layer] = network.layers
    if progress:
        from tqdm import tqdm

        layers = tqdm(network.layers, desc=f"{network.name} on {ctx.design.name}", unit="layer")
    results = tuple(ctx.layer_result(layer, by_name.get(layer.name)) for layer in layers)
    return NetworkResult(name=network.name, design=ctx.design.name, clock_hz=ctx.design.clock_hz,
                         batch=network.batch, layers=results, area=ctx.cost.area, sizing=sizing)


__all__ = ["SimContext", "compression_config", "compression_traces", "resolve_design", "resolve_traces",
           "resolve_workload", "simulate", "simulate_layer", "sized_design"]
