"""`archsim run --functional`: real numbers through resnet20's mapped schedules, checked against torch
and the timing model; corrupted decode / counters make it fail; bad input is one line, exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archsim.cli.main import main
from archsim.functional.check import select_layers
from workloads.errors import ArchsimInputError
from workloads.layer import conv2d, matmul
from workloads.network import Network


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["run", "--workload", "resnet20", "--functional", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("design,fmt,ratio", [("mvq", "mvq", 0.25), ("s2ta-w", "nm", 0.25), ("ews", "dense", 1.0)])
def test_resnet20_every_layer_matches(capsys, design, fmt, ratio):
    """All 20 layers on the full-size preset: exact equality with torch, counters = timing events."""
    rc, out, err = _run(capsys, "--design", design, "--json")
    assert rc == 0 and not err
    res = json.loads(out)
    assert res["ok"] and len(res["layers"]) == 20 and res["skipped"] == {}
    for layer in res["layers"]:
        assert layer["match"] and layer["max_abs_diff"] == 0 and layer["counts_agree"] and not layer["psum_overflow"]
        names = {c["name"]: c for c in layer["counts"]}
        assert names["executed MACs"]["compared"] and names["mux selects"]["compared"]
        assert names["executed MACs"]["functional"] == layer["macs_executed"]
    body = [x for x in res["layers"] if x["layer"] != "conv1"]
    assert {x["weight_format"] for x in body} == {fmt}
    assert all(x["ratio"] == ratio for x in body)
    conv1 = res["layers"][0]                             # the policy keeps the first conv dense
    assert conv1["weight_format"] == "dense"
    assert conv1["array"] == ("dense fallback" if design in ("mvq", "s2ta-w") else "dense")
    if design == "mvq":                                  # whole-subvector folds: lookups and LZC decodes compared
        for x in body:
            counts = {c["name"]: c for c in x["counts"]}
            assert counts["codebook lookups"]["compared"] and counts["codebook lookups"]["functional"] > 0
            assert counts["mask decodes"]["compared"] and counts["mask decodes"]["functional"] > 0
            assert counts["mux selects"]["functional"] == x["macs_issued"] > 0


def test_text_table_and_small_array(capsys):
    """A shrunken sparse array folds the layers many times; the text report has one row per layer."""
    rc, out, err = _run(capsys, "--design", "mvq", "--iso", "pes", "--rows", "8", "--cols", "8", "--layers",
                        "layer3.0.conv2,fc", "--seed", "3")     # 8 physical PE rows (iso-PE)
    assert rc == 0 and not err
    rows = [line for line in out.splitlines() if line.startswith(("layer3.0.conv2", "fc "))]
    assert len(rows) == 2 and all(" yes " in r and r.rstrip().endswith("yes") for r in rows)
    assert "16 " in rows[0]                              # 64x64x3x3 at 1:4 on 8 rows: 2 row x 8 column folds
    assert out.strip().splitlines()[-1].startswith("OK: 2/2 layers match")


def test_vq_on_dense_array_reports_uncompared_lookups(capsys):
    """ews-c on 8 rows: folds split subvectors in the dense order, so lookups are not compared — and said so."""
    rc, out, _ = _run(capsys, "--design", "ews-c", "--rows", "8", "--cols", "8", "--layers", "layer2.0.conv2")
    assert rc == 0
    assert "not compared on some layers: codebook lookups (a fold splits a subvector" in out


def test_seed_is_reproducible(capsys):
    a = _run(capsys, "--design", "s2ta-w", "--layers", "layer1.0.conv1", "--json", "--seed", "5")
    b = _run(capsys, "--design", "s2ta-w", "--layers", "layer1.0.conv1", "--json", "--seed", "5")
    assert a == b and a[0] == 0


def test_corrupted_lzc_decode_exits_1(capsys, monkeypatch):
    """A wrong mask decoder (each kept position shifted by one inside its window) must be caught."""
    import archsim.functional.decode as decode

    real = decode.lzc_decode

    def shifted(bits, n):
        pos = real(bits, n)
        return np.where(pos >= 0, (pos + 1) % bits.shape[-1], pos)

    monkeypatch.setattr(decode, "lzc_decode", shifted)
    rc, out, err = _run(capsys, "--design", "mvq", "--layers", "layer1.0.conv1,fc")
    assert rc == 1 and not err
    assert out.strip().splitlines()[-1].startswith("FAILED: 0/2 layers match")
    res_rc, res_out, _ = _run(capsys, "--design", "mvq", "--layers", "fc", "--json")
    res = json.loads(res_out)
    assert res_rc == 1 and not res["ok"] and res["mismatches"] == ["fc"] and res["layers"][0]["max_abs_diff"] > 0


def test_corrupted_codebook_decode_exits_1(capsys, monkeypatch):
    """A loader that reads the neighbouring codeword on the dense array (ews-c) is caught too."""
    import archsim.functional.decode as decode
    from archsim.functional.weights import VQWeights

    real = decode.WeightLoader.dense_block

    def wrong_codeword(self, *args):
        if isinstance(self.weights, VQWeights):
            w = self.weights
            object.__setattr__(w, "codes", (w.codes + 1) % w.k)
        return real(self, *args)

    monkeypatch.setattr(decode.WeightLoader, "dense_block", wrong_codeword)
    rc, out, _ = _run(capsys, "--design", "ews-c", "--layers", "layer1.0.conv1")
    assert rc == 1 and "FAILED" in out


def test_counter_disagreement_exits_1(capsys, monkeypatch):
    """Right numbers but a miscounted mux select: the count comparison fails the run."""
    import archsim.functional.api as fapi

    real = fapi.execute

    def miscount(*args, **kwargs):
        out, counts, records, overflow = real(*args, **kwargs)
        counts.mux_selects += 1
        return out, counts, records, overflow

    monkeypatch.setattr(fapi, "execute", miscount)
    rc, out, _ = _run(capsys, "--design", "mvq", "--layers", "layer1.0.conv1")
    assert rc == 1
    assert "count mismatch: layer1.0.conv1: mux selects" in out
    assert out.strip().splitlines()[-1] == ("FAILED: 1/1 layers match torch exactly, 0/1 agree with the timing "
                                            "model's counts")


@pytest.mark.parametrize("argv,needle", [
    (["--design", "mvq", "--layers", "nope"], "no layer(s) ['nope']"),
    (["--design", "mvq", "--max-macs", "0"], "--max-macs must be a positive"),
    (["--design", "mvq", "--max-macs=-5e6"], "--max-macs must be a positive"),
    (["--design", "mvq", "--max-macs", "lots"], "--max-macs must be a positive"),
    (["--design", "sparten", "--layers", "layer1.0.conv1", "--max-macs", "1000"], "give --full"),
    (["--design", "mvq", "--layers", "fc,,conv1"], "empty layer name"),
    (["--design", "mvq", "--traces", "t.json"], "--traces does not apply with --functional"),
    (["--design", "mvq", "--seed", "-1"], "--seed must be a non-negative"),
    (["--design", "mvq", "--m", "3", "--n", "1"], "M=3 must divide d=16"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, needle):
    rc, out, err = _run(capsys, *argv)
    assert rc == 2 and not out
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_functional_only_flags_without_functional(capsys):
    rc = main(["run", "--workload", "resnet20", "--design", "ws", "--seed", "1"])
    _, err = capsys.readouterr()
    assert rc == 2 and "--seed applies only with --functional" in err and len(err.strip().splitlines()) == 1


def test_matmul_layers(tmp_path, capsys):
    """A matmul has no stored weight: named, it is refused; by default it is skipped and named."""
    csv = tmp_path / "gemm.csv"
    csv.write_text("Layer, M, N, K,\nqk, 16, 16, 32,\n")
    for extra in ([], ["--layers", "qk"]):
        rc = main(["run", "--workload", str(csv), "--design", "ws", "--functional", *extra])
        out, err = capsys.readouterr()
        assert rc == 2 and not out and len(err.strip().splitlines()) == 1 and "matmul" in err
    net = Network(name="mixed", layers=(conv2d("c", 8, 8, (6, 6), 3, padding=1), matmul("qk", 4, 8, 4)),
                  input_shape=(1, 8, 6, 6))
    picked, skipped = select_layers(net, None, 10 ** 6)
    assert [x.name for x in picked] == ["c"] and skipped == {"matmul": ("qk",)}
    with pytest.raises(ArchsimInputError, match="matmul"):
        select_layers(net, ["qk"], 10 ** 6)


def test_default_selection_samples_large_layers_and_skips_none(capsys):
    """--max-macs is the per-layer budget: larger layers are checked on sampled positions, none skipped."""
    rc, out, _ = _run(capsys, "--design", "ews", "--max-macs", "2e6")
    assert rc == 0 and not any(line.startswith("skipped:") for line in out.splitlines())
    assert any(line.startswith("sampled: 16 layer(s)") for line in out.splitlines())
    assert out.strip().splitlines()[-1].startswith("OK: 20/20 layers match torch exactly (16 on sampled positions)")


def test_sparten_over_budget_is_skipped_and_partial(capsys):
    """SparTen cannot sample: its large layers are skipped by name, the last line says PARTIAL, exit 3."""
    from archsim.functional.check import EXIT_PARTIAL

    rc, out, _ = _run(capsys, "--design", "sparten", "--max-macs", "2e6")
    assert rc == EXIT_PARTIAL == 3
    assert any(line.startswith("skipped: over --max-macs 2,000,000") for line in out.splitlines())
    assert out.strip().splitlines()[-1].startswith("PARTIAL: 4/4 layers match torch exactly")


@pytest.mark.parametrize("extra", [["--m", "8"], ["--method", "vq"], ["--method", "prune_vq", "--d", "8", "--k", "32"]])
def test_compression_overrides_on_the_sparse_array(capsys, extra):
    """Sparser weights than the array (1:8 on 1:4), VQ on the sparse array (dense fallback), other d/k."""
    rc, out, _ = _run(capsys, "--design", "mvq", "--rows", "16", "--cols", "8", "--layers",
                      "conv1,layer2.0.conv1,fc", "--json", *extra)
    res = json.loads(out)
    assert rc == 0 and res["ok"]
    fc = res["layers"][2]
    if extra[1] == "8":
        assert fc["ratio"] == 1 / 8 and fc["array"] == "sparse 1:4" and fc["macs_issued"] == 640 // 4
    elif extra[1] == "vq":
        assert fc["weight_format"] == "vq" and fc["array"] == "dense fallback" and fc["ratio"] == 1
    else:
        assert fc["weight_format"] == "mvq" and fc["ratio"] == 0.25


def test_check_module_keeps_archsim_torch_free():
    """Importing the check module (and the CLI's run command) pulls in neither torch nor compress."""
    import subprocess
    import sys

    code = ("import sys, archsim.functional.check, archsim.cli.run_cmd; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith('compress')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
