"""Dataflow mappers: pure Python closed forms that turn (layer, design[, trace]) into a `LayerSchedule`.

The design's ``dataflow`` field names the mapper. Mappers never simulate; the SimPy engine
(``archsim.sim``) walks the tiles they emit. Registered dataflows:

* ``ws``  — weight stationary, TPU-like (`archsim.mapping.ws`)
* ``ews`` — enhanced weight stationary: per-PE weight/activation/psum register files
  (`archsim.mapping.ews`)
* ``sparten`` — SparTen-like clusters of compute units joining bitmask chunks of sparse weights
  and activations (`archsim.mapping.sparten`)
* ``ews_compressed`` — EWS with a compressed-weight path (codebook decode, N:M masks) on a dense
  (optionally zero-gated) or N:M sparse array: the MVQ ablation ladder and S2TA-like designs
  (`archsim.mapping.compressed`)
* ``ews_compressed_act`` — ``ews_compressed`` plus activation sparsity (``design.activations``): S2TA's
  run-time activation DBB (time-unrolled stream, DBB-izer) or SA-ZVCG's zero-value clock gating
  (`archsim.mapping.activation_sparsity`); ``ews_adbb`` is its time-unrolled dense mapper (internal)

A mapper is any object with ``name`` and ``map_layer(layer, design, trace=None) -> LayerSchedule``.
"""

from __future__ import annotations

from typing import Protocol

from archsim.design import Design
from archsim.schedule import LayerSchedule
from workloads.errors import ArchsimInputError
from workloads.layer import Layer

import archsim.mapping.activation_cost  # noqa: E402,F401  (registers the DBB-izer's prices and area)


class Mapper(Protocol):
    name: str

    def map_layer(self, layer: Layer, design: Design, trace: object | None = None) -> LayerSchedule: ...


def _registry() -> dict[str, Mapper]:
    from archsim.mapping.compressed import CompressedMapper
    from archsim.mapping.ews import EwsMapper
    from archsim.mapping.ws import WsMapper

    from archsim.mapping.activation_sparsity import ActDbbStreamMapper, ActivationSparseMapper
    from archsim.mapping.sparten import SpartenMapper

    return {"ws": WsMapper(), "ews": EwsMapper(), "ews_compressed": CompressedMapper("ews"),
            "ews_adbb": ActDbbStreamMapper("ews"),
            "ews_compressed_act": ActivationSparseMapper(CompressedMapper("ews_adbb")),
            "sparten": SpartenMapper()}


def known_dataflows() -> list[str]:
    return sorted(_registry())


def get_mapper(dataflow: str) -> Mapper:
    """The mapper for a dataflow name (case-insensitive)."""
    reg = _registry()
    key = str(dataflow).strip().lower()
    if key not in reg:
        raise ArchsimInputError(f"unknown dataflow {dataflow!r} (design field 'dataflow'); "
                                f"known: {', '.join(sorted(reg))}")
    return reg[key]


def map_layer(layer: Layer, design: Design, trace: object | None = None) -> LayerSchedule:
    """Schedule one layer on one design. ``trace`` (compress.trace.Trace) sets the DRAM weight bytes
    to ``trace.weight_bits_total / 8``; ``None`` means dense weights."""
    mapper = get_mapper(design.dataflow)
    sparsity = getattr(getattr(design, "activations", None), "sparsity", "none")
    if sparsity != "none" and not getattr(mapper, "handles_activation_sparsity", False):
        raise ArchsimInputError(f"design {design.name!r}: activations.sparsity = {sparsity} needs dataflow "
                                f"ews_compressed_act (dataflow {design.dataflow!r} streams activations dense); "
                                f"change the dataflow or set activations.sparsity: none")
    return mapper.map_layer(layer, design, trace)


__all__ = ["Mapper", "get_mapper", "known_dataflows", "map_layer"]
