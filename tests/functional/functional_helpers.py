"""Reference arithmetic for the functional-mode tests: torch on the reconstructed integer weights.

Independent of `archsim.functional`: the reconstruction is `CompressedLayer.reconstruct_int()` on
the compressed layer's own integer tensors, and the convolution is torch's (float64 holds every
int8 x int8 sum of these sizes exactly, so equality is exact).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from archsim.design import load_design
from workloads.layer import Layer, LayerKind

torch.set_num_threads(1)


def reference(layer: Layer, x: np.ndarray, weight: torch.Tensor | np.ndarray) -> np.ndarray:
    """Exact integer output of ``layer`` (int64), via torch float64."""
    w = torch.as_tensor(np.asarray(weight), dtype=torch.float64)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    if layer.kind is LayerKind.LINEAR:
        out = xt.reshape(layer.input_shape) @ w.T
    else:
        if w.dim() == 3:
            w = w.unsqueeze(2)
        xt = F.pad(xt, (layer.pad_left, layer.pad_right, layer.pad_top, layer.pad_bottom))
        out = F.conv2d(xt, w, stride=(layer.stride_h, layer.stride_w),
                       dilation=(layer.dilation_h, layer.dilation_w), groups=layer.groups)
    return out.round().to(torch.int64).numpy()


def reconstruct_int(cl) -> torch.Tensor:
    """Integer weight of a `CompressedLayer` (compress's own reconstruction)."""
    return cl.reconstruct_int()

def design(preset: str = "ws", rows: int = 16, cols: int = 4, n: int | None = None, m: int | None = None,
           **overrides: object):
    """A preset (ws, ews, ...) resized; with ``n, m`` an N:M sparse array built for n:m; dotted overrides."""
    changes: dict[str, object] = {"array.rows": rows, "array.cols": cols, **overrides}
    if n is not None:
        changes.update({"array.pe": "nm_sparse", "array.sparse_n": n, "array.sparse_m": m})
    return load_design(preset).with_overrides(**changes)


def int8(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(-128, 128, size=shape, dtype=np.int64)
