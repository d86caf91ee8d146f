"""Reconstruction error on kept weights: MVQ (masked k-means) vs prune-then-VQ, layer by layer.

Why this measurement: MVQ's claim (mvq.md §1.1-1.4) is that plain k-means after pruning wastes
codebook capacity on the zeros it is told to reproduce, so the weights that are *kept* — the
important ones — are approximated worse. Both methods use the same N:M mask, the same k, d, init
and seed here, so the only difference is the masked distance and update.

Two workloads:

* an untrained torchvision ResNet-50 whose conv and fc weights are replaced by heavy-tailed
  Student-t samples (``df = 3``, seeded, scaled by He-init std ``sqrt(2 / fan_in)``). Heavy tails
  are the case the paper motivates: a few large weights a shared codeword must not average away.
* the trained digits CNN of `compress.experiments.digits` (real trained weights).

The codebook size follows PQF's clamp ``k = min(k, pow2_floor(n_subvectors / 4))`` (a layer with
no more subvectors than codewords would be reproduced exactly by *any* k-means, which measures
nothing).

Run: ``python -m compress.experiments.recon_error --out results/compress``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch
from torch import nn

from compress.config import CompressionConfig
from compress.model import CompressedModel, compress_model
from workloads.errors import ArchsimInputError

#: Degrees of freedom of the Student-t weight samples: df = 3 has finite variance but infinite
#: kurtosis, i.e. clearly heavier tails than the Gaussian/uniform of standard initialisers.
STUDENT_T_DF = 3.0


@dataclass(frozen=True)
class ReconSetup:
    """n, m, d, k: the MVQ geometry (1:4, d=16, k=256 are the MVQ reproduction defaults of mvq.md).
    iterations: k-means iterations (both methods get the same; 20 keeps the ResNet-50 run to about
    two minutes on one core). seed: weight samples and clustering. df: Student-t degrees of freedom
    (integer). threads: torch CPU threads. chunk_size: rows of the distance matrix at once."""

    n: int = 1
    m: int = 4
    d: int = 16
    k: int = 256
    iterations: int = 20
    seed: int = 0
    df: float = STUDENT_T_DF
    threads: int = 1
    chunk_size: int = 32_768

    def config(self, method: str) -> CompressionConfig:
        return CompressionConfig(method=method, n=self.n, m=self.m, d=self.d, k=self.k, iterations=self.iterations,
                                 seed=self.seed, clamp_centroids=True, chunk_size=self.chunk_size)


def heavy_tailed_(model: nn.Module, df: float = STUDENT_T_DF, seed: int = 0) -> nn.Module:
    """Replace every conv/linear weight of ``model`` in place by Student-t(df) samples x sqrt(2/fan_in)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                w = module.weight
                # t = z / sqrt(chi2_df / df); sampled with our generator so the result is seeded
                z = torch.randn(w.shape, generator=gen)
                chi2 = _chi2(df, w.shape, gen)
                t = z / torch.sqrt(chi2 / df)
                fan_in = math.prod(w.shape[1:])
                w.copy_(t * math.sqrt(2.0 / fan_in))
    return model


def _chi2(df: float, shape: torch.Size, gen: torch.Generator) -> torch.Tensor:
    """Chi-square(df) samples drawn from ``gen`` (torch's Gamma sampler only uses the global RNG): for
    an integer df, the sum of df squared standard normals, which is exactly chi-square(df)."""
    if float(df).is_integer():
        return (torch.randn((int(df), *shape), generator=gen) ** 2).sum(0)
    raise ArchsimInputError(f"recon setup: df must be an integer for the seeded sampler, got {df}")


def compare(model: nn.Module, setup: ReconSetup, example_input=None, progress: bool = True) -> pd.DataFrame:
    """Per compressed layer: kept-weight relative error of MVQ and of prune-then-VQ (same mask, k, d)."""
    results: dict[str, CompressedModel] = {}
    seconds = {}
    for method in ("mvq", "prune_vq"):
        t0 = time.perf_counter()
        results[method] = compress_model(model, setup.config(method), example_input, progress=progress)
        seconds[method] = time.perf_counter() - t0
    mvq, pvq = results["mvq"].stats(), results["prune_vq"].stats()
    comp = mvq[mvq["method"] != "dense"]
    frame = pd.DataFrame({
        "shape": comp["shape"], "weights": comp["weights"], "d": comp["d"], "k": comp["k"],
        "mvq_rel_err_kept": comp["rel_err_kept"], "prune_vq_rel_err_kept": pvq.loc[comp.index, "rel_err_kept"],
        "mvq_rel_err_all": comp["rel_err_all"], "prune_vq_rel_err_all": pvq.loc[comp.index, "rel_err_all"],
    })
    frame["kept_err_ratio"] = frame["mvq_rel_err_kept"] / frame["prune_vq_rel_err_kept"]
    frame["mvq_better"] = frame["mvq_rel_err_kept"] < frame["prune_vq_rel_err_kept"]
    frame.attrs["seconds"] = seconds
    return frame.reset_index()


def resnet50_heavy_tailed(setup: ReconSetup) -> nn.Module:
    from torchvision.models import resnet50

    torch.manual_seed(setup.seed)
    return heavy_tailed_(resnet50(weights=None), setup.df, setup.seed).eval()


def summary_lines(name: str, frame: pd.DataFrame) -> list[str]:
    better = int(frame["mvq_better"].sum())
    r = frame["kept_err_ratio"]
    secs = frame.attrs.get("seconds", {})
    return [f"- **{name}**: MVQ's kept-weight error is below prune-then-VQ's on **{better} of {len(frame)}** "
            f"compressed layers. MVQ / prune-then-VQ kept-error ratio: median {r.median():.3f}, "
            f"worst (largest) {r.max():.3f}, best {r.min():.3f}. Mean kept error MVQ "
            f"{frame['mvq_rel_err_kept'].mean():.3f} vs prune-then-VQ {frame['prune_vq_rel_err_kept'].mean():.3f}; "
            f"mean error on all weights (incl. pruning) {frame['mvq_rel_err_all'].mean():.3f} vs "
            f"{frame['prune_vq_rel_err_all'].mean():.3f}. Clustering time MVQ {secs.get('mvq', float('nan')):.0f} s, "
            f"prune-then-VQ {secs.get('prune_vq', float('nan')):.0f} s."]


def run(setup: ReconSetup, out: Path, *, digits: bool = True, progress: bool = True) -> dict[str, pd.DataFrame]:
    """Both comparisons; writes the CSVs, ``recon_section.md`` and the README into ``out``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(setup.threads)
    try:
        return _run(setup, out, digits, progress)
    finally:
        torch.set_num_threads(threads)


def _run(setup: ReconSetup, out: Path, digits: bool, progress: bool) -> dict[str, pd.DataFrame]:
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    frames = {"resnet50": compare(resnet50_heavy_tailed(setup), setup, torch.zeros(1, 3, 224, 224), progress)}
    frames["resnet50"].to_csv(out / "recon_error_resnet50.csv", index=False)
    if digits:
        from compress.experiments.digits_model import load_digits_data, train_cnn

        model = train_cnn(load_digits_data())
        frames["digits"] = compare(model, setup, progress=progress)
        frames["digits"].to_csv(out / "recon_error_digits.csv", index=False)
    wall = time.perf_counter() - t0
    lines = ["## Reconstruction error on kept weights: MVQ vs prune-then-VQ", "",
             "Command: `python -m compress.experiments.recon_error --out results/compress`  ",
             f"Wall time: {wall:.0f} s on {torch.get_num_threads()} CPU thread(s). Setup: "
             + ", ".join(f"{k}={v}" for k, v in asdict(setup).items())
             + " (PQF clamp k = min(k, pow2_floor(n_sub/4)); same mask, k, d, init and seed for both methods).", "",
             "ResNet-50: torchvision architecture, untrained, every conv/fc weight replaced by Student-t "
             f"(df={setup.df:g}) samples x sqrt(2/fan_in), seed {setup.seed}; the first conv (3 input channels) "
             "stays dense. Digits: the small 32/64/64 digits CNN (`SMALL_CHANNELS`, trained with seed 0; the "
             "`--investigate` model of the accuracy experiment).", "",
             "Note: the codebook is int8 with one symmetric scale per layer, so a layer whose Student-t sample "
             "holds an extreme outlier (hundreds of standard deviations) gets a coarse quantisation step for "
             "*both* methods; such layers show the largest MVQ / prune-then-VQ ratios.", ""]
    lines += summary_lines("ResNet-50, Student-t weights (`recon_error_resnet50.csv`)", frames["resnet50"])
    if "digits" in frames:
        lines += summary_lines("digits CNN, trained weights (`recon_error_digits.csv`)", frames["digits"])
        d = frames["digits"]
        lines += ["", "| digits layer | shape | k | MVQ kept err | prune-then-VQ kept err |", "|---|---|---|---|---|"]
        lines += [f"| {r.layer} | {r.shape} | {r.k} | {r.mvq_rel_err_kept:.3f} | {r.prune_vq_rel_err_kept:.3f} |"
                  for r in d.itertuples()]
    lines.append("")
    (out / "recon_section.md").write_text("\n".join(lines))
    from compress.experiments.readme import write_readme

    write_readme(out)
    return frames


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compress.experiments.recon_error",
                                     description="kept-weight reconstruction error, MVQ vs prune-then-VQ")
    parser.add_argument("--out", default="results/compress")
    parser.add_argument("--iterations", type=int, default=ReconSetup.iterations)
    parser.add_argument("--threads", type=int, default=ReconSetup.threads)
    parser.add_argument("--no-digits", action="store_true", help="skip the digits CNN")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        setup = ReconSetup(iterations=args.iterations, threads=args.threads)
        frames = run(setup, Path(args.out), digits=not args.no_digits, progress=not args.no_progress)
    except ArchsimInputError as err:
        print(f"recon_error: error: {err}", file=sys.stderr)
        return 2
    for name, frame in frames.items():
        print("\n".join(summary_lines(name, frame)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
