"""The reduced digits experiment (one ratio, one seed, short fine-tuning): matched budgets and who wins.

What is asserted is what the full experiment measured (results/compress/README.md):
* MVQ beats both baselines without fine-tuning at the 26x budget, by a wide margin;
* MVQ beats prune-then-VQ after fine-tuning;
* after fine-tuning MVQ does *not* beat plain VQ at 26x on this small CNN (it trails by a few test
  images); the test pins that it stays within 1.5 points, so a regression shows up.
"""

from __future__ import annotations

import math

import pytest
import torch

from compress.experiments.budget import dense_bits, largest_k_within, planned_bits
from compress.experiments.digits import QUICK, base_config, markdown_table, run_digits, verdict
from compress.experiments.digits_model import DigitsCNN
from compress.experiments.recon_error import ReconSetup, compare
from compress.model import compress_model


@pytest.fixture(scope="module")
def quick():
    return run_digits(QUICK, progress=False)


def _acc(table, method, finetuned):
    row = table[(table["method"] == method) & (table["finetuned"] == finetuned)]
    assert len(row) == 1
    return float(row["test_acc"].iloc[0])


def test_dense_cnn_is_accurate(quick):
    assert quick["dense"]["test_acc"] >= 0.95


def test_no_method_exceeds_the_budget(quick):
    budget = math.floor(dense_bits(quick["model"]) / QUICK.ratios[0])
    cands = quick["candidates"]
    assert (cands["bits_total"] <= budget).all()
    assert (cands["ratio"] >= QUICK.ratios[0]).all()
    assert set(cands["method"]) == {"vq", "prune_vq", "mvq"}


def test_mvq_beats_both_baselines_without_finetuning(quick):
    table = quick["table"]
    mvq = _acc(table, "mvq", False)
    assert mvq >= _acc(table, "vq", False) + 0.05
    assert mvq >= _acc(table, "prune_vq", False) + 0.05


def test_after_finetuning_mvq_beats_prune_then_vq_and_stays_close_to_vq(quick):
    table = quick["table"]
    mvq = _acc(table, "mvq", True)
    assert mvq >= _acc(table, "prune_vq", True)
    assert mvq >= _acc(table, "vq", True) - 0.015
    assert mvq >= 0.95
    assert all(line.startswith("- 26x") for line in verdict(table))
    assert "| MVQ |" in markdown_table(table)


def test_mvq_kept_error_below_prune_then_vq_on_every_layer_of_trained_cnn(quick):
    frame = compare(quick["model"], ReconSetup(), progress=False)
    assert list(frame["layer"]) == ["conv2", "conv3", "fc"]
    assert frame["mvq_better"].all(), frame


def test_largest_k_is_the_largest_within_budget():
    model = DigitsCNN()
    cfg = base_config(QUICK, "vq", 1, 4, 8)
    budget = 80_000
    k = largest_k_within(model, cfg, budget)
    assert planned_bits(model, cfg.replace(k=k))["total"] <= budget < planned_bits(model, cfg.replace(k=k + 1))["total"]
    assert largest_k_within(model, cfg, 100) is None


def test_planned_bits_equal_the_compressed_model(quick):
    model = quick["model"]
    for method in ("vq", "mvq"):
        cfg = base_config(QUICK, method, 2, 4, 16, k=24).replace(iterations=2)
        assert planned_bits(model, cfg) == compress_model(model, cfg, progress=False).storage_bits()


def test_training_is_seeded():
    from compress.experiments.digits_model import load_digits_data, train_cnn

    data = load_digits_data()
    a, b = train_cnn(data, epochs=1, seed=5), train_cnn(data, epochs=1, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
