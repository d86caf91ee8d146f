"""Closed-form cycle models of PQA and the DLA baseline (reference pq_permdnn.md §A.2, [C] = the
released ``analytical_model/model.py``), plus the exact recurrence of the table-prefetch schedule.

PQA, per layer (II = 1 pipelines):

* encoder cycles per column  ``enc = ceil(Ls/PLV) * ceil(Np/NPV)`` (NSV subspaces in parallel)
* lookup cycles per column   ``lut = ceil(K/NOV)``
* ``calc = cols * max(enc, lut) * ceil(Ns/NSV)``
* ``init = max(ceil(Ns*Np*K / (NOV*NSV)), ceil((proto_bits + LUT_bits) / bits_per_cycle))`` — the
  LUT write ports and the external memory, whichever is slower.
* paper total: ``max(init, calc)`` with overlapped loading, ``init + calc`` without.

DLA, per layer: ``compute = ceil(K/Kvec) * P * ceil(Q/Qvec) * ceil(FW/Svec) * FH * ceil(C/Cvec)``
(times batch), ``load = ceil(K*C*FH*FW*data_bits / bits_per_cycle)``, total ``max(load, compute)``.
One deliberate difference from the released model: it writes ``FW/Svec`` inside a floor of the
product; here ``ceil(FW/Svec)`` (a 1x1 filter still takes a cycle). Identical whenever Svec divides
FW, e.g. on every ResNet-20 3x3 layer.

Network totals. The paper sums the per-layer ``max(init, calc)``. The hardware it describes loads
layer l+1's tables *while* layer l computes, which is the recurrence in `prefetch_total`:
``load_end[l] = max(load_end[l-1], compute_end[l-2]) + init[l]`` (a LUT half frees when the layer
two back finishes) and ``compute_end[l] = max(load_end[l], compute_end[l-1]) + calc[l]``. The SimPy
models implement that schedule; both totals are reported.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

from compress.pq.facts import PqLayerFacts
from archsim.pqa.config import DlaConfig, PqaConfig
from workloads.errors import ArchsimInputError


def _ceil_div(a: float, b: float) -> int:
    return math.ceil(a / b - 1e-12)


def check_layer(facts: PqLayerFacts, cfg: PqaConfig) -> None:
    """One `ArchsimInputError` per layer that exceeds the hardware's limits (names field and fix)."""
    lim = cfg.limits
    for field, value, limit in (("np", facts.np, lim.np_max), ("ls", facts.ls, lim.ls_max),
                                ("ns", facts.ns, lim.ns_max), ("k", facts.k, lim.k_max)):
        if value > limit:
            raise ArchsimInputError(f"layer {facts.name!r}: {field}={value} exceeds the PQA hardware limit "
                                    f"limits.{field}_max={limit}; {_LOWER_HINT[field]}, or raise the limit in a PQA "
                                    f"config file ({_config_hint(field, value)})")
    if facts.np > 2 ** 8:
        raise ArchsimInputError(f"layer {facts.name!r}: np={facts.np} needs more than the 8-bit indices of the "
                                f"PQA encoder; use --np 256 or less (Python: np=)")


#: How to bring each limited quantity down, in the terms of the `archsim pqa` command line (issue 13.15:
#: a hint names a flag the CLI has, with the Python argument after it).
_LOWER_HINT = {
    "np": "lower --np (Python: np=)",
    "ls": "lower --ls (Python: ls=)",
    "ns": "raise --ls (ns = ceil(C*kh*kw / ls); Python: ls=)",
    "k": "k is the layer's output channel count (set by the workload)",
}


def _config_hint(field: str, value: int) -> str:
    """Where a hardware limit is raised: a YAML file given to ``archsim pqa --config`` (or ``load_pqa``)."""
    return (f"'limits: {{{field}_max: {value}}}' in FILE, then `archsim pqa --config FILE`; "
            f"Python: compare(..., pqa_preset=FILE)")


@dataclass(frozen=True)
class PqaLayerTiming:
    name: str
    enc_per_col: int
    lut_per_col: int
    groups: int
    cols: int
    calc: int
    init_port: int
    init_mem: int
    init: int
    total: int  # the paper's per-layer total

    @property
    def bound(self) -> str:
        """Why this layer takes the time it does: table load, encoder, LUT read / accumulate, or balanced
        (encoder and lookup take the same cycles per column)."""
        if self.init > self.calc:
            return "table-load"
        if self.enc_per_col == self.lut_per_col:
            return "balanced"
        return "encoder" if self.enc_per_col > self.lut_per_col else "lut-read"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["bound"] = self.bound
        return d


def pqa_layer(facts: PqLayerFacts, cfg: PqaConfig) -> PqaLayerTiming:
    check_layer(facts, cfg)
    enc = _ceil_div(facts.ls, cfg.plv) * _ceil_div(facts.np, cfg.npv)
    lut = _ceil_div(facts.k, cfg.nov)
    groups = _ceil_div(facts.ns, cfg.nsv)
    calc = facts.cols * max(enc, lut) * groups
    init_port = _ceil_div(facts.lut_entries, cfg.nov * cfg.nsv)
    init_mem = _ceil_div(facts.table_bits, cfg.memory.bits_per_cycle(cfg.clock_hz))
    init = max(1, init_port, init_mem)
    total = max(init, calc) if cfg.overlap_table_load else init + calc
    return PqaLayerTiming(facts.name, enc, lut, groups, facts.cols, calc, init_port, init_mem, init, total)


def pqa_pipeline_latency(cfg: PqaConfig) -> int:
    """[A] datapath depth, one cycle per arithmetic level: subtract, square, PLV adder tree, running
    sum over Ls chunks, NPV min tree, running min, LUT read, NSV adder tree, accumulate, write."""
    lg = lambda n: math.ceil(math.log2(n)) if n > 1 else 0  # noqa: E731
    return 2 + lg(cfg.plv) + 1 + lg(cfg.npv) + 1 + 1 + lg(cfg.nsv) + 1 + 1


def pqa_fill_drain_bound(facts: PqLayerFacts, cfg: PqaConfig) -> int:
    """Largest amount the tile-level simulation may exceed ``calc`` for one layer: the first
    (or last) tile of the faster stage, plus the datapath depth."""
    t = pqa_layer(facts, cfg)
    return min(cfg.tile_cols, facts.cols) * min(t.enc_per_col, t.lut_per_col) + pqa_pipeline_latency(cfg)


@dataclass(frozen=True)
class DlaLayerTiming:
    name: str
    k_groups: int
    cycles_per_group: int
    compute: int
    load: int
    total: int
    macs: int
    lane_utilisation: float  # useful MACs / (peak MACs/cycle x compute cycles)
    k_util: float
    c_util: float
    q_util: float

    @property
    def bound(self) -> str:
        return "weight-load" if self.load > self.compute else "compute"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["bound"] = self.bound
        return d


def dla_layer(facts: PqLayerFacts, cfg: DlaConfig) -> DlaLayerTiming:
    """DLA timing of the dense layer that ``facts`` describes (uses its conv geometry, not its PQ fields)."""
    c = facts.in_channels or facts.reduction // (facts.kernel_h * facts.kernel_w)
    if c * facts.kernel_h * facts.kernel_w != facts.reduction:
        raise ArchsimInputError(f"layer {facts.name!r}: in_channels*kernel_h*kernel_w != reduction; the DLA "
                                f"baseline needs the conv geometry (build facts with compress.pq.facts.from_layer)")
    k_groups = _ceil_div(facts.k, cfg.kvec)
    per_group = (facts.batch * facts.out_h * _ceil_div(facts.out_w, cfg.qvec) * _ceil_div(facts.kernel_w, cfg.svec)
                 * facts.kernel_h * _ceil_div(c, cfg.cvec))
    compute = k_groups * per_group
    load = _ceil_div(facts.k * facts.reduction * cfg.data_bits, cfg.memory.bits_per_cycle(cfg.clock_hz))
    macs = facts.batch * facts.out_h * facts.out_w * facts.reduction * facts.k
    util = macs / (cfg.peak_macs_per_cycle * compute)
    return DlaLayerTiming(facts.name, k_groups, per_group, compute, load, max(load, compute), macs, util,
                          facts.k / (k_groups * cfg.kvec), c / (_ceil_div(c, cfg.cvec) * cfg.cvec),
                          facts.out_w / (_ceil_div(facts.out_w, cfg.qvec) * cfg.qvec))


def dla_pipeline_latency(cfg: DlaConfig) -> int:
    """[A] DLA datapath depth: multiply, Cvec adder tree, accumulate, write."""
    return 1 + (math.ceil(math.log2(cfg.cvec)) if cfg.cvec > 1 else 0) + 1 + 1


def dla_fill_drain_bound(cfg: DlaConfig) -> int:
    return dla_pipeline_latency(cfg)


def prefetch_total(inits: Sequence[int], calcs: Sequence[int], overlap: bool = True) -> int:
    """End of the last layer when tables/filters are double buffered (``overlap``: next layer's load
    runs while this one computes) or single buffered (load, then compute, strictly in turn)."""
    if len(inits) != len(calcs):
        raise ValueError("inits and calcs must have one entry per layer")
    load_end: list[float] = []
    comp_end: list[float] = []
    for i, (ini, calc) in enumerate(zip(inits, calcs)):
        prev_load = load_end[-1] if load_end else 0
        if overlap:
            slot_free = comp_end[i - 2] if i >= 2 else 0
        else:
            slot_free = comp_end[i - 1] if i >= 1 else 0
        load_end.append(max(prev_load, slot_free) + ini)
        comp_end.append(max(load_end[-1], comp_end[-1] if comp_end else 0) + calc)
    return int(comp_end[-1]) if comp_end else 0
