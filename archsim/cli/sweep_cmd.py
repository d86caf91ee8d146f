"""`archsim sweep`: workloads x designs x a grid of N:M / d / k / array-size / any design-field values.

Each finished point is appended to ``<out>/<stem>.points.jsonl`` as it lands (`archsim.sweep_store`), so a
rerun into the same folder resumes (``--fresh`` starts over) and Ctrl-C keeps every finished point (one
line, exit 130). A tqdm bar shows progress on a terminal (``--no-progress`` turns it off). From the points
file it writes ``<out>/<stem>.csv`` (one row per point), a line plot of energy, area,
system and core TOPS/W (ops = 2 x dense-equivalent MACs; core = no DRAM) and cycles against the first swept
parameter, a stacked energy breakdown per point (DRAM hatched, with a core/system TOPS/W panel), and a
README.md section with the exact regenerate command. ``--dask`` runs the points with dask (the
``dist`` extra), ``--dask tcp://host:8786`` on an existing Dask cluster; ``--jobs N`` with N processes; the
default is sequential. See `archsim.sweep`.
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
        "sweep", help="sweep N:M, d, k, array size or any design field: CSV + plots, resumable",
        description="Simulate workloads on designs for every combination of --param values. Parameters: "
                    "nm (N:M pairs, e.g. 1:4,2:4), n, m, d, k, array (square dense-equivalent size), rows, cols, "
                    "or any design field by its dotted path (buffers.weight.capacity_bytes=64KiB,128KiB, "
                    "dram.kind=LPDDR4,HBM2, clock_hz=5e8,1e9; sizes take KiB/MiB (1024) or KB/MB (1000)). "
                    "Finished points are kept in <out>/<stem>.points.jsonl as they land; rerunning into the same "
                    "--out resumes (--fresh starts over). "
                    "Unswept parameters take --n/--m/--d/--k/--rows/--cols. Array sizes are dense-equivalent "
                    "(an N:M sparse array has rows*N/M physical PE rows; see `archsim compare --help`). "
                    "TOPS/W: ops = 2 x dense-equivalent MACs, core (no DRAM) and system (with DRAM; tops_per_w).")
    p.add_argument("--workload", "-w", default="resnet18",
                   help="network name(s) or topology .csv, comma-separated (default resnet18)")
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
    p.add_argument("--dask", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run the points with dask (pip install 'archsim[dist]'): alone, a local process pool; "
                        "with a scheduler address (tcp://host:8786), on that Dask cluster")
    p.add_argument("--fresh", action="store_true", help="discard the points file and start over (default: resume)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it is shown on stderr only when stderr is a terminal)")
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
    """The sweep; Ctrl-C prints one line (how many points were kept, where) and exits 130."""
    from archsim.sweep_store import PointStore

    state: dict[str, Any] = {}
    try:
        return _run(args, state)
    except KeyboardInterrupt:
        store, tasks = state.get("store"), state.get("tasks")
        if tasks is None:
            sys.stderr.write("interrupted before any point ran\n")
        elif store is None:
            sys.stderr.write(f"interrupted: 0 of {len(tasks)} points kept (--no-write); rerun to start again\n")
        else:
            on_disk = PointStore(store.path)   # re-read: a point may have landed on disk as Ctrl-C arrived
            kept = sum(t.key in on_disk for t in tasks)
            sys.stderr.write(f"interrupted: {kept} of {len(tasks)} points kept in {store.path}; rerun to resume\n")
        return 130


def _stem(workloads: list[str], designs: list[str], names: list[str]) -> str:
    """File stem: workloads, designs and swept parameters (dotted paths kept; they are safe in file names)."""
    return f"{'-'.join(workloads)}_{'-'.join(designs)}_{'_'.join(names)}"


def _run(args: argparse.Namespace, state: dict[str, Any]) -> int:
    from archsim.report.compare import TOPS_STATEMENT
    from archsim.report.netcache import load_network
    from archsim.report.variants import CompressionParams, check_designs
    from archsim.sweep import parse_param, plan, run_points
    from archsim.sweep_store import POINTS_SUFFIX, PointStore

    params = dict(parse_param(spec) for spec in args.param)
    if len(params) != len(args.param):
        raise ArchsimInputError("--param: a parameter is given twice; list all its values in one --param")
    if not params:
        raise ArchsimInputError("give at least one --param NAME=V1,V2,..., e.g. --param k=64,128,256")
    designs = check_designs([d.strip() for d in args.design.split(",") if d.strip()])
    if args.jobs < 1:
        raise ArchsimInputError(f"--jobs must be >= 1, got {args.jobs}")
    workloads = [w.strip() for w in args.workload.split(",") if w.strip()]
    if not workloads or len(set(workloads)) != len(workloads):
        raise ArchsimInputError(f"--workload {args.workload!r}: give distinct names, comma-separated, "
                                f"e.g. resnet18,resnet50")
    base = CompressionParams(n=args.n, m=args.m, d=args.d, k=args.k)
    executor = "dask" if args.dask else ("processes" if args.jobs > 1 else "sequential")
    address = args.dask if args.dask not in (None, "local") else None
    if address is not None and ":" not in address:
        raise ArchsimInputError(f"--dask {address!r}: give a scheduler address such as tcp://host:8786, or --dask "
                                f"alone for local processes")
    t0 = time.perf_counter()
    networks = [load_network(w, args.batch) for w in workloads]
    tasks = plan(networks, designs, params, base=base, rows=args.rows, cols=args.cols)   # every point validated
    state["tasks"] = tasks
    names = list(params)
    out = Path(args.out)
    if not args.no_write:   # before any point runs (archsim.validation: one error naming --out)
        from archsim.validation import ensure_writable_dir

        ensure_writable_dir(out, "--out")
    stem = _stem([n.name for n in networks], designs, names)
    store = None if args.no_write else PointStore(out / f"{stem}{POINTS_SUFFIX}", fresh=args.fresh)
    state["store"] = store
    resumed = sum(t.key in store for t in tasks) if store is not None else 0
    progress = not args.no_progress and sys.stderr.isatty()
    df = run_points(tasks, executor=executor, jobs=args.jobs, store=store, progress=progress, dask_address=address)
    files: list[Path] = [] if args.no_write else write_sweep(df, params, designs, [n.name for n in networks], out,
                                                            command_line(args), stem)
    if store is not None:
        files.append(store.path)
    if args.json:
        print(json.dumps({"command": command_line(args), "files": [str(f) for f in files],
                          "points": json.loads(df.to_json(orient="records"))}, indent=1))
        return 0
    view = df[[*(["workload"] if len(networks) > 1 else []), "design", *names, "physical_pes", "cycles", "energy_uj",
               "energy_dram_uj", "tops_per_w_core", "tops_per_w_system", "area_mm2", "array_area_mm2"]]
    how = executor + (f" at {address}" if address else "") + (f"; {resumed} of {len(tasks)} points resumed from "
                                                               f"{store.path}" if resumed else "")
    sys.stdout.write(f"{', '.join(n.name for n in networks)}: sweep of {', '.join(names)} ({how}); arrays are "
                     f"dense-equivalent {args.rows}x{args.cols} unless swept; {TOPS_STATEMENT}\n")
    sys.stdout.write(view.to_string(index=False, float_format=lambda v: f"{v:,.4g}") + "\n")
    if files:
        sys.stdout.write(f"\nwrote {len(files)} files to {files[0].parent} in {time.perf_counter() - t0:.1f} s\n")
    return 0


def write_sweep(df: Any, params: dict[str, list], designs: list[str], workloads: list[str], out: Path,
                command: str, stem: str) -> list[Path]:
    """CSV, line plot, stacked energy plot, README section (README lists every sweep in the folder); all rebuilt
    from ``df`` (the points of this grid, read back from the points file), so a resumed run writes the same."""
    import pandas as pd

    from archsim.cost import CATEGORIES
    from archsim.report.compare import slug
    from archsim.report.plots import plot_ablation, plot_energy_breakdown
    from archsim.results import OPS_NOTE

    from archsim.validation import ensure_writable_dir

    ensure_writable_dir(out, "--out")
    names = list(params)
    workload = ", ".join(workloads)
    csv = out / f"{stem}.csv"
    df.to_csv(csv, index=False, float_format="%.6g")
    x = names[0]
    plot_df = df.copy()
    # one line per (workload, design, other swept values) case, so no line zigzags through several cases
    parts = [c for c, many in (("workload", len(workloads) > 1), ("design", len(designs) > 1)) if many] + names[1:]
    series: str | None = parts[0] if len(parts) == 1 else None
    if len(parts) > 1:
        plot_df["case"] = [" ".join(str(v) if c in ("workload", "design") else f"{c}={v}" for c, v in zip(parts, vals))
                           for vals in plot_df[parts].itertuples(index=False)]
        series = "case"
    if not pd.api.types.is_numeric_dtype(plot_df[x]) or x == "nm":
        plot_df[x] = plot_df[x].astype(str)
    files = [csv]
    files += plot_ablation(plot_df, x, ["energy_uj", "area_mm2", "tops_per_w_system", "tops_per_w_core", "cycles"],
                           out / f"{stem}.png", f"{workload}: {', '.join(designs)} vs {x}\n(TOPS/W: {OPS_NOTE})",
                           series=series,
                           ylabels={"energy_uj": "energy per batch (µJ)", "area_mm2": "area (mm²)",
                                    "tops_per_w_system": "TOPS/W system\n(with DRAM)",
                                    "tops_per_w_core": "TOPS/W core\n(no DRAM)", "cycles": "cycles"})
    labels = [(f"{row['workload']} " if len(workloads) > 1 else "") + (f"{row['design']} " if len(designs) > 1 else "")
              + ", ".join(f"{n}={row[n]}" for n in names)
              for _, row in df.iterrows()]
    energy = pd.DataFrame({cat: df[f"energy_{slug(cat)}_uj"].to_numpy() for cat in CATEGORIES}, index=labels)
    tops = pd.DataFrame({"core": df["tops_per_w_core"].to_numpy(), "system": df["tops_per_w_system"].to_numpy()},
                        index=labels)
    files += plot_energy_breakdown(energy, out / f"{stem}_energy.png", f"{workload}: energy per batch per category vs {x}",
                                   unit="uJ", tops_per_w=tops, per="batch")
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
             "energy in µJ per batch (= per inference at --batch 1), area in mm². Each point rebuilds the design "
             "for its parameters (archsim/report/variants.py `prepare`): a sparse array built for the point's N:M, "
             "a codebook store of k·d bytes, codebook ports and mask decoders matched to the array's weight-load "
             "rate, and a weight buffer that grows with arrays larger than the preset's.", ""]
    for frag in sorted(out.glob(".sweep_*.md")):
        parts.append(frag.read_text())
    readme = out / "README.md"
    readme.write_text("\n".join(parts))
    return files + [readme]
