"""Compare designs on one workload: a table (CSV/JSON), energy and area figures, a README.

`run_comparison` simulates one workload on several designs under one *iso* condition and one set of
compression parameters; `Comparison.table()` is the per-design table every output is made from;
`write_outputs` writes it to ``<out>/<workload>/``. `archsim compare` (archsim/cli/compare_cmd.py)
is the command-line face of this module.

Iso conditions (always stated in the table header, the CSV and the README)
-------------------------------------------------------------------------
``throughput`` (iso-throughput, the default)
    Every design gets the same **dense-equivalent array** ``rows x cols``: the same peak of
    dense-equivalent MACs per cycle. A dense design (ws, ews, ews-c, ews-cm) has ``rows x cols``
    PEs. An N:M sparse array (mvq, s2ta-w, s2ta) covers the same ``rows``-long reduction with ``rows·N/M``
    physical PE rows (MVQ: ``Q = (N/M)·d`` PEs per ``d``-dim subvector, mvq.md §3.2 [S1]), i.e.
    ``(N/M)·rows·cols`` multipliers plus an M:1 activation mux each. So a "64x64" MVQ array at 1:4
    has 16x64 = 1,024 multipliers and does the work of the 64x64 = 4,096-PE dense array on 1:4-sparse
    layers (and runs dense layers at 1/4 of that rate). This is the setting of the paper's "-55 %
    array" claim and of its "1.2-2.2x speed-up at 64x64" (mvq.md §5 point 2).
    Activation sparsity (``s2ta``'s run-time activation DBB, ``sa-zvcg``'s zero gating) is
    data-dependent and does not enter the sizing: iso-throughput is defined on the dense-equivalent
    weight side (`archsim.report.variants`), and what activation sparsity buys shows in the results.
``pes`` (iso-PE)
    Every design has ``rows x cols`` *physical* PEs — the presets' own convention (mvq.yaml's 64x64 is
    64 physical rows). An N:M sparse array then covers ``rows·M/N`` reduction rows: at 1:4 the MVQ
    array does the work of a 256x64 dense array, so it has up to 4x the peak dense-equivalent
    throughput of the 64x64 dense designs and a larger area than under iso-throughput.
``area`` (iso-area)
    The baseline keeps ``rows x cols``; every other design's array is rescaled (rows and cols by a
    common factor, rows kept a multiple of M for sparse arrays, then the pair nearest the target)
    so that its **total area** (array + register files + SRAM buffers + codebook + decoders +
    control: the die area `archsim.cost` models) matches the baseline's as closely as integer
    array dimensions allow. Total rather than array area because total area is what TOPS/mm² and
    silicon cost are about; since the SRAM buffers are the same in every preset, this equals
    matching the logic + codebook area. The achieved deviation is in the table
    (``area_vs_target``); `AREA_TOLERANCE` is what the search guarantees when the array can reach it.

The sizing rule is `archsim.sizing` (`prepare`, `rows_are_for`): `archsim run` and `archsim.api.simulate` size a
design given by name with the same rule and the same default (``throughput``), so "mvq" is one design everywhere;
``area`` needs a baseline and is compare-only. Every table, CSV and JSON record states ``physical_array``,
``dense_equivalent_array`` and ``iso``. Energy columns are per batch; ``per_inference_energy_uj`` and the energy
figure are per inference (batch energy / batch).

Ratios are against the ``baseline`` design (``ews`` by default): ``ee_gain`` = TOPS/W ÷ baseline
TOPS/W (energy-efficiency gain, = baseline energy ÷ energy for one workload; system energy),
``ee_gain_core`` the same on core energy, ``speedup`` = baseline cycles ÷ cycles, ``area_ratio`` =
area ÷ baseline area. TOPS count 2 ops per *dense-equivalent* MAC (`archsim.results.OPS_NOTE`), so
pruned designs get credit for the work they skip.

Core vs system (`archsim.results`): ``tops_per_w_core`` divides by on-chip energy (array, register
files, buffers, codebook, decoders, muxes, control, leakage; no DRAM), ``tops_per_w_system`` (=
``tops_per_w``) by all of it. Both are in the table, the CSV, the JSON, the README and the energy
figure (TOPS/W panel; the DRAM stack is hatched).
"""

from __future__ import annotations

import dataclasses
import math
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from archsim.api import SimContext, simulate
from archsim.cost import CATEGORIES, CostModel
from archsim.design import Design
from archsim.report.variants import CompressionParams, Prepared, check_designs, prepare
from archsim.results import OPS_NOTE, NetworkResult
from archsim.sizing import ISO_MODES, ArraySizing, rows_are_for
from workloads.errors import ArchsimInputError
from workloads.network import Network

#: Largest relative deviation of a design's total area from the baseline's that the iso-area search accepts
#: without trying a larger neighbourhood (integer rows/cols quantise area; one column of a 64x64 array is 1.6 %).
AREA_TOLERANCE = 0.01
#: Components of the `archsim.cost` area frame that are SRAM macros (everything else is array/logic).
SRAM_COMPONENTS = ("weight_buffer", "input_buffer", "output_buffer", "codebook")
DEFAULT_ROWS = 64
DEFAULT_COLS = 64


def slug(text: str) -> str:
    """CSV-friendly column fragment: 'muxes/decoder' -> 'muxes_decoder'."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


# ---------------------------------------------------------------------------------------------- iso-area


def total_area_um2(design: Design, tech: Any = None) -> float:
    """Total modelled area of a design (no simulation needed: area depends on the hardware only)."""
    if tech is None:
        from archsim.tech import load_tech_table

        tech = load_tech_table(design.tech)
    return float(CostModel(design, tech).area["area_um2"].sum())


def array_area_um2(area: pd.DataFrame) -> float:
    """Array/logic area: every component except the weight/input/output buffers and the codebook store
    (PEs, register files, muxes, decoders, forwarding, control) — what "systolic-array size" means in the
    MVQ paper's -55 % claim."""
    return float(area.loc[[c for c in area.index if c not in SRAM_COMPONENTS], "area_um2"].sum())


@dataclass(frozen=True)
class IsoAreaFit:
    rows: int
    cols: int
    area_um2: float
    target_um2: float

    @property
    def deviation(self) -> float:
        return self.area_um2 / self.target_um2 - 1.0


def fit_area(area_of: Callable[[int, int], float], target: float, rows: int, cols: int, *,
             row_step: int = 1, tolerance: float = AREA_TOLERANCE) -> IsoAreaFit:
    """(rows', cols') whose area is nearest ``target``, starting from ``rows x cols`` scaled uniformly.

    Why this search: area is (close to) affine in PEs and columns, but rows of a sparse array must stay
    a multiple of ``row_step`` (M) and the aspect ratio should stay the preset's, so: (1) bisect a
    common scale factor f (rows ≈ f·rows, cols ≈ f·cols); (2) for the three row counts nearest f·rows,
    bisect the column count (area grows with cols) and keep the integer pairs on either side of the
    target; among pairs within ``tolerance`` prefer the preset's aspect ratio, otherwise the nearest;
    (3) while no pair is within ``tolerance``, widen the row window (±4, ±16, ±64 steps).
    """
    if target <= 0:
        raise ArchsimInputError("iso-area: the baseline's area is zero; cannot match it")
    cache: dict[tuple[int, int], float] = {}

    def area(r: int, c: int) -> float:
        if (r, c) not in cache:
            cache[(r, c)] = area_of(r, c)
        return cache[(r, c)]

    def snap_rows(x: float) -> int:
        return max(row_step, int(round(x / row_step)) * row_step)

    def at(f: float) -> float:
        return area(snap_rows(rows * f), max(1, round(cols * f)))

    lo, hi = 1e-3, 1.0
    while at(hi) < target and hi < 64:
        hi *= 2
    for _ in range(30):
        mid = math.sqrt(lo * hi)
        if at(mid) < target:
            lo = mid
        else:
            hi = mid
        if hi / lo < 1.001:
            break
    r0 = snap_rows(rows * hi)
    aspect = math.log(rows / cols)
    best: tuple[float, float, int, int] | None = None
    tried: set[int] = set()
    for radius in (1, 4, 16, 64):       # widen the row window only while no pair is within tolerance
        for r in sorted({max(row_step, r0 + i * row_step) for i in range(-radius, radius + 1)} - tried):
            tried.add(r)
            c_f = max(1, round(cols * hi))      # area grows with cols: bisect the last col below the target
            lo_c, hi_c = max(1, c_f // 2), min(4096, 2 * c_f)
            while lo_c > 1 and area(r, lo_c) >= target:
                lo_c = max(1, lo_c // 2)
            while hi_c < 4096 and area(r, hi_c) < target:
                hi_c = min(4096, hi_c * 2)
            if area(r, lo_c) >= target:
                hi_c = lo_c
            while hi_c - lo_c > 1:
                mid_c = (lo_c + hi_c) // 2
                if area(r, mid_c) < target:
                    lo_c = mid_c
                else:
                    hi_c = mid_c
            for c in {lo_c, hi_c}:
                err = abs(area(r, c) / target - 1.0)
                key = (0.0 if err <= tolerance else err, abs(math.log(r / c) - aspect), r, c)
                if best is None or key[:2] < best[:2]:
                    best = key
        if best is not None and best[0] == 0.0:
            break
    assert best is not None
    _, _, r, c = best
    return IsoAreaFit(r, c, area(r, c), target)


# ---------------------------------------------------------------------------------------------- running


@dataclass
class Entry:
    """One design of a comparison: what was built, at which (dense-equivalent) array size, and its result."""

    name: str
    prepared: Prepared
    result: NetworkResult
    area_target_um2: float | None = None

    @property
    def rows(self) -> int:
        """Dense-equivalent rows (reduction length covered per cycle)."""
        return self.prepared.dense_equivalent_rows

    @property
    def cols(self) -> int:
        return self.prepared.design.array.cols


def _simulate_one(network: Network, design: Design) -> NetworkResult:
    """Simulate; the structural traces come from ``design.weights`` (`archsim.api.compression_traces`)."""
    return simulate(network, design, context=SimContext(design))


@dataclass
class Comparison:
    """Designs simulated on one workload under one iso condition. `table()` holds every reported number."""

    network: Network
    params: CompressionParams
    iso: str
    baseline: str
    rows: int
    cols: int
    entries: list[Entry] = field(default_factory=list)

    def entry(self, name: str) -> Entry:
        for e in self.entries:
            if e.name == name:
                return e
        raise KeyError(name)

    @property
    def iso_statement(self) -> str:
        if self.iso == "throughput":
            return (f"iso-throughput: every design has a {self.rows}x{self.cols} dense-equivalent array "
                    f"(same peak dense-equivalent MACs/cycle; N:M sparse arrays have rows*N/M physical PE rows)")
        if self.iso == "pes":
            return (f"iso-PE: every design has {self.rows}x{self.cols} physical PEs (an N:M sparse array then "
                    f"covers rows*M/N reduction rows: more peak throughput than the dense designs)")
        return (f"iso-area: arrays rescaled so each design's total area matches {self.baseline}'s "
                f"({self.rows}x{self.cols}) within integer rows/cols")

    def table(self) -> pd.DataFrame:
        """One row per design: the CSV. Energies in µJ, areas in mm², ratios vs the baseline."""
        rows = []
        for e in self.entries:
            r = e.result
            design = e.prepared.design
            energy = r.energy_breakdown
            area = r.area["area_um2"]
            row: dict[str, Any] = {
                "design": e.name, "workload": self.network.name, "iso": self.iso, "baseline": self.baseline,
                "n": self.params.n, "m": self.params.m, "d": self.params.d, "k": self.params.k,
                "array": f"{e.rows}x{e.cols}", "rows": e.rows, "cols": e.cols,
                "physical_array": f"{e.prepared.physical_rows}x{e.cols}",
                "dense_equivalent_array": f"{e.rows}x{e.cols}",
                "physical_rows": e.prepared.physical_rows, "pe_kind": design.array.pe, "tech": design.tech,
                "clock_mhz": design.clock_hz / 1e6,
                "physical_pes": design.array.rows * design.array.cols,
                "cycles": r.cycles, "stall_cycles": r.stall_cycles, "latency_ms": r.latency_s * 1e3,
                "macs": r.macs, "dense_macs": r.dense_macs, "utilisation": r.utilisation,
                "dram_bytes": sum(r.dram_read_bytes.values()) + sum(r.dram_write_bytes.values()),
                "energy_uj": r.energy_pj / 1e6, "energy_core_uj": r.energy_core_pj / 1e6,
                "energy_dram_uj": r.energy_dram_pj / 1e6,
                "per_inference_energy_uj": r.energy_pj / 1e6 / max(1, r.batch),
            }
            for cat in CATEGORIES:
                row[f"energy_{slug(cat)}_uj"] = energy.get(cat, 0.0) / 1e6
            row["energy_dram_uj"] = r.energy_dram_pj / 1e6  # the DRAM category, as the exact sum core + DRAM = total
            row["tops_per_w"] = r.tops_per_w()
            row["tops_per_w_system"] = r.tops_per_w_system()
            row["tops_per_w_core"] = r.tops_per_w_core()
            row["tops_per_w_effective"] = r.tops_per_w(effective=True)
            row["tops_per_w_core_effective"] = r.tops_per_w_core(effective=True)
            row["area_mm2"] = r.area_um2 / 1e6
            row["array_area_mm2"] = array_area_um2(r.area) / 1e6
            for comp, v in area.items():
                row[f"area_{slug(str(comp))}_mm2"] = float(v) / 1e6
            row["area_vs_target"] = (r.area_um2 / e.area_target_um2 - 1.0) if e.area_target_um2 else 0.0
            row["tops"] = r.tops()
            row["tops_per_mm2"] = r.tops_per_mm2()
            row["inferences_per_s"] = r.inferences_per_s
            rows.append(row)
        df = pd.DataFrame(rows).set_index("design")
        area_cols = [c for c in df.columns if c.startswith("area_") and c.endswith("_mm2")]
        df[area_cols] = df[area_cols].fillna(0.0)
        # designs have different area components: keep every area_* column together, after the totals
        first = list(df.columns).index("array_area_mm2") + 1
        head = [c for c in df.columns[:first]]
        comps = [c for c in area_cols if c not in head]
        df = df[head + comps + [c for c in df.columns if c not in head and c not in comps]]
        base = df.loc[self.baseline]
        df["ee_gain"] = df["tops_per_w"] / base["tops_per_w"]
        df["ee_gain_core"] = df["tops_per_w_core"] / base["tops_per_w_core"]
        df["speedup"] = base["cycles"] / df["cycles"]
        df["area_ratio"] = df["area_mm2"] / base["area_mm2"]
        df["array_area_ratio"] = df["array_area_mm2"] / base["array_area_mm2"]
        df["tops_per_mm2_gain"] = df["tops_per_mm2"] / base["tops_per_mm2"]
        return df

    def energy_frame(self) -> pd.DataFrame:
        """pJ **per inference** per energy category (columns) per design (rows), for the stacked-bar figure: the
        batch's energy divided by the batch (at batch > 1 weights are fetched once per batch, so this is
        less than a batch-1 run's energy, not equal to it)."""
        batch = max(1, self.network.batch)
        return pd.DataFrame({e.name: {k: v / batch for k, v in e.result.energy_breakdown.items()}
                             for e in self.entries}).T.fillna(0.0)

    def tops_frame(self) -> pd.DataFrame:
        """Core and system TOPS/W (columns ``core``, ``system``) per design, for the energy figure's TOPS/W panel."""
        return pd.DataFrame({"core": [e.result.tops_per_w_core() for e in self.entries],
                             "system": [e.result.tops_per_w_system() for e in self.entries]},
                            index=[e.name for e in self.entries])

    def area_frame(self) -> pd.DataFrame:
        """µm² per area component (columns) per design (rows)."""
        return pd.DataFrame({e.name: e.result.area["area_um2"] for e in self.entries}).T.fillna(0.0)


def run_comparison(workload: Network, designs: Sequence[str], *, params: CompressionParams | None = None,
                   rows: int | None = None, cols: int | None = None, iso: str = "throughput",
                   baseline: str | None = None, jobs: int = 1) -> Comparison:
    """Simulate ``workload`` on each design under ``iso`` (see module docstring)."""
    params = params or CompressionParams()
    designs = check_designs(list(designs))
    if iso not in ISO_MODES:
        raise ArchsimInputError(f"--iso must be one of {', '.join(ISO_MODES)}, got {iso!r}")
    baseline = baseline or ("ews" if "ews" in designs else designs[0])
    if baseline not in designs:
        raise ArchsimInputError(f"--baseline {baseline!r} is not among --designs ({', '.join(designs)})")
    for name, v in (("--rows", rows), ("--cols", cols)):
        if v is not None and not (isinstance(v, int) and 1 <= v <= 4096):
            raise ArchsimInputError(f"{name} must be an integer in 1..4096, got {v!r}")
    rows = rows or DEFAULT_ROWS
    cols = cols or DEFAULT_COLS
    if jobs < 1:
        raise ArchsimInputError(f"--jobs must be >= 1, got {jobs}")

    rows_are = rows_are_for(iso)    # the one sizing rule, shared with run/simulate (archsim.sizing)
    prepared: dict[str, Prepared] = {n: prepare(n, params, rows, cols, rows_are=rows_are) for n in designs}
    targets: dict[str, float | None] = {n: None for n in designs}
    if iso == "area":
        from archsim.tech import load_tech_table

        target = total_area_um2(prepared[baseline].design)
        for name in designs:
            targets[name] = target
            if name == baseline:
                continue
            proto = prepared[name].design
            tech = load_tech_table(proto.tech)
            step = params.m if proto.array.pe == "nm_sparse" or proto.dataflow == "sparten" else 1

            def area_of(r: int, c: int, _name: str = name, _tech: Any = tech) -> float:
                return total_area_um2(prepare(_name, params, r, c).design, _tech)

            fit = fit_area(area_of, target, rows, cols, row_step=step)
            prepared[name] = prepare(name, params, fit.rows, fit.cols)

    comp = Comparison(network=workload, params=params, iso=iso, baseline=baseline, rows=rows, cols=cols)
    if jobs == 1 or len(designs) == 1:
        results = [_simulate_one(workload, prepared[n].design) for n in designs]
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
        from archsim.threads import single_thread_worker   # one thread per worker: no nested parallelism

        with ProcessPoolExecutor(max_workers=min(jobs, len(designs)), mp_context=ctx,
                                 initializer=single_thread_worker) as pool:
            futures = [pool.submit(_simulate_one, workload, prepared[n].design) for n in designs]
            results = [f.result() for f in futures]
    for name, result in zip(designs, results):
        p = prepared[name]
        sizing = ArraySizing(p.physical_rows, p.design.array.cols, p.dense_equivalent_rows, iso)
        comp.entries.append(Entry(name, p, dataclasses.replace(result, sizing=sizing), targets[name]))
    return comp


# ---------------------------------------------------------------------------------------------- output

#: Columns of the printed table: (column, header, format).
_PRINT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("tech", "node", "{}"), ("dense_equivalent_array", "dense-eq array", "{}"),
    ("physical_array", "physical array", "{}"), ("physical_pes", "PEs", "{:,}"), ("cycles", "cycles", "{:,}"),
    ("stall_cycles", "stalls", "{:,}"), ("energy_uj", "uJ/batch", "{:,.1f}"),
    ("energy_dram_uj", "DRAM uJ/batch", "{:,.1f}"), ("per_inference_energy_uj", "uJ/inference", "{:,.1f}"),
    ("tops_per_w_core", "TOPS/W core", "{:.3f}"), ("tops_per_w_system", "TOPS/W sys", "{:.3f}"),
    ("area_mm2", "area mm2", "{:.3f}"), ("tops_per_mm2", "TOPS/mm2", "{:.4f}"),
    ("inferences_per_s", "inf/s", "{:,.1f}"), ("ee_gain_core", "xTOPS/W core", "{:.2f}"),
    ("ee_gain", "xTOPS/W sys", "{:.2f}"), ("speedup", "xspeed", "{:.2f}"), ("area_ratio", "xarea", "{:.2f}"),
)
#: What the TOPS/W columns mean; in every table header, README and CSV readme.
TOPS_STATEMENT = (f"TOPS/W: {OPS_NOTE}; core = on-chip energy (array, RFs, buffers, codebook, decoders, muxes, "
                  f"control, leakage; no DRAM), sys = system (with DRAM; = tops_per_w)")


def energy_statement(batch: int) -> str:
    """What the energy numbers are per: the table/CSV columns are per batch, the figure per inference."""
    return (f"energy: energy_uj (and every energy_*_uj column) is per batch of {batch}; per_inference_energy_uj "
            f"and the energy figure are per inference (batch energy / {batch})")


def header_lines(comp: Comparison) -> list[str]:
    nodes = sorted({e.prepared.design.tech for e in comp.entries})
    clocks = sorted({e.prepared.design.clock_hz / 1e6 for e in comp.entries})
    where = (f"{nodes[0]}" if len(nodes) == 1 else f"nodes {', '.join(nodes)} (per design: the 'node' column)")
    clock = f"{clocks[0]:g} MHz" if len(clocks) == 1 else "clocks " + ", ".join(f"{c:g}" for c in clocks) + " MHz"
    return [f"{comp.network.name}: {len(comp.network.layers)} layers, batch {comp.network.batch}; "
            f"{comp.params.label()}; {where}, {clock}",
            comp.iso_statement,
            f"ratios (x...) vs {comp.baseline}; TOPS count 2 ops per dense-equivalent MAC",
            energy_statement(comp.network.batch),
            TOPS_STATEMENT]


def format_table(comp: Comparison, table: pd.DataFrame | None = None) -> str:
    table = comp.table() if table is None else table
    view = pd.DataFrame({head: [fmt.format(v) for v in table[col]] for col, head, fmt in _PRINT_COLUMNS},
                        index=table.index)
    return "\n".join(header_lines(comp)) + "\n" + view.to_string() + "\n"


def markdown_table(table: pd.DataFrame, columns: Sequence[tuple[str, str, str]] = _PRINT_COLUMNS) -> str:
    head = "| design | " + " | ".join(h for _, h, _ in columns) + " |"
    sep = "|---|" + "---:|" * len(columns)
    lines = [head, sep]
    for name, row in table.iterrows():
        lines.append(f"| {name} | " + " | ".join(fmt.format(row[c]) for c, _, fmt in columns) + " |")
    return "\n".join(lines)


def write_outputs(comp: Comparison, out: str | Path, command: str) -> list[Path]:
    """Write ``<out>/<workload>/``: compare_iso-<iso>.csv, energy_iso-<iso>.png, area_iso-<iso>.png,
    a summary fragment per iso mode and README.md (all fragments present, so the iso modes can coexist)."""
    from archsim.validation import ensure_writable_dir

    ensure_writable_dir(out, "--out")   # a file where the folder should be: one error naming --out
    folder = Path(out) / comp.network.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ArchsimInputError(f"--out {str(out)!r}: cannot create {str(folder)!r} ({err.strerror})") from None
    try:
        return _write(comp, folder, command)
    except OSError as err:
        raise ArchsimInputError(f"--out {str(out)!r}: cannot write to {str(folder)!r} ({err.strerror or err})") from None


def _write(comp: Comparison, folder: Path, command: str) -> list[Path]:
    from archsim.report.plots import plot_area_breakdown, plot_energy_breakdown

    tag = f"iso-{comp.iso}"
    table = comp.table()
    written = []
    csv = folder / f"compare_{tag}.csv"
    table.to_csv(csv, float_format="%.6g")
    written.append(csv)
    title = f"{comp.network.name}, {tag} ({comp.rows}x{comp.cols} {'each' if comp.iso == 'throughput' else 'baseline'})"
    batch = comp.network.batch
    per = "inference" if batch == 1 else f"inference (batch of {batch} / {batch})"
    written += plot_energy_breakdown(comp.energy_frame(), folder / f"energy_{tag}.png", f"Energy per {per}: {title}",
                                     reference=comp.baseline, tops_per_w=comp.tops_frame(), per="inference")
    area = comp.area_frame() / 1e6
    written += plot_area_breakdown(area, folder / f"area_{tag}.png", f"Area: {title}", unit="mm2")
    fragment = folder / f".summary_{tag}.md"
    fragment.write_text(_summary_markdown(comp, table, command))
    written.append(_write_readme(folder, comp.network.name))
    return written


def _summary_markdown(comp: Comparison, table: pd.DataFrame, command: str) -> str:
    tag = f"iso-{comp.iso}"
    lines = [f"## {tag}", "", *[f"- {h}" for h in header_lines(comp)], "",
             "Regenerate:", "", "```", command, "```", "",
             markdown_table(table), "",
             f"Files: `compare_{tag}.csv` (every number, energy per category in µJ, area per component in mm²; "
             f"`energy_core_uj` + `energy_dram_uj` = `energy_uj`; `tops_per_w_core`, `tops_per_w_system` "
             f"(= `tops_per_w`) and their `_effective` variants; {OPS_NOTE} except in `_effective` columns, which "
             f"count executed MACs x 2), "
             f"`energy_{tag}.png` (stacked energy per inference per category, DRAM hatched; middle panel "
             f"normalised to the baseline; right panel core vs system TOPS/W), "
             f"`area_{tag}.png` (area per component).", ""]
    if comp.iso == "area":
        dev = table["area_vs_target"].abs().max()
        lines += [f"Largest deviation from the baseline's total area: {dev:.2%} "
                  f"(integer rows/cols; sparse rows multiples of M).", ""]
    return "\n".join(lines)


def _write_readme(folder: Path, workload: str) -> Path:
    parts = [f"# `archsim compare` on {workload}", "",
             "Generated by `archsim compare` (archsim/report/compare.py); do not edit by hand. "
             "Definitions (iso conditions, ratios, TOPS) are in the module docstring of archsim/report/compare.py. "
             "Each section below is one iso condition with its own regenerate command.", ""]
    for iso in ISO_MODES:
        frag = folder / f".summary_iso-{iso}.md"
        if frag.exists():
            parts.append(frag.read_text())
    readme = folder / "README.md"
    readme.write_text("\n".join(parts))
    return readme


def to_json(comp: Comparison, table: pd.DataFrame | None = None) -> dict[str, Any]:
    """The comparison as plain data: header facts and one record per design."""
    table = comp.table() if table is None else table
    records = []
    for name, row in table.iterrows():
        rec = {"design": name}
        for k, v in row.items():
            rec[k] = v.item() if hasattr(v, "item") else v
            if isinstance(rec[k], float) and not math.isfinite(rec[k]):
                rec[k] = None
        rec["energy_breakdown_uj"] = {c: rec[f"energy_{slug(c)}_uj"] for c in CATEGORIES}
        records.append(rec)
    return {"workload": comp.network.name, "iso": comp.iso, "iso_statement": comp.iso_statement,
            "ops_definition": OPS_NOTE, "tops_statement": TOPS_STATEMENT,
            "baseline": comp.baseline, "rows": comp.rows, "cols": comp.cols,
            "params": {"n": comp.params.n, "m": comp.params.m, "d": comp.params.d, "k": comp.params.k},
            "designs": records}


__all__ = ["AREA_TOLERANCE", "Comparison", "Entry", "ISO_MODES", "IsoAreaFit", "TOPS_STATEMENT", "array_area_um2",
           "fit_area",
           "format_table", "markdown_table", "run_comparison", "to_json", "total_area_um2", "write_outputs"]
