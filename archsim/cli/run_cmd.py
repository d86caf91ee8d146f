"""`archsim run`: one workload on one design — per-layer table, totals, JSON or CSV."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from typing import Any

from workloads.errors import ArchsimInputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run", help="simulate a workload on a design: cycles, stalls, energy, area, TOPS/W",
        description="Simulate one workload on one design. Layers run back to back; totals are sums of layers. "
                    "TOPS counts 2 ops per dense-equivalent MAC. TOPS/W is reported twice: core (on-chip energy: "
                    "array, register files, buffers, codebook, decoders, control, leakage; no DRAM) and system "
                    "(DRAM included; the JSON's tops_per_w is this system value).")
    p.add_argument("--workload", "-w", required=True, help="network name (`archsim workloads list`) or topology .csv")
    p.add_argument("--design", "-d", required=True, help="preset name (ws, ews, ...) or a design .yaml path")
    p.add_argument("--rows", type=int, help="array rows, read under --iso (default: the design's own)")
    p.add_argument("--cols", type=int, help="array columns (default: the design's own)")
    p.add_argument("--iso", default="throughput", choices=["throughput", "pes", "area"],
                   help="how a named design's array size is read, as in `archsim compare` (archsim.sizing): "
                        "throughput (default) = rows x cols dense-equivalent (an N:M sparse array gets rows*N/M "
                        "physical PE rows); pes = rows x cols physical PEs (the preset YAML's convention); area "
                        "needs a baseline and is compare-only")
    p.add_argument("--dram", metavar="KIND", help="override dram.kind (LPDDR4, DDR4, HBM2, GDDR5, DDR3)")
    p.add_argument("--bandwidth-gbps", type=float, help="override dram.bandwidth_gbps")
    p.add_argument("--unlimited-bandwidth", action="store_true",
                   help="infinite DRAM bandwidth, zero latency (compute-only timing)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="any design override by dotted path, e.g. buffers.weight.capacity_bytes=65536 (repeatable)")
    p.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    p.add_argument("--traces", metavar="PATH", help="compression traces (.json/.parquet) for the workload's layers "
                                                    "(from `archsim compress`)")
    c = p.add_argument_group(
        "structural compression", "Without --traces, a compressed-weight design (ews-c, ews-cm, mvq, s2ta) gets exact "
        "structural traces of the workload in its `weights` format; these flags override that format. Layers the "
        "policy leaves dense (first conv, depthwise) run dense.")
    c.add_argument("--n", type=int, help="N of the N:M pattern")
    c.add_argument("--m", type=int, help="M of the N:M pattern")
    c.add_argument("--d", type=int, help="subvector length (a multiple of M for mvq)")
    c.add_argument("--k", type=int, help="codebook entries")
    c.add_argument("--method", choices=["mvq", "vq", "nm", "prune_vq"], help="compression method")
    c.add_argument("--mask-encoding", choices=["bitmap", "combinatorial", "index"], help="mask storage")
    c.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                   help="layer names (fnmatch) kept dense (repeatable)")
    f = p.add_argument_group(
        "functional mode", "--functional pushes seeded random int8 numbers through each layer's mapped schedule "
        "(weights compressed in the design's format: codebook decode, LZC masks, sparse muxes) and checks the outputs "
        "against torch's convolution on the reconstructed weights, and the counters against the timing model's "
        "events. Every conv/linear layer is checked; one over --max-macs on seeded sampled output positions (--full: "
        "all outputs). Exit status 0 when every layer was checked and matches, 1 when one does not match, 3 "
        "(PARTIAL, last line) when all checked layers match but some were not checked (archsim.functional.check).")
    f.add_argument("--functional", action="store_true", help="run the functional (numeric) check instead of timing")
    f.add_argument("--layers", action="append", metavar="NAME[,NAME...]",
                   help="layers to check (default: every conv/linear layer; repeatable)")
    f.add_argument("--max-macs", metavar="N", help="per-layer budget in dense MACs: a larger layer is checked on "
                                                   "sampled output positions (default 5e6)")
    f.add_argument("--full", action="store_true", default=None, help="check every output of every layer (no sampling)")
    f.add_argument("--seed", type=int, help="seed of the random weights and activations (default 0)")
    p.add_argument("--progress", action="store_true", help="progress bar over layers (stderr)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--csv", metavar="PATH", help="also write the per-layer table as CSV to PATH")
    p.set_defaults(func=run)


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Dotted-path design overrides from the flags; ``--set`` values are parsed as YAML scalars."""
    import yaml

    out: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ArchsimInputError(f"--set {item!r}: use FIELD=VALUE, e.g. --set array.rows=32")
        out[key.strip()] = yaml.safe_load(value)
    if args.rows is not None:
        out["array.rows"] = args.rows
    if args.cols is not None:
        out["array.cols"] = args.cols
    if args.dram is not None:
        out["dram.kind"] = args.dram
    if args.bandwidth_gbps is not None:
        out["dram.bandwidth_gbps"] = args.bandwidth_gbps
    if args.unlimited_bandwidth:
        out["dram.unlimited"] = True
    return out


def compression_from_args(args: argparse.Namespace) -> dict[str, Any] | None:
    """`CompressionConfig` overrides from the structural-compression flags (None when none given)."""
    out: dict[str, Any] = {}
    for flag in ("n", "m", "d", "k", "method", "mask_encoding"):
        value = getattr(args, flag, None)
        if value is not None:
            out[flag] = value
    if getattr(args, "exclude", None):
        out["exclude"] = tuple(args.exclude)
    return out or None


def run(args: argparse.Namespace) -> int:
    from archsim.api import simulate, sized_design
    from archsim.cli.workloads_cmd import load_workload

    if args.batch < 1:
        raise ArchsimInputError(f"--batch must be a positive integer, got {args.batch}")
    if args.csv:   # before any simulation: an unwritable path fails in a second, not after the run
        from archsim.validation import ensure_writable_file

        ensure_writable_file(args.csv, "--csv")
    compression = compression_from_args(args)
    iso = getattr(args, "iso", "throughput")
    # the one sizing rule (archsim.sizing, shared with compare); validates the design before the workload
    design, sizing = sized_design(args.design, overrides_from_args(args), iso=iso)
    network = load_workload(args.workload, args.batch)
    if getattr(args, "functional", False):
        return run_functional_check(args, network, design, compression)
    given = [flag for flag in ("layers", "max_macs", "seed", "full") if getattr(args, flag, None) is not None]
    if given:
        raise ArchsimInputError(f"--{given[0].replace('_', '-')} applies only with --functional")
    if compression and args.traces:
        raise ArchsimInputError("--traces and the structural-compression flags (--n/--m/--d/--k/--method/"
                                "--mask-encoding/--exclude) exclude each other; the traces already fix the compression")
    result = simulate(network, design, traces=args.traces, compression=compression, progress=args.progress)
    result = dataclasses.replace(result, sizing=sizing)     # sized by name above, simulated as built
    table = result.layers_frame()
    if args.csv:
        try:
            csv = table.copy()
            for key, value in sizing.to_dict().items():    # every row states the array and the iso condition
                if key in ("physical_array", "dense_equivalent_array", "iso"):
                    csv[key] = value
            csv.to_csv(args.csv)
        except OSError as err:
            raise ArchsimInputError(f"--csv {args.csv!r}: cannot write ({err.strerror})") from None
    if args.json:
        print(json.dumps(_jsonable(result.to_dict()), indent=1))
        return 0
    _print_text(result, table)
    return 0


def run_functional_check(args: argparse.Namespace, network: Any, design: Any, compression: Any) -> int:
    """``--functional``: `archsim.functional.check.check_workload`, printed; exit 0 when every layer was checked
    and agrees, 1 when one does not, `EXIT_PARTIAL` (3) when all checked agree but some were not checked."""
    from archsim.functional.check import (EXIT_PARTIAL, check_workload, format_report, parse_layer_names,
                                          parse_max_macs)

    if args.traces:
        raise ArchsimInputError("--traces does not apply with --functional: functional mode draws and compresses its "
                                "own weights in the design's format (use --n/--m/--d/--k/--method to change it)")
    check = check_workload(network, design, layers=parse_layer_names(args.layers),
                           max_macs=parse_max_macs(args.max_macs), seed=0 if args.seed is None else args.seed,
                           full=bool(getattr(args, "full", False)),
                           compression=compression, progress=args.progress)
    if args.csv:
        try:
            check.frame().to_csv(args.csv)
        except OSError as err:
            raise ArchsimInputError(f"--csv {args.csv!r}: cannot write ({err.strerror})") from None
    if args.json:
        print(json.dumps(_jsonable(check.to_dict()), indent=1))
    else:
        print(format_report(check))
    return 1 if not check.ok else EXIT_PARTIAL if check.partial else 0


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item"):
        return x.item()
    return x


def _print_text(result: Any, table: Any) -> None:
    from archsim.results import OPS_NOTE

    out = sys.stdout
    view = table[["cycles", "stall_cycles", "utilisation"]].copy()
    view["energy_uJ"] = table["energy_pj"] / 1e6
    view["dram_share"] = (table["energy_dram_pj"] / table["energy_pj"]).where(table["energy_pj"] > 0, 0.0)
    view["TOPS/W_core"] = table["tops_per_w_core"]
    view["TOPS/W_system"] = table["tops_per_w_system"]
    out.write(f"{result.name} on {result.design}: {len(result.layers)} layers, batch {result.batch} (energies per "
              f"batch); TOPS/W: {OPS_NOTE}, core = no DRAM, system = with DRAM\n")
    if result.sizing is not None:
        out.write(f"{result.sizing.statement()}\n")
    out.write(view.to_string(formatters={"cycles": "{:,}".format, "stall_cycles": "{:,}".format,
                                         "utilisation": "{:.1%}".format, "energy_uJ": "{:,.2f}".format,
                                         "dram_share": "{:.1%}".format, "TOPS/W_core": "{:.3f}".format,
                                         "TOPS/W_system": "{:.3f}".format}))
    out.write("\n\nTotals\n")
    total = result.energy_pj
    lines = [
        ("cycles", f"{result.cycles:,} ({result.busy_cycles:,} compute + {result.stall_cycles:,} stall)"),
        ("latency", f"{result.latency_s * 1e3:.4f} ms at {result.clock_hz / 1e6:g} MHz"),
        ("utilisation", f"{result.utilisation:.1%}"),
        ("stalls by cause", ", ".join(f"{k} {v:,}" for k, v in result.stalls.items()) or "none"),
        ("energy", f"{total / 1e6:,.2f} uJ per batch of {result.batch} (core {result.energy_core_pj / 1e6:,.2f} uJ "
                   f"+ DRAM {result.energy_dram_pj / 1e6:,.2f} uJ)"),
    ]
    for cat, pj in result.energy_breakdown.items():
        if pj:
            lines.append((f"  {cat}", f"{pj / 1e6:,.2f} uJ ({pj / total:.1%})"))
    lines += [
        ("energy/inference", f"{total / 1e6 / max(1, result.batch):,.2f} uJ (batch energy / {result.batch})"),
        ("area", f"{result.area_um2 / 1e6:.3f} mm2"),
        ("TOPS/W core", f"{result.tops_per_w_core():.3f} (no DRAM; {OPS_NOTE}; effective ops: "
                        f"{result.tops_per_w_core(effective=True):.3f})"),
        ("TOPS/W system", f"{result.tops_per_w_system():.3f} (with DRAM; {OPS_NOTE}; effective ops: "
                          f"{result.tops_per_w_system(effective=True):.3f})"),
        ("TOPS/mm2", f"{result.tops_per_mm2():.4f}"),
        ("inferences/s", f"{result.inferences_per_s:,.1f}"),
    ]
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        out.write(f"{k:<{width}}  {v}\n")
