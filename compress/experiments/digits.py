"""Accuracy of VQ, prune-then-VQ and MVQ at matched model size, on scikit-learn's digits.

Protocol (every choice here is a named field of `DigitsSetup`):

1. Train `DigitsCNN` (seeded) on the training split.
2. For each target compression ratio R (budget = 32-bit model bits / R) and each method, every
   candidate geometry (``d`` for VQ; ``d`` and N:M for prune-then-VQ and MVQ) gets the largest ``k``
   whose *whole* model fits in the budget (`compress.experiments.budget.largest_k_within`). No
   method ever gets more bits than the budget; the actual ratios are reported.
3. Each candidate is compressed (and, separately, fine-tuned with masked-gradient codebook
   fine-tuning, `compress.finetune`) for every seed in ``seeds``.
4. Per (R, method, fine-tuned or not) the geometry with the best *validation* accuracy (mean over
   seeds; ties broken by validation loss) is selected. Its *test* accuracy is what the table and
   plot show. The test set is never used for a choice.

prune-then-VQ stores exactly what MVQ stores (codes, N:M mask, int codebook), so at equal geometry
the two have identical size; they differ only in how the codebook is fitted.

Run: ``python -m compress.experiments.digits --out results/compress`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from compress.config import CompressionConfig
from compress.experiments.budget import dense_bits, largest_k_within, planned_bits
from compress.experiments.digits_model import DigitsCNN, DigitsData, accuracy, load_digits_data, train_cnn
from compress.finetune import FinetuneConfig, finetune_codebooks
from compress.model import compress_model
from workloads.errors import ArchsimInputError

METHODS = ("vq", "prune_vq", "mvq")
LABELS = {"vq": "VQ", "prune_vq": "prune-then-VQ", "mvq": "MVQ"}


@dataclass(frozen=True)
class DigitsSetup:
    """Every knob of the experiment.

    ratios: target whole-model compression ratios (32-bit params / total bits, PQF accounting with
        fp32 first conv, biases and BN affine parameters).
    vq_d: subvector sizes tried for plain VQ.
    masked_geometries: (N, M, d) tried for prune-then-VQ and MVQ (M must divide d).
    mask_encoding: how the N:M mask is stored; ``combinatorial`` = ceil(log2 C(M,N)) bits per
        group (2 bits for 1:4, 3 bits for 2:4), the smallest exact encoding.
    codebook_bits: integer width of every codebook value (8 = MVQ's int8 codebook [S1]).
    iterations, init: k-means iterations and initialisation (``pqf`` or ``kmeans++``).
    train_epochs, train_lr, batch_size: training of the dense CNN.
    finetune_epochs, finetune_lr: masked-gradient codebook fine-tuning (Adam, cosine to 1e-6;
        BN and the dense first conv / biases train too).
    seeds: clustering + fine-tuning seeds; accuracies are means over them.
    model_seed, data_seed: seeds of the dense training and of the data split.
    threads: torch CPU threads. 1 by default: these layers are too small to gain from a second
        thread, and on a shared 2-core machine two OpenMP threads ran 5x *slower* than one.
    """

    ratios: tuple[float, ...] = (12.0, 18.0, 26.0)
    vq_d: tuple[int, ...] = (4, 8, 16, 32)
    masked_geometries: tuple[tuple[int, int, int], ...] = ((1, 4, 4), (1, 4, 8), (1, 4, 16), (1, 4, 32),
                                                           (2, 4, 4), (2, 4, 8), (2, 4, 16), (2, 4, 32))
    mask_encoding: str = "combinatorial"
    codebook_bits: int = 8
    iterations: int = 30
    init: str = "pqf"
    train_epochs: int = 15
    train_lr: float = 1e-3
    batch_size: int = 64
    finetune_epochs: int = 5
    finetune_lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)
    model_seed: int = 0
    data_seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        if not self.ratios or any(not (isinstance(r, (int, float)) and r > 1) for r in self.ratios):
            raise ArchsimInputError(f"digits setup: ratios must be numbers > 1, got {self.ratios!r}")
        if not self.seeds:
            raise ArchsimInputError("digits setup: seeds must name at least one seed")
        for n, m, d in self.masked_geometries:
            if not (1 <= n < m and d % m == 0):
                raise ArchsimInputError(f"digits setup: masked geometry (N={n}, M={m}, d={d}) needs N < M and M | d")


#: A reduced setup for smoke runs and tests: the highest ratio only, fewer candidates, one seed,
#: shorter fine-tuning.
QUICK = DigitsSetup(ratios=(26.0,), vq_d=(4, 8, 16, 32), masked_geometries=((1, 4, 8), (1, 4, 16), (1, 4, 32), (2, 4, 16)),
                    iterations=20, finetune_epochs=3, seeds=(0,))


@dataclass
class Candidate:
    """One (ratio, method, geometry) point with its size and per-seed accuracies."""

    ratio_target: float
    method: str
    n: int
    m: int
    d: int
    k: int
    bits: dict[str, int]
    ratio: float
    results: list[dict] = field(default_factory=list)


def base_config(setup: DigitsSetup, method: str, n: int, m: int, d: int, k: int = 2, seed: int = 0) -> CompressionConfig:
    """The compression config of one candidate (first conv dense; everything else compressed)."""
    return CompressionConfig(method=method, n=n, m=m, d=d, k=k, mask_encoding=setup.mask_encoding,
                             codebook_bits=setup.codebook_bits, iterations=setup.iterations, init=setup.init,
                             seed=seed)


def geometries(setup: DigitsSetup, method: str) -> list[tuple[int, int, int]]:
    if method == "vq":
        return [(1, 4, d) for d in setup.vq_d]  # n, m unused by VQ
    return list(setup.masked_geometries)


@torch.no_grad()
def _val_loss(model: nn.Module, data: DigitsData) -> float:
    model.eval()
    return float(nn.functional.cross_entropy(model(data.x_val), data.y_val))


def _evaluate(model: nn.Module, data: DigitsData) -> dict[str, float]:
    return {"val_acc": accuracy(model, data.x_val, data.y_val), "val_loss": _val_loss(model, data),
            "test_acc": accuracy(model, data.x_test, data.y_test)}


def evaluate_candidate(model: nn.Module, data: DigitsData, cand: Candidate, setup: DigitsSetup,
                       seed: int) -> list[dict]:
    """Compress ``model`` as ``cand`` with ``seed``; evaluate before and after fine-tuning."""
    config = base_config(setup, cand.method, cand.n, cand.m, cand.d, cand.k, seed)
    t0 = time.perf_counter()
    cm = compress_model(model, config, progress=False)
    actual = cm.storage_bits()["total"]
    if actual != cand.bits["total"]:  # the plan is exact by construction; a mismatch is a bug
        raise AssertionError(f"planned {cand.bits['total']} bits but compression produced {actual}")
    stats = cm.stats()
    comp = stats[stats["method"] != "dense"]
    errs = {"rel_err_kept": float(comp["rel_err_kept"].mean()), "rel_err_all": float(comp["rel_err_all"].mean())}
    t1 = time.perf_counter()
    rows = [{"finetuned": False, "seed": seed, **_evaluate(cm.apply(), data), **errs, "seconds": t1 - t0}]
    ft = finetune_codebooks(cm, data.loader(setup.batch_size, seed), config=FinetuneConfig(
        epochs=setup.finetune_epochs, lr=setup.finetune_lr, seed=seed, progress=False))
    ft_stats = ft.compressed.stats()
    ft_comp = ft_stats[ft_stats["method"] != "dense"]
    ft_errs = {"rel_err_kept": float(ft_comp["rel_err_kept"].mean()),
               "rel_err_all": float(ft_comp["rel_err_all"].mean())}
    rows.append({"finetuned": True, "seed": seed, **_evaluate(ft.module, data), **ft_errs,
                 "seconds": time.perf_counter() - t1})
    return rows


def plan_candidates(model: nn.Module, setup: DigitsSetup) -> list[Candidate]:
    """Every (ratio, method, geometry) with the largest k that fits the ratio's budget."""
    full = dense_bits(model)
    out = []
    for ratio in setup.ratios:
        budget = math.floor(full / ratio)
        for method in METHODS:
            for n, m, d in geometries(setup, method):
                config = base_config(setup, method, n, m, d)
                k = largest_k_within(model, config, budget)
                if k is None:
                    continue
                bits = planned_bits(model, config.replace(k=k))
                out.append(Candidate(ratio, method, n if method != "vq" else 1, m if method != "vq" else 1, d, k,
                                     bits, full / bits["total"]))
    return out


def candidate_frame(cands: Sequence[Candidate]) -> pd.DataFrame:
    rows = []
    for c in cands:
        for r in c.results:
            rows.append({"ratio_target": c.ratio_target, "method": c.method, "n": c.n, "m": c.m, "d": c.d, "k": c.k,
                         "ratio": c.ratio, "bits_total": c.bits["total"], "bits_codes": c.bits["codes"],
                         "bits_mask": c.bits["mask"], "bits_codebook": c.bits["codebook"],
                         "bits_dense_other": c.bits["dense"] + c.bits["bias"] + c.bits["other"], **r})
    return pd.DataFrame(rows)


def select(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (ratio, method, finetuned): the geometry with the best mean validation accuracy (ties:
    lowest mean validation loss). Test accuracy is averaged over seeds but never used to choose."""
    keys = ["ratio_target", "method", "finetuned", "n", "m", "d", "k"]
    agg = (frame.groupby(keys, as_index=False)
           .agg(ratio=("ratio", "first"), bits_total=("bits_total", "first"), bits_codes=("bits_codes", "first"),
                bits_mask=("bits_mask", "first"), bits_codebook=("bits_codebook", "first"),
                bits_dense_other=("bits_dense_other", "first"), val_acc=("val_acc", "mean"),
                val_loss=("val_loss", "mean"), test_acc=("test_acc", "mean"), test_acc_std=("test_acc", "std"),
                rel_err_kept=("rel_err_kept", "mean"), rel_err_all=("rel_err_all", "mean"),
                seeds=("seed", "count")))
    agg["test_acc_std"] = agg["test_acc_std"].fillna(0.0)
    agg = agg.sort_values(["ratio_target", "method", "finetuned", "val_acc", "val_loss"],
                          ascending=[True, True, True, False, True])
    best = agg.groupby(["ratio_target", "method", "finetuned"], as_index=False).head(1)
    order = {m: i for i, m in enumerate(METHODS)}
    return (best.assign(_o=best["method"].map(order)).sort_values(["ratio_target", "finetuned", "_o"])
            .drop(columns="_o").reset_index(drop=True))


def run_digits(setup: DigitsSetup = DigitsSetup(), *, progress: bool = True) -> dict:
    """Run the whole experiment; returns frames, the dense accuracy and timings (nothing is written)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(setup.threads)
    try:
        return _run(setup, progress)
    finally:
        torch.set_num_threads(threads)


def _run(setup: DigitsSetup, progress: bool) -> dict:
    t0 = time.perf_counter()
    data = load_digits_data(seed=setup.data_seed)
    model = train_cnn(data, epochs=setup.train_epochs, lr=setup.train_lr, batch_size=setup.batch_size,
                      seed=setup.model_seed)
    t_train = time.perf_counter() - t0
    dense = _evaluate(model, data)
    cands = plan_candidates(model, setup)
    from tqdm.auto import tqdm

    work = [(c, s) for c in cands for s in setup.seeds]
    for cand, seed in tqdm(work, desc="digits candidates", disable=not progress):
        cand.results.extend(evaluate_candidate(model, data, cand, setup, seed))
    frame = candidate_frame(cands)
    return {"setup": setup, "model": model, "data": data, "dense": dense, "candidates": frame,
            "table": select(frame), "train_seconds": t_train, "total_seconds": time.perf_counter() - t0,
            "threads": torch.get_num_threads()}


# ---- outputs ---------------------------------------------------------------------------------------
def plot_accuracy(table: pd.DataFrame, dense_acc: float, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"vq": "tab:blue", "prune_vq": "tab:orange", "mvq": "tab:green"}
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method in METHODS:
        for ft, style in ((True, "-"), (False, "--")):
            part = table[(table["method"] == method) & (table["finetuned"] == ft)].sort_values("ratio")
            if part.empty:
                continue
            ax.errorbar(part["ratio"], 100 * part["test_acc"], yerr=100 * part["test_acc_std"], color=colours[method],
                        linestyle=style, marker="o" if ft else "x", capsize=3,
                        label=f"{LABELS[method]} ({'fine-tuned' if ft else 'no fine-tuning'})")
    ax.axhline(100 * dense_acc, color="grey", linewidth=0.8, linestyle=":", label="dense fp32")
    ax.set_xlabel("whole-model compression ratio (x, vs fp32)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("digits CNN: accuracy at matched model size")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def markdown_table(table: pd.DataFrame) -> str:
    lines = ["| target | method | fine-tuned | N:M | d | k | bits | actual ratio | test acc (mean ± std) | val acc | "
             "rel err kept | rel err all |", "|" + "---|" * 12]
    for _, r in table.iterrows():
        nm = f"{r['n']}:{r['m']}" if r["method"] != "vq" else "—"
        lines.append(f"| {r['ratio_target']:g}x | {LABELS[r['method']]} | {'yes' if r['finetuned'] else 'no'} | {nm} | "
                     f"{r['d']} | {r['k']} | {r['bits_total']:,} | {r['ratio']:.2f}x | "
                     f"{100 * r['test_acc']:.2f} ± {100 * r['test_acc_std']:.2f} | {100 * r['val_acc']:.2f} | "
                     f"{r['rel_err_kept']:.3f} | {r['rel_err_all']:.3f} |")
    return "\n".join(lines)


def verdict(table: pd.DataFrame) -> list[str]:
    """One line per (ratio, fine-tuned): does MVQ beat both baselines on test accuracy?"""
    out = []
    for (ratio, ft), part in table.groupby(["ratio_target", "finetuned"]):
        acc = dict(zip(part["method"], part["test_acc"]))
        if not all(m in acc for m in METHODS):
            out.append(f"- {ratio:g}x, {'fine-tuned' if ft else 'not fine-tuned'}: a method had no candidate in budget")
            continue
        wins = acc["mvq"] > acc["vq"] and acc["mvq"] > acc["prune_vq"]
        out.append(f"- {ratio:g}x, {'fine-tuned' if ft else 'not fine-tuned'}: MVQ {100 * acc['mvq']:.2f}% vs "
                   f"VQ {100 * acc['vq']:.2f}% and prune-then-VQ {100 * acc['prune_vq']:.2f}% -> "
                   f"{'MVQ best' if wins else 'MVQ NOT best'}")
    return out


def versions() -> dict[str, str]:
    import matplotlib
    import sklearn

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "pandas": pd.__version__, "scikit-learn": sklearn.__version__, "matplotlib": matplotlib.__version__}


def write_outputs(result: dict, out: Path, command: str) -> dict[str, Path]:
    """CSV + PNG + a README section (the README itself is assembled by `compress.experiments.readme`)."""
    out.mkdir(parents=True, exist_ok=True)
    table: pd.DataFrame = result["table"]
    paths = {"table": out / "digits_accuracy.csv", "candidates": out / "digits_candidates.csv",
             "plot": out / "digits_accuracy.png", "section": out / "digits_section.md"}
    table.to_csv(paths["table"], index=False)
    result["candidates"].to_csv(paths["candidates"], index=False)
    plot_accuracy(table, result["dense"]["test_acc"], paths["plot"])
    setup: DigitsSetup = result["setup"]
    dense = result["dense"]
    text = [
        "## Accuracy at matched model size (digits CNN)",
        "",
        f"Command: `{command}`  ",
        f"Wall time: {result['total_seconds']:.0f} s on {result['threads']} CPU thread(s) "
        f"(dense training {result['train_seconds']:.1f} s). Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".",
        "",
        f"Dense fp32 CNN: test accuracy {100 * dense['test_acc']:.2f}%, validation {100 * dense['val_acc']:.2f}% "
        f"({len(result['data'].y_test)} test / {len(result['data'].y_val)} validation / "
        f"{len(result['data'].y_train)} training images; one test image = {100 / len(result['data'].y_test):.2f} points).",
        "",
        "Selected configuration per (target ratio, method, fine-tuned) — chosen on validation accuracy, "
        f"test accuracy averaged over seeds {list(setup.seeds)}:",
        "",
        markdown_table(table),
        "",
        "Verdict (test accuracy of the selected configurations):",
        "",
        *verdict(table),
        "",
        "How to read it: differences of one or two test images (0.2-0.4 points) are within the seed-to-seed "
        "spread shown as ± std. Every candidate (all geometries, all seeds, with validation and test accuracy "
        "and the bit breakdown) is in `digits_candidates.csv`; prune-then-VQ and MVQ at the same N:M/d/k have "
        "identical size.",
        "",
        "Setup: " + ", ".join(f"{k}={v}" for k, v in asdict(setup).items()) + ".",
        "",
    ]
    paths["section"].write_text("\n".join(text))
    return paths


#: Variants of the investigation run at the ratio where MVQ did not win after fine-tuning. Each
#: changes one knob for *all* methods (the N:M variant only adds masked candidates; VQ is unchanged).
INVESTIGATION: dict[str, dict] = {
    "default": {},
    "fine-tune 10 epochs": {"finetune_epochs": 10},
    "k-means 60 iterations": {"iterations": 60},
    "k-means++ init": {"init": "kmeans++"},
    "+ 1:8 and 2:8 masks": {"masked_geometries": DigitsSetup().masked_geometries
                            + ((1, 8, 16), (1, 8, 32), (2, 8, 16), (2, 8, 32))},
}


def investigate(ratio: float = 26.0, *, progress: bool = True) -> pd.DataFrame:
    """Re-run one ratio under each `INVESTIGATION` variant; one row per (variant, method, fine-tuned)."""
    frames = []
    for label, changes in INVESTIGATION.items():
        setup = DigitsSetup(**{**asdict(DigitsSetup()), "ratios": (ratio,), **changes})
        result = run_digits(setup, progress=progress)
        frames.append(result["table"].assign(variant=label))
    return pd.concat(frames, ignore_index=True)


def investigation_section(frame: pd.DataFrame, ratio: float, seconds: float) -> str:
    lines = [f"### Investigation at {ratio:g}x: does any knob change the ranking?", "",
             f"Command: `python -m compress.experiments.digits --investigate --out results/compress` "
             f"({seconds:.0f} s). Each variant changes one knob for every method; selection is again on "
             "validation accuracy, test accuracy is the mean over the seeds.", "",
             "| variant | fine-tuned | VQ | prune-then-VQ | MVQ | MVQ config | MVQ best? |", "|---|---|---|---|---|---|---|"]
    for (variant, ft), part in frame.groupby(["variant", "finetuned"], sort=False):
        acc = dict(zip(part["method"], part["test_acc"]))
        row = part[part["method"] == "mvq"].iloc[0]
        best = acc["mvq"] > acc["vq"] and acc["mvq"] > acc["prune_vq"]
        lines.append(f"| {variant} | {'yes' if ft else 'no'} | {100 * acc['vq']:.2f} | {100 * acc['prune_vq']:.2f} | "
                     f"{100 * acc['mvq']:.2f} | {row['n']}:{row['m']} d={row['d']} k={row['k']} ({row['ratio']:.2f}x) | "
                     f"{'yes' if best else 'no'} |")
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m compress.experiments.digits", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one ratio, fewer candidates, one seed (smoke run)")
    parser.add_argument("--out", default="results/compress", help="output folder (default results/compress)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the setup's 1)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--investigate", action="store_true",
                        help="re-run the 26x ratio under the INVESTIGATION variants (writes digits_investigation.*)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup = QUICK if args.quick else DigitsSetup()
    if args.threads is not None:
        if args.threads < 1:
            print("digits: error: --threads must be >= 1", file=sys.stderr)
            return 2
        setup = DigitsSetup(**{**asdict(setup), "threads": args.threads})
    if args.investigate:
        t0 = time.perf_counter()
        frame = investigate(progress=not args.no_progress)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out / "digits_investigation.csv", index=False)
        (out / "digits_investigation_section.md").write_text(
            investigation_section(frame, 26.0, time.perf_counter() - t0))
        from compress.experiments.readme import write_readme

        write_readme(out)
        print((out / "digits_investigation_section.md").read_text())
        return 0
    command = "python -m compress.experiments.digits" + (" --quick" if args.quick else "") + f" --out {args.out}"
    try:
        result = run_digits(setup, progress=not args.no_progress)
    except ArchsimInputError as err:
        print(f"digits: error: {err}", file=sys.stderr)
        return 2
    paths = write_outputs(result, Path(args.out), command)
    from compress.experiments.readme import write_readme

    write_readme(Path(args.out))
    print(markdown_table(result["table"]))
    print("\n".join(verdict(result["table"])))
    print(f"wrote {', '.join(str(p) for p in paths.values())} in {result['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
