"""Configs of the PQ accelerator (PQA) and its conventional baseline (Intel DLA), validated by pydantic.

Presets are YAML files in ``archsim/pqa/presets/`` (``pqa.yaml``, ``dla.yaml``, ``memory.yaml``);
every field is a named model parameter with its provenance in the preset comments:
[C] = the official PQA analytical model / OpenCL kernel (reference pq_permdnn.md §A.2), [A] = an
assumption of this simulator. Bad values become one `ArchsimInputError` naming the field.

Why not `archsim.design.Design`: PQA has no systolic array, no per-PE register files and no weight
buffer; its knobs (NOV, NSV, NPV, PLV, LUT/prototype widths, table-load overlap) do not fit that
schema, and the task keeps PQA out of the mapper registry.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from archsim.validation import apply_dotted_overrides, input_error, read_yaml_mapping
from workloads.errors import ArchsimInputError

PRESET_DIR = Path(__file__).parent / "presets"


class _Strict(BaseModel):
    #: allow_inf_nan=False on every float: a NaN passes gt/le bounds checks and silently poisons every total
    #: (e.g. ``--set clock_hz=nan``), and infinity is never a meaningful hardware parameter here.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class MemoryConfig(_Strict):
    """External memory that tables (PQA) or filters (DLA) are loaded from."""

    kind: Literal["DDR", "HBM"] = Field("DDR", description="label only; the numbers below set the timing")
    bandwidth_gbytes_per_s: float = Field(35.2, gt=0, description="peak GB/s (paper model: DDR 35.2, HBM 400)")
    efficiency: float = Field(0.8, gt=0, le=1, description="achieved fraction of peak (paper model: 0.8)")
    round_bits_per_cycle_up: bool = Field(True, description="the paper model rounds bits/cycle up to an integer "
                                                            "(ceil(rate/f)); False keeps the exact fraction")
    latency_cycles: int = Field(0, ge=0, description="[A] access latency; the paper model has none")

    def bits_per_cycle(self, clock_hz: float) -> float:
        exact = self.bandwidth_gbytes_per_s * 8e9 * self.efficiency / clock_hz
        return float(math.ceil(exact - 1e-9)) if self.round_bits_per_cycle_up else exact


class PqaLimits(_Strict):
    """Largest layer the hardware's tables and index widths accept (``config.h`` maxima [C], except ls)."""

    np_max: int = Field(128, ge=1, description="prototypes per codebook (NP_MAX; indices are int8)")
    ls_max: int = Field(16, ge=1, description="[A] subvector length (config.h has 4 for its KWS build; the "
                                              "paper runs Ls=9, so 16 = the PLV cap of its sweep)")
    ns_max: int = Field(128, ge=1, description="subspaces per layer (NS_MAX)")
    k_max: int = Field(128, ge=1, description="output channels per layer (WEIGHT_H_MAX accumulators)")


class PqaConfig(_Strict):
    """The PQA datapath (reference §A.2): encoder -> LUT lookup -> adder tree + accumulators."""

    name: str = "pqa"
    description: str = ""
    clock_hz: float = Field(300e6, gt=0, description="[C] paper comparisons run PQA and DLA at 300 MHz")
    nov: int = Field(32, ge=1, le=1024, description="NUM_OUT_VEC: output channels looked up per cycle")
    nsv: int = Field(16, ge=1, le=1024, description="NUM_SUBSPACE_VEC: subspaces encoded/looked up per cycle")
    npv: int = Field(16, ge=1, le=1024, description="NUM_PROTO_VEC: prototypes compared per cycle")
    plv: int = Field(9, ge=1, le=1024, description="PROTO_LENGTH_VEC: prototype elements per comparison per cycle")
    data_bits: int = Field(16, ge=1, le=32, description="[C] activation width entering the encoder")
    acc_bits: int = Field(16, ge=1, le=64, description="[C] accumulator width (int16 in pq_basic.cl)")
    dist_bits: int = Field(32, ge=1, le=64, description="[C] distance width (int32 in pq_basic.cl)")
    overlap_table_load: bool = Field(True, description="[C] load the next layer's tables while this one computes "
                                                       "(OVERLAPPING_IN_CALC; needs double-buffered LUT banks)")
    dual_port_lut: bool = Field(True, description="[C] true-dual-port M20K LUT banks (DUAL_PORT)")
    limits: PqaLimits = PqaLimits()
    memory: MemoryConfig = MemoryConfig()
    dsp_rule: Literal["paper_model", "kernel"] = Field(
        "paper_model", description="FPGA DSP count of the L2 encoder: 'paper_model' = NOV*NSV*PLV as in the "
                                   "released analytical model; 'kernel' = NSV*NPV*PLV as the OpenCL kernel "
                                   "instantiates (reference §A.2 notes the discrepancy)")
    tile_cols: int = Field(64, ge=1, description="[A] simulation granularity: im2col columns per SimPy tile "
                                                 "(sets the pipeline fill/drain, not the steady-state rate)")
    fifo_tiles: int = Field(2, ge=1, description="[A] encoder->lookup FIFO depth in tiles (kernel channel depth "
                                                 "1024 entries [C] / tile_cols, at least 2)")

    def with_overrides(self, **changes: object) -> "PqaConfig":
        return _with_overrides(self, changes)


class DlaConfig(_Strict):
    """Intel DLA (Aydonat et al., FPGA'17) as modelled by the PQA authors (reference §A.2 'Baselines')."""

    name: str = "dla"
    description: str = ""
    clock_hz: float = Field(300e6, gt=0, description="[C] 300 MHz, same as PQA")
    cvec: int = Field(8, ge=1, le=1024, description="input channels per cycle")
    kvec: int = Field(48, ge=1, le=1024, description="output channels per cycle")
    qvec: int = Field(4, ge=1, le=1024, description="output columns per cycle")
    wvec: int = Field(6, ge=1, le=1024, description="input columns per cycle (Wvec - Qvec + 1 filter taps)")
    svec: int = Field(3, ge=1, le=1024, description="filter columns per cycle")
    data_bits: int = Field(16, ge=1, le=32, description="[C] weight/activation width (DATA_TYPE = 16)")
    acc_bits: int = Field(32, ge=1, le=64, description="[A] accumulator width (ASIC area only)")
    memory: MemoryConfig = MemoryConfig()

    def with_overrides(self, **changes: object) -> "DlaConfig":
        return _with_overrides(self, changes)

    @property
    def peak_macs_per_cycle(self) -> int:
        return (self.wvec - self.qvec + 1) * self.qvec * self.kvec * self.cvec


def _format(err: ValidationError, where: str) -> ArchsimInputError:
    return input_error(err, where)


def _with_overrides(cfg, changes: dict[str, object]):
    data = apply_dotted_overrides(cfg.model_dump(), changes, repr(cfg.name))
    try:
        return type(cfg).model_validate(data)
    except ValidationError as err:
        raise _format(err, f"{cfg.name!r} with overrides {changes}") from None


def _read_yaml(path: Path) -> dict:
    return read_yaml_mapping(path)


def load_memory(name: str) -> MemoryConfig:
    """A memory preset from ``presets/memory.yaml`` by name (``ddr``, ``hbm``), case-insensitive."""
    table = _read_yaml(PRESET_DIR / "memory.yaml")
    key = str(name).lower()
    if key not in table:
        raise ArchsimInputError(f"unknown memory {name!r}; choose one of {', '.join(sorted(table))}")
    try:
        return MemoryConfig.model_validate(table[key])
    except ValidationError as err:
        raise _format(err, f"memory preset {key!r}") from None


def _load(cls, name_or_path: str | Path, default_name: str, memory: str | None):
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = PRESET_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise ArchsimInputError(f"unknown {default_name} preset {str(name_or_path)!r}; give a .yaml file "
                                    f"(format: archsim/pqa/presets/{default_name}.yaml) or the preset "
                                    f"{default_name!r}")
    data = read_yaml_mapping(path, f"{default_name.upper()} config file")
    mem = data.pop("memory_preset", None)
    if memory is not None:
        mem = memory
    if mem is not None:
        data["memory"] = load_memory(mem).model_dump()
    data.setdefault("name", path.stem)
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise _format(err, str(path)) from None


def load_pqa(name_or_path: str | Path = "pqa", memory: str | None = None) -> PqaConfig:
    """A PQA preset (or YAML path); ``memory`` ('ddr'/'hbm') replaces its memory section."""
    return _load(PqaConfig, name_or_path, "pqa", memory)


def load_dla(name_or_path: str | Path = "dla", memory: str | None = None) -> DlaConfig:
    """A DLA preset (or YAML path); ``memory`` ('ddr'/'hbm') replaces its memory section."""
    return _load(DlaConfig, name_or_path, "dla", memory)
