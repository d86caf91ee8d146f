"""SCALE-Sim topology CSV export/import: conventions, round trips, errors with line numbers."""

from __future__ import annotations

import math

import pytest

from workloads import ArchsimInputError, LayerKind, Network, conv2d, linear, matmul
from workloads.scalesim import from_scalesim_csv, scalesim_output_size, scalesim_sparsity, to_scalesim_csv
from workloads.zoo import get_network

CONV_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"


def _scalesim_macs(csv_text: str) -> int:
    """MACs as SCALE-Sim's topology_utils computes them, DP rows expanded per channel (our reading
    of its conventions, written independently of workloads.scalesim)."""
    total = 0
    for line in csv_text.splitlines()[1:]:
        f = [x.strip() for x in line.split(",")[:-1]]
        h, w, r, s, c, k, stride = map(int, f[1:8])
        per_channel = [1] * c if "DP" in f[0] else [c]
        for ch in per_channel:
            total += scalesim_output_size(h, r, stride) * scalesim_output_size(w, s, stride) * r * s * ch * k
    return total


def test_output_size_is_ceil_rule():
    assert scalesim_output_size(224, 7, 2) == math.ceil((224 - 7 + 2) / 2) == 110
    assert scalesim_output_size(230, 7, 2) == 113  # 224 + 2x3 padding: PyTorch gives 112
    assert scalesim_output_size(229, 7, 2) == 112
    assert scalesim_output_size(56, 1, 2) == 29  # PyTorch's floor rule would give 28


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
@pytest.mark.parametrize("form", ["conv", "gemm"])
def test_round_trip_preserves_macs_and_output_size(name, form):
    net = get_network(name)
    text = to_scalesim_csv(net, form=form)
    back = from_scalesim_csv(text)
    assert len(back) == len(net)
    for ours, theirs in zip(net, back):
        assert theirs.macs == ours.macs, ours.name
        assert theirs.output_elements == ours.output_elements, ours.name
        if form == "conv" and ours.kind is LayerKind.CONV:
            assert (theirs.out_h, theirs.out_w, theirs.groups) == (ours.out_h, ours.out_w, ours.groups), ours.name
        if form == "gemm":
            assert theirs.gemm == ours.gemm, ours.name
    if form == "conv":
        assert _scalesim_macs(text) == net.macs  # what SCALE-Sim itself would count


def test_conv_export_pads_so_both_rules_agree_and_marks_depthwise():
    net = get_network("mobilenet_v2")
    text = to_scalesim_csv(net, form="conv")
    rows = [[x.strip() for x in line.split(",")] for line in text.splitlines()]
    assert all(line.endswith(",") for line in text.splitlines())
    first = rows[1]  # features.0.0: 3x3 stride 2 on 224 -> 112 (PyTorch), written pre-padded
    assert first[1:8] == ["225", "225", "3", "3", "3", "32", "2"] and scalesim_output_size(225, 3, 2) == 112
    dw = [r for r in rows if "DP" in r[0]]
    assert len(dw) == sum(layer.is_depthwise for layer in net) == 17
    # SCALE-Sim expands DP rows per channel with Num Filter filters each: Num Filter = depth multiplier.
    assert all(r[6] == "1" for r in dw)


def test_grouped_conv_rows_and_round_trip():
    net = Network("g", (conv2d("grp", 8, 12, (11, 9), 3, stride=2, padding=1, groups=4),))
    text = to_scalesim_csv(net)
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == ["grp_g0", "grp_g1", "grp_g2", "grp_g3"]
    assert all(line.split(",")[5:7] == [" 2", " 3"] for line in text.splitlines()[1:])
    back = from_scalesim_csv(text)
    assert len(back) == 1 and back[0].groups == 4 and back[0].macs == net[0].macs


def test_linear_and_matmul_in_conv_form():
    net = Network("t", (linear("fc", 64, 10), matmul("attn", m=5, k=8, n=6, batch=3)))
    text = to_scalesim_csv(net)
    names = [line.split(",")[0] for line in text.splitlines()[1:]]
    assert names == ["fc", "attn_r0", "attn_r1", "attn_r2"]
    back = from_scalesim_csv(text)
    assert [l.macs for l in back] == [l.macs for l in net]
    assert back["attn"].kind is LayerKind.MATMUL and back["attn"].batch == 3


def test_conv_form_refuses_what_it_cannot_express():
    dilated = Network("d", (conv2d("atrous", 4, 4, 16, 3, padding=2, dilation=2),))
    with pytest.raises(ArchsimInputError, match="'atrous'.*dilation.*no equivalent.*GEMM form"):
        to_scalesim_csv(dilated)
    strided = Network("s", (conv2d("rect", 4, 4, 16, 3, stride=(1, 2)),))
    with pytest.raises(ArchsimInputError, match="'rect'.*non-square stride.*GEMM"):
        to_scalesim_csv(strided)
    with pytest.raises(ArchsimInputError, match="batch 2.*GEMM"):
        to_scalesim_csv(get_network("resnet20", batch=2))
    # ... and the GEMM form takes all of them with exact MACs
    for net in (dilated, strided, get_network("resnet20", batch=2)):
        assert from_scalesim_csv(to_scalesim_csv(net, form="gemm")).macs == net.macs


def test_non_depthwise_name_containing_dp_is_renamed():
    net = Network("n", (conv2d("DPnet.conv", 4, 8, 8, 3),))
    assert to_scalesim_csv(net).splitlines()[1].startswith("Dpnet.conv,")


def test_hand_written_scalesim_style_csv():
    text = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
            "Conv1, 224, 224, 7, 7, 3, 64, 2,\n"
            "Conv1p,230,230,7,7,3,64,2,\n"
            "Conv3_s , 56 , 56 , 1 , 1 , 64 , 128 , 2 ,\n"
            "\n"
            "DW1_DP, 114, 114, 3, 3, 32, 1, 1,\n"
            "FC, 1, 1, 1, 1, 512, 1000, 1\n")  # no trailing comma on the last row: tolerated
    net = from_scalesim_csv(text, name="hand")
    assert net.name == "hand" and [l.name for l in net] == ["Conv1", "Conv1p", "Conv3_s", "DW1_DP", "FC"]
    assert (net["Conv1"].out_h, net["Conv1"].out_w) == (110, 110)  # SCALE-Sim's ceil((224-7+2)/2)
    assert (net["Conv1p"].out_h, net["Conv1p"].out_w) == (113, 113)  # 224 padded by 3: ceil rounds up
    assert net["Conv3_s"].out_h == 29 and net["Conv3_s"].pad_bottom == 1  # ceil, where floor would give 28
    dw = net["DW1_DP"]
    assert dw.is_depthwise and dw.in_channels == dw.out_channels == 32 and dw.out_h == 112
    assert dw.macs == 32 * 112 * 112 * 9
    assert net["FC"].macs == 512_000
    assert net["Conv1"].macs == 110 * 110 * 7 * 7 * 3 * 64


def test_gemm_form_import_with_nm_and_batch_columns():
    text = "Layer, M, N, K,\nqk, 128, 128, 64, 1,\nproj, 128, 512, 512, 2:4,\nheads, 16, 16, 8, 1:1, 12,\n"
    net = from_scalesim_csv(text)
    assert [(l.in_h, l.out_channels, l.in_channels, l.batch) for l in net] == [
        (128, 128, 64, 1), (128, 512, 512, 1), (16, 16, 8, 12)]
    assert "proj=2:4" in net.notes
    assert scalesim_sparsity(text) == {"proj": (2, 4)}


def test_sparsity_export_round_trip():
    net = get_network("resnet20")
    text = to_scalesim_csv(net, sparsity={"layer1.0.conv1": "2:4"})
    assert text.splitlines()[0].endswith("Sparsity,")
    assert scalesim_sparsity(text) == {"layer1.0.conv1": (2, 4)}
    with pytest.raises(ArchsimInputError, match="not in"):
        to_scalesim_csv(net, sparsity={"nope": "2:4"})


@pytest.mark.parametrize("row,match", [
    ("Conv2, 56, 56, 3, 3, 64, 64,", "6 plus.*got 7|has 8 fields"),
    ("Conv2, 56, x56, 3, 3, 64, 64, 1,", "IFMAP Width must be a positive integer, got 'x56'"),
    ("Conv2, 56, 56, 3, 3, 0, 64, 1,", "Channels must be a positive integer"),
    ("Conv2, 2, 56, 3, 3, 64, 64, 1,", "larger than the 2x56 IFMAP"),
    ("Conv2, 56, 56, 3, 3, 64, 64, 1, 5:4,", "N:M needs 1 <= N <= M"),
])
def test_malformed_row_names_file_and_line(tmp_path, row, match):
    path = tmp_path / "topo.csv"
    path.write_text(CONV_HEADER + "Conv1, 230, 230, 7, 7, 3, 64, 2,\n\n" + row + "\n")
    with pytest.raises(ArchsimInputError, match=match) as err:
        from_scalesim_csv(path)
    assert f"{path}:4:" in str(err.value)  # line 4: header, Conv1, blank line, bad row


def test_missing_header_and_unknown_form_and_missing_file(tmp_path):
    with pytest.raises(ArchsimInputError, match=":1: the first line must be a header"):
        from_scalesim_csv("Conv1, 224, 224, 7, 7, 3, 64, 2,\nConv2, 56, 56, 3, 3, 64, 64, 1,\n")
    with pytest.raises(ArchsimInputError, match="cannot tell the SCALE-Sim form"):
        from_scalesim_csv("a, b, c,\nx, 1, 2,\n")
    with pytest.raises(ArchsimInputError, match="not found"):
        from_scalesim_csv(tmp_path / "missing.csv")
    with pytest.raises(ArchsimInputError, match="no layer rows"):
        from_scalesim_csv(CONV_HEADER)


def test_file_round_trip_and_name(tmp_path):
    net = get_network("resnet20")
    path = tmp_path / "r20.csv"
    text = to_scalesim_csv(net, path=path, form="gemm")
    assert path.read_text() == text
    back = from_scalesim_csv(path)
    assert back.name == "r20" and back.macs == net.macs and "gemm-form" in back.notes
