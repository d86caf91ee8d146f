"""`archsim sweep`: one workload, one or more designs, a grid of N:M / d / k / array-size values.

Writes ``<out>/<workload>_<designs>_<params>.csv`` (one row per point), a line plot of energy, area,
system and core TOPS/W (ops = 2 x dense-equivalent MACs; core = no DRAM) and cycles against the first swept
parameter, a stacked energy breakdown per point (DRAM hatched, with a core/system TOPS/W panel), and a
README.md section with the exact regenerate command. ``--dask`` runs the points with dask (the
``dist`` extra); ``--jobs N`` with N processes; the default is sequential. See `archsim.sweep`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from archsim.cli.common import add_compression_args, compression_argv
from workloads.errors import ArchsimInputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep", help="sweep N:M, d, k or array size for a design: CSV + plots",
        description="Simulate a workload on a design for every combination of --param values. Parameters: "
                    "nm (N:M pairs, e.g. 1:4,2:4), n, m, d, k, array (square dense-equivalent size), rows, cols. "
                    "Unswept parameters take --n/--m/--d/--k/--rows/--cols. Array sizes are dense-equivalent "
                    "(an N:M sparse array has rows*N/M physical PE rows; see `archsim compare --help`). "
                    "TOPS/W: ops = 2 x dense-equivalent MACs, core (no DRAM) and system (with DRAM; tops_per_w).")
    p.add_argument("--workload", "-w", default="resnet18", help="network name or topology .csv (default resnet18)")
    p.add_argument("--design", default="mvq", help="preset name(s), comma-separated (default mvq); several designs "
                                                   "become separate lines in the plots")
    p.add_argument("--param", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="a swept parameter (repeatable; the grid is the Cartesian product)")
    add_compression_args(p, "when not swept")
    p.add_argument("--rows", type=int, default=64, help="dense-equivalent rows when not swept (default 64)")
    p.add_argument("--cols", type=int, default=64, help="columns when not swept (default 64)")
    p.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    p.add_argument("--out", default="results/sweeps", help="output folder (default results/sweeps)")
    p.add_argument("--no-write", action="store_true", help="print only; write no files")
    p.add_argument("--dask", action="store_true", help="run the points with dask (pip install 'archsim[dist]')")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1 = sequential)")
    p.add_argument("--json", action="store_true", help="print the table as JSON records")
    p.set_defaults(func=run)


def command_line(args: argparse.Namespace) -> str:
    parts = ["archsim", "sweep", "--workload", args.workload, "--design", args.design]
    for spec in args.param:
        parts += ["--param", spec]
    parts += [*compression_argv(args),
              "--rows", str(args.rows), "--cols", str(args.cols), "--out", args.out]
    if args.batch != 1:
        parts += ["--batch", str(args.batch)]
    return " ".join(shlex.quote(p) for p in parts)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from archsim.report.compare import TOPS_STATEMENT
    from archsim.report.netcache import load_network
    from archsim.report.variants import CompressionParams, check_designs
    from archsim.sweep import parse_param, run_sweep

    params = dict(parse_param(spec) for spec in args.param)
    if len(params) != len(args.param):
        raise ArchsimInputError("--param: a parameter is given twice; list all its values in one --param")
    if not params:
        raise ArchsimInputError("give at least one --param NAME=V1,V2,..., e.g. --param k=64,128,256")
    designs = check_designs([d.strip() for d in args.design.split(",") if d.strip()])
    if args.jobs < 1:
        raise ArchsimInputError(f"--jobs must be >= 1, got {args.jobs}")
    base = CompressionParams(n=args.n, m=args.m, d=args.d, k=args.k)
    executor = "dask" if args.dask else ("processes" if args.jobs > 1 else "sequential")
    t0 = time.perf_counter()
    network = load_network(args.workload, args.batch)
    frames = [run_sweep(network, d, params, base=base, rows=args.rows, cols=args.cols, executor=executor,
                        jobs=args.jobs) for d in designs]
    df = pd.concat(frames, ignore_index=True)
    files: list[Path] = [] if args.no_write else write_sweep(df, params, designs, network.name, Path(args.out),
                                                            command_line(args))
    if args.json:
        print(json.dumps({"command": command_line(args), "files": [str(f) for f in files],
                          "points": json.loads(df.to_json(orient="records"))}, indent=1))
        return 0
    names = list(params)
    view = df[["design", *names, "physical_pes", "cycles", "energy_uj", "energy_dram_uj", "tops_per_w_core",
               "tops_per_w_system", "area_mm2", "array_area_mm2"]]
    sys.stdout.write(f"{network.name}: sweep of {', '.join(names)} ({executor}); arrays are dense-equivalent "
                     f"{args.rows}x{args.cols} unless swept; {TOPS_STATEMENT}\n")
    sys.stdout.write(view.to_string(index=False, float_format=lambda v: f"{v:,.4g}") + "\n")
    if files:
        sys.stdout.write(f"\nwrote {len(files)} files to {files[0].parent} in {time.perf_counter() - t0:.1f} s\n")
    return 0


def write_sweep(df: Any, params: dict[str, list], designs: list[str], workload: str, out: Path,
                command: str) -> list[Path]:
    """CSV, line plot, stacked energy plot, README section (README lists every sweep in the folder)."""
    import pandas as pd

    from archsim.cost import CATEGORIES
    from archsim.report.compare import slug
    from archsim.report.plots import plot_ablation, plot_energy_breakdown
    from archsim.results import OPS_NOTE

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ArchsimInputError(f"--out {str(out)!r}: cannot create it ({err.strerror})") from None
    names = list(params)
    stem = f"{workload}_{'-'.join(designs)}_{'_'.join(names)}"
    csv = out / f"{stem}.csv"
    df.to_csv(csv, index=False, float_format="%.6g")
    x = names[0]
    series = "design" if len(designs) > 1 else (names[1] if len(names) > 1 else None)
    plot_df = df.copy()
    if x == "nm":
        plot_df[x] = plot_df[x].astype(str)
    files = [csv]
    files += plot_ablation(plot_df, x, ["energy_uj", "area_mm2", "tops_per_w_system", "tops_per_w_core", "cycles"],
                           out / f"{stem}.png", f"{workload}: {', '.join(designs)} vs {x}\n(TOPS/W: {OPS_NOTE})",
                           series=series,
                           ylabels={"energy_uj": "energy (µJ)", "area_mm2": "area (mm²)",
                                    "tops_per_w_system": "TOPS/W system\n(with DRAM)",
                                    "tops_per_w_core": "TOPS/W core\n(no DRAM)", "cycles": "cycles"})
    labels = [(f"{row['design']} " if len(designs) > 1 else "") + ", ".join(f"{n}={row[n]}" for n in names)
              for _, row in df.iterrows()]
    energy = pd.DataFrame({cat: df[f"energy_{slug(cat)}_uj"].to_numpy() for cat in CATEGORIES}, index=labels)
    tops = pd.DataFrame({"core": df["tops_per_w_core"].to_numpy(), "system": df["tops_per_w_system"].to_numpy()},
                        index=labels)
    files += plot_energy_breakdown(energy, out / f"{stem}_energy.png", f"{workload}: energy per category vs {x}",
                                   unit="uJ", tops_per_w=tops)
    fragment = out / f".sweep_{stem}.md"
    fragment.write_text(f"## {', '.join(designs)}: {', '.join(names)} on {workload}\n\n```\n{command}\n```\n\n"
                        f"`{stem}.csv`, `{stem}.png` (energy, area, system and core TOPS/W, cycles vs {x}), "
                        f"`{stem}_energy.png` (energy per category per point, DRAM hatched; core vs system "
                        f"TOPS/W).\n")
    parts = ["# Sweeps", "", "Generated by `archsim sweep` (archsim/cli/sweep_cmd.py); each section has its "
             "regenerate command. Arrays are dense-equivalent (see archsim/report/compare.py); TOPS count "
             f"2 ops per dense-equivalent MAC ({OPS_NOTE}); CSV columns `tops_per_w_core` (on-chip energy: array, "
             "RFs, buffers, codebook, decoders, muxes, control, leakage; no DRAM) and `tops_per_w_system` (with "
             "DRAM; = `tops_per_w`); `energy_core_uj` + `energy_dram_uj` = `energy_uj`; "
             "energy in µJ per inference, area in mm². Each point rebuilds the design "
             "for its parameters (archsim/report/variants.py `prepare`): a sparse array built for the point's N:M, "
             "a codebook store of k·d bytes, codebook ports and mask decoders matched to the array's weight-load "
             "rate, and a weight buffer that grows with arrays larger than the preset's.", ""]
    for frag in sorted(out.glob(".sweep_*.md")):
        parts.append(frag.read_text())
    readme = out / "README.md"
    readme.write_text("\n".join(parts))
    return files + [readme]
