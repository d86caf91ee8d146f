"""How a register or register-file access is charged: one stated convention for every design.

Why this module exists
----------------------
PE-local storage dominates the per-MAC energy of systolic arrays once SRAM traffic is amortised, so
*how* a register access is counted decides comparisons between WS, EWS and sparse arrays. The
default convention, ``switching``, charges what physically switches:

==========================  =====================================================================
access                      energy
==========================  =====================================================================
register write (depth 1)    clock + D toggle of the written bits: ``flop_rw_per_byte`` x bytes
register read (depth 1)     0 — a flip-flop has no read port; its Q output drives the consumer
                            directly (the consumer's own energy is counted where it is: MAC, mux)
stationary read             0 — a register (or an RF entry) that is *not rewritten* and stays
                            selected does not toggle; it costs leakage only (counted as leakage)
RF write (depth D > 1)      the written entry: ``flop_rw_per_byte`` x bytes (write-enable decode and
                            the data fan-out to D entries are not counted [A])
RF read (depth D > 1)       its read-mux tree: ``ceil(log2 D)`` mux2 levels x 8 b x ``mux2_per_bit``
                            per byte (the path from the selected entry to the port toggles; the
                            reference's own rule for flop RFs, energy_tables.md §4
                            ``crf_flop_lookup_per_byte`` "flop read + log2(K) mux2 levels x 8 bit",
                            without the flop read, which is free as above)
==========================  =====================================================================

Nothing here is a new number: both prices are table entries (``registers.flop_rw_per_byte``,
``compute.mux2_per_bit``), with the table's voltage scaling. A codebook register file (MVQ's CRF) is
an RF and follows the same rule (lookup = read-mux tree of its depth).

``legacy`` reproduces archsim's earlier figures: read = write, a depth-1 register at
``flop_rw_per_byte`` per byte each way, an RF at the table's ``small_rf``/``large_rf`` per-byte price
(whatever its depth up to 64 B / 512 B), a stationary register read charged like any read, a
codebook lookup = flop read + mux levels.

Compared with Accelergy/Timeloop (also in ``archsim/tables/README.md``): Accelergy prices each storage
component by an energy-reference table with separate ``read`` and ``write`` actions; its Aladdin
``register`` entry prices a read like a write (0.009 pJ/bit, energy_tables.md §3.2), and its reference
ERT for a 16-b PE register charges 0.144 pJ per read. Timeloop multiplies those actions by per-level
access counts: the innermost level that keeps an operand is read once per MAC that uses it, whether or
not the value changed. Together that is archsim's ``legacy`` convention. ``switching`` departs from it
on purpose for flops (a read is the consumer's energy, a held value does not toggle) and keeps the
depth dependence of an RF read that Accelergy's RF models also have (a deeper RF costs more per read).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

CONVENTIONS: tuple[str, ...] = ("switching", "legacy")
Convention = Literal["switching", "legacy"]


@dataclass(frozen=True)
class Price:
    """A price derived from table entries; ``source`` says how."""

    value: float
    source: str
    unit: str = "pJ"


def _val(cost: Any) -> tuple[float, str]:
    return float(cost.value), str(getattr(cost, "source", ""))


def read_mux_levels(depth: int) -> int:
    """mux2 levels on the read path of a ``depth``-entry register file: ceil(log2 depth); 0 for depth 1."""
    if depth < 1:
        raise ValueError(f"register-file depth must be >= 1, got {depth}")
    return math.ceil(math.log2(depth)) if depth > 1 else 0


class AccessPricer:
    """Prices register and register-file accesses on one technology table under one convention."""

    def __init__(self, tech: Any, convention: str = "switching") -> None:
        if convention not in CONVENTIONS:
            from workloads.errors import ArchsimInputError

            raise ArchsimInputError(f"accounting.register_convention must be one of {', '.join(CONVENTIONS)}, "
                                    f"got {convention!r}")
        self.tech = tech
        self.convention = convention

    def _beyond_rf_range(self, depth: int, word_bits: int) -> bool:
        """Above the table's large-RF capacity a storage is an SRAM macro, priced by the SRAM fit per byte
        in both conventions (the table's own rule, `TechTable.register_file_access`)."""
        limit = self.tech.model.registers.large_rf_max_bytes.canonical
        return depth > 1 and depth * word_bits / 8 > limit

    def _sram(self, depth: int, word_bits: int, op: str) -> Price:
        v, src = _val(self.tech.register_file_access(depth * word_bits / 8, op))
        return Price(v, f"{depth}x{word_bits} b storage above the RF range: SRAM {op} [{src}]")

    # ---- per byte ----------------------------------------------------------------------------
    def write_per_byte(self, depth: int, word_bits: int) -> Price:
        """Energy per byte written into a register (depth 1) or one entry of a ``depth``-deep RF."""
        t = self.tech
        if self._beyond_rf_range(depth, word_bits):
            return self._sram(depth, word_bits, "write")
        if self.convention == "legacy" and depth > 1:
            v, src = _val(t.register_file_access(depth * word_bits / 8, "write"))
            return Price(v, f"[legacy] RF {depth}x{word_bits} b write = read [{src}]")
        v, src = _val(t.register_access(1))
        what = "register" if depth == 1 else f"entry of a {depth}x{word_bits} b RF"
        return Price(v, f"[switching] write of one {what}: flop clock + toggle [{src}]"
                        if self.convention == "switching" else f"[legacy] register read = write [{src}]")

    def read_per_byte(self, depth: int, word_bits: int) -> Price:
        """Energy per byte read from a register (depth 1) or a ``depth``-deep RF."""
        t = self.tech
        if self._beyond_rf_range(depth, word_bits):
            return self._sram(depth, word_bits, "read")
        if self.convention == "legacy":
            if depth == 1:
                v, src = _val(t.register_access(1))
                return Price(v, f"[legacy] register read = write [{src}]")
            v, src = _val(t.register_file_access(depth * word_bits / 8, "read"))
            return Price(v, f"[legacy] RF {depth}x{word_bits} b read [{src}]")
        if depth == 1:
            return Price(0.0, "[switching] depth-1 register: no read port, reading is free")
        levels = read_mux_levels(depth)
        mux2, src = _val(t.mux(2, 1, activity=1.0))
        return Price(levels * 8 * mux2, f"[switching] RF {depth}x{word_bits} b read: {levels} mux2 levels x 8 b x "
                                        f"{mux2:.4g} pJ/bit [{src}]")

    def stationary_read_per_byte(self, depth: int, word_bits: int) -> Price:
        """A read of an entry that stays selected and is not rewritten (WS's pinned weight)."""
        if self.convention == "legacy" or self._beyond_rf_range(depth, word_bits):
            return self.read_per_byte(depth, word_bits)
        return Price(0.0, "[switching] stationary register/RF entry, not rewritten: no toggle, leakage only")

    def lookup_per_byte(self, entries: int) -> Price:
        """One byte of a codeword read from a flop codebook RF (MVQ's CRF) of ``entries`` codewords."""
        t = self.tech
        mux2, msrc = _val(t.mux(2, 1, activity=1.0))
        levels = math.log2(entries) if entries > 1 else 0.0
        if self.convention == "legacy":
            flop, fsrc = _val(t.register_access(1))
            return Price(flop + levels * 8 * mux2,
                         f"[legacy] flop read {flop:.4g} pJ/B [{fsrc}] + log2({entries}) mux2 levels x 8 b x "
                         f"{mux2:.4g} pJ [{msrc}] (energy_tables.md §4 crf_flop_lookup_per_byte rule)")
        lv = read_mux_levels(entries)
        return Price(lv * 8 * mux2, f"[switching] CRF read of {entries} entries: {lv} mux2 levels x 8 b x "
                                    f"{mux2:.4g} pJ/bit [{msrc}]")


__all__ = ["AccessPricer", "CONVENTIONS", "Convention", "Price", "read_mux_levels"]
