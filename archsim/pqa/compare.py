"""PQA versus DLA on one network: cycles (paper closed form, prefetch recurrence, SimPy), area
(FPGA CLB-equivalents and ASIC um^2), performance per area, and the per-layer reason for each
win or loss.

Performance per area (reference §A.3): ``(DLA_cycles / PQA_cycles) * (DLA_area / PQA_area)`` at the
same clock, over the PQ-covered layers only (both designs run the same layers).

`best_pqa` sweeps the paper's grid (NOV in {32, 64}, NSV in {16, 32, 64}, PLV = min(16, Ls),
NPV = min(16, Np); print_comparison_table.ipynb [C]) and keeps the point with the best FPGA
perf/area under the paper's own closed form — the authors' selection rule, not a fit to their
published ratios.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from archsim.pqa.analytical import dla_layer, pqa_layer, prefetch_total
from archsim.pqa.area import dla_asic_area, dla_fpga_area, pqa_asic_area, pqa_fpga_area
from archsim.pqa.config import DlaConfig, PqaConfig, load_dla, load_pqa
from archsim.pqa.model import SimResult, simulate_dla, simulate_pqa
from archsim.pqa.workload import pq_layers
from compress.pq.facts import PqLayerFacts
from workloads.network import Network

PAPER_NOV: tuple[int, ...] = (32, 64)
PAPER_NSV: tuple[int, ...] = (16, 32, 64)


@dataclass
class Comparison:
    facts: list[PqLayerFacts]
    pqa: PqaConfig
    dla: DlaConfig
    pqa_sim: SimResult
    dla_sim: SimResult
    summary: dict
    layers: pd.DataFrame


def _occupancy(sim: SimResult) -> list[float]:
    """Per-layer share of the schedule: time from the previous layer's end to this layer's end
    (so the shares sum to the total and include any load stall before the layer)."""
    out, prev = [], 0.0
    for r in sim.layers:
        out.append(r.compute_end - prev)
        prev = r.compute_end
    return out


def _reason(pq_time: float, dla_time: float, pq: dict, dl: dict) -> str:
    util = (f"DLA lanes {dl['lane_utilisation']:.0%} used (K {dl['k_util']:.0%}, C {dl['c_util']:.0%}, "
            f"Q {dl['q_util']:.0%})")
    if pq["bound"] == "table-load":
        pq_why = f"PQA table-load-bound (load {pq['init']} > compute {pq['calc']} cycles)"
    elif pq["bound"] == "lut-read":
        pq_why = f"PQA LUT-read-bound (ceil(K/NOV)={pq['lut_per_col']} > encoder {pq['enc_per_col']} cycles/column)"
    elif pq["bound"] == "encoder":
        pq_why = f"PQA encoder-bound ({pq['enc_per_col']} > LUT {pq['lut_per_col']} cycles/column)"
    else:
        pq_why = f"PQA encoder = LUT read ({pq['enc_per_col']} cycles/column)"
    if dl["bound"] == "weight-load":
        util += f"; DLA weight-load-bound ({dl['load']} > {dl['compute']} cycles)"
    verdict = "PQA wins" if pq_time < dla_time else ("tie" if pq_time == dla_time else "PQA loses")
    return f"{verdict}: {util}; {pq_why}"


def compare(network: Network, ls: int, np: int, memory: str = "ddr", *, nov: int | None = None,
            nsv: int | None = None, npv: int | None = None, plv: int | None = None, proto_bits: int = 8,
            lut_bits: int = 16, distance: str = "l2", shared_codebook: bool = False, pad: bool = False,
            pqa_preset: str = "pqa", dla_preset: str = "dla", tech: str = "40nm",
            facts: Sequence[PqLayerFacts] | None = None) -> Comparison:
    """Run both designs on ``network``'s PQ-covered layers; unspecified knobs come from the preset,
    except PLV = min(16, Ls) and NPV = min(16, Np) (the paper's rule) when not given."""
    facts = list(facts) if facts is not None else pq_layers(network, ls, np, proto_bits=proto_bits, lut_bits=lut_bits,
                                                             distance=distance, shared_codebook=shared_codebook,
                                                             pad=pad)
    base = load_pqa(pqa_preset, memory=memory)
    # `is None`, not truthiness: nov=0 is an error (pydantic names the field), never "use the default"
    over = {"plv": min(16, ls) if plv is None else plv, "npv": min(16, np) if npv is None else npv}
    if nov is not None:
        over["nov"] = nov
    if nsv is not None:
        over["nsv"] = nsv
    pcfg = base.with_overrides(**over)
    dcfg = load_dla(dla_preset, memory=memory)

    pt = [pqa_layer(f, pcfg) for f in facts]
    dt = [dla_layer(f, dcfg) for f in facts]
    ps, ds = simulate_pqa(facts, pcfg), simulate_dla(facts, dcfg)
    pa_f, da_f = pqa_fpga_area(pcfg, distance), dla_fpga_area(dcfg)
    pa_a, da_a = pqa_asic_area(pcfg, facts, tech), dla_asic_area(dcfg, facts, tech)

    s = {"network": network.name, "ls": ls, "np": np, "memory": memory.upper(), "nov": pcfg.nov, "nsv": pcfg.nsv,
         "npv": pcfg.npv, "plv": pcfg.plv, "proto_bits": proto_bits, "lut_bits": lut_bits, "distance": distance,
         "layers": len(facts),
         "pqa_cycles_paper": sum(t.total for t in pt),
         "pqa_cycles_prefetch": prefetch_total([t.init for t in pt], [t.calc for t in pt], pcfg.overlap_table_load),
         "pqa_cycles_sim": ps.total_cycles,
         "dla_cycles_paper": sum(t.total for t in dt),
         "dla_cycles_prefetch": prefetch_total([t.load for t in dt], [t.compute for t in dt], True),
         "dla_cycles_sim": ds.total_cycles,
         "pqa_fpga_area": pa_f["total"], "dla_fpga_area": da_f["total"],
         "pqa_dsps": pa_f["dsps"], "pqa_m20ks": pa_f["m20ks"],
         "pqa_asic_mm2": pa_a["total"] / 1e6, "dla_asic_mm2": da_a["total"] / 1e6}
    s["speedup_paper"] = s["dla_cycles_paper"] / s["pqa_cycles_paper"]
    s["speedup_sim"] = s["dla_cycles_sim"] / s["pqa_cycles_sim"]
    s["perf_per_area_fpga_paper"] = s["speedup_paper"] * da_f["total"] / pa_f["total"]
    s["perf_per_area_fpga_sim"] = s["speedup_sim"] * da_f["total"] / pa_f["total"]
    s["perf_per_area_asic_sim"] = s["speedup_sim"] * da_a["total"] / pa_a["total"]

    pocc, docc = _occupancy(ps), _occupancy(ds)
    rows = []
    for f, p, d, pr, dr, po, do in zip(facts, pt, dt, ps.layers, ds.layers, pocc, docc):
        pd_, dd_ = p.to_dict(), d.to_dict()
        rows.append({"layer": f.name, "cols": f.cols, "ns": f.ns, "np": f.np, "k": f.k,
                     "pqa_enc_per_col": p.enc_per_col, "pqa_lut_per_col": p.lut_per_col, "pqa_groups": p.groups,
                     "pqa_calc": p.calc, "pqa_init": p.init, "pqa_paper": p.total, "pqa_bound": p.bound,
                     "pqa_sim_compute": pr.compute_cycles, "pqa_sim_load": pr.load_cycles, "pqa_sim_share": po,
                     "dla_compute": d.compute, "dla_load": d.load, "dla_paper": d.total, "dla_bound": d.bound,
                     "dla_sim_compute": dr.compute_cycles, "dla_sim_share": do,
                     "dla_lane_utilisation": d.lane_utilisation, "dla_k_util": d.k_util, "dla_c_util": d.c_util,
                     "dla_q_util": d.q_util, "layer_speedup_sim": do / po if po else float("inf"),
                     "reason": _reason(po, do, pd_, dd_)})
    frame = pd.DataFrame(rows)
    frame.insert(0, "config", f"Np={np} {memory.upper()}")
    return Comparison(facts, pcfg, dcfg, ps, ds, s, frame)


def best_pqa(network: Network, ls: int, np: int, memory: str = "ddr", *, novs: Sequence[int] = PAPER_NOV,
             nsvs: Sequence[int] = PAPER_NSV, **kwargs) -> tuple[Comparison, pd.DataFrame]:
    """The grid point with the best FPGA perf/area under the paper's closed form, plus the whole grid."""
    grid, best = [], None
    for nov in novs:
        for nsv in nsvs:
            c = compare(network, ls, np, memory, nov=nov, nsv=nsv, **kwargs)
            grid.append(c.summary)
            if best is None or c.summary["perf_per_area_fpga_paper"] > best.summary["perf_per_area_fpga_paper"]:
                best = c
    return best, pd.DataFrame(grid)
