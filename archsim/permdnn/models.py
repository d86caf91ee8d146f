"""Per-layer models of the two engines: work per (PE, broadcast column), SimPy timing, and the
event counts the cost model prices.

PermDNN (pq_permdnn.md §B.2): PE ``k`` owns block rows ``a`` with ``a mod n_pe == k`` (row-slice
ownership). A broadcast non-zero ``x_j`` (``j = b*p + jl``) meets each block row in exactly one
weight, at local row ``(jl - k_ab) mod p`` (modulo index generation, no index memory), so PE k has
``blocks_k`` MACs per column and needs ``ceil(blocks_k / mults_per_pe)`` cycles -- identical for
every column, hence no load imbalance.

EIE (§C): rows interleaved over PEs; PE k's work on column j = its stored entries (non-zeros +
padding zeros, `archsim.permdnn.csc`), at least ``min_cycles_per_column`` (pointer read). The
weights are a seeded Bernoulli(weight_density) mask, or a user-given matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from archsim.permdnn.config import EieConfig, PermDnnConfig
from archsim.permdnn.csc import CscStorage, entry_counts, random_mask_counts
from archsim.permdnn.engine import BroadcastResult, analytical_cycles, simulate_broadcast
from archsim.permdnn.workload import FcLayer, activation_mask
from compress.permdiag.structure import PermDiagStorage
from workloads.errors import ArchsimInputError


@dataclass(frozen=True)
class LayerRun:
    """One layer on one engine: timing, work, storage and event counts (for `archsim.permdnn.cost`)."""

    design: str
    layer: FcLayer
    clock_hz: float
    sim: BroadcastResult
    active_cols: int
    useful_macs: int                  # multiplies by a stored weight (EIE: incl. padding zeros)
    max_pe_work: int                  # max over PEs of total work cycles
    mean_pe_work: float
    storage_bits: int
    on_chip_bits: int                 # capacity of the weight memories
    events: dict[str, float] = field(default_factory=dict)
    info: dict[str, float] = field(default_factory=dict)

    @property
    def cycles(self) -> int:
        return self.sim.cycles

    @property
    def time_s(self) -> float:
        return self.sim.cycles / self.clock_hz

    def time_at(self, clock_hz: float) -> float:
        return self.sim.cycles / clock_hz

    @property
    def fits_on_chip(self) -> bool:
        return self.storage_bits <= self.on_chip_bits

    @property
    def load_balance(self) -> float:
        """mean / max PE work (1 = perfectly balanced)."""
        return self.mean_pe_work / self.max_pe_work if self.max_pe_work else 1.0


def _scan_events(layer: FcLayer, act_bits: int, n_pe: int, active: int, index_bits: int) -> dict[str, float]:
    """Front-end events common to both engines."""
    return {
        "act_sram_read_bytes": layer.cols * act_bits / 8,          # detector scans every input
        "detector_compares": layer.cols,
        "queue_rw_bytes": 2 * n_pe * active * (act_bits + index_bits) / 8,   # FIFO write + read per PE
        "output_write_bytes": layer.rows * act_bits / 8,
    }


# ---------------------------------------------------------------------------------------------- PermDNN


def permdnn_blocks_per_pe(layer: FcLayer, n_pe: int) -> np.ndarray:
    if layer.p is None:
        raise ArchsimInputError(f"layer {layer.name!r}: PermDNN needs the block size p (set p or use choose_p)")
    mb = layer.rows // layer.p
    return np.array([len(range(k, mb, n_pe)) for k in range(n_pe)], dtype=np.int64)


def run_permdnn(layer: FcLayer, cfg: PermDnnConfig, seed: int = 0, *, queue_depth: int | None | str = "config"
                ) -> LayerRun:
    blocks = permdnn_blocks_per_pe(layer, cfg.n_pe)
    cols = activation_mask(layer, seed)
    per_col = -(-blocks // cfg.mults_per_pe)                       # ceil
    work = np.repeat(per_col[:, None], len(cols), axis=1)
    q = cfg.broadcast.queue_depth if queue_depth == "config" else queue_depth
    sim = simulate_broadcast(work, q, cfg.broadcast.interval_cycles, cfg.broadcast.pipeline_latency_cycles)
    storage = PermDiagStorage(layer.rows, layer.cols, layer.p, cfg.weight_bits)
    macs = int(blocks.sum()) * len(cols)
    perm_bits = storage.perm_bits_per_block
    ev = _scan_events(layer, cfg.act_bits, cfg.n_pe, len(cols), 16)
    ev.update({
        "weight_sram_reads": float(work.sum()),                     # one port access per PE per busy cycle
        "macs": float(macs),
        "index_gen_adds": float(macs),                              # (jl - k) mod p per MAC
        "acc_rw_bytes": 2.0 * macs * cfg.acc_bits / 8,
    })
    rows_per_pe = int(blocks.max()) * layer.p
    return LayerRun(
        design=cfg.name, layer=layer, clock_hz=cfg.clock_hz, sim=sim, active_cols=len(cols), useful_macs=macs,
        max_pe_work=int(work.sum(axis=1).max()), mean_pe_work=float(work.sum(axis=1).mean()),
        storage_bits=storage.total_bits, on_chip_bits=int(cfg.n_pe * cfg.weight_sram_kib_per_pe * 1024 * 8),
        events=ev,
        info={"p": layer.p, "perm_bits": perm_bits, "cycles_per_column": int(per_col.max()),
              "multiplier_utilisation": macs / (cfg.n_pe * cfg.mults_per_pe * max(1, sim.compute_cycles)),
              "rows_per_pe": rows_per_pe, "acc_overflow": float(rows_per_pe > cfg.acc_entries_per_pe)})


def permdnn_closed_form(layer: FcLayer, cfg: PermDnnConfig) -> int:
    """cycles = active columns x ceil(max blocks per PE / mults) + pipeline latency (the broadcast
    never stalls: all PEs have equal work and it is >= the broadcast interval, or the interval rules)."""
    blocks = permdnn_blocks_per_pe(layer, cfg.n_pe)
    per_col = max(int(-(-blocks.max() // cfg.mults_per_pe)), 0)
    n = layer.active_cols
    step = max(per_col, cfg.broadcast.interval_cycles)
    return (n - 1) * step + per_col + cfg.broadcast.pipeline_latency_cycles


# ---------------------------------------------------------------------------------------------- EIE


def eie_work(layer: FcLayer, cfg: EieConfig, seed: int = 0, matrix: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(entries, padding) per (PE, column) for all columns, and nnz. ``matrix``: a real weight matrix
    (rows x cols, zeros = pruned) instead of the seeded random mask."""
    if matrix is not None:
        matrix = np.asarray(matrix)
        if matrix.shape != (layer.rows, layer.cols):
            raise ArchsimInputError(f"layer {layer.name!r}: matrix shape {matrix.shape} != (rows, cols) = "
                                    f"({layer.rows}, {layer.cols})")
        mask = matrix != 0
        ent, pad = entry_counts(mask, cfg.n_pe, cfg.index_bits)
        return ent, pad, mask, int(mask.sum())
    ent, pad, nnz = random_mask_counts(layer.rows, layer.cols, layer.weight_density, cfg.n_pe, cfg.index_bits,
                                       seed=seed + 7919)
    return ent, pad, np.empty(0), nnz


def run_eie(layer: FcLayer, cfg: EieConfig, seed: int = 0, *, matrix: np.ndarray | None = None,
            queue_depth: int | None | str = "config") -> LayerRun:
    ent, pad, _, nnz = eie_work(layer, cfg, seed, matrix)
    cols = activation_mask(layer, seed)
    entries = ent[:, cols]
    work = np.maximum(entries, cfg.min_cycles_per_column)
    q = cfg.broadcast.queue_depth if queue_depth == "config" else queue_depth
    sim = simulate_broadcast(work, q, cfg.broadcast.interval_cycles, cfg.broadcast.pipeline_latency_cycles)
    storage = CscStorage(entries=int(ent.sum()), padding=int(pad.sum()), n_pe=cfg.n_pe, cols=layer.cols,
                         entry_bits=cfg.entry_bits, pointer_bits=cfg.pointer_bits,
                         codebook_entries=cfg.codebook_entries, codebook_value_bits=cfg.value_bits)
    per_read = max(1, cfg.spmat_port_bits // cfg.entry_bits)
    macs = int(entries.sum())
    ev = _scan_events(layer, cfg.act_bits, cfg.n_pe, len(cols), 16)
    ev.update({
        "pointer_reads": 2.0 * cfg.n_pe * len(cols),                       # p_j and p_j+1, two banks
        "spmat_reads": float((-(-entries // per_read)).sum()),
        "codebook_reads": float(macs),
        "macs": float(macs),
        "address_adds": float(macs),                                       # row += rel + 1
        "acc_rw_bytes": 2.0 * macs * cfg.acc_bits / 8,
    })
    on_chip = int(cfg.n_pe * (cfg.spmat_sram_kib_per_pe + cfg.ptr_sram_kib_per_pe) * 1024 * 8)
    return LayerRun(
        design=cfg.name, layer=layer, clock_hz=cfg.clock_hz, sim=sim, active_cols=len(cols), useful_macs=macs,
        max_pe_work=int(work.sum(axis=1).max()), mean_pe_work=float(work.sum(axis=1).mean()),
        storage_bits=storage.total_bits, on_chip_bits=on_chip, events=ev,
        info={"nnz": nnz, "padding_entries": int(pad.sum()), "stored_entries": int(ent.sum()),
              "padding_fraction": float(pad.sum() / max(1, ent.sum())),
              "theoretical_cycles": float(entries.sum() / cfg.n_pe),
              "rows_per_pe": math.ceil(layer.rows / cfg.n_pe),
              "acc_overflow": float(math.ceil(layer.rows / cfg.n_pe) > cfg.act_entries_per_pe)})


__all__ = ["LayerRun", "run_permdnn", "run_eie", "eie_work", "permdnn_blocks_per_pe", "permdnn_closed_form"]
