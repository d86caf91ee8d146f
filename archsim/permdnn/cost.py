"""Bottom-up energy and area of the two engines from the technology table (28 nm by default).

Both engines are priced with the *same* table and the same rules, so their ratio does not depend
on EIE's or PermDNN's published power (that is the other method, `archsim.permdnn.published`).
Component choices (each an assumption unless the config says otherwise):

* SRAM macros (weight / spmat / pointer / activation): `TechTable.sram_access` per access at the
  macro's capacity and port width; area `sram_area`; leakage `sram_leakage`.
* PermDNN's weight port carries ``mults_per_pe`` weights plus their permutation values
  (``weight_bits + PERM_BITS_STORED`` each); one access per PE per busy cycle.
* MAC = ``mac(weight, act, acc)``; idle multiplier slots are clock-gated (no dynamic energy).
* Accumulators / EIE's destination-activation file, activation FIFOs, EIE's codebook: one read + one
  write per access pair, priced by the design's ``register_convention`` (`archsim.access_convention`:
  ``switching`` = write at the flop price, read at the read-mux tree of the file's depth; above the
  table's RF range (512 B) both conventions use the SRAM fit, as `register_file_access` does).
* Index logic: PermDNN's (jl - k) mod p subtractor, EIE's row-address accumulator: one adder of
  ``INDEX_ADDER_BITS`` per MAC. Detector: one ``act_bits`` compare per input scanned.
* Clock tree + control: ``clock_control_energy_fraction`` x the modelled dynamic energy;
  control area: ``control_area_fraction`` x the non-SRAM area.
Categories match `archsim.report.plots.ENERGY_CATEGORIES` so the standard figure can draw them.
"""

from __future__ import annotations

import math

from archsim.access_convention import AccessPricer
from archsim.permdnn.config import EieConfig, PermDnnConfig
from archsim.permdnn.models import LayerRun
from archsim.tech import TechTable, load_tech_table

#: bits stored per weight for its block's permutation value (p <= 64 needs 6) [A]
PERM_BITS_STORED = 6
#: width of PermDNN's modulo index subtractor and EIE's row-address accumulator [A]
INDEX_ADDER_BITS = 8
#: queue entry = activation value + its 16-bit column index [A]
QUEUE_INDEX_BITS = 16


def _tech(cfg: PermDnnConfig | EieConfig) -> TechTable:
    return load_tech_table(cfg.tech)


def permdnn_area(cfg: PermDnnConfig, t: TechTable | None = None) -> dict[str, float]:
    """Area per component (um2)."""
    t = t or _tech(cfg)
    port = cfg.mults_per_pe * (cfg.weight_bits + PERM_BITS_STORED)
    n, m = cfg.n_pe, cfg.mults_per_pe
    a = {
        "weight SRAM": n * t.sram_area(cfg.weight_sram_kib_per_pe * 1024, port).value,
        "activation SRAM": t.sram_area(cfg.act_sram_kib * 1024, 64).value,
        "multipliers": n * m * t.multiplier_area(cfg.weight_bits, cfg.act_bits).value,
        "accumulators": n * (m * t.adder_area(cfg.acc_bits).value
                             + t.register_file_area(cfg.acc_entries_per_pe * cfg.acc_bits).value),
        "index logic": n * m * t.adder_area(INDEX_ADDER_BITS).value,
        "activation queues": n * t.register_file_area((cfg.broadcast.queue_depth or 1)
                                                      * (cfg.act_bits + QUEUE_INDEX_BITS)).value,
        "detector + broadcast": t.adder_area(cfg.act_bits).value
                                + t.register_area(n * (cfg.act_bits + QUEUE_INDEX_BITS)).value,
    }
    logic = sum(v for k, v in a.items() if "SRAM" not in k)
    a["control"] = cfg.control_area_fraction * logic
    return a


def eie_area(cfg: EieConfig, t: TechTable | None = None) -> dict[str, float]:
    """Area per component (um2) at the table's node (28 nm by default: EIE built in PermDNN's node)."""
    t = t or _tech(cfg)
    n = cfg.n_pe
    bank = cfg.ptr_sram_kib_per_pe * 1024 / cfg.pointer_banks
    a = {
        "weight SRAM": n * t.sram_area(cfg.spmat_sram_kib_per_pe * 1024, cfg.spmat_port_bits).value,
        "pointer SRAM": n * cfg.pointer_banks * t.sram_area(bank, cfg.pointer_bits).value,
        "activation SRAM": t.sram_area(cfg.act_sram_kib * 1024, 64).value,
        "multipliers": n * t.multiplier_area(cfg.value_bits, cfg.act_bits).value,
        "accumulators": n * (t.adder_area(cfg.acc_bits).value
                             + t.register_file_area(cfg.act_entries_per_pe * (cfg.acc_bits + cfg.act_bits)).value),
        "codebook": n * t.register_file_area(cfg.codebook_entries * cfg.value_bits).value,
        "index logic": n * t.adder_area(INDEX_ADDER_BITS).value,
        "activation queues": n * t.register_file_area((cfg.broadcast.queue_depth or 1)
                                                      * (cfg.act_bits + QUEUE_INDEX_BITS)).value,
        "detector + broadcast": t.adder_area(cfg.act_bits).value
                                + t.register_area(n * (cfg.act_bits + QUEUE_INDEX_BITS)).value,
    }
    logic = sum(v for k, v in a.items() if "SRAM" not in k)
    a["control"] = cfg.control_area_fraction * logic
    return a


def _leakage_uw(area: dict[str, float], cfg, t: TechTable) -> float:
    sram_kib = {"permdnn": cfg.n_pe * getattr(cfg, "weight_sram_kib_per_pe", 0) + cfg.act_sram_kib,
                "eie": cfg.n_pe * (getattr(cfg, "spmat_sram_kib_per_pe", 0) + getattr(cfg, "ptr_sram_kib_per_pe", 0))
                + cfg.act_sram_kib}[cfg.kind]
    logic = sum(v for k, v in area.items() if "SRAM" not in k)
    return t.logic_leakage(logic).value + t.sram_leakage(sram_kib * 1024).value


def energy_breakdown(run: LayerRun, cfg: PermDnnConfig | EieConfig, clock_hz: float | None = None,
                     t: TechTable | None = None) -> dict[str, float]:
    """Energy of one frame (one matrix-vector product) per category, in pJ. ``clock_hz`` is the clock
    the leakage integrates over (EIE: its clock at the comparison node)."""
    t = t or _tech(cfg)
    ev = run.events
    clock = clock_hz or cfg.clock_hz
    act_cap = cfg.act_sram_kib * 1024
    queue_bytes = (cfg.broadcast.queue_depth or 1) * (cfg.act_bits + QUEUE_INDEX_BITS) / 8
    e: dict[str, float] = {c: 0.0 for c in ("DRAM", "weight buffer", "input buffer", "output buffer", "codebook",
                                            "register files", "MACs", "muxes/decoder")}
    access = AccessPricer(t, cfg.register_convention)

    def rw(nbytes: float, depth: int, word_bits: int) -> float:
        """Half the bytes written, half read (each count is a write + read pair)."""
        return nbytes / 2 * (access.write_per_byte(depth, word_bits).value + access.read_per_byte(depth, word_bits).value)

    queue_depth = cfg.broadcast.queue_depth or 1
    e["input buffer"] = (math.ceil(ev["act_sram_read_bytes"] / 8) * t.sram_access(act_cap, 64, "read").value
                         + rw(ev["queue_rw_bytes"], queue_depth, int(queue_bytes * 8 / queue_depth)))
    e["output buffer"] = math.ceil(ev["output_write_bytes"] / 8) * t.sram_access(act_cap, 64, "write").value
    e["muxes/decoder"] = ev["detector_compares"] * t.adder(cfg.act_bits).value
    if isinstance(cfg, PermDnnConfig):
        port = cfg.mults_per_pe * (cfg.weight_bits + PERM_BITS_STORED)
        e["weight buffer"] = ev["weight_sram_reads"] * t.sram_access(cfg.weight_sram_kib_per_pe * 1024, port).value
        e["MACs"] = ev["macs"] * t.mac(cfg.weight_bits, cfg.act_bits, cfg.acc_bits).value
        e["muxes/decoder"] += ev["index_gen_adds"] * t.adder(INDEX_ADDER_BITS).value
        acc_depth, acc_width = cfg.acc_entries_per_pe, cfg.acc_bits
    else:
        bank = cfg.ptr_sram_kib_per_pe * 1024 / cfg.pointer_banks
        e["weight buffer"] = (ev["spmat_reads"] * t.sram_access(cfg.spmat_sram_kib_per_pe * 1024,
                                                                cfg.spmat_port_bits).value
                              + ev["pointer_reads"] * t.sram_access(bank, cfg.pointer_bits).value)
        e["codebook"] = ev["codebook_reads"] * cfg.value_bits / 8 * (
            access.lookup_per_byte(cfg.codebook_entries).value if cfg.register_convention == "switching"
            else t.register_file_access(cfg.codebook_entries * cfg.value_bits / 8).value)
        e["MACs"] = ev["macs"] * t.mac(cfg.value_bits, cfg.act_bits, cfg.acc_bits).value
        e["muxes/decoder"] += ev["address_adds"] * t.adder(INDEX_ADDER_BITS).value
        acc_depth, acc_width = cfg.act_entries_per_pe, cfg.acc_bits + cfg.act_bits
    e["register files"] = rw(ev["acc_rw_bytes"], acc_depth, acc_width)
    dynamic = sum(e.values())
    e["clock/control"] = cfg.clock_control_energy_fraction * dynamic
    area = permdnn_area(cfg, t) if isinstance(cfg, PermDnnConfig) else eie_area(cfg, t)
    e["leakage"] = _leakage_uw(area, cfg, t) * 1e-6 * (run.cycles / clock) * 1e12
    return e


__all__ = ["permdnn_area", "eie_area", "energy_breakdown", "PERM_BITS_STORED", "INDEX_ADDER_BITS"]
