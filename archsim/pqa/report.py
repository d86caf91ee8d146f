"""Report: PQA vs DLA on ResNet-20 (CIFAR-10), Ls = 9, Np in {8, 16, 64}, DDR and HBM.

    python -m archsim.pqa.report --out results/pqa

Writes ``summary.csv`` (one row per configuration: cycles under the paper's closed form, the
prefetch recurrence and SimPy; FPGA and ASIC area; perf/area ratios), ``grid.csv`` (every swept
NOV x NSV point), ``per_layer.csv`` (per-layer cycles, bound and reason, for the best point of each
configuration), the figures ``perf_per_area.png``, ``per_layer_cycles.png``, ``area_fpga.png``,
``area_asic.png``, and ``README.md``. If ``digits_pq.csv`` (from ``python -m compress.pq.experiment``)
is in the output folder, its accuracy table is included in the README.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from archsim.pqa.area import dla_asic_area, dla_fpga_area, pqa_asic_area, pqa_fpga_area  # noqa: E402
from archsim.pqa.compare import best_pqa  # noqa: E402
from archsim.report.plots import plot_area_breakdown  # noqa: E402
from archsim.validation import ensure_writable_dir  # noqa: E402
from workloads.errors import ArchsimInputError  # noqa: E402
from workloads.zoo import get_network  # noqa: E402

#: The paper's headline (v1 abstract, reference §A.4 [P]): +40% .. +104% perf/area vs DLA on ResNet-20.
PAPER_LOW, PAPER_HIGH = 1.40, 2.04
NPS = (8, 16, 64)
MEMORIES = ("ddr", "hbm")
BOUND_COLOURS = {"encoder": "#d62728", "lut-read": "#1f77b4", "table-load": "#7f7f7f", "balanced": "#9467bd"}


def run(out: Path, network: str = "resnet20", ls: int = 9) -> dict[str, pd.DataFrame]:
    ensure_writable_dir(out, "--out")
    net = get_network(network)
    summaries, grids, layers, best = [], [], [], {}
    variants = [(n, m, dict(), "default") for m in MEMORIES for n in NPS]
    variants += [(n, m, dict(proto_bits=6, lut_bits=5), "low-bit 6/5") for m in MEMORIES for n in (8, 16)]
    variants += [(16, m, dict(distance="l1"), "L1 (no DSPs)") for m in MEMORIES]
    for n, mem, kw, label in variants:
        b, g = best_pqa(net, ls, n, mem, **kw)
        b.summary["variant"] = label
        g["variant"] = label
        summaries.append(b.summary)
        grids.append(g)
        if label == "default":
            best[(n, mem)] = b
            layers.append(b.layers)
    summary = pd.DataFrame(summaries)
    summary["paper_low"], summary["paper_high"] = PAPER_LOW, PAPER_HIGH
    grid = pd.concat(grids, ignore_index=True)
    per_layer = pd.concat(layers, ignore_index=True)
    summary.to_csv(out / "summary.csv", index=False)
    grid.to_csv(out / "grid.csv", index=False)
    per_layer.to_csv(out / "per_layer.csv", index=False)
    _plot_ratios(summary[summary.variant == "default"], out / "perf_per_area.png")
    _plot_layers(best, out / "per_layer_cycles.png")
    _plot_areas(best, out)
    _readme(out, summary, per_layer, network, ls)
    return {"summary": summary, "grid": grid, "per_layer": per_layer}


def _plot_ratios(df: pd.DataFrame, path: Path) -> None:
    fig = Figure(figsize=(8.5, 4.4))
    ax = fig.subplots()
    labels = [f"Np={r.np}\n{r.memory}" for r in df.itertuples()]
    x = range(len(df))
    series = [("perf_per_area_fpga_paper", "FPGA area, paper closed form", "#1f77b4"),
              ("perf_per_area_fpga_sim", "FPGA area, SimPy cycles", "#ff7f0e"),
              ("perf_per_area_asic_sim", "ASIC area (40 nm tables), SimPy cycles", "#2ca02c")]
    w = 0.26
    for j, (col, name, colour) in enumerate(series):
        xs = [i + (j - 1) * w for i in x]
        ax.bar(xs, df[col], w, label=name, color=colour)
        for xi, v in zip(xs, df[col]):
            ax.text(xi, v + 0.03, f"{v:.2f}", ha="center", fontsize=7)
    ax.axhspan(PAPER_LOW, PAPER_HIGH, color="#bbbbbb", alpha=0.35, label="paper v1: 1.40-2.04x (Np 8/16, DDR/HBM)")
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(list(x), labels)
    ax.set_ylabel("perf/area, PQA / DLA")
    ax.set_title("ResNet-20 (18 PQ convs), Ls=9: PQA vs DLA performance per area", fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _plot_layers(best: dict, path: Path) -> None:
    fig = Figure(figsize=(13, 7.5))
    axes = fig.subplots(len(MEMORIES), len(NPS), sharex=True)
    for i, mem in enumerate(MEMORIES):
        for j, n in enumerate(NPS):
            ax = axes[i][j]
            c = best[(n, mem)]
            df = c.layers
            xs = range(len(df))
            ax.bar(xs, df["pqa_sim_share"], color=[BOUND_COLOURS[b] for b in df["pqa_bound"]], width=0.8)
            ax.plot(xs, df["dla_sim_share"], "k_", markersize=9, mew=2, label="DLA cycles")
            ax2 = ax.twinx()
            ax2.plot(xs, df["dla_lane_utilisation"], ":", color="#2ca02c", label="DLA lane use")
            ax2.set_ylim(0, 1.05)
            if j == len(NPS) - 1:
                ax2.set_ylabel("DLA lane utilisation", fontsize=7, color="#2ca02c")
            else:
                ax2.set_yticklabels([])
            ax.set_title(f"Np={n}, {mem.upper()} (NOV={c.pqa.nov}, NSV={c.pqa.nsv}): "
                         f"x{c.summary['speedup_sim']:.2f} speed", fontsize=8)
            ax.set_xticks(list(xs), [s.replace("layer", "L").replace(".conv", "c") for s in df["layer"]],
                          rotation=90, fontsize=6)
            ax.tick_params(axis="y", labelsize=7)
            if j == 0:
                ax.set_ylabel("cycles per layer (SimPy)", fontsize=8)
    handles = [matplotlib.patches.Patch(color=v, label=f"PQA {k}-bound") for k, v in BOUND_COLOURS.items()]
    handles += [matplotlib.lines.Line2D([], [], color="k", marker="_", ls="", mew=2, label="DLA cycles"),
                matplotlib.lines.Line2D([], [], color="#2ca02c", ls=":", label="DLA lane utilisation")]
    fig.legend(handles=handles, loc="lower center", ncol=6, fontsize=8, frameon=False)
    fig.suptitle("Per-layer cycles: PQA bars coloured by what bounds them; DLA as black ticks", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    fig.savefig(path, dpi=110)


def _plot_areas(best: dict, out: Path) -> None:
    fpga, asic = {}, {}
    some = None
    for n in NPS:
        c = best[(n, "ddr")]
        some = c
        a = pqa_fpga_area(c.pqa)
        fpga[f"PQA Np={n}\nNOV{c.pqa.nov} NSV{c.pqa.nsv}"] = {"DSP (x3)": a["dsp_area"], "M20K (x4)": a["m20k_area"],
                                                              "logic": a["logic_area"]}
        s = pqa_asic_area(c.pqa, c.facts)
        s.pop("total")
        asic[f"PQA Np={n}"] = s
    d = dla_fpga_area(some.dla)
    fpga["DLA"] = {"DSP (x3)": d["dsp_area"], "M20K (x4)": d["m20k_area"], "logic": d["logic_area"]}
    da = dla_asic_area(some.dla, some.facts)
    da.pop("total")
    asic["DLA"] = da
    plot_area_breakdown(pd.DataFrame(fpga).T, out / "area_fpga.png", "FPGA area (CLB-equivalents, paper model)",
                        unit="um2", display_unit="um2")
    plot_area_breakdown(pd.DataFrame(asic).T.fillna(0.0), out / "area_asic.png",
                        "ASIC area from archsim 40 nm tables (stores sized for ResNet-20)", unit="um2")


def _table(df: pd.DataFrame, cols: list[str], fmt: dict[str, str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in df[cols].itertuples(index=False):
        lines.append("| " + " | ".join(fmt.get(c, "{}").format(v) for c, v in zip(cols, r)) + " |")
    return "\n".join(lines)


def _readme(out: Path, summary: pd.DataFrame, per_layer: pd.DataFrame, network: str, ls: int) -> None:
    cmd = " ".join(["python -m archsim.pqa.report"] + sys.argv[1:]) if sys.argv[0].endswith("report.py") \
        else "python -m archsim.pqa.report --out results/pqa"
    cols = ["variant", "np", "memory", "nov", "nsv", "pqa_cycles_paper", "pqa_cycles_sim", "dla_cycles_paper",
            "dla_cycles_sim", "pqa_fpga_area", "dla_fpga_area", "pqa_asic_mm2", "dla_asic_mm2",
            "perf_per_area_fpga_paper", "perf_per_area_fpga_sim", "perf_per_area_asic_sim"]
    f2 = "{:.2f}"
    fmt = {"pqa_fpga_area": "{:.0f}", "dla_fpga_area": "{:.0f}", "pqa_asic_mm2": f2, "dla_asic_mm2": f2,
           "perf_per_area_fpga_paper": f2, "perf_per_area_fpga_sim": f2, "perf_per_area_asic_sim": f2}
    reasons = (per_layer.assign(stage=per_layer["layer"].str.extract(r"^(layer\d)")[0])
               .groupby(["config", "stage"], sort=False)
               .agg(pqa_bound=("pqa_bound", "first"), dla_lane_use=("dla_lane_utilisation", "mean"),
                    pqa_cycles=("pqa_sim_share", "sum"), dla_cycles=("dla_sim_share", "sum"),
                    reason=("reason", "first")).reset_index())
    acc = ""
    if (out / "digits_pq.csv").exists():
        d = pd.read_csv(out / "digits_pq.csv")
        acc_cols = [c for c in ["np", "proto_bits", "lut_bits", "distance", "method", "test_acc", "dense_test_acc",
                                "conv2_relative_mse", "conv3_relative_mse"] if c in d.columns]
        acc = ("\n## Accuracy of PQ on the digits CNN (compress side)\n\n"
               "`python -m compress.pq.experiment --out results/pqa` (digits CNN of "
               "`compress/experiments/digits_model.py`, conv2+conv3 product-quantized, Ls=9; 540 test images, one "
               "image = 0.19 points; relative MSE = layer-output MSE / mean square of the dense output, on test "
               "inputs). Not the paper's ResNet-20/CIFAR-10 accuracy: that needs CIFAR-10, which is not on this "
               "machine.\n\n" + _table(d, acc_cols, {"test_acc": "{:.3f}", "dense_test_acc": "{:.3f}",
                                                      "conv2_relative_mse": "{:.3f}", "conv3_relative_mse": "{:.3f}"})
               + "\n")
    text = f"""# PQA vs DLA on {network} (Ls = {ls})

Regenerate: `{cmd}` (about 10-20 s), then optionally `python -m compress.pq.experiment --out results/pqa`
(accuracy, 5-15 min, torch) and re-run the report to fold the accuracy table in.

Models: `archsim/pqa/` (config + YAML presets, `analytical.py` closed forms, `model.py` SimPy, `area.py`,
`compare.py`). Layers: the 18 ResNet-20 3x3 convs after the stem (stem and FC excluded on both designs,
as in the paper). Both designs at 300 MHz; memory DDR 35.2 GB/s or HBM 400 GB/s, x0.8 efficiency
(paper model). The PQA point per configuration is the best FPGA perf/area of the paper's grid
NOV in {{32,64}} x NSV in {{16,32,64}} with PLV = min(16, Ls), NPV = min(16, Np), chosen under the paper's
closed form (the authors' rule). Nothing is fitted to the published ratios.

Three cycle counts: **paper** = sum over layers of max(load, compute) (the authors' model); **SimPy** =
tile-level simulation with tables of layer l+1 prefetched during layer l into a double-buffered store,
layer l+1 waiting for layer l's outputs, plus pipeline fill/drain (the first load is not hidden).
Perf/area = (DLA cycles / PQA cycles) x (DLA area / PQA area).

## Headline: paper v1 claims +40% .. +104% (1.40-2.04x) perf/area on ResNet-20 for Np in {{8, 16}}

{_table(summary, cols, fmt)}

Paper band: 1.40-2.04x. The reference notes' own re-run of the released model gave 1.35-2.02x; this
re-implementation of the closed form gives the FPGA-paper column above. SimPy cycles lower PQA's ratio a
little (unhidden first table load, fill/drain per layer on short layers). The ASIC column replaces the
FPGA unit weights (DSP = 3, M20K = 4, regression logic) by archsim's 40 nm component areas (stores sized for
ResNet-20's largest layer, double-buffered; activation buffers and control excluded on both designs) — a
different question with a different answer, see `area_asic.png`.

![perf/area](perf_per_area.png)

## Why each configuration wins or loses (per stage of ResNet-20; details in `per_layer.csv`)

{_table(reasons, ["config", "stage", "pqa_bound", "dla_lane_use", "pqa_cycles", "dla_cycles", "reason"],
        {"dla_lane_use": "{:.0%}", "pqa_cycles": "{:.0f}", "dla_cycles": "{:.0f}"})}

* **DLA lane under-use** is the whole of PQA's advantage: Kvec = 48 output lanes meet K = 16 / 32 / 64
  (33% / 67% / 67% used), while the DLA's DSPs are paid for in full.
* **Encoder-bound**: with Np = 64 the encoder needs ceil(Np/NPV) = 4 passes per subvector at NPV = 16, and
  that cost does not shrink with K; PQA loses on every layer (Np=64 rows).
* **LUT-read-bound**: K = 64 > NOV = 32 needs two lookup cycles per column (stage 3 under HBM).
* **Table-load-bound**: under DDR the Ns*Np*K LUT of the 64-channel stage takes longer to stream than to
  use (see the `load` vs `compute` numbers in the reason column); this is what separates DDR from HBM and
  grows linearly with Np.

![per-layer](per_layer_cycles.png)

## Area

![fpga](area_fpga.png) ![asic](area_asic.png)
{acc}
## Files

`summary.csv` (one row per configuration, incl. low-bit 6/5 and L1 variants), `grid.csv` (every NOV x NSV
point), `per_layer.csv` (per-layer cycles, bounds, DLA lane use, reason), the PNGs above.
Generated {time.strftime('%Y-%m-%d %H:%M')}.
"""
    (out / "README.md").write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="PQA vs DLA report (ResNet-20, Ls=9)")
    parser.add_argument("--out", type=Path, default=Path("results/pqa"))
    parser.add_argument("--network", default="resnet20")
    parser.add_argument("--ls", type=int, default=9)
    args = parser.parse_args(argv)
    try:
        run(args.out, args.network, args.ls)
    except ArchsimInputError as err:
        print(f"archsim.pqa.report: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}/README.md, summary.csv, grid.csv, per_layer.csv and figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
