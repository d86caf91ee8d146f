"""`archsim compress MODEL`: compress a zoo model (or only size it) and print per-layer results.

Without ``--structural`` the model is built (`workloads.zoo.build_model`), clustered with
`compress.compress_model`, and the table shows reconstruction errors, densities and the bit
breakdown of the *model file* (uncompressed layers at fp32, as PQF counts them); the totals give
the whole-model size and the PQF-style compression ratio. With ``--structural`` nothing is
clustered: the zoo network's layer table goes through the same policy
(`compress.traces.structural_traces`) and the table shows the exact *trace* sizes (what the
accelerator fetches: dense layers at the layer's int8 weight precision). ``--out`` writes the
per-layer traces the simulator reads (.json or .parquet) in both modes.

torch is imported only inside the command (archsim itself never needs it).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from workloads.errors import ArchsimInputError

TABLE_COLUMNS = ["method", "shape", "d", "k", "density", "rel_err_kept", "rel_err_all", "codes", "mask", "codebook",
                 "dense", "ratio", "reason"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compress", help="compress a model (MVQ, VQ, prune-then-VQ, N:M) and print per-layer sizes and errors",
        description="Compress a zoo model with N:M pruning and/or (masked) vector quantisation; print a per-layer "
                    "table and totals, optionally write per-layer traces for the simulator.")
    p.add_argument("model", help="zoo model name (see `archsim workloads list`)")
    p.add_argument("--method", default="mvq", help="mvq | vq | prune-vq | nm (default mvq)")
    p.add_argument("--n", type=int, default=1, help="N of N:M: weights kept per group (default 1)")
    p.add_argument("--m", type=int, default=4, help="M of N:M: group size along the input channels (default 4)")
    p.add_argument("--d", type=int, default=16, help="subvector size (default 16; must be a multiple of M)")
    p.add_argument("--k", type=int, default=256, help="codebook entries per layer (default 256)")
    p.add_argument("--mask-encoding", default="bitmap", help="bitmap | combinatorial | index (default bitmap)")
    p.add_argument("--codebook-bits", type=int, default=8, help="bits per codebook value (default 8; 32 = float)")
    p.add_argument("--layout", default="input_channel",
                   help="input_channel (MVQ, default) | kernel (BGD/PQF blocks: R*S*kernel-blocks for RxS convs)")
    p.add_argument("--kernel-blocks", type=int, default=1, help="kernel layout: RxS kernels per block (1 or 2)")
    p.add_argument("--linear-d", type=int, default=None, help="subvector size of linear layers (default --d)")
    p.add_argument("--linear-k", type=int, default=None, help="codebook size of linear layers (default --k)")
    p.add_argument("--clamp-centroids", action="store_true", help="PQF rule k = min(k, pow2_floor(n_sub/4))")
    p.add_argument("--init", default="pqf", help="pqf | kmeans++ (default pqf)")
    p.add_argument("--iterations", type=int, default=20, help="k-means iterations (default 20)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--exclude", action="append", default=[], metavar="NAME",
                   help="keep this layer dense (fnmatch pattern; repeatable)")
    p.add_argument("--compress-first-conv", action="store_true", help="also compress the first conv")
    p.add_argument("--compress-depthwise", action="store_true", help="also compress depthwise convs")
    p.add_argument("--device", default="cpu", help="cpu | cuda (clustering device, default cpu)")
    p.add_argument("--structural", action="store_true",
                   help="no clustering: exact sizes from the layer shapes (fast)")
    p.add_argument("--out", default=None, help="write per-layer traces to this .json or .parquet file")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for clustering (default: this process's free cores, at most 8; "
                        "ARCHSIM_THREADS or OMP_NUM_THREADS also set it; archsim.threads)")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from compress.config import CompressionConfig

    return CompressionConfig(
        method=args.method, n=args.n, m=args.m, d=args.d, k=args.k, codebook_bits=args.codebook_bits,
        mask_encoding=args.mask_encoding, init=args.init, iterations=args.iterations, seed=args.seed,
        layout=args.layout, kernel_blocks=args.kernel_blocks, linear_d=args.linear_d, linear_k=args.linear_k,
        clamp_centroids=args.clamp_centroids, exclude=tuple(args.exclude),
        exclude_first_conv=not args.compress_first_conv, exclude_depthwise=not args.compress_depthwise,
        device=args.device)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # validates every knob before anything heavy runs
    if args.out is not None and Path(args.out).suffix not in (".json", ".parquet"):
        raise ArchsimInputError(f"--out {args.out!r}: use a .json or .parquet suffix")
    if args.out is not None:   # before clustering: an unwritable path fails now, not minutes later
        from archsim.validation import ensure_writable_file

        ensure_writable_file(args.out, "--out")
    if args.structural:
        frame, totals, traces = _structural(args.model, config)
    else:
        from archsim.threads import choose_threads, set_threads

        # deliberate thread count (issue 13.14): the default of one OpenMP thread per visible core
        # oversubscribes a busy machine (ResNet-50: 248 s wall with it, 51 s with one thread)
        set_threads(choose_threads(getattr(args, "threads", None)))
        frame, totals, traces = _clustered(args.model, config, args.out is not None, not args.no_progress)
    if args.out is not None:
        from compress.trace import save_traces

        save_traces(traces, args.out)
        totals["traces_written"] = str(args.out)
    if args.json:
        layers = [{"layer": name, **{k: _plain(v) for k, v in row.items()}} for name, row in frame.iterrows()]
        print(json.dumps({"model": args.model, "config": config.to_dict(), "structural": args.structural,
                          "layers": layers, "totals": {k: _plain(v) for k, v in totals.items()}}, indent=1))
        return 0
    mode = "structural (no clustering)" if args.structural else "clustered"
    print(f"{args.model}: {config.method}, N:M={config.n}:{config.m}, d={config.d}, k={config.k}, "
          f"codebook {config.codebook_bits} b, mask {config.mask_encoding}, layout {config.layout} — {mode}")
    columns = [c for c in TABLE_COLUMNS if c in frame.columns]
    print(frame[columns].to_string(float_format=lambda v: f"{v:.4g}"))
    print("totals: " + ", ".join(f"{k}={_fmt(v)}" for k, v in totals.items()))
    return 0


def _structural(model_name: str, config):
    import pandas as pd

    from compress.traces import plan_network, structural_trace_for, weight_shape
    from workloads.zoo import get_network

    network = get_network(model_name)
    rows, traces = [], []
    for layer, plan in zip(network, plan_network(network, config)):
        trace = structural_trace_for(layer, plan, config)
        traces.append(trace)
        rows.append({"layer": layer.name, "method": plan.method if plan else "dense",
                     "shape": "x".join(map(str, weight_shape(layer) if plan else (layer.in_channels,
                                                                                  layer.out_channels))),
                     "d": trace.d if trace.k else 0, "k": trace.k, "density": trace.density,
                     "codes": trace.code_bits, "mask": trace.mask_bits, "codebook": trace.codebook_bits,
                     "dense": trace.value_bits, "ratio": trace.compression_ratio,
                     "reason": plan.reason if plan else "matmul operand"})
    frame = pd.DataFrame(rows).set_index("layer")
    weights = sum(t.layer.weights for t in traces)
    bits = sum(t.weight_bits_total for t in traces)
    totals = {"layers": len(traces), "compressed": int((frame["method"] != "dense").sum()), "weights": weights,
              "weight_bits": bits, "bias_bits": sum(t.bias_bits for t in traces),
              "weight_ratio_vs_fp32": 32 * weights / max(bits, 1)}
    return frame, totals, traces


def _clustered(model_name: str, config, want_traces: bool, progress: bool):
    from compress.model import compress_model
    from workloads.zoo import build_model

    model, example = build_model(model_name, seed=config.seed)  # seeded: same --seed, same bytes
    compressed = compress_model(model, config, example, progress=progress)
    frame = compressed.stats()
    storage = compressed.storage_bits()
    totals = {"layers": len(frame), "compressed": len(compressed.layers), "params": compressed.n_params,
              **{f"{k}_bits": v for k, v in storage.items()}, "size_MiB": storage["total"] / 8 / 2**20,
              "compression_ratio": compressed.compression_ratio}
    traces = []
    if want_traces:
        from workloads.zoo import get_network

        traces = compressed.traces(get_network(model_name))  # the simulator's table: same module names
    return frame, totals, traces


def _plain(value):
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
