"""Which layers of a `workloads.Network` run on PQA, as `PqLayerFacts`.

Default selection follows the paper's ResNet-20 study (reference §A.1, §A.6): every ungrouped
convolution except the network's first layer (the stem, whose 3-channel input is too short to split
into subspaces usefully) is product-quantized; linear layers (the classifier) stay conventional.
Both designs are compared on exactly these layers.
"""

from __future__ import annotations

from compress.pq.facts import Distance, PqLayerFacts, from_layer
from workloads.layer import LayerKind
from workloads.network import Network


def pq_layers(network: Network, ls: int, np: int, *, proto_bits: int = 8, lut_bits: int = 16,
              shared_codebook: bool = False, distance: Distance = "l2", pad: bool = False,
              skip_first: bool = True, include_linear: bool = False) -> list[PqLayerFacts]:
    """Facts for the PQ-covered layers of ``network``; ``pad`` as in `compress.pq.facts.from_layer`."""
    out = []
    for i, layer in enumerate(network.layers):
        if skip_first and i == 0:
            continue
        if layer.kind == LayerKind.LINEAR and not include_linear:
            continue
        if layer.kind not in (LayerKind.CONV, LayerKind.LINEAR) or layer.groups != 1:
            continue
        out.append(from_layer(layer, ls, np, proto_bits=proto_bits, lut_bits=lut_bits,
                              shared_codebook=shared_codebook, distance=distance, pad=pad))
    return out
