"""Argument groups several sub-commands share, so the same flag means the same thing everywhere."""

from __future__ import annotations

import argparse

#: The reproduction defaults of the MVQ study (mvq.md §6): 1:4 sparsity, d = 16, k = 256.
DEFAULT_N, DEFAULT_M, DEFAULT_D, DEFAULT_K = 1, 4, 16, 256


def add_compression_args(p: argparse.ArgumentParser, note: str = "") -> None:
    """``--n --m --d --k`` with the study's defaults; ``note`` qualifies each help text (e.g. 'when not swept')."""
    suffix = f" {note}" if note else ""
    p.add_argument("--n", type=int, default=DEFAULT_N, help=f"N of the N:M pattern{suffix} (default {DEFAULT_N})")
    p.add_argument("--m", type=int, default=DEFAULT_M, help=f"M of the N:M pattern{suffix} (default {DEFAULT_M})")
    p.add_argument("--d", type=int, default=DEFAULT_D, help=f"VQ subvector length{suffix} (default {DEFAULT_D})")
    p.add_argument("--k", type=int, default=DEFAULT_K, help=f"VQ codebook size{suffix} (default {DEFAULT_K})")


def compression_argv(args: argparse.Namespace) -> list[str]:
    """The ``--n --m --d --k`` part of a regenerate command, every value spelled out."""
    return ["--n", str(args.n), "--m", str(args.m), "--d", str(args.d), "--k", str(args.k)]
