"""Which trace formats a design's weight path can decode, and the check where traces meet a design.

A trace's format (`compress.trace.WeightFormat`) says how a layer's weights sit in DRAM. Pricing
those bytes on a design whose hardware cannot decode them (VQ codes on a plain WS array) gives a
number for a machine that does not exist, so every path that runs a layer with a trace
(`archsim.api.SimContext.layer_result`: ``simulate``, ``simulate_layer``, ``archsim run --traces``,
``compare``, ``sweep``, functional mode) calls `check_decodable` first.

What each dataflow decodes follows from its mapper:

* ``ws``, ``ews`` (and any dense-only mapper): ``dense`` only — no codebook, no mask decoder, no
  sparse join.
* ``ews_compressed``, ``ews_compressed_act`` (`archsim.mapping.compressed.plan_weight_path`):
  ``dense``; ``nm`` (kept values + mask: LZC decoders, or index-driven muxes); ``vq`` and ``mvq``
  only when the design has a codebook store (``buffers.codebook``). Unstructured ``sparse`` bitmaps
  have no decoder there.
* ``sparten`` (`archsim.mapping.sparten`): ``dense``, ``nm`` (an N:M mask is a bitmask) and
  ``sparse``; no codebook.

``dense`` is decodable everywhere, so dense traces (and networks the policy leaves dense) run on
every design.
"""

from __future__ import annotations

from functools import lru_cache

from archsim.design import Design
from workloads.errors import ArchsimInputError

#: Formats each dataflow's weight path decodes; "codebook" formats also need ``buffers.codebook``.
DATAFLOW_FORMATS: dict[str, tuple[str, ...]] = {
    "ws": ("dense",),
    "ews": ("dense",),
    "ews_adbb": ("dense",),
    "ews_compressed": ("dense", "nm", "vq", "mvq"),
    "ews_compressed_act": ("dense", "nm", "vq", "mvq"),
    "sparten": ("dense", "nm", "sparse"),
}
#: Formats whose decode needs a codebook store (``buffers.codebook``).
CODEBOOK_FORMATS = ("vq", "mvq")


def decodable_formats(design: Design) -> tuple[str, ...]:
    """The trace formats ``design`` can decode (``dense`` always; unknown dataflows: dense only)."""
    formats = DATAFLOW_FORMATS.get(design.dataflow.strip().lower(), ("dense",))
    if design.buffers.codebook is None:
        formats = tuple(f for f in formats if f not in CODEBOOK_FORMATS)
    return formats


@lru_cache(maxsize=None)
def presets_decoding(fmt: str) -> tuple[str, ...]:
    """Preset names whose design decodes ``fmt`` (for the error message)."""
    from archsim.design import list_presets, load_design

    return tuple(name for name in list_presets() if fmt in decodable_formats(load_design(name)))


def check_decodable(design: Design, layer_name: str, fmt: object) -> None:
    """Raise `ArchsimInputError` if ``design`` cannot decode a trace of format ``fmt`` for ``layer_name``."""
    value = getattr(fmt, "value", fmt)
    formats = decodable_formats(design)
    if value in formats:
        return
    able = presets_decoding(str(value))
    why = ""
    if value in CODEBOOK_FORMATS and value in DATAFLOW_FORMATS.get(design.dataflow.strip().lower(), ()):
        why = " — it has no codebook store (add buffers.codebook)"
    raise ArchsimInputError(
        f"layer {layer_name}: trace format {value} cannot be decoded by design {design.name!r} (it decodes: "
        f"{', '.join(formats)}{why}); designs that decode {value}: {', '.join(able) or 'none of the presets'}; "
        f"use one of them or traces in a format {design.name} decodes")


__all__ = ["CODEBOOK_FORMATS", "DATAFLOW_FORMATS", "check_decodable", "decodable_formats", "presets_decoding"]
