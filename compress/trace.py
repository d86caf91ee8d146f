"""`Trace`: the only contract between compress and archsim — plain data, no torch.

A trace says, for one layer, what an accelerator must fetch and compute: the layer's dims, the
weight storage format and exactly how many bits each part of the compressed weights occupies.
It can come from real clustering (`compress`), from the structural rules alone
(`structural_trace`, exact for sizes and densities because those do not depend on the values), or
be written by hand / another tool as JSON or Parquet.

Bit accounting (per layer), with ``W`` weights, ``d``-dim subvectors (``S = W / d`` of them),
``N:M`` sparsity and a ``k``-entry codebook of ``codebook_value_bits``-bit values:

=========  ==========================  ===============================  =====================
format     codes                       mask                             values / codebook
=========  ==========================  ===============================  =====================
dense      0                           0                                W x weight_bits
nm         0                           see `mask_bits_per_group`        W x N/M x weight_bits
vq         S x ceil(log2 k)            0                                k x d x codebook bits
mvq        S x ceil(log2 k)            see `mask_bits_per_group`        k x d x codebook bits
sparse     0                           W (a bitmap, one bit per weight) round(W x density) x weight_bits
=========  ==========================  ===============================  =====================

Mask encodings: ``bitmap`` stores M bits per group (one per position; what an LZC decoder reads);
``combinatorial`` stores ceil(log2 C(M, N)) bits per group (the index of the kept pattern);
``index`` stores N x ceil(log2 M) bits per group (a position per kept value, as S2TA / A100 do).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any, Iterable

from workloads.errors import ArchsimInputError
from workloads.files import read_text_file
from workloads.layer import Layer


class WeightFormat(str, Enum):
    DENSE = "dense"
    NM = "nm"
    VQ = "vq"
    MVQ = "mvq"
    #: unstructured sparsity: a bitmap of W bits (one per weight) + the kept values (SparTen style);
    #: ``density`` is any value in (0, 1], measured or chosen
    SPARSE = "sparse"


MASK_ENCODINGS = ("bitmap", "combinatorial", "index")


def mask_bits_per_group(n: int, m: int, encoding: str) -> int:
    """Bits that describe which N of M positions are kept, per group of M weights."""
    if encoding == "bitmap":
        return m
    if encoding == "combinatorial":
        return math.ceil(math.log2(math.comb(m, n))) if math.comb(m, n) > 1 else 0
    if encoding == "index":
        return n * math.ceil(math.log2(m)) if m > 1 else 0
    raise ArchsimInputError(f"mask_encoding must be one of {MASK_ENCODINGS}, got {encoding!r}")


def code_bits_for(k: int) -> int:
    """Width of one codeword index: ceil(log2 k) (a 1-entry codebook still needs no bits)."""
    return math.ceil(math.log2(k)) if k > 1 else 0


@dataclass(frozen=True)
class Trace:
    """What an accelerator must fetch and compute for one layer.

    Sizes are totals for the layer in bits. ``density`` is the fraction of weights that are
    non-zero by construction (N/M for nm and mvq, 1 otherwise) — the fraction of MACs a sparse
    array must execute.
    """

    layer: Layer
    format: WeightFormat = WeightFormat.DENSE
    n: int = 1
    m: int = 1
    d: int = 1
    k: int = 0
    codebook_value_bits: int = 8
    mask_encoding: str = "bitmap"
    density: float = 1.0
    code_bits: int = 0
    mask_bits: int = 0
    codebook_bits: int = 0
    value_bits: int = 0
    bias_bits: int = 0
    subvector_axis: str = "input_channel"
    #: activation statistics of this layer's *input* (what the array multiplies the weights with).
    #: ``act_density``: fraction of non-zero input activations, measured by running the model on data
    #: (`compress.activations`) or stated; None = not measured (designs that exploit activation
    #: sparsity then need a stated default or refuse the trace).
    act_density: float | None = None
    #: activation density-bound block (S2TA's DBB): at most ``act_dbb_n`` non-zeros are kept per block
    #: of ``act_dbb_m`` consecutive reduction positions (the DBB-izer's top-N); None = no bound chosen.
    act_dbb_n: int | None = None
    act_dbb_m: int | None = None
    #: per-output-channel (filter) kept fraction of a ``sparse`` trace, ``out_channels`` values in [0, 1]:
    #: how unevenly unstructured pruning spread the kept weights over the filters (what SparTen's load
    #: balancing sees). Filled by real pruning (`compress.unstructured`); None = not known (a design that
    #: needs it then uses its own stated model, e.g. `archsim.mapping.sparten_model`).
    filter_density: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.format, WeightFormat):
            try:
                object.__setattr__(self, "format", WeightFormat(self.format))
            except ValueError:
                known = ", ".join(f.value for f in WeightFormat)
                raise ArchsimInputError(f"trace of {self.layer.name!r}: format must be one of {known}, "
                                        f"got {self.format!r}") from None
        _check_finite(self)
        if not 0.0 < self.density <= 1.0:
            raise ArchsimInputError(f"trace of {self.layer.name!r}: density must be in (0, 1], got {self.density}")
        for name in ("code_bits", "mask_bits", "codebook_bits", "value_bits", "bias_bits"):
            if getattr(self, name) < 0:
                raise ArchsimInputError(f"trace of {self.layer.name!r}: {name} must be >= 0")
        where = f"trace of {self.layer.name!r}"
        if self.act_density is not None and not 0.0 < self.act_density <= 1.0:
            raise ArchsimInputError(f"{where}: act_density must be in (0, 1] (the fraction of non-zero input "
                                    f"activations), got {self.act_density}")
        if (self.act_dbb_n is None) != (self.act_dbb_m is None):
            raise ArchsimInputError(f"{where}: give both act_dbb_n and act_dbb_m (the activation DBB bound N of M) "
                                    f"or neither")
        if self.act_dbb_n is not None and not 1 <= self.act_dbb_n <= self.act_dbb_m:
            raise ArchsimInputError(f"{where}: activation DBB needs 1 <= act_dbb_n <= act_dbb_m, got "
                                    f"{self.act_dbb_n}:{self.act_dbb_m}")
        if self.filter_density is not None:
            _check_filter_density(self, where)

    @property
    def weight_bits_total(self) -> int:
        """Everything the weight path fetches from DRAM for this layer (codes+mask+codebook+values)."""
        return self.code_bits + self.mask_bits + self.codebook_bits + self.value_bits

    @property
    def codebook_bytes(self) -> float:
        return self.codebook_bits / 8

    @property
    def n_subvectors(self) -> int:
        return self.layer.weights // self.d if self.format in (WeightFormat.VQ, WeightFormat.MVQ) else 0

    @property
    def kept_weights(self) -> int:
        return round(self.layer.weights * self.density)

    @property
    def effective_macs(self) -> int:
        """MACs a sparse array must execute: dense MACs x density."""
        return round(self.layer.macs * self.density)

    @property
    def compression_ratio(self) -> float:
        """Against 32-bit floats, weights only."""
        return 32 * self.layer.weights / max(self.weight_bits_total, 1)

    def breakdown(self) -> dict[str, int]:
        return {"codes": self.code_bits, "mask": self.mask_bits, "codebook": self.codebook_bits,
                "values": self.value_bits, "bias": self.bias_bits}

    # ---- plain data --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = self.format.value
        data["layer"] = self.layer.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Trace":
        data = dict(data)
        layer = data.pop("layer")
        layer = Layer.from_dict(layer) if isinstance(layer, dict) else layer
        known = set(cls.__dataclass_fields__) - {"layer"}
        unknown = set(data) - known
        if unknown:
            raise ArchsimInputError(f"trace fields {sorted(unknown)} are not known; valid fields: {sorted(known)}")
        return cls(layer=layer, **data)


def structural_trace(layer: Layer, fmt: WeightFormat | str, *, n: int = 1, m: int = 1, d: int = 1, k: int = 0,
                     codebook_value_bits: int = 8, mask_encoding: str = "bitmap", density: float = 1.0) -> Trace:
    """Exact sizes of a layer compressed in ``fmt`` without running any clustering.

    Sizes and densities depend only on shapes and (N, M, d, k), never on weight values, so this
    is exact for timing and energy. Raises `ArchsimInputError` when the shape does not fit.
    ``density`` is the kept fraction of unstructured (``sparse``) pruning: ``round(W x density)``
    weights are kept (at least one), and the trace's ``density`` is that count / W exactly. How the
    kept weights spread over the filters depends on the values, so ``filter_density`` stays None.
    """
    fmt = WeightFormat(fmt)
    w_bits = layer.precision.weight_bits
    bias_bits = layer.biases * layer.precision.psum_bits
    name = layer.name
    if fmt is WeightFormat.DENSE:
        return Trace(layer=layer, format=fmt, value_bits=layer.weights * w_bits, bias_bits=bias_bits)
    if fmt is WeightFormat.SPARSE:
        if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0.0 < density <= 1.0:
            raise ArchsimInputError(f"layer {name!r}: unstructured (sparse) pruning needs a weight density in (0, 1] "
                                    f"(the kept fraction, e.g. 0.25), got {density!r}")
        kept = max(1, round(layer.weights * density))
        return Trace(layer=layer, format=fmt, density=kept / layer.weights, mask_encoding="bitmap",
                     mask_bits=layer.weights, value_bits=kept * w_bits, bias_bits=bias_bits)
    if fmt in (WeightFormat.NM, WeightFormat.MVQ):
        if not (isinstance(n, int) and isinstance(m, int) and 1 <= n < m):
            raise ArchsimInputError(f"layer {name!r}: N:M needs 1 <= N < M, got N={n}, M={m}")
    if fmt in (WeightFormat.VQ, WeightFormat.MVQ):
        if d < 1 or k < 1:
            raise ArchsimInputError(f"layer {name!r}: vector quantisation needs d >= 1 and k >= 1, got d={d}, k={k}")
        if layer.reduction_size % d and (layer.in_channels // layer.groups) % d:
            raise ArchsimInputError(
                f"layer {name!r}: d={d} does not divide the reduction length {layer.reduction_size}; "
                f"pick d dividing in_channels/groups={layer.in_channels // layer.groups} or leave the layer dense")
    if fmt is WeightFormat.MVQ and d % m:
        raise ArchsimInputError(f"layer {name!r}: M={m} must divide d={d} (N:M groups lie inside each subvector)")
    if fmt is WeightFormat.NM and layer.reduction_size % m:
        raise ArchsimInputError(f"layer {name!r}: M={m} must divide the reduction length {layer.reduction_size}")

    groups = layer.weights // m if fmt in (WeightFormat.NM, WeightFormat.MVQ) else 0
    mask_bits = groups * mask_bits_per_group(n, m, mask_encoding) if groups else 0
    density = n / m if fmt in (WeightFormat.NM, WeightFormat.MVQ) else 1.0
    if fmt is WeightFormat.NM:
        return Trace(layer=layer, format=fmt, n=n, m=m, density=density, mask_encoding=mask_encoding,
                     mask_bits=mask_bits, value_bits=groups * n * w_bits, bias_bits=bias_bits)
    subvectors = layer.weights // d
    return Trace(layer=layer, format=fmt, n=n if fmt is WeightFormat.MVQ else 1, m=m if fmt is WeightFormat.MVQ else 1,
                 d=d, k=k, codebook_value_bits=codebook_value_bits, mask_encoding=mask_encoding, density=density,
                 code_bits=subvectors * code_bits_for(k), mask_bits=mask_bits,
                 codebook_bits=k * d * codebook_value_bits, bias_bits=bias_bits)


def _check_finite(trace: Trace) -> None:
    """Every numeric field must be a finite number: JSON's ``NaN``/``Infinity`` parse without complaint,
    and a NaN passes every range check below (``nan < 0`` is False) and then poisons every sum."""
    for name in ("n", "m", "d", "k", "codebook_value_bits", "density", "code_bits", "mask_bits", "codebook_bits",
                 "value_bits", "bias_bits", "act_density", "act_dbb_n", "act_dbb_m"):
        value = getattr(trace, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ArchsimInputError(f"trace of {trace.layer.name!r}: {name} must be a finite number, got {value!r}")
    for value in trace.filter_density or ():
        if isinstance(value, (int, float)) and not math.isfinite(value):
            raise ArchsimInputError(f"trace of {trace.layer.name!r}: filter_density must hold finite numbers, "
                                    f"got {value!r}")


def _check_filter_density(trace: Trace, where: str) -> None:
    """``filter_density``: one kept fraction in [0, 1] per output channel, as a tuple (traces are hashable)."""
    values = trace.filter_density
    try:
        values = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ArchsimInputError(f"{where}: filter_density must be a sequence of numbers (one kept fraction per "
                                f"output channel), got {type(trace.filter_density).__name__}") from None
    if len(values) != trace.layer.out_channels:
        raise ArchsimInputError(f"{where}: filter_density has {len(values)} values but the layer has "
                                f"{trace.layer.out_channels} output channels (filters); give one per filter")
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise ArchsimInputError(f"{where}: filter_density values must be in [0, 1] (kept fraction of each filter)")
    object.__setattr__(trace, "filter_density", values)


# ---- files ---------------------------------------------------------------------------------------
def save_traces(traces: Iterable[Trace], path: str | Path) -> Path:
    """Write traces as JSON (``.json``) or Parquet (``.parquet``, one row per layer)."""
    path = Path(path)
    rows = [t.to_dict() for t in traces]
    if path.suffix == ".json":
        path.write_text(json.dumps({"traces": rows}, indent=1))
    elif path.suffix == ".parquet":
        import pandas as pd

        flat = [{**{k: v for k, v in r.items() if k != "layer"}, "layer": json.dumps(r["layer"])} for r in rows]
        pd.DataFrame(flat).to_parquet(path, index=False)
    else:
        raise ArchsimInputError(f"trace file {str(path)!r}: use a .json or .parquet suffix")
    return path


def load_traces(path: str | Path) -> list[Trace]:
    path = Path(path)
    if not path.exists():
        raise ArchsimInputError(f"trace file {str(path)!r} does not exist")
    try:
        if path.suffix == ".json":
            rows = json.loads(read_text_file(path, "trace file"))["traces"]
        elif path.suffix == ".parquet":
            import pandas as pd

            rows = [{**r, "layer": json.loads(r["layer"])} for r in pd.read_parquet(path).to_dict("records")]
        else:
            raise ArchsimInputError(f"trace file {str(path)!r}: use a .json or .parquet suffix")
    except (json.JSONDecodeError, KeyError, OSError, ValueError) as err:
        if isinstance(err, ArchsimInputError):
            raise
        raise ArchsimInputError(f"trace file {str(path)!r} could not be read: {err}") from None
    return [Trace.from_dict(_plain(r)) for r in rows]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """numpy scalars from Parquet → Python scalars (numpy arrays, e.g. ``filter_density``, → lists)."""
    return {k: (v.tolist() if getattr(v, "ndim", 0) else v.item() if hasattr(v, "item") else v)
            for k, v in row.items()}


def with_layer(trace: Trace, layer: Layer) -> Trace:
    return replace(trace, layer=layer)
