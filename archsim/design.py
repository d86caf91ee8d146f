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

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workloads.errors import ArchsimInputError

PRESET_DIR = Path(__file__).parent / "presets"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArrayConfig(_Strict):
    """The systolic array. ``rows`` map the reduction (im2col K), ``cols`` the output channels."""

    rows: int = Field(64, ge=1, le=4096, description="PE rows (reduction dimension)")
    cols: int = Field(64, ge=1, le=4096, description="PE columns (output channels)")
    pe: Literal["dense", "nm_sparse"] = Field("dense", description="dense MAC PEs, or N:M sparse PEs with an "
                                                                   "M:1 activation mux each")
    sparse_n: int | None = Field(None, ge=1, description="N of the N:M pattern a sparse array is built for")
    sparse_m: int | None = Field(None, ge=2, description="M of the N:M pattern a sparse array is built for")

    @model_validator(mode="after")
    def _sparse_fields(self) -> "ArrayConfig":
        if self.pe == "nm_sparse":
            if self.sparse_n is None or self.sparse_m is None:
                raise ValueError("array.pe = nm_sparse needs array.sparse_n and array.sparse_m (e.g. 1 and 4)")
            if self.sparse_n >= self.sparse_m:
                raise ValueError(f"array.sparse_n ({self.sparse_n}) must be < array.sparse_m ({self.sparse_m})")
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


class BufferConfig(_Strict):
    capacity_bytes: int = Field(..., ge=64, description="capacity in bytes (both halves if double buffered)")
    port_bits: int = Field(64, ge=8, le=4096, description="width of one access")
    banks: int = Field(1, ge=1, le=256, description="banks; accesses per cycle = banks")
    double_buffered: bool = Field(True, description="split in two halves so the next tile loads while this one computes")


class BuffersConfig(_Strict):
    weight: BufferConfig = BufferConfig(capacity_bytes=128 * 1024, port_bits=128)
    input: BufferConfig = BufferConfig(capacity_bytes=128 * 1024, port_bits=128)
    output: BufferConfig = BufferConfig(capacity_bytes=128 * 1024, port_bits=128)
    codebook: BufferConfig | None = Field(None, description="codebook store (VQ designs only)")


class DramConfig(_Strict):
    kind: Literal["LPDDR4", "DDR4", "HBM2", "GDDR5", "DDR3"] = "LPDDR4"
    bandwidth_gbps: float | None = Field(None, gt=0, description="GB/s; default from the tech table's kind")
    latency_ns: float | None = Field(None, ge=0, description="access latency; default from the tech table's kind")
    unlimited: bool = Field(False, description="infinite bandwidth and zero latency (compute-only studies)")


class Precision(_Strict):
    weight_bits: int = Field(8, ge=1, le=32)
    act_bits: int = Field(8, ge=1, le=32)
    psum_bits: int = Field(32, ge=1, le=64)


class Design(_Strict):
    """One accelerator design."""

    name: str
    description: str = ""
    dataflow: str = Field("ws", description="mapper that schedules layers on this design (see archsim.mapping)")
    clock_hz: float = Field(1.0e9, gt=0, description="[A] design clock")
    tech: str = Field("40nm", description="technology table: '40nm', '28nm' or a YAML path")
    array: ArrayConfig = ArrayConfig()
    register_files: RegisterFiles = RegisterFiles()
    ews: EwsConfig = EwsConfig()
    buffers: BuffersConfig = BuffersConfig()
    dram: DramConfig = DramConfig()
    precision: Precision = Precision()

    def with_overrides(self, **changes: object) -> "Design":
        """A copy with dotted-path overrides, e.g. ``{"array.rows": 32}``; validated again."""
        data = self.model_dump()
        for dotted, value in changes.items():
            node = data
            *parents, leaf = dotted.split(".")
            for p in parents:
                if not isinstance(node.get(p), dict):
                    raise ArchsimInputError(f"design override {dotted!r}: {p!r} is not a section of the design")
                node = node[p]
            if leaf not in node:
                raise ArchsimInputError(f"design override {dotted!r}: unknown field {leaf!r}")
            node[leaf] = value
        return _validate(data, f"design {self.name!r} with overrides {changes}")


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
    if not path.exists():
        raise ArchsimInputError(f"design file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ArchsimInputError(f"design file {str(path)!r} is not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise ArchsimInputError(f"design file {str(path)!r} must hold a mapping of fields (name, dataflow, array, ...)")
    data.setdefault("name", path.stem)
    return _validate(data, str(path))


def _validate(data: dict, where: str) -> Design:
    try:
        return Design.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
            problems.append(f"{loc}: {e['msg']}")
        raise ArchsimInputError(f"{where}: " + "; ".join(problems)) from None
