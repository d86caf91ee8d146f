"""Layer geometry that every dataflow mapper needs: GEMM sizes, which input rows a block of output
lines touches, and byte sizes per operand — pure arithmetic on a `Layer`, shared by WS and EWS.

Conventions (used by all mappers; see ``archsim.mapping.ws`` for the full counting rules):

* A layer is ``repeats`` independent GEMMs (groups of a grouped conv, batch elements of a matmul);
  one repeat is (M x K) @ (K x N) with M = output pixels (x batch when the weights are shared).
* M is walked as *lines*: one line is one output row of one image (``out_w`` pixels) for a conv,
  one row of M (a single pixel) for linear/matmul. Tiles split M only at line boundaries, so
  sliding-window reuse along W (EWS) and the input-row halo are well defined.
* The reduction axis K is ordered like PyTorch's weight ``(c, kh, kw)``: channel outermost. A row
  fold covering K elements ``[k0, k1)`` therefore touches the channels ``k0 // (kh*kw)`` to
  ``(k1-1) // (kh*kw)``, and the input a fold needs from DRAM is whole channel slabs (the input
  positions the kernel touches, padding excluded — padding is generated, never fetched).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from workloads.layer import Layer, LayerKind


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _touched(n_out_lo: int, n_out_hi: int, stride: int, pad: int, taps: int, dilation: int, size: int) -> int:
    """How many input positions in ``[0, size)`` outputs ``[n_out_lo, n_out_hi)`` touch along one axis."""
    if n_out_hi <= n_out_lo:
        return 0
    extent = dilation * (taps - 1) + 1
    if dilation == 1 and stride <= extent:
        # the union of the windows is one contiguous interval
        lo = n_out_lo * stride - pad
        hi = (n_out_hi - 1) * stride - pad + extent - 1
        return max(0, min(hi, size - 1) - max(lo, 0) + 1)
    positions = {o * stride - pad + t * dilation for o in range(n_out_lo, n_out_hi) for t in range(taps)}
    return sum(1 for p in positions if 0 <= p < size)


@dataclass(frozen=True)
class Geometry:
    """Everything about a layer's shape a mapper needs, computed once per layer."""

    layer: Layer
    repeats: int          # independent GEMMs run one after another
    m: int                # GEMM M per repeat (= T, the streamed rows)
    n: int                # GEMM N per repeat (output channels of one group)
    k: int                # GEMM K per repeat (reduction)
    taps: int             # kernel_h * kernel_w (K elements per input channel)
    kernel_w: int
    images: int           # images per repeat (batch for conv/linear; 1 for matmul, whose repeats are the batch)
    lines: int            # lines of M per repeat (images * out_h for conv; M for linear/matmul)
    line_len: int         # pixels per line (out_w for conv; 1 otherwise)
    w_bytes: float        # bytes per weight element
    i_bytes: float        # bytes per input element
    o_bytes: float        # bytes per output element
    p_bytes: float        # bytes per partial sum (accumulator width of the design)

    @classmethod
    def of(cls, layer: Layer, psum_bits: int) -> "Geometry":
        g = layer.gemm
        prec = layer.precision
        if layer.kind is LayerKind.CONV:
            images, lines, line_len = layer.batch, layer.batch * layer.out_h, layer.out_w
        elif layer.kind is LayerKind.LINEAR:
            images, lines, line_len = layer.batch, g.m, 1
        else:  # matmul: each repeat is one batch element
            images, lines, line_len = 1, g.m, 1
        assert lines * line_len == g.m
        return cls(layer=layer, repeats=g.repeats, m=g.m, n=g.n, k=g.k,
                   taps=layer.kernel_h * layer.kernel_w, kernel_w=layer.kernel_w, images=images, lines=lines,
                   line_len=line_len, w_bytes=prec.weight_bits / 8, i_bytes=prec.input_bits / 8,
                   o_bytes=prec.output_bits / 8, p_bytes=psum_bits / 8)

    # ---- input geometry ---------------------------------------------------------------------
    @property
    def touched_w(self) -> int:
        """Input columns (along W) the layer reads; all of them unless stride > kernel extent."""
        L = self.layer
        return _touched_cached(0, L.out_w, L.stride_w, L.pad_left, L.kernel_w, L.dilation_w, L.in_w)

    def input_rows(self, line_lo: int, line_hi: int) -> int:
        """Input (image, row) pairs that lines ``[line_lo, line_hi)`` of one repeat touch."""
        L = self.layer
        if L.kind is not LayerKind.CONV:
            return line_hi - line_lo     # one input row per output row
        oh = L.out_h
        total = 0
        line = line_lo
        while line < line_hi:            # split the range at image boundaries
            img_end = (line // oh + 1) * oh
            hi = min(line_hi, img_end)
            total += _touched_cached(line % oh, (hi - 1) % oh + 1, L.stride_h, L.pad_top, L.kernel_h,
                                     L.dilation_h, L.in_h)
            line = hi
        return total

    @property
    def plane_elements(self) -> int:
        """Input elements of one channel that one repeat needs from DRAM (touched positions only)."""
        return self.input_rows(0, self.lines) * self.touched_w

    @property
    def channels(self) -> int:
        """Input channels of one repeat (K / taps)."""
        return self.k // self.taps

    @property
    def repeat_input_bytes(self) -> float:
        """Unique input bytes one repeat needs (its channels x touched plane)."""
        return self.channels * self.plane_elements * self.i_bytes

    @property
    def needed_input_bytes(self) -> float:
        """Unique input bytes the whole layer needs from DRAM at least once.

        Equals ``layer.input_bytes`` unless the stride skips input positions (e.g. 1x1 stride 2)."""
        return self.repeats * self.repeat_input_bytes

    def channel_range(self, k0: int, k1: int) -> tuple[int, int]:
        """Input channels ``[c0, c1)`` (within the repeat) touched by K elements ``[k0, k1)``."""
        return k0 // self.taps, (k1 - 1) // self.taps + 1


@lru_cache(maxsize=65536)
def _touched_cached(lo: int, hi: int, stride: int, pad: int, taps: int, dilation: int, size: int) -> int:
    return _touched(lo, hi, stride, pad, taps, dilation, size)


def line_chunks(geo: Geometry, channels: int, capacity_bytes: float, lo: int = 0,
                hi: int | None = None) -> list[tuple[int, int]]:
    """Split lines ``[lo, hi)`` of a repeat into chunks whose input slab (``channels`` channels) fits ``capacity_bytes``.

    Chunks are equal-sized runs of lines (the last may be shorter); each chunk needs its own input
    rows, so the halo rows between chunks are fetched twice — the honest cost of a small buffer.
    Returns ``[(lo, hi)]`` when everything fits. Raises ValueError when not even one line fits.
    """
    hi = geo.lines if hi is None else hi
    per_row = channels * geo.touched_w * geo.i_bytes
    if geo.input_rows(lo, hi) * per_row <= capacity_bytes:
        return [(lo, hi)]
    step = max_lines_fitting(geo, per_row, capacity_bytes)
    if step == 0:
        raise ValueError(f"one output line needs {_max_rows(geo, 1) * per_row:.0f} input bytes")
    return [(s, min(s + step, hi)) for s in range(lo, hi, step)]


def max_lines_fitting(geo: Geometry, bytes_per_input_row: float, capacity_bytes: float) -> int:
    """The largest run of lines whose worst-case input (``bytes_per_input_row`` per input row) fits; 0 if none."""
    if _max_rows(geo, 1) * bytes_per_input_row > capacity_bytes:
        return 0
    lo, hi = 1, geo.lines
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _max_rows(geo, mid) * bytes_per_input_row <= capacity_bytes:
            lo = mid
        else:
            hi = mid - 1
    return lo


def even_chunks(lines: int, max_len: int) -> list[tuple[int, int]]:
    """``[0, lines)`` in the fewest runs of at most ``max_len`` lines, as equal as possible.

    Equal runs (rather than full runs plus a stub) keep every chunk's on-chip tile the same size;
    the number of chunks — which is what costs weight reloads and fill/drain — is the minimum.
    """
    n = ceil_div(lines, max(1, max_len))
    base, extra = divmod(lines, n)
    out, start = [], 0
    for i in range(n):
        end = start + base + (1 if i < extra else 0)
        out.append((start, end))
        start = end
    return out


def _max_rows(geo: Geometry, n_lines: int) -> int:
    """Worst-case input rows a run of ``n_lines`` lines touches (interior of an image, no padding clip)."""
    L = geo.layer
    if L.kind is not LayerKind.CONV:
        return n_lines
    oh = L.out_h
    if n_lines >= oh:
        images = ceil_div(n_lines, oh) + 1
        return min(images, geo.images) * L.in_h
    return min(L.in_h, (n_lines - 1) * L.stride_h + L.effective_kernel_h)
