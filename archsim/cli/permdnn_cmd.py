"""`archsim permdnn layer | report`: PermDNN vs EIE on one FC layer, or the full report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("permdnn", help="PermDNN (permuted-diagonal) vs EIE (CSC sparse) FC engines",
                                   description="Simulate one FC layer on PermDNN and EIE, or write the report.")
    sub = parser.add_subparsers(dest="permdnn_command", metavar="ACTION")
    sub.required = True
    layer = sub.add_parser("layer", help="one FC layer on both engines (JSON row)")
    layer.add_argument("--rows", type=int, required=True, help="outputs m")
    layer.add_argument("--cols", type=int, required=True, help="inputs n")
    layer.add_argument("--act-density", type=float, required=True, help="fraction of non-zero inputs")
    layer.add_argument("--weight-density", type=float, default=0.1, help="EIE's pruned weight density")
    layer.add_argument("--p", type=int, default=None, help="PD block size (default: the choose_p rule)")
    layer.add_argument("--seed", type=int, default=0)
    layer.add_argument("--permdnn-config", default="permdnn", help="preset name or YAML path")
    layer.add_argument("--eie-config", default="eie", help="preset name or YAML path")
    layer.set_defaults(func=_layer)
    rep = sub.add_parser("report", help="the PermDNN vs EIE report (CSV + PNG + README)")
    rep.add_argument("--out", type=Path, default=Path("results/permdnn"))
    rep.add_argument("--seed", type=int, default=0)
    rep.set_defaults(func=_report)


def _layer(args: argparse.Namespace) -> int:
    from archsim.permdnn.compare import compare_layer
    from archsim.permdnn.config import load_config
    from archsim.permdnn.workload import FcLayer

    fc = FcLayer("cli", rows=args.rows, cols=args.cols, act_density=args.act_density,
                 weight_density=args.weight_density, p=args.p)
    row, _, _ = compare_layer(fc, load_config(args.permdnn_config), load_config(args.eie_config), args.seed)
    print(json.dumps({k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}, indent=2))
    return 0


def _report(args: argparse.Namespace) -> int:
    from archsim.permdnn.report import build

    build(args.out, args.seed)
    print(f"wrote {args.out}/README.md")
    return 0
