"""`archsim compare`: one workload on several designs — table, CSV, energy/area figures, README.

With no arguments it runs ResNet-18 on ws, ews, ews-c, ews-cm, mvq and s2ta-w (those that exist) at
64x64, iso-throughput, 1:4 / d=16 / k=256, and writes ``results/resnet18/``. Definitions of the iso
conditions and ratios: `archsim.report.compare`. Every output (table, CSV, JSON, README, energy figure) carries core
(no DRAM) and system (with DRAM) TOPS/W side by side.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

from archsim.cli.common import add_compression_args, compression_argv
from workloads.errors import ArchsimInputError

DEFAULT_DESIGNS = "ws,ews,ews-c,ews-cm,mvq,s2ta-w"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare", help="one workload on several designs: table, CSV, energy/area plots, README",
        description="Simulate one workload on several designs under one iso condition and write "
                    "<out>/<workload>/ (CSV, energy and area PNGs, README.md with the regenerate command). "
                    "iso-throughput: every design has the same dense-equivalent rows x cols array (an N:M sparse "
                    "array has rows*N/M physical PE rows and the same peak dense-equivalent MACs/cycle). "
                    "iso-area: arrays rescaled so each design's total area matches the baseline's. "
                    "Ratios are vs --baseline; TOPS count 2 ops per dense-equivalent MAC. TOPS/W is reported "
                    "as core (on-chip energy, no DRAM) and system (with DRAM; tops_per_w in the CSV/JSON is the "
                    "system value).")
    p.add_argument("--workload", "-w", default="resnet18",
                   help="network name (`archsim workloads list`) or topology .csv (default resnet18)")
    p.add_argument("--designs", default=DEFAULT_DESIGNS,
                   help=f"comma-separated presets or .yaml paths (default {DEFAULT_DESIGNS}; presets not yet "
                        f"installed are skipped only when this default is used)")
    p.add_argument("--baseline", help="design the ratios are against (default ews when listed, else the first)")
    add_compression_args(p)
    p.add_argument("--rows", type=int, help="array rows, default 64: dense-equivalent reduction rows (physical PE rows "
                                           "with --iso pes)")
    p.add_argument("--cols", type=int, help="array columns (output channels), default 64")
    p.add_argument("--iso", default="throughput", help="throughput (default: same dense-equivalent rows x cols array), area (arrays rescaled to the "
                        "baseline's total area) or pes (same physical PE count; a 1:4 sparse array then covers 4x "
                        "the rows)")
    p.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    p.add_argument("--out", default="results", help="output root; files go to <out>/<workload>/ (default results)")
    p.add_argument("--no-write", action="store_true", help="print only; write no files")
    p.add_argument("--jobs", type=int, default=1, help="simulate designs in this many processes (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=run)


def _designs(args: argparse.Namespace) -> list[str]:
    from archsim.report.variants import known_designs

    names = [s.strip() for s in args.designs.split(",") if s.strip()]
    if args.designs == DEFAULT_DESIGNS:  # the default asks for the ladder; skip presets not installed yet
        known = set(known_designs())
        names = [n for n in names if n in known]
    return names


def command_line(args: argparse.Namespace, designs: list[str]) -> str:
    """The exact command that regenerates this output (every option spelled out)."""
    parts = ["archsim", "compare", "--workload", args.workload, "--designs", ",".join(designs),
             *compression_argv(args),
             "--iso", args.iso, "--out", args.out]
    if args.rows is not None:
        parts += ["--rows", str(args.rows)]
    if args.cols is not None:
        parts += ["--cols", str(args.cols)]
    if args.baseline:
        parts += ["--baseline", args.baseline]
    if args.batch != 1:
        parts += ["--batch", str(args.batch)]
    return " ".join(shlex.quote(p) for p in parts)


def run(args: argparse.Namespace) -> int:
    from archsim.report.compare import ISO_MODES, format_table, run_comparison, to_json, write_outputs
    from archsim.report.netcache import load_network
    from archsim.report.variants import CompressionParams

    if args.iso not in ISO_MODES:
        raise ArchsimInputError(f"--iso must be one of {', '.join(ISO_MODES)}, got {args.iso!r}")
    if args.batch < 1:
        raise ArchsimInputError(f"--batch must be a positive integer, got {args.batch}")
    if not args.no_write:   # before simulating: an unwritable --out fails now (archsim.validation)
        from archsim.validation import ensure_writable_dir

        ensure_writable_dir(args.out, "--out")
    params = CompressionParams(n=args.n, m=args.m, d=args.d, k=args.k)
    designs = _designs(args)
    t0 = time.perf_counter()
    network = load_network(args.workload, args.batch)
    comp = run_comparison(network, designs, params=params, rows=args.rows, cols=args.cols, iso=args.iso,
                          baseline=args.baseline, jobs=args.jobs)
    table = comp.table()
    files = [] if args.no_write else write_outputs(comp, args.out, command_line(args, designs))
    elapsed = time.perf_counter() - t0
    if args.json:
        out = to_json(comp, table)
        out["files"] = [str(f) for f in files]
        out["command"] = command_line(args, designs)
        print(json.dumps(out, indent=1))
        return 0
    sys.stdout.write(format_table(comp, table))
    if files:
        sys.stdout.write(f"\nwrote {len(files)} files to {files[0].parent} in {elapsed:.1f} s\n")
    return 0
