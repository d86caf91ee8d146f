"""Digits MLP with permuted-diagonal hidden layers: dense vs projected vs trained from scratch.

Why an MLP on scikit-learn digits: it trains in about a second on one CPU thread and its layer
sizes (64 -> 128 -> 128 -> 10) admit p = 2..16 in both PD layers (the 10-way classifier stays
dense: 10 has no useful common divisor with 128). For every block size p and seed it reports:

* ``dense``          -- the trained dense MLP (same for all p);
* ``projected``      -- the dense MLP with fc1 and fc2 replaced by their best PD approximation
                        (`compress.permdiag.structure.project`), no retraining, with the relative
                        projection error of each layer;
* ``projected+ft``   -- that model fine-tuned for ``finetune_epochs`` (structure kept);
* ``scratch``        -- the same MLP built from `PermDiagLinear` and trained from scratch.

It also measures the post-ReLU **activation density** at the input of every FC layer on the test
set (the quantity PermDNN and EIE skip on) and writes those layers as plain JSON for archsim
(``digits_layers.json``: name, rows, cols, p, act_density) -- the compress -> archsim contract is
data, not code.

Run: ``python -m compress.permdiag.experiment --out results/permdnn`` (~30 s on one thread).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from compress.experiments.digits_model import DigitsData, accuracy, load_digits_data
from compress.permdiag.modules import PermDiagLinear
from compress.permdiag.structure import PermDiagStorage

HIDDEN = 128


class DigitsMLP(nn.Module):
    """64 -> hidden -> hidden -> 10 with ReLU; fc1/fc2 dense or PD with block size ``p``."""

    def __init__(self, p: int | None = None, hidden: int = HIDDEN, seed: int = 0) -> None:
        super().__init__()
        if p is None:
            self.fc1, self.fc2 = nn.Linear(64, hidden), nn.Linear(hidden, hidden)
        else:
            self.fc1 = PermDiagLinear(64, hidden, p, seed=seed)
            self.fc2 = PermDiagLinear(hidden, hidden, p, seed=seed + 1)
        self.fc3 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(x.flatten(1)))
        return self.fc3(torch.relu(self.fc2(h)))


def _train(model: nn.Module, data: DigitsData, epochs: int, lr: float, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        model.train()
        for x, y in data.loader(64, seed):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def activation_densities(model: DigitsMLP, x: torch.Tensor) -> dict[str, float]:
    """Fraction of non-zero entries in the input vector of each FC layer (the first one sees pixels)."""
    x = x.flatten(1)
    h1 = torch.relu(model.fc1(x))
    h2 = torch.relu(model.fc2(h1))
    return {name: float((t != 0).float().mean()) for name, t in (("fc1", x), ("fc2", h1), ("fc3", h2))}


def _project(dense: DigitsMLP, p: int) -> tuple[DigitsMLP, float, float]:
    model = DigitsMLP(p)
    model.load_state_dict({k: v for k, v in dense.state_dict().items() if k.startswith("fc3")}, strict=False)
    model.fc1, e1 = PermDiagLinear.from_linear(dense.fc1, p)
    model.fc2, e2 = PermDiagLinear.from_linear(dense.fc2, p)
    return model.eval(), e1, e2


@dataclass(frozen=True)
class ExperimentConfig:
    ps: tuple[int, ...] = (2, 4, 8, 16)
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 40
    finetune_epochs: int = 10
    lr: float = 1e-3


def run(cfg: ExperimentConfig = ExperimentConfig()) -> tuple[pd.DataFrame, list[dict]]:
    """Returns (one row per method x p x seed, the archsim layer list from the seed-0 dense model)."""
    data = load_digits_data()
    rows: list[dict] = []
    layers: list[dict] = []
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        dense = _train(DigitsMLP(None, seed=seed), data, cfg.epochs, cfg.lr, seed)
        dens = activation_densities(dense, data.x_test)
        dense_acc = accuracy(dense, data.x_test, data.y_test)
        rows.append(dict(method="dense", p=1, seed=seed, test_acc=dense_acc, fc1_rel_error=0.0, fc2_rel_error=0.0,
                         pd_weights=64 * HIDDEN + HIDDEN * HIDDEN, **{f"act_density_{k}": v for k, v in dens.items()}))
        for p in cfg.ps:
            pd_weights = PermDiagStorage(HIDDEN, 64, p).weights + PermDiagStorage(HIDDEN, HIDDEN, p).weights
            proj, e1, e2 = _project(dense, p)
            rows.append(dict(method="projected", p=p, seed=seed, test_acc=accuracy(proj, data.x_test, data.y_test),
                             fc1_rel_error=e1, fc2_rel_error=e2, pd_weights=pd_weights,
                             **{f"act_density_{k}": v for k, v in activation_densities(proj, data.x_test).items()}))
            ft = _train(proj, data, cfg.finetune_epochs, cfg.lr, seed)
            rows.append(dict(method="projected+ft", p=p, seed=seed, test_acc=accuracy(ft, data.x_test, data.y_test),
                             fc1_rel_error=e1, fc2_rel_error=e2, pd_weights=pd_weights,
                             **{f"act_density_{k}": v for k, v in activation_densities(ft, data.x_test).items()}))
            scratch = _train(DigitsMLP(p, seed=seed), data, cfg.epochs, cfg.lr, seed)
            sd = activation_densities(scratch, data.x_test)
            rows.append(dict(method="scratch", p=p, seed=seed, test_acc=accuracy(scratch, data.x_test, data.y_test),
                             fc1_rel_error=float("nan"), fc2_rel_error=float("nan"), pd_weights=pd_weights,
                             **{f"act_density_{k}": v for k, v in sd.items()}))
            if seed == cfg.seeds[0] and p == 4:
                layers = [dict(name=f"digits-{n}", rows=r, cols=c, p=pp, act_density=round(sd[n], 4),
                               weight_density=1.0 / pp if pp > 1 else 1.0,
                               source=f"measured: PD (p=4) digits MLP trained from scratch, seed {seed}, "
                                      f"test-set input density of {n}")
                          for n, r, c, pp in (("fc1", HIDDEN, 64, 4), ("fc2", HIDDEN, HIDDEN, 4), ("fc3", 10, HIDDEN, 2))]
    return pd.DataFrame(rows), layers


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and std of test accuracy per method and p, plus the mean projection errors."""
    g = df.groupby(["method", "p"], sort=False)
    out = g.agg(test_acc_mean=("test_acc", "mean"), test_acc_std=("test_acc", "std"),
                fc1_rel_error=("fc1_rel_error", "mean"), fc2_rel_error=("fc2_rel_error", "mean"),
                pd_weights=("pd_weights", "first"), act_density_fc2=("act_density_fc2", "mean"),
                seeds=("seed", "count")).reset_index()
    return out


def plot(summary: pd.DataFrame, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.8))
    ax = fig.subplots()
    dense = summary[summary.method == "dense"].test_acc_mean.iloc[0]
    ax.axhline(dense, color="k", ls="--", label=f"dense ({dense:.3f})")
    for method in ("projected", "projected+ft", "scratch"):
        s = summary[summary.method == method]
        ax.errorbar(s.p, s.test_acc_mean, yerr=s.test_acc_std.fillna(0), marker="o", capsize=3, label=method)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("block size p (fc1, fc2 compressed p x)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Digits MLP 64-128-128-10: permuted-diagonal fc1/fc2", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("results/permdnn"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    df, layers = run(ExperimentConfig(seeds=tuple(range(args.seeds)), epochs=args.epochs))
    df.to_csv(args.out / "digits_permdiag_runs.csv", index=False)
    summary = summarise(df)
    summary.to_csv(args.out / "digits_permdiag.csv", index=False, float_format="%.4f")
    (args.out / "digits_layers.json").write_text(json.dumps(layers, indent=2) + "\n")
    plot(summary, args.out / "digits_permdiag.png")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
