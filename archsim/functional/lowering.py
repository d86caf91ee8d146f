"""im2col lowering and the reduction order of the array rows.

The array computes, per repeat (group of a grouped conv), an (M x K) @ (K x N) product: M output
pixels streamed through, K reduction elements along the rows, N output channels along the columns
(`archsim.mapping.geometry`). The *order* of K along the rows matters to the hardware, not to
the integer result:

``pytorch``       K ordered ``(c, kh, kw)``, channel outermost — the order the WS/EWS mappers use
                  (`archsim.mapping.geometry`), and the natural order of a dense weight.
``channel_last``  K ordered ``(kh, kw, c)``, channel innermost — the order in which the subvectors of
                  the ``input_channel`` layout (d consecutive input channels at one kernel tap) are
                  contiguous, which the N:M sparse array needs: the N PE rows of an M-group share the
                  group's M broadcast activations (reference/mvq.md §1.3).

Padding is generated (zeros), never fetched, as in the mappers.
"""

from __future__ import annotations

import numpy as np

from workloads.errors import ArchsimInputError
from workloads.layer import Layer, LayerKind

K_ORDERS = ("pytorch", "channel_last")


def k_order_for_layout(layout: str) -> str:
    """The reduction order in which a layout's subvectors are contiguous."""
    return "channel_last" if layout == "input_channel" else "pytorch"


def k_permutation(layer: Layer, order: str) -> np.ndarray:
    """``perm[kappa]`` = PyTorch-order K index of array row position ``kappa`` (one repeat)."""
    cg = layer.in_channels // layer.groups
    kh, kw = layer.kernel_h, layer.kernel_w
    pyt = np.arange(cg * kh * kw).reshape(cg, kh, kw)
    if order == "pytorch":
        return pyt.reshape(-1)
    if order == "channel_last":
        return pyt.transpose(1, 2, 0).reshape(-1)
    raise ArchsimInputError(f"reduction order must be one of {', '.join(K_ORDERS)}, got {order!r}")


def layout_index(layer: Layer, layout: str) -> np.ndarray:
    """``idx[k_pytorch]`` = position of PyTorch-order K element in the layout's flattened row, so that
    subvector ``idx // d`` and offset ``idx % d`` locate it (see `archsim.functional.weights`)."""
    perm = k_permutation(layer, k_order_for_layout(layout))
    inv = np.empty_like(perm)
    inv[perm] = np.arange(perm.size)
    return inv


def check_activations(layer: Layer, activations: object) -> np.ndarray:
    """``activations`` as int64 in ``layer.input_shape``; raises a clear error otherwise."""
    arr = np.asarray(activations)
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.array_equal(arr, np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ArchsimInputError(f"layer {layer.name!r}: activations must be integers (int8 on the array), got "
                                    f"dtype {arr.dtype}; quantise them first")
    shape = layer.input_shape
    if arr.shape != shape:
        if layer.kind is LayerKind.LINEAR and layer.in_h == 1 and arr.shape == (layer.batch, layer.in_channels):
            arr = arr.reshape(shape)
        else:
            raise ArchsimInputError(f"layer {layer.name!r}: activations have shape {arr.shape}, the layer reads "
                                    f"{shape} ({'batch, channels, h, w' if len(shape) == 4 else 'batch, rows, features'})")
    return arr.astype(np.int64)


def im2col(layer: Layer, x: np.ndarray) -> np.ndarray:
    """``[repeats, M, K]`` im2col matrix in PyTorch K order (``x`` already checked)."""
    if layer.kind is LayerKind.LINEAR:
        return x.reshape(1, -1, layer.in_channels)
    B, C, _, _ = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (layer.pad_top, layer.pad_bottom), (layer.pad_left, layer.pad_right)))
    oh, ow = layer.out_h, layer.out_w
    sh, sw, dh, dw = layer.stride_h, layer.stride_w, layer.dilation_h, layer.dilation_w
    cols = np.empty((B, C, layer.kernel_h, layer.kernel_w, oh, ow), dtype=np.int64)
    for r in range(layer.kernel_h):
        for s in range(layer.kernel_w):
            cols[:, :, r, s] = xp[:, :, r * dh: r * dh + sh * (oh - 1) + 1: sh, s * dw: s * dw + sw * (ow - 1) + 1: sw]
    g = layer.groups
    cols = cols.transpose(0, 4, 5, 1, 2, 3).reshape(B * oh * ow, g, -1)   # [M, groups, K] (c, kh, kw)
    return np.ascontiguousarray(cols.transpose(1, 0, 2))


def assemble_output(layer: Layer, per_repeat: np.ndarray) -> np.ndarray:
    """``[repeats, M, N]`` accumulations -> ``layer.output_shape`` (channels of group g after group g-1)."""
    reps, m, n = per_repeat.shape
    flat = per_repeat.transpose(1, 0, 2).reshape(m, reps * n)     # output channel = g * N + j
    if layer.kind is LayerKind.LINEAR:
        return flat.reshape(layer.output_shape)
    return flat.reshape(layer.batch, layer.out_h, layer.out_w, reps * n).transpose(0, 3, 1, 2)
