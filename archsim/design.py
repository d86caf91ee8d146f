"""Designs are data: a YAML preset validated by these pydantic models.

A design names its dataflow (which mapper builds its tile schedule), its array, per-PE register
files, on-chip buffers, DRAM and technology. Presets live in ``archsim/presets/<name>.yaml``; a
user can point at their own YAML. Every field here is a named, documented model parameter; values
that are not from a source are marked as assumptions in the preset files.

Validation errors become one `ArchsimInputError` naming the file, the field path and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from archsim.validation import apply_dotted_overrides, input_error, read_yaml_mapping
from workloads.errors import ArchsimInputError

PRESET_DIR = Path(__file__).parent / "presets"


class _Strict(BaseModel):
    #: allow_inf_nan=False on every float: a NaN passes gt/le bounds checks and silently poisons every total
    #: (e.g. ``--set clock_hz=nan``), and infinity is never a meaningful hardware parameter here.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ArrayConfig(_Strict):
    """The systolic array. ``rows`` map the reduction (im2col K), ``cols`` the output channels."""

    rows: int = Field(64, ge=1, le=4096, description="PE rows (reduction dimension)")
    cols: int = Field(64, ge=1, le=4096, description="PE columns (output channels)")
    pe: Literal["dense", "nm_sparse"] = Field("dense", description="dense MAC PEs, or N:M sparse PEs with an "
                                                                   "M:1 activation mux each")
    sparse_n: int | None = Field(None, ge=1, description="N of the N:M pattern a sparse array is built for")
    sparse_m: int | None = Field(None, ge=2, description="M of the N:M pattern a sparse array is built for")
    zero_gating: bool = Field(False, description="clock-gate MACs whose weight is a pruned zero (known from the "
                                                 "decoded mask): no multiply, no psum update, same cycles")

    @model_validator(mode="after")
    def _sparse_fields(self) -> "ArrayConfig":
        if self.pe == "nm_sparse":
            if self.sparse_n is None or self.sparse_m is None:
                raise ValueError("array.pe = nm_sparse needs array.sparse_n and array.sparse_m (e.g. 1 and 4)")
            if self.sparse_n >= self.sparse_m:
                raise ValueError(f"array.sparse_n ({self.sparse_n}) must be < array.sparse_m ({self.sparse_m})")
        elif self.sparse_n is not None or self.sparse_m is not None:
            raise ValueError("array.sparse_n/sparse_m are only used with array.pe = nm_sparse; remove them or set "
                             "array.pe: nm_sparse")
        return self


class RegisterFiles(_Strict):
    """Per-PE register-file depths in words. Depth 1 everywhere is a classic WS PE (one weight
    register, pipeline registers only). EWS uses deeper files (see the EWS mapper for what each saves)."""

    weight_depth: int = Field(1, ge=1, le=1024, description="weights held per PE (WRF)")
    activation_depth: int = Field(1, ge=1, le=1024, description="activations held per PE (ARF)")
    psum_depth: int = Field(1, ge=1, le=1024, description="partial sums held per PE (PRF)")


class EwsConfig(_Strict):
    """Knobs of the EWS mapper (``archsim.mapping.ews``) beyond the register-file depths. Ignored by
    other dataflows. Both are modelling assumptions [A], documented in the EWS mapper."""

    conv_reuse: bool = Field(True, description="pin the kernel_w taps of one (channel, kernel row) in one PE "
                                               "(needs register_files.weight_depth >= kernel_w and dilation_w = 1) "
                                               "so the activation RF can slide along W; False pins consecutive "
                                               "reduction elements and disables sliding-window reuse")
    weight_load_words_per_cycle: int = Field(1, ge=1, le=64,
                                             description="weights entering each array column per cycle while the "
                                                         "weight RFs load (1 = SCALE-Sim's WS weight shift)")


class MappingConfig(_Strict):
    """Mapper knobs shared by the weight-stationary dataflows (see `archsim.mapping.base`)."""

    loop_order: str = Field("auto", description="loop order of the WS/EWS loop nest: auto (fewest DRAM bytes), "
                                                "NKM, NMK or MNK (validated by the mapper)")


class BufferConfig(_Strict):
    capacity_bytes: int = Field(..., ge=64, description="capacity in bytes (both halves if double buffered)")
    port_bits: int = Field(64, ge=8, le=4096, description="width of one access")
    banks: int = Field(1, ge=1, le=256, description="banks; accesses per cycle = banks")
    double_buffered: bool = Field(True, description="split in two halves so the next tile loads while this one computes")

    @property
    def halves(self) -> int:
        """Independent halves: 2 when double buffered (one fills while the other is used), else 1."""
        return 2 if self.double_buffered else 1

    @property
    def half_bytes(self) -> float:
        """Bytes one tile (or one layer's codebook) may occupy: the capacity of one half."""
        return self.capacity_bytes / self.halves


class CodebookConfig(BufferConfig):
    """The codebook store of a VQ design (MVQ's codebook register file, CRF). Holds the current
    layer's codebook (loaded once per layer from DRAM). ``port_bits`` is the fill (write) width;
    each read port returns one whole codeword (d values) per cycle, so ``read_ports`` bounds the
    decode throughput (codeword lookups per cycle). Energy and area depend on ``kind``: a flop
    register file (MVQ's choice [S1]) or an SRAM macro replicated once per read port."""

    kind: Literal["rf", "sram"] = Field("rf", description="rf = flop register file (CRF), sram = SRAM macro(s)")
    read_ports: int = Field(4, ge=1, le=256, description="codeword lookups per cycle (decode throughput)")
    double_buffered: bool = Field(False, description="two halves so the next layer's codebook could load early; "
                                                     "layers run from an empty pipeline, so False is the default")


class BuffersConfig(_Strict):
    weight: BufferConfig = BufferConfig(capacity_bytes=128 * 1024, port_bits=128)
    input: BufferConfig = BufferConfig(capacity_bytes=128 * 1024, port_bits=128)
    output: BufferConfig = BufferConfig(capacity_bytes=128 * 1024, port_bits=128)
    codebook: CodebookConfig | None = Field(None, description="codebook store (VQ designs only)")


class DecoderConfig(_Strict):
    """The mask side of the assignment-aware weight loader (VQ/N:M designs only)."""

    mask_decoders: int = Field(64, ge=1, le=4096, description="LZC mask decoders; each turns one M-bit mask group "
                                                              "into kept positions per cycle")


class WeightsConfig(_Strict):
    """The compressed weight format the design's weight path is built to decode. When a run gets no
    traces, archsim derives structural traces (exact sizes, no clustering) for the workload in this
    format (`compress.traces.structural_traces`); layers the compression policy excludes (first
    conv, depthwise) stay dense. ``dense`` = no decode path (WS, EWS)."""

    format: Literal["dense", "vq", "nm", "mvq", "sparse"] = Field(
        "dense", description="dense, vq (codebook), nm (N:M values + mask), mvq (codebook + N:M mask) or sparse "
                             "(unstructured: a bitmap of one bit per weight + the kept values, SparTen)")
    density: float = Field(1.0, gt=0.0, le=1.0, allow_inf_nan=False,
                           description="kept fraction of the weights under unstructured pruning (sparse)")
    n: int = Field(1, ge=1, description="N of the N:M pattern (nm, mvq)")
    m: int = Field(1, ge=1, description="M of the N:M pattern (nm, mvq)")
    d: int = Field(16, ge=1, description="subvector length (vq, mvq)")
    k: int = Field(256, ge=1, description="codebook entries (vq, mvq)")
    codebook_bits: int = Field(8, ge=1, le=32, description="bits per codebook value")
    mask_encoding: Literal["bitmap", "combinatorial", "index"] = Field("bitmap", description="how masks are stored")

    @model_validator(mode="after")
    def _pattern(self) -> "WeightsConfig":
        if self.format in ("nm", "mvq") and not 1 <= self.n < self.m:
            raise ValueError(f"weights.format={self.format} needs 1 <= weights.n < weights.m (e.g. 1 and 4), "
                             f"got {self.n}:{self.m}")
        if self.format == "mvq" and self.d % self.m:
            raise ValueError(f"weights.d ({self.d}) must be a multiple of weights.m ({self.m}): N:M groups lie "
                             f"inside each d-dim subvector")
        if self.format != "sparse" and self.density != 1.0:
            raise ValueError(f"weights.density applies to weights.format = sparse (unstructured pruning); "
                             f"remove it or set weights.format: sparse (got format {self.format})")
        return self

    @property
    def codebook_bytes(self) -> float:
        return self.k * self.d * self.codebook_bits / 8 if self.format in ("vq", "mvq") else 0.0


class DramConfig(_Strict):
    kind: Literal["LPDDR4", "DDR4", "HBM2", "GDDR5", "DDR3"] = "LPDDR4"
    bandwidth_gbps: float | None = Field(None, gt=0, description="GB/s; default from the tech table's kind")
    latency_ns: float | None = Field(None, ge=0, description="access latency; default from the tech table's kind")
    unlimited: bool = Field(False, description="infinite bandwidth and zero latency (compute-only studies)")


class Precision(_Strict):
    weight_bits: int = Field(8, ge=1, le=32)
    act_bits: int = Field(8, ge=1, le=32)
    psum_bits: int = Field(32, ge=1, le=64)


class AccountingConfig(_Strict):
    """How events are priced (not hardware): see `archsim.access_convention`."""

    register_convention: Literal["switching", "legacy"] = Field(
        "switching", description="register/RF access convention: 'switching' (default: a register costs its write, "
                                 "a depth-1 read and a stationary register are free, an RF read costs its read-mux "
                                 "tree by depth) or 'legacy' (read = write at the table's flop/RF price; archsim's "
                                 "figures before issue 11)")


class ActivationsConfig(_Strict):
    """Activation sparsity the array exploits at run time (`archsim.mapping.activation_sparsity`).

    ``sparsity``: ``none`` (activations streamed dense), ``dbb`` (S2TA: a hardware top-N "DBB-izer"
    keeps at most N of every block of ``dbb_m`` consecutive input channels and the array streams only
    the kept (value, index) pairs, time-unrolled) or ``zero_gating`` (SA-ZVCG: MACs whose activation is
    zero are clock-gated, same cycles). N per layer, or the density, comes from the layer's trace
    (``act_dbb_n/act_dbb_m`` or ``act_density``, measured by `compress.activations`) or else from
    ``default_density``; with neither, a layer that could use activation sparsity is an input error."""

    sparsity: Literal["none", "dbb", "zero_gating"] = Field(
        "none", description="none, dbb (S2TA's top-N activation DBB) or zero_gating (SA-ZVCG)")
    dbb_m: int = Field(8, ge=2, le=256, description="activation DBB block: consecutive input channels per block")
    default_density: float | None = Field(
        None, gt=0.0, le=1.0, description="[A] non-zero fraction of a layer's input activations used when its trace "
                                          "has no activation statistics; null = such a trace is an error")
    dense_layers: tuple[str, ...] = Field((), description="layers whose input is streamed dense whatever the "
                                                         "statistics (e.g. a network input that is not an RGB conv)")
    compressed_storage: bool = Field(
        False, description="dbb: activations are stored DBB-compressed (kept values + a log2(dbb_m)-bit index "
                           "each) in DRAM and the input buffer, the DBB-izer sits on the producer's write-back "
                           "path; false: stored dense, the DBB-izer sits at the input-buffer read port")
    dbbizers: int = Field(8, ge=1, le=4096, description="dbb: DBB-izer units, each prunes one block per cycle")


class SpartenConfig(_Strict):
    """SparTen-like compute units (`archsim.mapping.sparten`; Gondimalla et al., MICRO'19). Ignored by other
    dataflows. The array is ``array.cols`` clusters of ``array.rows`` compute units (CUs); each CU's
    filter-chunk buffer is ``register_files.weight_depth`` weight words and its psum file holds
    ``register_files.psum_depth`` outputs (the pixels of one pass). Every value is an assumption [A]
    except ``chunk`` (SparTen's 128-position chunks [M]); see the mapper's docstring for the model."""

    chunk: int = Field(128, ge=8, le=1024, description="[M] positions per chunk: one bitmask word + its packed "
                                                       "non-zero values (SparTen: 128)")
    multipliers_per_cu: int = Field(1, ge=1, le=64, description="[A] matched pairs a CU multiplies per cycle")
    join_latency_cycles: int = Field(0, ge=0, le=64, description="[A] extra cycles per chunk for the AND + "
                                                                 "prefix-sum join (0: pipelined with the MACs)")
    greedy_balancing: bool = Field(True, description="sort a layer's filters by density before grouping them "
                                                     "into rounds (SparTen's software greedy balancing); false: in "
                                                     "network order")
    act_density: float | None = Field(0.5, gt=0.0, le=1.0, allow_inf_nan=False,
                                      description="[A] non-zero fraction of a layer's input activations when its "
                                                  "trace has none (null: such a trace is an error)")
    image_input_max_channels: int = Field(4, ge=0, le=64,
                                          description="[A] an ungrouped conv with at most this many input channels "
                                                      "reads a raw image (not a ReLU output): density 1 unless its "
                                                      "trace measured it; 0 = no such rule")
    filter_scale_sigma: float = Field(0.3, ge=0.0, le=3.0, allow_inf_nan=False,
                                      description="[A] spread (std of log) of per-filter weight scales in the model "
                                                  "of per-filter densities used when a trace has no filter_density")
    seed: int = Field(0, ge=0, description="seed of that model (per layer shape) and of the placement of kept "
                                           "weights in chunks")


class Design(_Strict):
    """One accelerator design."""

    name: str
    description: str = ""
    dataflow: str = Field("ws", description="mapper that schedules layers on this design (see archsim.mapping)")
    clock_hz: float = Field(1.0e9, gt=0, description="[A] design clock")
    tech: str = Field("40nm", description="technology table: '40nm', '28nm' or a YAML path")
    supply_voltage_v: float | None = Field(
        None, ge=0.5, le=1.5, allow_inf_nan=False, strict=True,  # = archsim.tech.table.SUPPLY_VOLTAGE_RANGE_V [A] (a test checks)
        description="supply-voltage corner in V, off (null) by default: compute/register energies x "
                    "(V / tech meta.vdd_char)^2 (dynamic energy ~ V^2, energy_tables.md §3.3), logic leakage x "
                    "V/vdd_char [A]; SRAM, DRAM, area and clock unchanged (archsim.tech.table). MVQ's chip: 0.99")
    array: ArrayConfig = ArrayConfig()
    register_files: RegisterFiles = RegisterFiles()
    ews: EwsConfig = EwsConfig()
    mapping: MappingConfig = MappingConfig()
    buffers: BuffersConfig = BuffersConfig()
    decoder: DecoderConfig = DecoderConfig()
    weights: WeightsConfig = WeightsConfig()
    dram: DramConfig = DramConfig()
    precision: Precision = Precision()
    accounting: AccountingConfig = AccountingConfig()
    activations: ActivationsConfig = ActivationsConfig()
    sparten: SpartenConfig = SpartenConfig()

    @model_validator(mode="after")
    def _weight_path(self) -> "Design":
        w, a, cb = self.weights, self.array, self.buffers.codebook
        if w.format in ("vq", "mvq"):
            if cb is None:
                raise ValueError(f"weights.format={w.format} decodes codebooks: add buffers.codebook "
                                 f"(kind, capacity_bytes, read_ports)")
            slot = cb.half_bytes
            if w.codebook_bytes > slot:
                raise ValueError(f"buffers.codebook holds {slot:.0f} B per layer but a k={w.k}, d={w.d}, "
                                 f"{w.codebook_bits}-bit codebook needs {w.codebook_bytes:.0f} B; raise "
                                 f"buffers.codebook.capacity_bytes or lower weights.k/d")
        if a.pe == "nm_sparse":
            if w.format in ("nm", "mvq"):
                problem = nm_support_problem(w.n, w.m, a.sparse_n, a.sparse_m)
                if problem:
                    raise ValueError(f"weights {w.n}:{w.m}: {problem}")
            if a.rows % a.sparse_n:
                raise ValueError(f"array.rows ({a.rows}) must be a multiple of array.sparse_n ({a.sparse_n})")
        return self

    @model_validator(mode="after")
    def _sparten(self) -> "Design":
        """A SparTen design: its CU buffers must hold what its chunks need (its units' pricers are registered
        by `archsim.cost.UNIT_MODULES`)."""
        if self.dataflow.strip().lower() != "sparten":
            return self
        sp, p = self.sparten, self.precision
        if self.array.pe != "dense":
            raise ValueError("dataflow sparten builds its own compute units: set array.pe: dense (the sparse "
                             "join replaces N:M muxes)")
        slot_bits = sp.chunk * (1 + p.weight_bits)
        if self.register_files.weight_depth * p.weight_bits < slot_bits:
            raise ValueError(f"sparten: a CU's filter-chunk buffer (register_files.weight_depth = "
                             f"{self.register_files.weight_depth} x {p.weight_bits} b) cannot hold one "
                             f"{sp.chunk}-position chunk ({sp.chunk} mask bits + {sp.chunk} values = {slot_bits} b); "
                             f"raise register_files.weight_depth to {-(-slot_bits // p.weight_bits)} (x2 to "
                             f"double-buffer) or lower sparten.chunk")
        return self

    def with_overrides(self, **changes: object) -> "Design":
        """A copy with dotted-path overrides, e.g. ``{"array.rows": 32}``; validated again."""
        data = apply_dotted_overrides(self.model_dump(), changes, f"design {self.name!r}")
        return _validate(data, f"design {self.name!r} with overrides {changes}")


def nm_support_problem(n: int, m: int, array_n: int, array_m: int) -> str | None:
    """Why an N:M sparse array built for ``array_n:array_m`` cannot run weights pruned ``n:m`` (None if it can).

    The rule: each group of ``array_m`` consecutive reduction positions (along the subvector) has
    ``array_n`` PEs, each with an ``array_m``:1 activation mux, so a pattern runs iff *every aligned
    window of array_m positions holds at most array_n kept weights*. For ``n:m`` that means
    ``m`` a multiple of ``array_m`` and ``n <= array_n`` (all n kept may fall in one window), or
    ``m`` a divisor of ``array_m`` and ``(array_m / m)·n <= array_n``. Examples on a 1:4 array:
    1:4, 1:8, 1:16 run; 2:8 (two kept may share a window) and 2:4 do not. Sparser patterns run at
    the array's rate: the spare slots hold zeros and are clock-gated.
    """
    if m % array_m == 0:
        if n <= array_n:
            return None
        return (f"an array built for {array_n}:{array_m} has {array_n} PE(s) per {array_m} positions, but {n}:{m} "
                f"can put {min(n, array_m)} kept weights in one {array_m}-window; prune at most {array_n}:{m} "
                f"or use an array built for this pattern (array.sparse_n/sparse_m)")
    if array_m % m == 0:
        if (array_m // m) * n <= array_n:
            return None
        return (f"an array built for {array_n}:{array_m} has {array_n} PE(s) per {array_m} positions, but {n}:{m} "
                f"puts {(array_m // m) * n} kept weights in each {array_m}-window; use an array built for "
                f"{n}:{m} (array.sparse_n/sparse_m) or prune sparser")
    return (f"M={m} and the array's M={array_m} do not divide one another, so groups straddle the array's "
            f"{array_m}-windows; prune with M a multiple or divisor of {array_m}")


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_design(name_or_path: str | Path) -> Design:
    """A preset by name (``ws``, ``ews``, ...) or a user YAML file."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = PRESET_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise ArchsimInputError(f"unknown design {str(name_or_path)!r}; presets: {', '.join(list_presets())}, "
                                    f"or give a path to a .yaml file")
    data = read_yaml_mapping(path, "design file", "fields (name, dataflow, array, ...)")
    data.setdefault("name", path.stem)
    return _validate(data, str(path))


def _validate(data: dict, where: str) -> Design:
    try:
        return Design.model_validate(data)
    except ValidationError as err:
        raise input_error(err, where) from None
