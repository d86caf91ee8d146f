"""`archsim workloads list | show NAME`: look at the layer tables the simulator runs."""

from __future__ import annotations

import argparse
import json
import sys

from workloads.errors import ArchsimInputError

SHOW_COLUMNS = ["kind", "in_channels", "out_channels", "in_h", "in_w", "kernel", "stride", "padding", "groups",
                "out_h", "out_w", "macs", "weights"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("workloads", help="list networks and show their layer tables",
                                   description="List the built-in networks or show one network's layer table.")
    sub = parser.add_subparsers(dest="workloads_command", metavar="ACTION")
    sub.required = True

    lst = sub.add_parser("list", help="list built-in networks")
    lst.set_defaults(func=_list)

    show = sub.add_parser("show", help="per-layer dims, MACs and parameters of a network, then totals")
    show.add_argument("name", help="network name (see `archsim workloads list`) or a SCALE-Sim topology .csv path")
    show.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    show.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), help="input height and width")
    fmt = show.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object: name, layers, totals")
    fmt.add_argument("--csv", action="store_true", help="the full per-layer table as CSV")
    fmt.add_argument("--scalesim", choices=["conv", "gemm"], help="SCALE-Sim v3 topology CSV (conv or GEMM form)")
    show.set_defaults(func=_show)


def load_workload(name: str, batch: int = 1, input_size: tuple[int, int] | None = None):
    """A zoo network by name, or a SCALE-Sim topology CSV by path."""
    if batch < 1:
        raise ArchsimInputError(f"--batch must be a positive integer, got {batch}")
    if name.endswith(".csv"):
        from workloads.scalesim import from_scalesim_csv

        if input_size is not None:
            raise ArchsimInputError("--input-size does not apply to a topology CSV (its rows fix the sizes)")
        return from_scalesim_csv(name).with_batch(batch)
    from workloads.zoo import get_network

    return get_network(name, batch=batch, input_size=tuple(input_size) if input_size else None)


def _list(args: argparse.Namespace) -> int:
    from workloads.zoo import describe_networks

    for name, description in describe_networks().items():
        print(f"{name:20s} {description}")
    return 0


def _show(args: argparse.Namespace) -> int:
    net = load_workload(args.name, args.batch, args.input_size)
    if args.scalesim:
        from workloads.scalesim import to_scalesim_csv

        sys.stdout.write(to_scalesim_csv(net, form=args.scalesim))
        return 0
    frame = net.to_frame()
    totals = net.totals()
    if args.json:
        layers = [{"name": name, **{k: _plain(v) for k, v in row.items()}} for name, row in frame.iterrows()]
        print(json.dumps({"name": net.name, "batch": net.batch, "input_shape": list(net.input_shape),
                          "notes": net.notes, "layers": layers, "totals": totals}, indent=1))
        return 0
    if args.csv:
        sys.stdout.write(frame.to_csv())
        return 0
    shape = "x".join(str(s) for s in net.input_shape) if net.input_shape else "?"
    print(f"{net.name}: {len(net)} layers, input {shape}, batch {net.batch}")
    if net.notes:
        print(f"note: {net.notes}")
    table = frame[SHOW_COLUMNS].copy()
    print(table.to_string(formatters={"macs": "{:,}".format, "weights": "{:,}".format}))
    print(f"\ntotal: {totals['macs']:,} MACs ({totals['macs'] / 1e9:.3f} G), {totals['weights']:,} layer weights, "
          f"{totals['params']:,} parameters (incl. biases and {net.extra_params:,} outside modelled layers)")
    if net.skipped_ops:
        print("not modelled: " + ", ".join(f"{op} x{n}" for op, n in net.skipped_ops.items()))
    return 0


def _plain(value):
    return value.item() if hasattr(value, "item") else value
