"""Pydantic configs of the two FC engines: PermDNN (permuted-diagonal) and EIE (CSC sparse).

Why separate from `archsim.design.Design`: both engines are column-broadcast sparse-vector
machines (a non-zero detector broadcasts each non-zero input to every PE; each PE owns a slice of
output rows), not systolic arrays, so they do not go through the systolic mapper registry.
Every field is a named model parameter; the presets (``archsim/permdnn/presets/{permdnn,eie}.yaml``)
say per value whether it is published (and where) or an assumption. Bad values raise one
`ArchsimInputError` naming the file, the field and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from archsim.validation import describe_validation_error, read_text_file, reject_non_finite
from workloads.errors import ArchsimInputError

PRESET_DIR = Path(__file__).parent / "presets"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BroadcastConfig(_Strict):
    """Front end shared by both engines: non-zero detection, broadcast, per-PE activation queues."""

    interval_cycles: int = Field(1, ge=1, le=64, description="cycles between two broadcasts of the non-zero "
                                                             "detector (1 = one non-zero per cycle)")
    queue_depth: int | None = Field(8, ge=1, le=4096, description="activation FIFO entries per PE waiting to be "
                                                                   "processed; null = unbounded (analytical ideal)")
    pipeline_latency_cycles: int = Field(4, ge=0, le=1000, description="fill + drain of the PE pipeline per layer")


class PermDnnConfig(_Strict):
    kind: Literal["permdnn"] = "permdnn"
    name: str = "permdnn"
    n_pe: int = Field(32, ge=1, le=4096)
    mults_per_pe: int = Field(8, ge=1, le=256, description="multipliers per PE = blocks processed per cycle")
    clock_hz: float = Field(1.2e9, gt=0)
    node_nm: int = Field(28, description="technology node of the design point")
    tech: str = Field("28nm", description="archsim technology table for the component energy/area model")
    register_convention: Literal["switching", "legacy"] = Field(
        "switching", description="register/RF access convention (archsim.access_convention)")
    weight_bits: int = Field(16, ge=1, le=32)
    act_bits: int = Field(16, ge=1, le=32)
    acc_bits: int = Field(24, ge=8, le=64)
    weight_sram_kib_per_pe: float = Field(128, gt=0, description="per-PE weight SRAM (values + permutation values)")
    acc_entries_per_pe: int = Field(512, ge=1, description="output accumulators per PE (row slice capacity)")
    act_sram_kib: float = Field(64, gt=0, description="shared input/output activation SRAM")
    control_area_fraction: float = Field(0.10, ge=0, le=1, description="control/routing area added to PE logic")
    clock_control_energy_fraction: float = Field(0.15, ge=0, le=2,
                                                 description="clock tree + control energy as a fraction of the "
                                                             "modelled dynamic energy")
    broadcast: BroadcastConfig = BroadcastConfig(queue_depth=4, pipeline_latency_cycles=6)


class EieConfig(_Strict):
    kind: Literal["eie"] = "eie"
    name: str = "eie"
    n_pe: int = Field(64, ge=1, le=4096)
    clock_hz: float = Field(800e6, gt=0, description="clock at the design's own node")
    node_nm: int = Field(45)
    compare_node_nm: int = Field(28, description="node EIE is scaled to for the comparison with PermDNN")
    compare_clock_hz: float = Field(1.2e9, gt=0, description="EIE's clock at compare_node_nm")
    tech: str = Field("28nm", description="technology table of the component model (at compare_node_nm)")
    register_convention: Literal["switching", "legacy"] = Field(
        "switching", description="register/RF access convention (archsim.access_convention)")
    code_bits: int = Field(4, ge=1, le=16, description="weight index into the shared codebook")
    index_bits: int = Field(4, ge=1, le=16, description="relative row index; a gap of >= 2^bits zeros needs a "
                                                        "padding zero")
    value_bits: int = Field(16, ge=1, le=32, description="decoded (codebook) weight width")
    act_bits: int = Field(16, ge=1, le=32)
    acc_bits: int = Field(24, ge=8, le=64)
    pointer_bits: int = Field(16, ge=8, le=32)
    pointer_banks: int = Field(2, ge=1, le=8)
    spmat_port_bits: int = Field(64, ge=8, le=1024)
    spmat_sram_kib_per_pe: float = Field(128, gt=0)
    ptr_sram_kib_per_pe: float = Field(32, gt=0)
    act_entries_per_pe: int = Field(64, ge=1, description="destination-activation register file entries per PE")
    act_sram_kib: float = Field(64, gt=0, description="shared input/output activation SRAM (as the PermDNN preset)")
    min_cycles_per_column: int = Field(1, ge=0, le=16, description="cycles a PE spends on a broadcast column "
                                                                   "with no stored entry (pointer read)")
    control_area_fraction: float = Field(0.10, ge=0, le=1)
    clock_control_energy_fraction: float = Field(0.15, ge=0, le=2)
    broadcast: BroadcastConfig = BroadcastConfig(queue_depth=8, pipeline_latency_cycles=4)

    @property
    def codebook_entries(self) -> int:
        return 2 ** self.code_bits

    @property
    def entry_bits(self) -> int:
        return self.code_bits + self.index_bits


EngineConfig = PermDnnConfig | EieConfig
_MODELS: dict[str, type[_Strict]] = {"permdnn": PermDnnConfig, "eie": EieConfig}


def _format_error(origin: str, err: ValidationError) -> str:
    return f"{origin}: {describe_validation_error(err)}"


def config_from_mapping(data: dict, origin: str = "config") -> EngineConfig:
    """Validate a mapping; ``kind`` (permdnn | eie) picks the model."""
    if not isinstance(data, dict):
        raise ArchsimInputError(f"{origin}: expected a mapping with kind: permdnn|eie (got {type(data).__name__})")
    kind = data.get("kind")
    if kind not in _MODELS:
        raise ArchsimInputError(f"{origin}: field kind must be 'permdnn' or 'eie' (got {kind!r})")
    try:
        return _MODELS[kind].model_validate({k: v for k, v in data.items() if k != "notes"})
    except ValidationError as err:
        raise ArchsimInputError(_format_error(origin, err)) from None


def load_config(name_or_path: str | Path) -> EngineConfig:
    """A preset name (``permdnn``, ``eie``) or a YAML path."""
    path = Path(name_or_path)
    if not (str(name_or_path).endswith((".yaml", ".yml")) and path.is_file()):
        path = PRESET_DIR / f"{name_or_path}.yaml"
    if not path.is_file() or path.stem == "eie_benchmarks":
        raise ArchsimInputError(f"unknown engine config {str(name_or_path)!r}; use 'permdnn', 'eie' or a YAML file")
    try:
        data = yaml.safe_load(read_text_file(path, "engine config"))
    except yaml.YAMLError as err:
        raise ArchsimInputError(f"{path}: not valid YAML ({err})") from None
    reject_non_finite(data, str(path))
    return config_from_mapping(data, str(path))


__all__ = ["BroadcastConfig", "PermDnnConfig", "EieConfig", "EngineConfig", "load_config", "config_from_mapping"]
