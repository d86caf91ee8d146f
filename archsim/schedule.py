"""The tile schedule: the contract between a dataflow mapper (demand) and the SimPy engine (service).

A mapper turns one layer on one design into an ordered list of `Tile`s — pure Python, closed
forms, no SimPy. The engine walks the tiles with a control FSM: it issues each tile's DRAM
`loads` into the on-chip buffers, runs the array for ``compute_cycles`` once the tile's loads
have landed (and, for decoded weights, once the decoder has produced them), and drains the
tile's `stores` back to DRAM. Overlap, back-pressure and stalls therefore emerge from the
simulation; the mapper never assumes them.

This split mirrors SCALE-Sim's demand (what the array needs, when) versus service (what memory
delivers, when), at tile rather than cycle granularity so whole networks run in seconds.

Counting conventions
--------------------
* ``events`` counts on-chip actions of the tile, keyed by ``(component, action)``, in the units
  the cost model prices: bytes for buffer and register-file traffic (``"read_bytes"``,
  ``"write_bytes"``), operations for arithmetic (``"mac"``, ``"gated_mac"``, ``"mux_select"``,
  ``"decode"``, ``"lookup"``). Component names are those in `COMPONENTS`.
* DRAM traffic is *not* in ``events``: it is the sum of ``loads`` and ``stores``, which the engine
  times and counts itself (so counted bytes and simulated bytes cannot disagree). Filling a buffer
  from DRAM is also a buffer write; the engine adds those buffer writes itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

#: Component names used in event keys, results and energy tables.
COMPONENTS: tuple[str, ...] = (
    "dram", "weight_buffer", "input_buffer", "output_buffer", "codebook", "weight_rf", "activation_rf",
    "psum_rf", "pe_array", "mux", "decoder", "control",
)

#: Operand names of transfers; each maps to the buffer that holds it on chip.
OPERAND_BUFFER: Mapping[str, str] = {
    "weight": "weight_buffer",    # dense weights, or the codes / kept values of compressed weights
    "mask": "weight_buffer",      # N:M masks of compressed weights (stored beside the codes)
    "codebook": "codebook",       # VQ codebook (loaded once per layer)
    "input": "input_buffer",
    "psum": "output_buffer",      # partial sums spilled to / read back from DRAM
    "output": "output_buffer",
}


@dataclass(frozen=True)
class Transfer:
    """Bytes of one operand moved between DRAM and its on-chip buffer."""

    operand: str
    nbytes: float

    def __post_init__(self) -> None:
        if self.operand not in OPERAND_BUFFER:
            raise ValueError(f"unknown operand {self.operand!r}; known: {sorted(OPERAND_BUFFER)}")
        if self.nbytes < 0:
            raise ValueError(f"transfer of {self.operand!r} has negative size {self.nbytes}")

    @property
    def buffer(self) -> str:
        return OPERAND_BUFFER[self.operand]


@dataclass(frozen=True)
class Tile:
    """One step of a layer's schedule.

    ``compute_cycles`` is the array's busy time for the tile from the mapper's closed form
    (systolic fill + stream + drain), excluding any memory stall. ``decode_cycles`` is the time the
    weight decoder (codebook lookups, mask decode) needs to prepare this tile's weights; 0 for
    dense weights. ``macs`` are the useful (non-skipped) multiply-accumulates executed.
    """

    compute_cycles: int
    macs: int
    loads: tuple[Transfer, ...] = ()
    stores: tuple[Transfer, ...] = ()
    events: Mapping[tuple[str, str], float] = field(default_factory=dict)
    decode_cycles: int = 0
    repeat: int = 1

    def __post_init__(self) -> None:
        if self.compute_cycles < 0 or self.macs < 0 or self.decode_cycles < 0 or self.repeat < 1:
            raise ValueError(f"tile with negative cycles/macs or repeat < 1: {self}")


@dataclass(frozen=True)
class LayerSchedule:
    """All tiles of one layer plus the numbers the engine and reports need about the mapping.

    ``repeat`` on a tile means "this tile, identically, ``repeat`` times in a row" — a compression
    of the list for long regular schedules; the engine simulates each repetition.
    ``ideal_cycles`` is the compute-only bound (no memory stalls), used to check
    cycles >= max(compute bound, DRAM bytes / bandwidth).
    """

    layer_name: str
    tiles: tuple[Tile, ...]
    ideal_cycles: int
    pe_used: int
    pe_total: int
    notes: str = ""
    #: PE-local storage one physical PE needs for this mapping, in bits, keyed by the event component
    #: that reads/writes it (``weight_rf``, ``activation_rf``, ``psum_rf``, ``weight_index``, ...).
    #: Declared by the mapper from *its* mapping decisions; the area-consistency test checks that the
    #: design's area (`archsim.cost.CostModel.storage_capacity_bits`) holds at least this much.
    storage_bits_per_pe: Mapping[str, int] = field(default_factory=dict)

    @property
    def macs(self) -> int:
        return sum(t.macs * t.repeat for t in self.tiles)

    @property
    def dram_bytes(self) -> float:
        return sum((sum(x.nbytes for x in t.loads) + sum(x.nbytes for x in t.stores)) * t.repeat for t in self.tiles)
