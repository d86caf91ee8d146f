"""Area of PQA and the DLA baseline, in the paper's FPGA units and in archsim's ASIC units.

**FPGA (CLB-equivalents)** — the PQA authors' model (reference pq_permdnn.md §A.2 "Area model",
[C]), constants in ``archsim/tables/pqa_fpga.yaml``: ``area = 3*DSPs + 4*M20Ks + logic`` with

* PQA: ``DSPs = NOV*NSV*PLV`` with the L2 distance (0 with L1; ``dsp_rule='kernel'`` uses the
  NSV*NPV*PLV units the OpenCL kernel instantiates), ``M20Ks = ceil(NSV*NOV/ports)*2`` (LUT banks,
  doubled for overlapped loading), ``logic`` = the authors' linear regression in NOV, NSV, PLV, NPV.
* DLA: ``DSPs = (Wvec-Qvec+1)*Qvec*Kvec*Cvec/2``, ``M20Ks = Wvec*Cvec*Kvec/2``, ``logic = 330*Kvec``.

**ASIC (um^2, archsim tech table, 40 nm by default)** — each design built from the table's adders,
multipliers, flops and SRAM macros (rules in the function docstrings). On-chip table stores are
sized for the *workload's* largest layer, double-buffered; activation buffers and control logic
are left out of both designs, as the FPGA model leaves them out too. This is a component-count
estimate, not a synthesis result: it moves the PQA/DLA ratio because an ASIC multiplier is far
cheaper relative to SRAM than 3 CLBs per DSP is relative to 4 per M20K.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Sequence

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from archsim.pqa.config import DlaConfig, PqaConfig
from archsim.tech import TechTable, load_tech_table
from compress.pq.facts import PqLayerFacts
from archsim.validation import input_error, read_text_file, reject_non_finite
from workloads.errors import ArchsimInputError

FPGA_TABLE = Path(__file__).resolve().parents[1] / "tables" / "pqa_fpga.yaml"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: float = Field(..., allow_inf_nan=False)
    unit: str = Field(..., min_length=1)
    tag: str = Field(..., pattern="^(R|P|C|M|A|R-secondary)$")
    source: str = Field(..., min_length=3)


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    fpga: dict[str, _Entry]
    asic: dict[str, _Entry]


@functools.lru_cache(maxsize=4)
def load_fpga_table(path: str | None = None) -> _Table:
    """The PQA area constants (``archsim/tables/pqa_fpga.yaml`` unless ``path``)."""
    p = Path(path) if path else FPGA_TABLE
    try:
        data = yaml.safe_load(read_text_file(p, "PQA area table"))
        reject_non_finite(data, f"PQA area table {str(p)!r}")
        return _Table.model_validate(data)
    except (OSError, yaml.YAMLError) as err:
        raise ArchsimInputError(f"PQA area table {str(p)!r} cannot be read: {err}") from None
    except ValidationError as err:
        raise input_error(err, f"PQA area table {str(p)!r}") from None


def _v(section: str, name: str) -> float:
    return getattr(load_fpga_table(), section)[name].value


# ----------------------------------------------------------------------------------------- FPGA


def pqa_fpga_area(cfg: PqaConfig, distance: str = "l2") -> dict[str, float]:
    """PQA area breakdown in CLB-equivalents: ``dsps``, ``m20ks`` (counts) and the three terms."""
    if distance == "l2":
        units = cfg.nov if cfg.dsp_rule == "paper_model" else cfg.npv
        dsps = units * cfg.nsv * cfg.plv
    else:
        dsps = 0
    ports = 2 if cfg.dual_port_lut else 1
    needed = 2 if cfg.overlap_table_load else 1
    m20ks = math.ceil(cfg.nsv * cfg.nov / ports) * needed
    logic = (_v("fpga", "pqa_logic_per_nov") * cfg.nov + _v("fpga", "pqa_logic_per_nsv") * cfg.nsv
             + _v("fpga", "pqa_logic_per_plv") * cfg.plv + _v("fpga", "pqa_logic_per_npv") * cfg.npv
             + _v("fpga", "pqa_logic_intercept"))
    dsp_area = dsps * _v("fpga", "dsp_clbs")
    m20k_area = m20ks * _v("fpga", "m20k_clbs")
    return {"dsps": dsps, "m20ks": m20ks, "dsp_area": dsp_area, "m20k_area": m20k_area, "logic_area": logic,
            "total": dsp_area + m20k_area + logic}


def dla_fpga_area(cfg: DlaConfig) -> dict[str, float]:
    """DLA area breakdown in CLB-equivalents (no Winograd)."""
    dsps = cfg.peak_macs_per_cycle / _v("fpga", "dla_macs_per_dsp")
    m20ks = cfg.wvec * cfg.cvec * cfg.kvec * _v("fpga", "dla_filter_m20k_per_bank")
    logic = _v("fpga", "dla_logic_per_kvec") * cfg.kvec
    dsp_area = dsps * _v("fpga", "dsp_clbs")
    m20k_area = m20ks * _v("fpga", "m20k_clbs")
    return {"dsps": dsps, "m20ks": m20ks, "dsp_area": dsp_area, "m20k_area": m20k_area, "logic_area": logic,
            "total": dsp_area + m20k_area + logic}


# ----------------------------------------------------------------------------------------- ASIC


def _store_area(tech: TechTable, banks: int, bank_bits: int, port_bits: int) -> float:
    """``banks`` equal memories of ``bank_bits`` each, whichever is smaller: a register file
    (``register_file_area``) or an SRAM macro no smaller than the table's smallest fitted capacity
    (``sram.fit_min_bytes``, 1 KiB): the SRAM fit is not trusted below its range, and a real macro
    has a fixed periphery, so a tiny bank is costed as the smallest fitted macro."""
    if banks <= 0 or bank_bits <= 0:
        return 0.0
    rf = tech.register_file_area(int(bank_bits)).value
    macro_bytes = max(math.ceil(bank_bits / 8), int(tech.model.sram.fit_min_bytes.canonical))
    sram = tech.sram_area(macro_bytes, port_bits).value
    return banks * min(rf, sram)


def _tech(tech: str | TechTable) -> TechTable:
    return tech if isinstance(tech, TechTable) else load_tech_table(tech)


def pqa_asic_area(cfg: PqaConfig, facts: Sequence[PqLayerFacts], tech: str | TechTable = "40nm") -> dict[str, float]:
    """PQA component areas (um^2).

    * encoder: NSV*NPV*PLV units (what the kernel instantiates), each a subtractor, a squarer
      (L2; an |.| for L1) and its share of the PLV adder tree at the distance width, plus one
      running-sum adder + register per (subspace, prototype lane);
    * min tree: NSV*(NPV-1) comparators + 2:1 muxes of (distance + index) bits, one running-min
      register per subspace lane;
    * prototype store: per-subspace codebooks need NSV*NPV*PLV reads/cycle (one bank each), a
      shared codebook NPV*PLV; LUT store: NSV*NOV banks; both double-buffered, sized for the
      workload's largest layer;
    * adder tree NOV*(NSV-1) adders and NOV accumulators at acc_bits, k_max accumulator registers.
    """
    t = _tech(tech)
    if not facts:
        raise ArchsimInputError("PQA ASIC area needs the workload's layers to size the table stores")
    width = max(cfg.data_bits, max(f.proto_bits for f in facts))
    l2 = all(f.distance == "l2" for f in facts)
    cmp_area = _v("asic", "comparator_per_adder") * t.adder_area(cfg.dist_bits).value
    units = cfg.nsv * cfg.npv * cfg.plv
    per_unit = t.adder_area(width).value + (t.multiplier_area(width, width).value if l2
                                            else _v("asic", "abs_per_adder") * t.adder_area(width).value)
    lanes = cfg.nsv * cfg.npv
    tree = lanes * ((cfg.plv - 1) + 1) * t.adder_area(cfg.dist_bits).value + t.register_area(lanes * cfg.dist_bits).value
    index_bits = max(f.index_bits for f in facts)
    min_tree = (cfg.nsv * (cfg.npv - 1) * (cmp_area + t.mux_area(2, cfg.dist_bits + index_bits).value)
                + t.register_area(cfg.nsv * (cfg.dist_bits + index_bits)).value)
    nbuf = int(_v("asic", "table_buffers")) if cfg.overlap_table_load else 1
    shared = all(f.shared_codebook for f in facts)
    proto_banks = (1 if shared else cfg.nsv) * cfg.npv * cfg.plv
    max_proto_bits = max(f.proto_table_bits for f in facts)
    max_lut_entries = max(f.lut_entries for f in facts)
    lut_bits = max(f.lut_bits for f in facts)
    proto_store = nbuf * _store_area(t, proto_banks, math.ceil(max_proto_bits / proto_banks), max(f.proto_bits for f in facts))
    lut_banks = cfg.nsv * cfg.nov
    lut_store = nbuf * _store_area(t, lut_banks, math.ceil(max_lut_entries / lut_banks) * lut_bits, lut_bits)
    adders = (cfg.nov * (cfg.nsv - 1) + cfg.nov) * t.adder_area(cfg.acc_bits).value
    acc_regs = t.register_area(cfg.limits.k_max * cfg.acc_bits).value
    parts = {"encoder": units * per_unit + tree, "min_tree": min_tree, "proto_store": proto_store,
             "lut_store": lut_store, "adder_tree_acc": adders + acc_regs}
    parts["total"] = sum(parts.values())
    return parts


def dla_asic_area(cfg: DlaConfig, facts: Sequence[PqLayerFacts], tech: str | TechTable = "40nm") -> dict[str, float]:
    """DLA component areas (um^2): (Wvec-Qvec+1)*Qvec*Kvec*Cvec MACs at data_bits x data_bits +
    acc_bits; a filter cache of Svec*Kvec*Cvec banks (the weights read per cycle), double-buffered
    and sized for the workload's largest layer; Kvec*Qvec accumulator registers."""
    t = _tech(tech)
    if not facts:
        raise ArchsimInputError("DLA ASIC area needs the workload's layers to size the filter cache")
    macs = cfg.peak_macs_per_cycle * t.mac_area(cfg.data_bits, cfg.data_bits, cfg.acc_bits).value
    banks = cfg.svec * cfg.kvec * cfg.cvec
    max_weights = max(f.k * f.reduction for f in facts)
    cache = int(_v("asic", "table_buffers")) * _store_area(t, banks, math.ceil(max_weights / banks) * cfg.data_bits,
                                                           cfg.data_bits)
    acc = t.register_area(cfg.kvec * cfg.qvec * cfg.acc_bits).value
    parts = {"macs": macs, "filter_cache": cache, "accumulators": acc}
    parts["total"] = sum(parts.values())
    return parts
