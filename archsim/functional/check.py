"""Check a workload's layers in functional mode against torch and against the timing model.

`check_workload(workload, design, ...)` is what ``archsim run --functional`` runs. For every selected
conv / linear layer it

1. draws seeded random float weights (torch) and compresses them with the *design's* weight
   format, through the same `CompressionConfig` and per-layer policy the timing path uses
   (`archsim.api.compression_config`, `compress.traces.plan_network`): dense int8 (``ws``/``ews``,
   and layers the policy keeps dense), VQ (``ews-c``), MVQ (``ews-cm``, ``mvq``) or N:M values +
   mask (``s2ta``) — by `compress.layer.compress_weight`, i.e. real clustering, int8 codebook;
2. draws seeded int8 activations and runs `archsim.functional.run_functional` on the design;
3. computes the reference: torch's convolution (float64, exact for these sums) on the weight
   *reconstructed by compress* from its own integer tensors (``mask ⊙ codebook_int[codes]`` laid
   out by `CompressedLayer.reconstruct_int`) — independent of the functional loader — and asks
   for exact equality;
4. compares the functional counters with the timing model's events for the same layer, design and
   trace (`archsim.api.SimContext.layer_result`, i.e. `simulate_layer`): executed MACs
   (``pe_array.mac``), gated MACs, mux selects, codebook lookups and LZC mask decodes. Lookups and
   decodes are compared only where the comparison is defined: the timing model counts
   ``ceil(fold weights / d)`` lookups per fold, which equals the loader's count only when every fold
   holds whole subvectors, and only when each fold's weights are loaded once (loop order NKM); on a
   sparse array, mask decodes only when the weights' M is the array's. Otherwise the count is
   reported as not compared, with the reason.

Every conv / linear layer is checked by default (matmuls have no stored weight and are skipped, by
name). A layer whose dense MACs exceed the per-layer budget (``max_macs``, ``--max-macs``, default
`DEFAULT_MAX_MACS`) is checked on a seeded *sample of its output positions* (`sample_positions`:
always the first and the last position — the padded corners — plus random others, as many as the
budget pays for, at least one), every output channel of each: those outputs must equal torch
exactly. Every output position is an independent row of the layer's im2col product, so the per-pixel
counters (MACs, gated MACs, mux selects, input reads, psum traffic) of the sample are exactly
``positions sampled x`` a per-position amount, and are extrapolated to all positions
(`extrapolate_counts`, exact integer arithmetic: the division is checked) before they are compared
with the timing model; weight-side counters (decodes, lookups, folds) do not depend on the pixels
and are measured in full. No count becomes incomparable through sampling. ``full=True``
(``--full``) checks every output of every layer. SparTen's join counters depend on the data of
every chunk, so on a SparTen design a layer over the budget is skipped (by name), not sampled, unless
``full``. A run that skipped any layer is *partial*: its report ends in ``PARTIAL:`` and the CLI exits
with `EXIT_PARTIAL`.

A layer the sparse array cannot run sparsely — one the policy keeps dense (first conv, depthwise), or
VQ weights (``--method vq``) — runs in the timing model on an N:M sparse design as the *dense
fallback* (one reduction row per PE row, muxes fixed); functional mode runs it
on the same array with ``array.pe = dense`` — a fixed mux is a dense PE — and its mux-select count
is one static select per MAC, which is what the timing model charges.

torch and compress are imported inside the functions: archsim's simulator core never imports torch.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from archsim.design import Design
from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind
from workloads.network import Network

#: Default per-layer budget in dense MACs: a layer above it is checked on a sample of its output positions
#: (keeps ``archsim run -w resnet18 -d mvq --functional`` at a few minutes on 2 cores) [A].
DEFAULT_MAX_MACS = 5_000_000
#: Exit status of ``archsim run --functional`` when every checked layer passed but some layers were not
#: checked (PARTIAL); 1 is a failed check, 2 bad input.
EXIT_PARTIAL = 3
#: Spread of the random float weights before compression (the int8 quantiser rescales, so any spread works).
WEIGHT_STD = 0.1


@dataclass(frozen=True)
class CountCheck:
    """One functional counter against the timing model's event for the same layer."""

    name: str
    functional: int
    timing: float | None
    compared: bool
    reason: str = ""

    @property
    def agree(self) -> bool:
        return (not self.compared) or float(self.functional) == float(self.timing)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "functional": self.functional, "timing": self.timing, "compared": self.compared,
                "agree": self.agree, "reason": self.reason}


@dataclass(frozen=True)
class LayerCheck:
    """The outcome for one layer."""

    layer: str
    shape: str
    weight_format: str          # dense / vq / mvq / nm (what the weight path decoded)
    array: str                  # dense / sparse N:M / dense fallback
    folds: int                  # row folds executed (summed over repeats and column folds)
    macs_executed: int          # MACs on a kept weight (the timing model's pe_array.mac)
    macs_issued: int            # PE MAC slots issued (executed + gated)
    dense_macs: int
    max_abs_diff: int
    match: bool
    psum_overflow: bool
    counts: tuple[CountCheck, ...]
    #: (output positions checked, output positions of the layer); None = every output checked
    sampled: tuple[int, int] | None = None

    @property
    def ratio(self) -> float:
        return self.macs_executed / self.dense_macs if self.dense_macs else float("nan")

    @property
    def counts_agree(self) -> bool:
        return all(c.agree for c in self.counts)

    @property
    def ok(self) -> bool:
        return self.match and self.counts_agree

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "shape": self.shape, "weight_format": self.weight_format, "array": self.array,
                "folds": self.folds, "macs_executed": self.macs_executed, "macs_issued": self.macs_issued,
                "dense_macs": self.dense_macs, "ratio": self.ratio, "max_abs_diff": self.max_abs_diff,
                "match": self.match, "psum_overflow": self.psum_overflow, "counts_agree": self.counts_agree,
                "positions_checked": None if self.sampled is None else self.sampled[0],
                "positions_total": None if self.sampled is None else self.sampled[1],
                "counts": [c.to_dict() for c in self.counts]}


@dataclass(frozen=True)
class FunctionalCheck:
    """All checked layers of one workload on one design."""

    workload: str
    design: str
    seed: int
    max_macs: int
    layers: tuple[LayerCheck, ...]
    skipped: Mapping[str, tuple[str, ...]] = field(default_factory=dict)   # reason -> layer names
    full: bool = False              # every output of every layer (no sampling)

    @property
    def ok(self) -> bool:
        """Every checked layer matches torch and the timing model (see `partial` for unchecked ones)."""
        return bool(self.layers) and all(layer.ok for layer in self.layers)

    @property
    def partial(self) -> bool:
        """Some layers of the workload were not checked at all (named in ``skipped``)."""
        return any(self.skipped.values())

    @property
    def sampled_layers(self) -> list[str]:
        return [x.layer for x in self.layers if x.sampled is not None]

    @property
    def mismatches(self) -> list[str]:
        return [layer.layer for layer in self.layers if not layer.match]

    @property
    def count_mismatches(self) -> list[str]:
        return [f"{layer.layer}: {c.name} functional {c.functional} vs timing {c.timing:g}"
                + (f" ({c.reason})" if c.reason else "") for layer in self.layers for c in layer.counts if not c.agree]

    def frame(self) -> Any:
        """The per-layer table as a pandas DataFrame (index: layer)."""
        import pandas as pd

        rows = [{"layer": x.layer, "shape": x.shape, "format": x.weight_format, "array": x.array, "folds": x.folds,
                 "macs_executed": x.macs_executed, "dense_macs": x.dense_macs, "ratio": x.ratio,
                 "max_abs_diff": x.max_abs_diff, "match": x.match, "counts_agree": x.counts_agree,
                 "outputs": "all" if x.sampled is None else f"{x.sampled[0]}/{x.sampled[1]} pos"}
                for x in self.layers]
        return pd.DataFrame(rows).set_index("layer")

    def to_dict(self) -> dict[str, Any]:
        return {"workload": self.workload, "design": self.design, "seed": self.seed, "max_macs": self.max_macs,
                "full": self.full, "ok": self.ok, "partial": self.partial, "sampled_layers": self.sampled_layers,
                "layers": [x.to_dict() for x in self.layers],
                "skipped": {k: list(v) for k, v in self.skipped.items()}, "mismatches": self.mismatches,
                "count_mismatches": self.count_mismatches}


# ---- layer selection -------------------------------------------------------------------------------
def parse_max_macs(value: object) -> int:
    """``--max-macs`` as a positive int (``5e6`` and ``5000000`` both work); None gives the default."""
    if value is None:
        return DEFAULT_MAX_MACS
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not math.isfinite(number) or number <= 0 or number != int(number):
        raise ArchsimInputError(f"--max-macs must be a positive whole number of dense MACs per layer (the budget "
                                f"above which a layer is checked on sampled output positions, e.g. 5e6), "
                                f"got {value!r}")
    return int(number)


def parse_layer_names(values: Sequence[str] | None) -> list[str] | None:
    """``--layers a,b --layers c`` -> ``[a, b, c]`` (None when not given)."""
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",")]
    if any(not name for name in names):
        raise ArchsimInputError(f"--layers: empty layer name in {','.join(values)!r}; give comma-separated names, "
                                f"e.g. --layers layer1.0.conv1,fc")
    return names


def select_layers(network: Network, names: Sequence[str] | None, max_macs: int,
                  sampling: bool = True) -> tuple[list[Layer], dict]:
    """The layers to check and ``{reason: names}`` of the skipped ones.

    Without ``names``: every conv/linear layer (``sampling``: large ones are checked on sampled
    positions), or, when the design cannot sample (``sampling=False``, SparTen), every conv/linear
    layer with at most ``max_macs`` dense MACs. With ``names``: exactly those layers, each of which
    must exist, be conv/linear and (without sampling) respect ``max_macs``."""
    if not isinstance(max_macs, (int, np.integer)) or isinstance(max_macs, bool) or max_macs <= 0:
        raise ArchsimInputError(f"--max-macs must be a positive number of dense MACs per layer, got {max_macs!r}")
    by_name = {layer.name: layer for layer in network}
    if names:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            known = ", ".join(list(by_name)[:8])
            raise ArchsimInputError(f"--layers: network {network.name!r} has no layer(s) {unknown}; its layers are "
                                    f"{known}{', ...' if len(by_name) > 8 else ''} (`archsim workloads show "
                                    f"{network.name}`)")
        picked = [by_name[n] for n in dict.fromkeys(names)]
        for layer in picked:
            if layer.kind is LayerKind.MATMUL:
                raise ArchsimInputError(f"--layers: layer {layer.name!r} is a matmul; functional mode runs conv and "
                                        f"linear layers only (a matmul's right operand is an activation, not a "
                                        f"stored weight) — drop it from --layers")
            if layer.macs > max_macs and not sampling:
                raise ArchsimInputError(f"--layers: layer {layer.name!r} has {layer.macs:,} dense MACs, above "
                                        f"--max-macs {max_macs:,}; raise --max-macs or give --full to check it")
        return picked, {}
    picked: list[Layer] = []
    skipped: dict[str, list[str]] = {"matmul": []}
    for layer in network:
        if layer.kind is LayerKind.MATMUL:
            skipped["matmul"].append(layer.name)
        elif layer.macs > max_macs and not sampling:
            skipped.setdefault(f"over --max-macs {max_macs:,} (this design's check cannot sample positions; "
                               f"--full checks them)", []).append(layer.name)
        else:
            picked.append(layer)
    if not picked and len(skipped["matmul"]) == len(network.layers):
        raise ArchsimInputError(f"network {network.name!r} has only matmul layers; functional mode runs conv and "
                                f"linear layers (a matmul's right operand is an activation, not a stored weight)")
    if not picked:
        raise ArchsimInputError(f"no conv/linear layer of {network.name!r} has at most --max-macs {max_macs:,} dense "
                                f"MACs; raise --max-macs, give --full or pick layers with --layers")
    return picked, {k: tuple(v) for k, v in skipped.items() if v}


# ---- sampling --------------------------------------------------------------------------------------
def output_positions(layer: Layer) -> int:
    """Output positions of a layer: rows of its im2col product (``batch·out_h·out_w``, ``batch·rows``)."""
    return math.prod(layer.output_shape) // layer.out_channels


def sample_positions(layer: Layer, budget: int | None, seed: int) -> np.ndarray | None:
    """Sorted output positions to check within ``budget`` dense MACs (None: all — the layer fits, or no budget).

    Always the first and the last position (the padded corners), then seeded random others, as many as
    the budget pays for at the layer's dense MACs per position; at least one position."""
    if budget is None or layer.macs <= budget:
        return None
    total = output_positions(layer)
    per_position = layer.macs // total
    count = max(1, min(total, budget // max(per_position, 1)))
    if count >= total:
        return None
    ends = [0, total - 1][:count]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5A4D]))
    middle = rng.choice(np.arange(1, total - 1), size=count - len(ends), replace=False) if count > 2 else []
    return np.unique(np.concatenate([np.asarray(ends, dtype=np.int64), np.asarray(middle, dtype=np.int64)]))


#: Counters that count one event per streamed output position (`archsim.functional.engine`).
PER_POSITION_COUNTS = ("macs", "kept_macs", "zero_weight_macs", "mux_selects", "input_reads", "psum_writes",
                       "psum_reads")


def extrapolate_counts(result: Any, layer: Layer) -> tuple[Any, list[str]]:
    """A sampled `FunctionalResult` with its per-position counters for all of the layer's positions, and the
    names of counters that were not a whole multiple of the sampled positions (a counting bug; reported as
    a failed count check, never silently rounded).

    Each is ``positions x`` an amount per position (every fold adds ``pixels x`` a weight-side number),
    so the division is exact — checked, not assumed."""
    import dataclasses

    sampled = int(result.positions.size)
    total = output_positions(layer)
    changes, broken = {}, []
    for name in PER_POSITION_COUNTS:
        value = getattr(result.counts, name)
        if value % sampled:
            broken.append(f"{name} = {value}")
        changes[name] = value * total // sampled
    return dataclasses.replace(result, counts=dataclasses.replace(result.counts, **changes)), broken


def output_rows(layer: Layer, outputs: np.ndarray) -> np.ndarray:
    """``layer.output_shape`` outputs as ``[positions, out_channels]`` (the im2col row order)."""
    if layer.kind is LayerKind.LINEAR:
        return outputs.reshape(-1, layer.out_channels)
    return outputs.transpose(0, 2, 3, 1).reshape(-1, layer.out_channels)


# ---- weights, activations, reference ---------------------------------------------------------------
def _layer_seed(seed: int, index: int) -> int:
    """A per-layer seed: the same layer index and seed always draw the same numbers."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def draw_weight(layer: Layer, seed: int) -> Any:
    """Seeded N(0, WEIGHT_STD^2) float weight of the layer's torch shape."""
    import torch

    from archsim.functional.weights import expected_weight_shape

    g = torch.Generator().manual_seed(seed)
    return torch.randn(expected_weight_shape(layer), generator=g, dtype=torch.float32) * WEIGHT_STD


def draw_activations(layer: Layer, seed: int, bits: int) -> np.ndarray:
    """Seeded uniform signed ``bits``-bit activations in ``layer.input_shape``."""
    rng = np.random.default_rng(seed)
    return rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=layer.input_shape, dtype=np.int64)


def reference_output(layer: Layer, x: np.ndarray, weight_int: Any) -> np.ndarray:
    """Exact integer output of ``layer`` via torch float64 (every int8 x int8 sum here is < 2^53)."""
    import torch
    import torch.nn.functional as F

    w = torch.as_tensor(np.asarray(weight_int), dtype=torch.float64)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    if layer.kind is LayerKind.LINEAR:
        out = xt.reshape(layer.input_shape) @ w.T
    else:
        xt = F.pad(xt, (layer.pad_left, layer.pad_right, layer.pad_top, layer.pad_bottom))
        out = F.conv2d(xt, w, stride=(layer.stride_h, layer.stride_w), dilation=(layer.dilation_h, layer.dilation_w),
                       groups=layer.groups)
    return out.round().to(torch.int64).numpy().reshape(layer.output_shape)


def compressed_weights(layer: Layer, weight: Any, plan: Any, config: Any, trace: Any, weight_bits: int):
    """(accelerator-facing weights, integer weight tensor for the reference) of one layer.

    ``plan`` is the policy's plan (None or not compressed: dense int8 by symmetric quantisation)."""
    from archsim.functional import DenseWeights, from_compressed
    from compress.layer import compress_weight
    from compress.quantize import quantize_symmetric

    if plan is None or not plan.compressed:
        q = quantize_symmetric(weight, weight_bits).values
        return DenseWeights(q.numpy()), q.long()
    kind = "linear" if layer.kind is LayerKind.LINEAR else "conv"
    cl = compress_weight(weight, config, method=plan.method, name=layer.name, kind=kind, groups=layer.groups)
    if (cl.d, cl.k, cl.n, cl.m) != (plan.d, plan.k, plan.n, plan.m):
        raise AssertionError(f"layer {layer.name!r}: compressor and policy disagree on the geometry")
    if trace is not None and cl.method != "nm" and (cl.d, cl.k) != (trace.d, trace.k):
        raise AssertionError(f"layer {layer.name!r}: compressed d, k = {cl.d}, {cl.k} but the trace has "
                             f"{trace.d}, {trace.k}")
    return from_compressed(cl), cl.reconstruct_int()


# ---- counters --------------------------------------------------------------------------------------
def _folds_hold_whole_units(layer: Layer, result: Any, unit: int, layout: str) -> bool:
    """True when every executed fold's reduction range holds only whole ``unit``-long runs of the
    layout (subvectors for unit = d, M-groups for unit = M) — the timing model's ``ceil(fold/d)``."""
    from archsim.functional.lowering import k_permutation, layout_index

    unit_of = layout_index(layer, layout)[k_permutation(layer, result.k_order)] // unit
    for k0, k1 in {(f.k0, f.k1) for f in result.folds}:
        seg = unit_of[k0:k1]
        if seg.size != unit * np.unique(seg).size:
            return False
    return True


def compare_counts(layer: Layer, result: Any, events: Mapping[tuple[str, str], float], trace: Any, weights: Any,
                   design: Design, single_load: bool, dense_fallback: bool) -> tuple[CountCheck, ...]:
    """The functional counters next to the timing model's events (see the module docstring)."""
    c = result.counts
    ev = lambda comp, act: float(events.get((comp, act), 0.0))   # noqa: E731
    out = [CountCheck("executed MACs", c.kept_macs, ev("pe_array", "mac"), True),
           CountCheck("gated MACs", c.macs - c.kept_macs, ev("pe_array", "gated_mac"), True)]
    mux = c.macs if dense_fallback else c.mux_selects
    out.append(CountCheck("mux selects", mux, ev("mux", "mux_select"), True,
                          "dense fallback: one static select per MAC" if dense_fallback else ""))
    fmt = weights.format
    coded, masked = fmt in ("vq", "mvq"), fmt in ("mvq", "nm")
    whole = True
    if coded or masked:
        whole = _folds_hold_whole_units(layer, result, weights.d, weights.layout)
    why_not = "" if single_load else "the timing schedule reloads fold weights (loop order not NKM)"
    if not why_not and not whole:
        why_not = "a fold splits a subvector (timing counts ceil(fold weights / d))"
    if coded:
        out.append(CountCheck("codebook lookups", c.codebook_lookups, ev("codebook", "lookup") if not why_not else
                              None, not why_not, why_not))
    else:
        out.append(CountCheck("codebook lookups", c.codebook_lookups, ev("codebook", "lookup"), True))
    lzc = masked and trace is not None and trace.mask_encoding != "index"
    if lzc:
        reason = why_not
        if not reason and result.sparse_array and weights.m != design.array.sparse_m:
            reason = (f"weights' M={weights.m} is not the array's M={design.array.sparse_m} "
                      f"(the loader decodes array windows)")
        out.append(CountCheck("mask decodes", c.mask_groups, ev("decoder", "decode") if not reason else None,
                              not reason, reason))
    else:   # no LZC decode: dense/VQ weights, or index-encoded N:M positions that drive the muxes directly
        out.append(CountCheck("mask decodes", c.lzc_positions, ev("decoder", "decode"), True,
                              "index-encoded positions: no LZC" if masked else ""))
    return tuple(out)


# ---- the check -------------------------------------------------------------------------------------
def _shape(layer: Layer) -> str:
    if layer.kind is LayerKind.LINEAR:
        return f"fc {layer.in_channels}->{layer.out_channels}" + (f" x{layer.in_h}" if layer.in_h > 1 else "")
    g = f" g{layer.groups}" if layer.groups > 1 else ""
    s = f" s{layer.stride_h}" if layer.stride_h > 1 or layer.stride_w > 1 else ""
    return (f"{layer.in_channels}->{layer.out_channels} {layer.kernel_h}x{layer.kernel_w}{s}{g} "
            f"@{layer.in_h}x{layer.in_w}")


def check_layer(layer: Layer, index: int, design: Design, plan: Any, config: Any, trace: Any, seed: int,
                context: Any, budget: int | None = None) -> LayerCheck:
    """Compress, run, compare one layer (see the module docstring); ``budget``: dense MACs above which
    sampled output positions are checked (None: all outputs)."""
    from archsim.functional import run_functional

    layer_seed = _layer_seed(seed, index)
    weight = draw_weight(layer, layer_seed)
    weights, w_int = compressed_weights(layer, weight, plan, config, trace, design.precision.weight_bits)
    x = draw_activations(layer, layer_seed + 1, design.precision.act_bits)
    from archsim.mapping.compressed import plan_weight_path

    # the timing model runs a layer whose trace the sparse array cannot use sparsely (dense, VQ) as the
    # dense fallback: one reduction row per PE row, muxes fixed — functionally a dense array
    dense_fallback = design.array.pe == "nm_sparse" and not plan_weight_path(layer, design, trace).sparse
    run_design = design
    if dense_fallback:
        run_design = design.with_overrides(**{"array.pe": "dense", "array.sparse_n": None, "array.sparse_m": None})
    from archsim.functional.activation_dbb import ActivationStage

    stage = ActivationStage.of(layer, design, trace)     # activation DBB / zero gating (None: dense stream)
    x_ref = stage.reference(x) if stage else x
    positions = sample_positions(layer, budget, layer_seed + 2)
    res = run_functional(layer, weights, stage.prune(x) if stage else x, run_design, positions=positions)
    broken: list[str] = []
    if positions is not None:
        res, broken = extrapolate_counts(res, layer)
    res = stage.scale(res) if stage else res
    ref = reference_output(layer, x_ref, w_int)
    if positions is not None:
        ref = output_rows(layer, ref)[positions]
    diff = np.abs(res.outputs.astype(np.int64) - ref)
    max_diff = int(diff.max()) if diff.size else 0

    timing = context.layer_result(layer, trace)
    notes = context.mapper(layer, design, trace=trace).notes
    counts = compare_counts(layer, res, timing.counters.events, trace, weights, design,
                            single_load=" NKM" in f" {notes}", dense_fallback=dense_fallback)
    if broken:
        counts = (*counts, CountCheck("per-position counters", 1, 0.0, True,
                                      f"not whole multiples of the {positions.size} sampled positions: "
                                      f"{', '.join(broken)}"))
    if stage:
        # the write-back DBB-izer count depends on the output shape only, not on the values
        outputs = res.outputs if positions is None else np.zeros(layer.output_shape, dtype=np.int32)
        counts = stage.adjust(counts, res, outputs, timing.counters.events)
    array = (f"sparse {design.array.sparse_n}:{design.array.sparse_m}" if res.sparse_array
             else "dense fallback" if dense_fallback else "dense")
    return LayerCheck(layer=layer.name, shape=_shape(layer), weight_format=weights.format, array=array,
                      folds=res.counts.row_folds, macs_executed=res.counts.kept_macs, macs_issued=res.counts.macs,
                      dense_macs=layer.macs, max_abs_diff=max_diff, match=max_diff == 0 and ref.shape ==
                      res.outputs.shape, psum_overflow=res.psum_overflow, counts=counts,
                      sampled=None if positions is None else (int(positions.size), output_positions(layer)))


def check_workload(workload: str | Network, design: str | Path | Design, *, layers: Sequence[str] | None = None,
                   max_macs: int = DEFAULT_MAX_MACS, seed: int = 0, compression: Any = None,
                   overrides: Mapping[str, Any] | None = None, batch: int | None = None,
                   progress: bool = False, full: bool = False) -> FunctionalCheck:
    """Run the selected layers of ``workload`` in functional mode on ``design`` and check them
    against torch and against the timing model (see the module docstring). ``max_macs`` is the
    per-layer budget above which output positions are sampled; ``full`` checks every output."""
    from archsim.api import compression_config, resolve_design, resolve_workload
    from compress.traces import structural_trace_for

    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ArchsimInputError(f"--seed must be a non-negative integer, got {seed!r}")
    des = resolve_design(design, overrides)
    network = resolve_workload(workload, batch)
    sparten = des.dataflow.strip().lower() == "sparten"
    picked, skipped = select_layers(network, layers, max_macs, sampling=not sparten or full)
    budget = None if full else int(max_macs)
    config = compression_config(des, compression)
    if sparten:     # bitmask chunks + inner join: archsim.functional.sparten
        from archsim.functional.sparten import check_sparten_layer

        def one(layer: Layer, i: int, plan: Any, context: Any) -> LayerCheck:
            sparse = plan is not None and plan.compressed and plan.method == "sparse"
            return check_sparten_layer(layer, i, des, config.density if sparse else 1.0, seed, context)
    else:
        def one(layer: Layer, i: int, plan: Any, context: Any) -> LayerCheck:
            trace = structural_trace_for(layer, plan, config) if config is not None else None
            return check_layer(layer, i, des, plan, config, trace, seed, context, budget)

    results = run_layers(network, des, picked, config, one, progress)
    return FunctionalCheck(workload=network.name, design=des.name, seed=int(seed), max_macs=int(max_macs),
                           layers=tuple(results), skipped=skipped, full=bool(full))


def run_layers(network: Network, design: Design, picked: Sequence[Layer], config: Any,
               check_one: Callable[[Layer, int, Any, Any], LayerCheck], progress: bool = False) -> list[LayerCheck]:
    """Check each picked layer with ``check_one(layer, index in network, compression plan, SimContext)`` on one
    torch thread (reproducible k-means and polite on a shared machine), with an optional progress bar."""
    import torch

    from archsim.api import SimContext
    from compress.traces import plan_network

    plans: dict[str, Any] = {}
    if config is not None:
        plans = {layer.name: plan for layer, plan in zip(network, plan_network(network, config)) if plan is not None}
    context = SimContext(design)
    index = {layer.name: i for i, layer in enumerate(network)}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        todo: Iterable[Layer] = picked
        if progress:
            from tqdm import tqdm

            todo = tqdm(picked, desc=f"functional {network.name} on {design.name}", unit="layer")
        return [check_one(layer, index[layer.name], plans.get(layer.name), context) for layer in todo]
    finally:
        torch.set_num_threads(threads)


_NUMBER = re.compile(r"\d+\.\d+")


def _not_compared_summary(check: FunctionalCheck) -> list[str]:
    """One entry per (count, reason) with the reason's numbers as ranges over the layers, so a network of many
    layers gives a readable line instead of one near-identical reason per layer."""
    groups: dict[tuple[str, str], list[list[float]]] = {}
    for x in check.layers:
        for c in x.counts:
            if not c.compared:
                groups.setdefault((c.name, _NUMBER.sub("{}", c.reason)), []).append(
                    [float(v) for v in _NUMBER.findall(c.reason)])
    out = []
    for (name, template), values in sorted(groups.items()):
        cols = list(zip(*values)) if values and len({len(v) for v in values}) == 1 else []
        filled = template.format(*(f"{min(col):.3f}" if min(col) == max(col) else f"{min(col):.3f}-{max(col):.3f}"
                                   for col in cols)) if cols or "{}" not in template else template
        out.append(f"{name} ({filled}; {len(values)} layer(s))")
    return out


def format_report(check: FunctionalCheck) -> str:
    """The per-layer table, the skipped layers, count mismatches and a final verdict line."""
    frame = check.frame()
    view = frame[["shape", "format", "array", "folds", "macs_executed", "dense_macs", "ratio", "outputs",
                  "max_abs_diff", "match", "counts_agree"]].copy()
    view = view.rename(columns={"macs_executed": "MACs executed", "dense_macs": "dense MACs",
                                "max_abs_diff": "max |diff|", "counts_agree": "counts agree"})
    yes_no = {True: "yes", False: "NO"}
    view["match"] = view["match"].map(yes_no)
    view["counts agree"] = view["counts agree"].map(yes_no)
    lines = [f"functional check: {check.workload} on {check.design} (seed {check.seed}), "
             f"{len(check.layers)} layer(s) vs torch conv on the reconstructed int weights and the timing model's "
             f"events",
             view.to_string(formatters={"MACs executed": "{:,}".format, "dense MACs": "{:,}".format,
                                        "ratio": "{:.3f}".format})]
    if check.skipped:
        lines.append("skipped: " + "; ".join(f"{why}: {', '.join(names)}" for why, names in check.skipped.items()))
    not_compared = _not_compared_summary(check)
    if not_compared:
        lines.append("not compared on some layers: " + "; ".join(not_compared))
    for line in check.count_mismatches:
        lines.append(f"count mismatch: {line}")
    n_match = sum(x.match for x in check.layers)
    n_counts = sum(x.counts_agree for x in check.layers)
    sampled = check.sampled_layers
    if sampled:
        lines.append(f"sampled: {len(sampled)} layer(s) over the budget of {check.max_macs:,} dense MACs per layer "
                     f"(--max-macs) checked on seeded output positions (seed {check.seed}; first and last included), "
                     f"every output channel; per-position counters extrapolated exactly; --full checks all outputs")
    n_skipped = sum(len(v) for v in check.skipped.values())
    summary = (f"{n_match}/{len(check.layers)} layers match torch exactly"
               f"{f' ({len(sampled)} on sampled positions)' if sampled else ''}, "
               f"{n_counts}/{len(check.layers)} agree with the timing model's counts")
    if not check.ok:
        verdict = f"FAILED: {summary}" + (f"; {n_skipped} layer(s) not checked" if n_skipped else "")
    elif check.partial:
        verdict = (f"PARTIAL: {summary}; {n_skipped} layer(s) not checked ("
                   + "; ".join(f"{why}: {len(names)}" for why, names in check.skipped.items() if names) + ")")
    else:
        verdict = f"OK: {summary}"
    lines.append(verdict)
    return "\n".join(lines)


__all__ = ["CountCheck", "LayerCheck", "FunctionalCheck", "check_workload", "check_layer", "select_layers",
           "compressed_weights", "reference_output", "format_report", "parse_max_macs", "parse_layer_names",
           "DEFAULT_MAX_MACS", "EXIT_PARTIAL", "extrapolate_counts", "output_positions", "sample_positions"]
