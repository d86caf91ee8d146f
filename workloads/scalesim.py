"""SCALE-Sim v3 topology CSVs: export a `Network` and import one, conv form and GEMM form.

SCALE-Sim's conventions (reference/peers.md §3.3, ``scalesim/topology_utils.py``):

* the first line is a header and is always skipped; every row ends with a comma (SCALE-Sim drops
  the last field of each row, so a row without the trailing comma silently loses its last value
  there — we write the comma and tolerate its absence on import);
* conv form ``name, IFMAP H, IFMAP W, Filter H, Filter W, Channels, Num Filter, Stride[, N:M],``
  with the IFMAP *pre-padded*, one stride for both directions, and output size
  ``ceil((H - R + S) / S)`` (`scalesim_output_size`) where PyTorch uses floor;
* a conv row whose name contains ``DP`` is depthwise: SCALE-Sim runs it as ``Channels``
  single-channel layers with ``Num Filter`` filters each, so ``Num Filter`` is the depth multiplier
  (1 for MobileNet-style depthwise convs), not the output channel count;
* GEMM form ``name, M, N, K[, N:M],``: an (M x K) @ (K x N) product (M output rows, N filters,
  K reduction). Newer upstream versions also accept an integer batch there; we read it.

Export choices (`to_scalesim_csv`):

* conv form: the IFMAP written is ``H' = (E - 1) * S + R`` (E our output size), so SCALE-Sim's ceil
  rule and PyTorch's floor rule give the same E. Padding rows/columns the output never reads are
  dropped; that changes no MAC. Grouped (non-depthwise) convs become one row per group
  ``name_g0 ... name_g{G-1}``; depthwise convs get ``_DP`` appended to the name; a non-depthwise
  layer whose name happens to contain ``DP`` has it rewritten to ``Dp`` (else SCALE-Sim would
  expand it per channel). Linear layers and matmuls become 1x1 convs on an ``rows x 1`` IFMAP;
  a batched matmul becomes one row per product ``name_r0 ...``. Dilation has no SCALE-Sim
  equivalent, and non-square strides and batch > 1 cannot be written in the conv form: these raise
  `ArchsimInputError` pointing at the GEMM form (exact MACs; for dilation it is the only option).
* GEMM form: one row per independent product of `Layer.gemm` (``name_r{i}`` when repeats > 1:
  groups of a grouped conv, batch of a batched matmul), since the products do not share weights.

Import (`from_scalesim_csv`) reverses this: a pre-padded IFMAP maps to a conv with no top/left
padding and ``pad_bottom``/``pad_right`` just large enough that PyTorch's floor rule reproduces
SCALE-Sim's ceil output size; runs of rows ``X_g0..X_g{G-1}`` (conv form) or ``X_r0..X_r{B-1}``
with identical dimensions are merged back into one grouped conv / batched matmul. The N:M column,
when present, is kept in ``Network.notes`` and available as a dict via `scalesim_sparsity`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from workloads.errors import ArchsimInputError
from workloads.files import read_text_file
from workloads.layer import Layer, LayerKind
from workloads.network import Network

__all__ = ["to_scalesim_csv", "from_scalesim_csv", "scalesim_output_size", "scalesim_sparsity",
           "CONV_HEADER", "GEMM_HEADER"]

CONV_HEADER = ["Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
               "Num Filter", "Strides"]
GEMM_HEADER = ["Layer", "M", "N", "K"]
_SPARSITY_HEADER = "Sparsity"


def scalesim_output_size(h: int, r: int, s: int) -> int:
    """SCALE-Sim's output size for a pre-padded input ``h``, kernel ``r``, stride ``s``: ceil((h-r+s)/s)."""
    return -(-(h - r + s) // s)


# ---- export ------------------------------------------------------------------------------------
def _row(fields: list[object]) -> str:
    return ", ".join(str(f) for f in fields) + ",\n"


def _clean_name(name: str) -> str:
    return re.sub(r"[,\s]+", "_", name.strip())


def _nm(sparsity: dict[str, str] | None, name: str) -> list[str]:
    if sparsity is None:
        return []
    return [sparsity.get(name, "1:1")]


def _conv_rows(layer: Layer, network: Network, nm: list[str]) -> list[str]:
    name = _clean_name(layer.name)

    def fail(what: str) -> ArchsimInputError:
        return ArchsimInputError(f"layer {layer.name!r}: {what} cannot be written in SCALE-Sim's conv form; "
                                 f"use the GEMM form (form='gemm' / --scalesim gemm)")

    if network.batch > 1 or (layer.kind is not LayerKind.MATMUL and layer.batch > 1):
        raise fail(f"batch {max(network.batch, layer.batch)} (SCALE-Sim conv rows have no batch)")
    if layer.kind is not LayerKind.CONV:
        # 1x1 conv over a (rows x 1) IFMAP: M = rows, K = in_channels, N = out_channels.
        channels, filters = layer.in_channels, layer.out_channels
        base = name.replace("DP", "Dp")
        repeats = layer.batch if layer.kind is LayerKind.MATMUL else 1
        names = [base] if repeats == 1 else [f"{base}_r{i}" for i in range(repeats)]
        return [_row([n, layer.in_h, 1, 1, 1, channels, filters, 1, *nm]) for n in names]
    if layer.dilation_h > 1 or layer.dilation_w > 1:
        raise ArchsimInputError(
            f"layer {layer.name!r}: dilation {layer.dilation_h}x{layer.dilation_w} has no equivalent in SCALE-Sim "
            f"(it has no dilation parameter, and a dense kernel of the dilated extent would change the MACs); "
            f"use the GEMM form (form='gemm' / --scalesim gemm), which keeps the exact MACs")
    sh, sw = layer.stride_h, layer.stride_w
    if sh != sw:
        # A dimension with one output position does not depend on its stride: SCALE-Sim's single
        # stride can take the other dimension's value (this covers strided Conv1d).
        if layer.out_h == 1:
            sh = sw
        elif layer.out_w == 1:
            sw = sh
        else:
            raise fail(f"non-square stride {sh}x{sw} (SCALE-Sim has one stride for both directions)")
    h = (layer.out_h - 1) * sh + layer.kernel_h
    w = (layer.out_w - 1) * sw + layer.kernel_w
    assert scalesim_output_size(h, layer.kernel_h, sh) == layer.out_h
    assert scalesim_output_size(w, layer.kernel_w, sw) == layer.out_w
    per_group_in = layer.in_channels // layer.groups
    per_group_out = layer.out_channels // layer.groups
    if layer.is_depthwise:
        dp_name = name if "DP" in name else f"{name}_DP"
        return [_row([dp_name, h, w, layer.kernel_h, layer.kernel_w, layer.in_channels, per_group_out, sh, *nm])]
    base = name.replace("DP", "Dp")
    names = [base] if layer.groups == 1 else [f"{base}_g{i}" for i in range(layer.groups)]
    return [_row([n, h, w, layer.kernel_h, layer.kernel_w, per_group_in, per_group_out, sh, *nm]) for n in names]


def _gemm_rows(layer: Layer, nm: list[str]) -> list[str]:
    g = layer.gemm
    name = _clean_name(layer.name)
    names = [name] if g.repeats == 1 else [f"{name}_r{i}" for i in range(g.repeats)]
    return [_row([n, g.m, g.n, g.k, *nm]) for n in names]


def to_scalesim_csv(network: Network, path: str | Path | None = None, form: str = "conv",
                    sparsity: dict[str, str] | None = None) -> str:
    """The SCALE-Sim v3 topology CSV of ``network`` (written to ``path`` too when given).

    ``form``: ``"conv"`` (IFMAP/filter rows; see module docstring for the mapping) or ``"gemm"``
    (M, N, K rows). ``sparsity``: optional ``{layer name: "N:M"}`` written as SCALE-Sim's N:M column
    (layers not listed get ``1:1``, i.e. dense).
    """
    if form not in ("conv", "gemm"):
        raise ArchsimInputError(f"SCALE-Sim form must be 'conv' or 'gemm', got {form!r}")
    if sparsity is not None:
        unknown = sorted(set(sparsity) - {layer.name for layer in network})
        if unknown:
            raise ArchsimInputError(f"sparsity names layers that are not in {network.name!r}: {unknown}")
        for name, value in sparsity.items():
            _parse_nm(value, lambda msg, n=name: ArchsimInputError(f"sparsity[{n!r}]: {msg}"))
    header = list(CONV_HEADER if form == "conv" else GEMM_HEADER)
    if sparsity is not None:
        header.append(_SPARSITY_HEADER)
    lines = [_row(header)]
    for layer in network:
        nm = _nm(sparsity, layer.name)
        lines.extend(_conv_rows(layer, network, nm) if form == "conv" else _gemm_rows(layer, nm))
    text = "".join(lines)
    if path is not None:
        Path(path).write_text(text)
    return text


# ---- import ------------------------------------------------------------------------------------
@dataclass
class _Row:
    line: int
    name: str
    values: tuple[int, ...]          # conv: H, W, R, S, C, K, stride; gemm: M, N, K
    nm: tuple[int, int] | None       # None = dense / absent
    batch: int = 1                   # GEMM form only (newer upstream column)


def _parse_nm(text: str, error) -> tuple[int, int] | None:
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
    if not match:
        raise error(f"the N:M column must look like '2:4', got {text!r}")
    n, m = int(match.group(1)), int(match.group(2))
    if n < 1 or m < 1 or n > m:
        raise error(f"N:M needs 1 <= N <= M, got {text!r}")
    return None if n == m else (n, m)


def _read_source(path_or_text: str | Path) -> tuple[str, str, str]:
    """(text, source label for messages, default network name)."""
    if isinstance(path_or_text, Path) or ("\n" not in str(path_or_text) and "," not in str(path_or_text)):
        path = Path(path_or_text)
        if not path.is_file():
            raise ArchsimInputError(f"SCALE-Sim topology file {str(path)!r} not found (give a .csv path or the CSV text)")
        return read_text_file(path, "SCALE-Sim topology file"), str(path), path.stem
    return str(path_or_text), "<text>", "scalesim"


def _split(line: str, header: bool = False) -> list[str]:
    """Fields of one row. SCALE-Sim drops the last field of every row (normally the empty one after
    the trailing comma). Without a trailing comma we keep a numeric / N:M last field (the comma was
    forgotten) but drop a text label, as SCALE-Sim does (e.g. the multi-core ``Target`` column)."""
    fields = [f.strip() for f in line.split(",")]
    if fields and fields[-1] == "":
        fields.pop()
    elif not header and len(fields) > 1 and not re.fullmatch(r"\d+|\d+\s*:\s*\d+", fields[-1]):
        fields.pop()
    while len(fields) > 1 and fields[-1] == "":
        fields.pop()
    return fields


def _detect_form(header: list[str], source: str, line: int) -> str:
    low = [h.lower() for h in header]
    if any("ifmap" in h or "filter" in h for h in low):
        return "conv"
    if low[1:4] == ["m", "n", "k"]:
        return "gemm"
    raise ArchsimInputError(f"{source}:{line}: cannot tell the SCALE-Sim form from the header {header}; "
                            f"expected conv columns (Layer name, IFMAP Height, ...) or GEMM columns (Layer, M, N, K), "
                            f"or pass form='conv' / form='gemm'")


_CONV_COLS = CONV_HEADER[1:]
_GEMM_COLS = GEMM_HEADER[1:]


def _parse_rows(path_or_text: str | Path, form: str | None) -> tuple[str, str, str, list[_Row]]:
    if form not in (None, "conv", "gemm"):
        raise ArchsimInputError(f"SCALE-Sim form must be 'conv', 'gemm' or None (auto), got {form!r}")
    text, source, default_name = _read_source(path_or_text)
    rows: list[_Row] = []
    header_seen = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = _split(raw, header=not header_seen)

        def error(msg: str, lineno: int = lineno) -> ArchsimInputError:
            return ArchsimInputError(f"{source}:{lineno}: {msg}")

        if not header_seen:
            header_seen = True
            if len(fields) > 1 and all(re.fullmatch(r"\d+", f) for f in fields[1:]):
                raise error("the first line must be a header (SCALE-Sim always skips it), but it looks like a "
                            "layer row; add a header line")
            if form is None:
                form = _detect_form(fields, source, lineno)
            continue
        cols = _CONV_COLS if form == "conv" else _GEMM_COLS
        n_required = 1 + len(cols)
        n_max = n_required + (1 if form == "conv" else 2)
        if len(fields) < n_required or len(fields) > n_max:
            raise error(f"a {form}-form row has {n_required} fields ({', '.join(['name', *cols])}) plus an optional "
                        f"N:M{'' if form == 'conv' else ' and batch'} column, got {len(fields)}: {raw.strip()!r}")
        name = fields[0]
        if not name:
            raise error("the layer name (first field) is empty")
        values = []
        for col, value in zip(cols, fields[1:n_required]):
            if not re.fullmatch(r"\d+", value) or int(value) < 1:
                raise error(f"layer {name!r}: {col} must be a positive integer, got {value!r}")
            values.append(int(value))
        nm, batch = None, 1
        extra = fields[n_required:]
        if extra and extra[0] != "":
            if ":" in extra[0] or form == "conv":
                nm = _parse_nm(extra[0], error)
            else:
                extra = ["", extra[0], *extra[1:]]
        if len(extra) > 1 and extra[1] != "":
            if not re.fullmatch(r"\d+", extra[1]) or int(extra[1]) < 1:
                raise error(f"layer {name!r}: the batch column must be a positive integer, got {extra[1]!r}")
            batch = int(extra[1])
        if form == "conv":
            h, w, r, s = values[:4]
            if r > h or s > w:
                raise error(f"layer {name!r}: the {r}x{s} filter is larger than the {h}x{w} IFMAP (SCALE-Sim rejects "
                            f"this too); IFMAP sizes must include the padding")
        rows.append(_Row(lineno, name, tuple(values), nm, batch))
    if not header_seen:
        raise ArchsimInputError(f"{source}: the SCALE-Sim topology is empty (no header, no rows)")
    if not rows:
        raise ArchsimInputError(f"{source}: the SCALE-Sim topology has a header but no layer rows")
    return source, default_name, form, rows  # type: ignore[return-value]


def _merge_runs(rows: list[_Row], suffixes: dict[str, Callable[[_Row], bool]]) -> list[tuple[str, str, list[_Row]]]:
    """Group consecutive rows ``X{suffix}0 .. X{suffix}{n-1}`` (n >= 2) with identical values.

    Returns (base name, suffix or "" for a single row, rows). A suffix only applies to rows its
    predicate accepts (e.g. ``_r`` runs in the conv form must be 1x1 convs over an M x 1 IFMAP).
    """
    out: list[tuple[str, str, list[_Row]]] = []
    i = 0
    while i < len(rows):
        for suffix, accept in suffixes.items():
            match = re.fullmatch(rf"(.+){re.escape(suffix)}0", rows[i].name)
            if not match or not accept(rows[i]):
                continue
            base, j = match.group(1), i + 1
            while (j < len(rows) and rows[j].name == f"{base}{suffix}{j - i}" and rows[j].values == rows[i].values
                   and rows[j].nm == rows[i].nm and rows[j].batch == rows[i].batch):
                j += 1
            if j - i > 1:
                out.append((base, suffix, rows[i:j]))
                i = j
                break
        else:
            out.append((rows[i].name, "", [rows[i]]))
            i += 1
    return out


def _pad_for_ceil(size: int, kernel: int, stride: int) -> int:
    """Extra end padding so floor((size + pad - kernel)/stride) + 1 == ceil((size - kernel + stride)/stride)."""
    return (stride - (size - kernel) % stride) % stride


def _is_matmul_row(row: _Row) -> bool:
    h, w, r, s, c, k, stride = row.values
    return (w, r, s, stride) == (1, 1, 1, 1)


def _conv_layer(name: str, suffix: str, group: list[_Row]) -> Layer:
    h, w, r, s, c, k, stride = group[0].values
    if suffix == "_r":
        # a batched matmul written in conv form: 1x1 filter over an (M x 1) IFMAP, one row per product
        return Layer(name=name, kind=LayerKind.MATMUL, in_channels=c, out_channels=k, in_h=h, batch=len(group))
    groups = len(group)
    if "DP" in group[0].name:
        # depthwise: SCALE-Sim runs Channels single-channel layers with Num Filter filters each.
        in_channels, out_channels, groups = c, c * k, c
    else:
        in_channels, out_channels = c * groups, k * groups
    layer = Layer(name=name, kind=LayerKind.CONV, in_channels=in_channels, out_channels=out_channels, in_h=h, in_w=w,
                  kernel_h=r, kernel_w=s, stride_h=stride, stride_w=stride, pad_bottom=_pad_for_ceil(h, r, stride),
                  pad_right=_pad_for_ceil(w, s, stride), groups=groups)
    assert layer.out_h == scalesim_output_size(h, r, stride) and layer.out_w == scalesim_output_size(w, s, stride)
    return layer


def _assemble(source: str, form: str, rows: list[_Row]) -> tuple[list[Layer], dict[str, tuple[int, int]]]:
    """Layers (merged group / repeat runs) and the N:M entries per layer name."""
    layers: list[Layer] = []
    sparse: dict[str, tuple[int, int]] = {}
    if form == "conv":
        runs = _merge_runs(rows, {"_g": lambda row: "DP" not in row.name, "_r": _is_matmul_row})
    else:
        runs = _merge_runs(rows, {"_r": lambda row: True})
    for base, suffix, group in runs:
        if form == "conv":
            layers.append(_conv_layer(base, suffix, group))
        else:
            m, n, k = group[0].values
            layers.append(Layer(name=base, kind=LayerKind.MATMUL, in_channels=k, out_channels=n, in_h=m,
                                batch=len(group) * group[0].batch))
        if group[0].nm:
            sparse[base] = group[0].nm
    names = [layer.name for layer in layers]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        lines = {base: group[0].line for base, _, group in reversed(runs)}
        raise ArchsimInputError(f"{source}: layer names must be unique, repeated: "
                                + ", ".join(f"{n!r} (first at line {lines[n]})" for n in dupes))
    return layers, sparse


def from_scalesim_csv(path_or_text: str | Path, form: str | None = None, name: str | None = None) -> Network:
    """Read a SCALE-Sim topology CSV (a path, or the CSV text itself) into a `Network`.

    ``form``: ``"conv"``, ``"gemm"`` or None to detect it from the header. A malformed row raises
    `ArchsimInputError` with the file name and line number. The N:M column, if any, is listed in
    ``notes`` (and returned by `scalesim_sparsity`).
    """
    source, default_name, form, rows = _parse_rows(path_or_text, form)
    layers, sparse = _assemble(source, form, rows)
    notes = [f"imported from SCALE-Sim {form}-form topology {source}"]
    if form == "conv":
        notes.append("IFMAP sizes are pre-padded; pad_bottom/pad_right reproduce SCALE-Sim's ceil output size")
    if sparse:
        notes.append("N:M per layer (SCALE-Sim column): " + ", ".join(f"{k}={v[0]}:{v[1]}" for k, v in sparse.items()))
    return Network(name=name or default_name, layers=tuple(layers), input_shape=layers[0].input_shape, batch=1,
                   notes="; ".join(notes))


def scalesim_sparsity(path_or_text: str | Path, form: str | None = None) -> dict[str, tuple[int, int]]:
    """``{layer name: (N, M)}`` from a topology's N:M column (dense ``1:1`` entries omitted), keyed by
    the layer names `from_scalesim_csv` gives (merged group/repeat rows under their base name)."""
    source, _, form, rows = _parse_rows(path_or_text, form)
    return _assemble(source, form, rows)[1]
