"""PermDNN versus EIE on FC layers: the same activation mask for both, EIE at the comparison node.

Throughput = frames/s of one matrix-vector product (EIE's "M x V throughput"); area efficiency =
frames/s/mm2; energy efficiency = frames/J (pq_permdnn.md §B.3). Two methods for area and energy,
both reported, never mixed:

* ``published``: PermDNN's published 8.85 mm2 / 703.4 mW [S] and EIE's Table V 40.8 mm2 / 0.59 W
  scaled 45 -> 28 nm by `archsim.tech.scaling` (`published.eie_scaled`); energy = power x simulated
  time (both papers' own method: constant power).
* ``bottom-up``: `archsim.permdnn.cost` with one technology table for both.

Throughput comes from the SimPy cycle counts only (same clock for both: EIE Table V's own 28 nm
clock equals PermDNN's 1.2 GHz).
"""

from __future__ import annotations

from archsim.permdnn.config import EieConfig, PermDnnConfig
from archsim.permdnn.cost import eie_area, energy_breakdown, permdnn_area
from archsim.permdnn.models import LayerRun, run_eie, run_permdnn
from archsim.permdnn.published import eie_scaled, permdnn_point
from archsim.permdnn.workload import FcLayer, choose_p, pad_for


def permdnn_layer_for(layer: FcLayer, p: int | None = None) -> FcLayer:
    """The PD version of an EIE benchmark layer: ``p`` given or by `choose_p` (padding allowed)."""
    p = p or layer.p or choose_p(layer.rows, layer.cols, layer.weight_density, allow_padding=True)
    return pad_for(layer, p)


def compare_runs(eie_run: LayerRun, pd_run: LayerRun, eie_cfg: EieConfig, pd_cfg: PermDnnConfig) -> dict:
    """One comparison row from two runs of the same layer."""
    t_eie = eie_run.time_at(eie_cfg.compare_clock_hz)
    t_pd = pd_run.time_s
    thr = t_eie / t_pd
    e_pub, p_pub = eie_scaled(eie_cfg.compare_node_nm, eie_cfg.compare_clock_hz), permdnn_point()
    a_eie_bu, a_pd_bu = sum(eie_area(eie_cfg).values()) / 1e6, sum(permdnn_area(pd_cfg).values()) / 1e6
    en_eie_bu = sum(energy_breakdown(eie_run, eie_cfg, eie_cfg.compare_clock_hz).values()) * 1e-12
    en_pd_bu = sum(energy_breakdown(pd_run, pd_cfg).values()) * 1e-12
    return {
        "layer": eie_run.layer.name, "rows": eie_run.layer.rows, "cols": eie_run.layer.cols,
        "weight_density": eie_run.layer.weight_density, "act_density": eie_run.layer.act_density,
        "p": pd_run.layer.p, "permdnn_layer": pd_run.layer.name,
        "eie_cycles": eie_run.cycles, "permdnn_cycles": pd_run.cycles,
        "eie_us_28nm": t_eie * 1e6, "permdnn_us": t_pd * 1e6,
        "throughput_ratio": thr,
        "area_eff_ratio_published": thr * e_pub.area_mm2 / p_pub.area_mm2,
        "energy_eff_ratio_published": (e_pub.power_w * t_eie) / (p_pub.power_w * t_pd),
        "area_eff_ratio_bottom_up": thr * a_eie_bu / a_pd_bu,
        "energy_eff_ratio_bottom_up": en_eie_bu / en_pd_bu,
        "eie_energy_uj_bottom_up": en_eie_bu * 1e6, "permdnn_energy_uj_bottom_up": en_pd_bu * 1e6,
        "eie_load_balance": eie_run.load_balance, "eie_padding_fraction": eie_run.info["padding_fraction"],
        "permdnn_mult_utilisation": pd_run.info["multiplier_utilisation"],
        "permdnn_weight_ratio_vs_eie_nnz": (pd_run.layer.rows * pd_run.layer.cols / pd_run.layer.p)
                                           / max(1, eie_run.info["nnz"]),
        "eie_fits_on_chip": eie_run.fits_on_chip, "permdnn_fits_on_chip": pd_run.fits_on_chip,
        "permdnn_storage_MiB": pd_run.storage_bits / 8 / 2**20, "eie_storage_MiB": eie_run.storage_bits / 8 / 2**20,
    }


def compare_layer(layer: FcLayer, pd_cfg: PermDnnConfig, eie_cfg: EieConfig, seed: int = 0,
                  p: int | None = None) -> tuple[dict, LayerRun, LayerRun]:
    eie_run = run_eie(layer, eie_cfg, seed)
    pd_run = run_permdnn(permdnn_layer_for(layer, p), pd_cfg, seed)
    return compare_runs(eie_run, pd_run, eie_cfg, pd_cfg), eie_run, pd_run


__all__ = ["permdnn_layer_for", "compare_runs", "compare_layer"]
