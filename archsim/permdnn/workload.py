"""FC layers for the two engines: size, weight density (EIE's pruned matrix), activation density,
and the PD block size p (PermDNN).

A layer is plain data so it can come from EIE's benchmark table (``presets/eie_benchmarks.yaml``),
from a JSON list written by ``compress.permdiag.experiment`` (densities measured on a real model),
or be given by hand. ``rows`` = outputs (m), ``cols`` = inputs (n).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from archsim.validation import reject_non_finite
from compress.permdiag.structure import check_block_size
from workloads.errors import ArchsimInputError
from workloads.files import read_text_file

BENCHMARKS = Path(__file__).parent / "presets" / "eie_benchmarks.yaml"


@dataclass(frozen=True)
class FcLayer:
    name: str
    rows: int
    cols: int
    act_density: float
    weight_density: float = 1.0
    p: int | None = None
    pad_cols: int = 0          # zero input columns appended so that p divides cols (never activated)
    source: str = ""

    def __post_init__(self) -> None:
        for f in ("rows", "cols"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ArchsimInputError(f"layer {self.name!r}: {f} must be a whole number >= 1 (got {v!r})")
        for f in ("act_density", "weight_density"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < float(v) <= 1.0:
                raise ArchsimInputError(f"layer {self.name!r}: {f} must be a fraction in (0, 1] (got {v!r})")
        if self.p is not None:
            check_block_size(self.rows, self.cols, self.p, f"layer {self.name!r}")

    @property
    def active_cols(self) -> int:
        """Non-zero inputs per frame: round(act_density x original cols), at least 1."""
        return max(1, round(self.act_density * self.cols))

    def with_p(self, p: int) -> "FcLayer":
        return replace(self, p=p)

    def to_dict(self) -> dict:
        return asdict(self)


def choose_p(rows: int, cols: int, weight_density: float, max_p: int = 64, allow_padding: bool = False) -> int:
    """PermDNN's per-layer p is not published [U]; this rule picks the largest power of two with
    ``1/p >= weight_density`` (the PD layer keeps at least as many weights as EIE's pruned one: a
    comparison at equal-or-more parameters for PermDNN) that divides both dimensions -- or, with
    ``allow_padding``, any such power of two (the layer is then padded by `pad_for`). It is not
    tuned to any published ratio."""
    best = 1
    p = 2
    while p <= max_p:
        divides = rows % p == 0 and cols % p == 0
        if (divides or allow_padding) and 1.0 / p >= weight_density - 1e-12:
            best = p
        p *= 2
    return best


def pad_for(layer: FcLayer, p: int) -> FcLayer:
    """An explicit padding step: append zero input columns (never activated: the non-zero detector
    skips them, but their weights are stored) and/or dummy output rows (computed and discarded) so
    that ``p`` divides both dimensions. The name records the padding."""
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        raise ArchsimInputError(f"layer {layer.name!r}: block size p must be a whole number >= 1 (got {p!r})")
    pad_c, pad_r = (-layer.cols) % p, (-layer.rows) % p
    if pad_c == 0 and pad_r == 0:
        return layer.with_p(p)
    n_orig = layer.cols - layer.pad_cols
    what = []
    if pad_c:
        what.append(f"cols {layer.cols}->{layer.cols + pad_c}")
    if pad_r:
        what.append(f"rows {layer.rows}->{layer.rows + pad_r}")
    return replace(layer, cols=layer.cols + pad_c, rows=layer.rows + pad_r, p=p, pad_cols=layer.pad_cols + pad_c,
                   act_density=layer.act_density * n_orig / (layer.cols + pad_c),
                   name=f"{layer.name} ({', '.join(what)})")


def eie_benchmarks() -> list[FcLayer]:
    """EIE Table III layers (densities recalled [R], see the YAML), without p."""
    data = yaml.safe_load(BENCHMARKS.read_text())
    return [FcLayer(source=data["source"], **row) for row in data["layers"]]


def load_layers(path: str | Path) -> list[FcLayer]:
    """Layers from a JSON or YAML list of mappings (keys of `FcLayer`)."""
    path = Path(path)
    if not path.is_file():
        raise ArchsimInputError(f"layer file {str(path)!r} does not exist")
    text = read_text_file(path, "layer file")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise ArchsimInputError(f"{path}: cannot parse ({err})") from None
    reject_non_finite(data, f"layer file {str(path)!r}")
    if isinstance(data, dict):
        data = data.get("layers")
    if not isinstance(data, list) or not data:
        raise ArchsimInputError(f"{path}: expected a non-empty list of layers (name, rows, cols, act_density, ...)")
    known = set(FcLayer.__dataclass_fields__)
    out = []
    for i, row in enumerate(data):
        unknown = set(row) - known
        if unknown:
            raise ArchsimInputError(f"{path}: layer {i}: unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        try:
            out.append(FcLayer(**row))
        except TypeError as err:
            raise ArchsimInputError(f"{path}: layer {i}: {err}") from None
    return out


def activation_mask(layer: FcLayer, seed: int = 0) -> np.ndarray:
    """Indices of the non-zero inputs of one frame: ``active_cols`` distinct columns, uniformly at
    random among the original (unpadded) columns, in increasing order (the detector scans in order)."""
    rng = np.random.default_rng(seed)
    n = layer.cols - layer.pad_cols
    return np.sort(rng.choice(n, size=min(layer.active_cols, n), replace=False))


def ideal_permdnn_cycles(layer: FcLayer, n_pe: int, mults_per_pe: int) -> float:
    """The reference's ideal: m*n*d/(p*PEs*mults) cycles (no quantisation, no fill)."""
    if layer.p is None:
        raise ArchsimInputError(f"layer {layer.name!r}: p is not set")
    return layer.rows * layer.active_cols / layer.p / (n_pe * mults_per_pe)


__all__ = ["FcLayer", "choose_p", "pad_for", "eie_benchmarks", "load_layers", "activation_mask",
           "ideal_permdnn_cycles", "BENCHMARKS"]
