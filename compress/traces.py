"""Per-layer `Trace`s: from real clustering, or from the structural rules alone.

Both paths walk a `workloads.Network` in order and use the same policy
(`compress.policy.plan_layer`: exclusions, first conv, depthwise, shape fit, k clamp), so
`structural_traces(network, config)` equals `traces_from_compressed(compress_model(model, config),
network)` in every size and density field — the simulator can use the cheap one.

Conventions
-----------
* Network layers are matched to ``nn.Module``s by name: a layer's name must be the module's
  qualified name (``layer1.0.conv1``), as `workloads.from_torch` produces; a repeated call of one
  module (``conv#2``) uses that module's compressed weight.
* Limitation: the structural path sees only shapes, so a conv/linear that `from_torch` found in a
  *functional* call (named ``<module>.conv`` / ``.linear``; no Conv/Linear module owns its weight)
  is planned like any other layer, whereas `compress_model` only compresses module weights and the
  real trace of such a layer is dense. Exclude such names in the config when it matters.
* Compressed layers: codes / mask / codebook / value bits are exactly the `CompressedLayer`'s
  `storage_bits()` parts (``dense`` -> ``value_bits``); ``mvq`` and ``prune_vq`` are both
  ``WeightFormat.MVQ`` (the same stored parts and sparse compute), ``vq`` -> ``VQ``, ``nm`` -> ``NM``.
* Dense layers (excluded, shape does not fit, matmul operands): `structural_trace(layer, "dense")`,
  i.e. weights at the layer's ``precision.weight_bits`` — what an int8 accelerator fetches, not the
  fp32 of the model-size accounting.
* ``bias_bits`` = biases x ``config.bias_bits`` everywhere.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from compress.config import CompressionConfig
from compress.policy import LayerPlan, check_exclusions, plan_layer
from compress.trace import Trace, WeightFormat, structural_trace
from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind

if TYPE_CHECKING:  # no import cycle with compress.model
    from compress.layer import CompressedLayer
    from compress.model import CompressedModel

FORMATS = {"mvq": WeightFormat.MVQ, "prune_vq": WeightFormat.MVQ, "vq": WeightFormat.VQ, "nm": WeightFormat.NM,
           "sparse": WeightFormat.SPARSE}


def module_name(layer_name: str) -> str:
    """The module a network layer comes from: ``conv1#2`` (second call of conv1) -> ``conv1``."""
    return layer_name.split("#", 1)[0]


def weight_shape(layer: Layer) -> tuple[int, ...]:
    """The torch weight shape of a conv/linear `Layer` (K x C/groups x R x S, or K x C)."""
    if layer.kind is LayerKind.CONV:
        return (layer.out_channels, layer.in_channels // layer.groups, layer.kernel_h, layer.kernel_w)
    return (layer.out_channels, layer.in_channels)


def plan_network(network, config: CompressionConfig) -> list[LayerPlan | None]:
    """The policy's plan per network layer (None for matmul layers, which have no stored weight)."""
    plans: list[LayerPlan | None] = []
    names = list(dict.fromkeys(module_name(layer.name) for layer in network if layer.kind is not LayerKind.MATMUL))
    check_exclusions(config, names, f"network {getattr(network, 'name', '?')!r}")
    first_conv: str | None = None  # module name of the first conv (all its calls stay dense)
    for layer in network:
        if layer.kind is LayerKind.MATMUL:
            plans.append(None)
            continue
        kind = "conv" if layer.kind is LayerKind.CONV else "linear"
        if kind == "conv" and first_conv is None:
            first_conv = module_name(layer.name)
        is_first = kind == "conv" and module_name(layer.name) == first_conv
        plan = plan_layer(module_name(layer.name), weight_shape(layer), kind, config, groups=layer.groups,
                          is_first_conv=is_first)
        plans.append(replace(plan, name=layer.name))
    return plans


def _dense(layer: Layer, config: CompressionConfig) -> Trace:
    return replace(structural_trace(layer, WeightFormat.DENSE), bias_bits=layer.biases * config.bias_bits)


def structural_trace_for(layer: Layer, plan: LayerPlan | None, config: CompressionConfig) -> Trace:
    """Exact trace of one layer from its plan, without clustering."""
    if plan is None or not plan.compressed:
        return _dense(layer, config)
    fmt = FORMATS[plan.method]
    if fmt is WeightFormat.SPARSE:   # unstructured: a bitmap + round(W x density) values at the layer's precision
        trace = structural_trace(layer, fmt, density=config.density)
        return replace(trace, bias_bits=layer.biases * config.bias_bits)
    trace = structural_trace(layer, fmt, n=plan.n, m=plan.m, d=plan.d, k=plan.k,
                             codebook_value_bits=config.codebook_bits, mask_encoding=config.mask_encoding)
    changes = {"subvector_axis": plan.layout, "bias_bits": layer.biases * config.bias_bits}
    if fmt is WeightFormat.NM:
        changes["value_bits"] = plan.expected_bits(config)["dense"]
    return replace(trace, **changes)


def structural_traces(network, config: CompressionConfig | None = None) -> list[Trace]:
    """One trace per layer of ``network`` under ``config``'s policy, no clustering (exact sizes)."""
    config = config or CompressionConfig()
    return [structural_trace_for(layer, plan, config) for layer, plan in zip(network, plan_network(network, config))]


def trace_from_layer(layer: Layer, compressed: "CompressedLayer") -> Trace:
    """Trace of one network layer from its real `CompressedLayer` (bits counted from the tensors)."""
    if compressed.weights != layer.weights:
        raise ArchsimInputError(f"layer {layer.name!r}: the network has {layer.weights} weights but the compressed "
                                f"module has {compressed.weights} (shape {compressed.shape}); the network and the "
                                f"model do not match")
    cfg = compressed.config
    bits = compressed.storage_bits()
    fmt = FORMATS[compressed.method]
    d = 1 if fmt is WeightFormat.NM else compressed.d  # trace.py convention: no subvectors in plain N:M
    return Trace(layer=layer, format=fmt, n=compressed.n, m=compressed.m, d=d, k=compressed.k,
                 codebook_value_bits=cfg.codebook_bits, mask_encoding=cfg.mask_encoding,
                 density=compressed.density, code_bits=bits["codes"], mask_bits=bits["mask"],
                 codebook_bits=bits["codebook"], value_bits=bits["dense"], bias_bits=bits["bias"],
                 subvector_axis=compressed.layout)


def traces_from_compressed(compressed: "CompressedModel", network) -> list[Trace]:
    """One trace per layer of ``network``: compressed layers from the clustering, the rest dense."""
    names = {module_name(layer.name) for layer in network}
    missing = sorted(set(compressed.layers) - names)
    if missing:
        raise ArchsimInputError(f"compressed layers {missing[:5]}{' ...' if len(missing) > 5 else ''} are not in "
                                f"network {network.name!r}; network layer names must be the model's module names "
                                f"(build the network with workloads.from_torch on the same model)")
    out = []
    for layer in network:
        if module_name(layer.name) in compressed.layers:
            out.append(trace_from_layer(layer, compressed.layers[module_name(layer.name)]))
        else:
            out.append(_dense(layer, compressed.config))
    return out
