"""`archsim pqa`: one workload on the PQ accelerator and the DLA baseline, side by side.

    archsim pqa --workload resnet20 --np 16 --mem hbm            # the paper's NOV x NSV grid, best point
    archsim pqa --workload resnet20 --np 16 --nov 32 --nsv 16     # one point
    archsim pqa --config my_pqa.yaml                              # own PQA config (limits, widths, ...)

``--config FILE`` is a PQA config in the format of ``archsim/pqa/presets/pqa.yaml`` (validated by
`archsim.pqa.config.PqaConfig`: an unknown or out-of-range field is one error naming it); flags given on
the command line (``--nov``, ``--nsv``, ``--mem``, ...) override its values.
"""

from __future__ import annotations

import argparse
import json

from workloads.errors import ArchsimInputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("pqa", help="PQ accelerator (PQA) vs the DLA baseline: cycles, area, perf/area",
                              description="Run a workload's convs (after the stem) on PQA and on the DLA baseline.")
    p.add_argument("--workload", default="resnet20", help="zoo network or SCALE-Sim topology CSV (default resnet20)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--ls", type=int, default=9, help="subvector length L_s (default 9)")
    p.add_argument("--np", type=int, default=16, dest="np_", help="prototypes per codebook N_p (default 16)")
    p.add_argument("--mem", choices=["ddr", "hbm"], default="ddr", help="external memory (default ddr)")
    p.add_argument("--nov", type=int, help="NUM_OUT_VEC; with --nsv fixes the point instead of the grid search")
    p.add_argument("--nsv", type=int, help="NUM_SUBSPACE_VEC")
    p.add_argument("--proto-bits", type=int, default=8)
    p.add_argument("--lut-bits", type=int, default=16)
    p.add_argument("--distance", choices=["l2", "l1"], default="l2")
    p.add_argument("--pad", action="store_true", help="zero-pad when Ls does not divide C*kh*kw (default: error)")
    p.add_argument("--config", default="pqa", metavar="FILE",
                   help="PQA config YAML (format: archsim/pqa/presets/pqa.yaml; e.g. to raise limits.k_max) "
                        "or a preset name (default pqa)")
    p.add_argument("--layers", action="store_true", help="also print the per-layer table with reasons")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from archsim.cli.workloads_cmd import load_workload
    from archsim.pqa.compare import best_pqa, compare
    from archsim.pqa.config import load_pqa

    if (args.nov is None) != (args.nsv is None):
        raise ArchsimInputError("give both --nov and --nsv (one design point) or neither (the paper's grid)")
    for flag, value in (("--batch", args.batch), ("--ls", args.ls), ("--np", args.np_), ("--nov", args.nov),
                        ("--nsv", args.nsv), ("--proto-bits", args.proto_bits), ("--lut-bits", args.lut_bits)):
        if value is not None and value < 1:
            raise ArchsimInputError(f"{flag} must be a positive integer, got {value}")
    config = getattr(args, "config", "pqa")
    load_pqa(config, memory=args.mem)   # validate --config before the workload is traced
    net = load_workload(args.workload, batch=args.batch)
    kw = dict(proto_bits=args.proto_bits, lut_bits=args.lut_bits, distance=args.distance, pad=args.pad,
              pqa_preset=config)
    if args.nov is not None:
        c = compare(net, args.ls, args.np_, args.mem, nov=args.nov, nsv=args.nsv, **kw)
    else:
        c, _ = best_pqa(net, args.ls, args.np_, args.mem, **kw)
    s = c.summary
    if args.json:
        print(json.dumps(s, indent=1, default=float))
    else:
        print(f"{s['network']}: {s['layers']} PQ layers, Ls={s['ls']} Np={s['np']} {s['memory']}, "
              f"PQA NOV={s['nov']} NSV={s['nsv']} NPV={s['npv']} PLV={s['plv']}")
        print(f"  cycles  PQA paper {s['pqa_cycles_paper']:>8}  SimPy {s['pqa_cycles_sim']:>8}")
        print(f"          DLA paper {s['dla_cycles_paper']:>8}  SimPy {s['dla_cycles_sim']:>8}")
        print(f"  area    FPGA CLB-eq PQA {s['pqa_fpga_area']:.0f} DLA {s['dla_fpga_area']:.0f};  "
              f"ASIC 40 nm PQA {s['pqa_asic_mm2']:.2f} mm2 DLA {s['dla_asic_mm2']:.2f} mm2")
        print(f"  perf/area PQA/DLA: FPGA paper {s['perf_per_area_fpga_paper']:.2f}x, FPGA SimPy "
              f"{s['perf_per_area_fpga_sim']:.2f}x, ASIC SimPy {s['perf_per_area_asic_sim']:.2f}x "
              f"(paper v1: 1.40-2.04x)")
    if args.layers:
        cols = ["layer", "pqa_sim_share", "dla_sim_share", "pqa_bound", "dla_lane_utilisation", "reason"]
        print(c.layers[cols].to_string(index=False))
    return 0
