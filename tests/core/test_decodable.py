"""Issue 13.3: a trace format a design cannot decode is an input error naming the format and the designs that can.

Before the fix, VQ/MVQ traces on ``ws`` silently priced compressed bytes on a design with no decoder."""

from __future__ import annotations

import pytest

from archsim.api import simulate, simulate_layer
from archsim.cli.main import main
from archsim.decode import decodable_formats, presets_decoding
from archsim.design import list_presets, load_design
from compress.trace import save_traces, structural_trace
from workloads.errors import ArchsimInputError
from workloads.layer import conv2d, linear
from workloads.network import Network

UNLIMITED = {"dram.unlimited": True, "array.rows": 16, "array.cols": 16}


def _net() -> Network:
    return Network("tiny", (conv2d("c1", 16, 32, 6, 3, padding=1), linear("fc", 64, 16)))


def _traces(fmt: str, net: Network):
    kw = {"vq": dict(d=16, k=16), "mvq": dict(n=1, m=4, d=16, k=16), "nm": dict(n=1, m=4),
          "sparse": dict(density=0.25), "dense": {}}[fmt]
    return [structural_trace(layer, fmt, **kw) for layer in net]


def test_preset_table() -> None:
    table = {name: decodable_formats(load_design(name)) for name in list_presets()}
    assert table["ws"] == table["ews"] == ("dense",)
    assert set(table["mvq"]) == set(table["ews-cm"]) == {"dense", "nm", "vq", "mvq"}
    assert set(table["s2ta-w"]) == {"dense", "nm"}
    assert set(table["sparten"]) == {"dense", "nm", "sparse"}
    assert all("dense" in formats for formats in table.values())
    assert "mvq" in presets_decoding("mvq") and "ws" not in presets_decoding("mvq")


def test_codebook_formats_need_a_codebook_store() -> None:
    no_codebook = load_design("s2ta-w")
    assert no_codebook.buffers.codebook is None and "vq" not in decodable_formats(no_codebook)


@pytest.mark.parametrize("design,fmt", [("ws", "vq"), ("ws", "mvq"), ("ews", "nm"), ("ws", "sparse"),
                                        ("mvq", "sparse"), ("s2ta-w", "vq"), ("sparten", "mvq")])
def test_undecodable_format_is_an_input_error_naming_format_and_designs(design: str, fmt: str) -> None:
    net = _net()
    with pytest.raises(ArchsimInputError) as err:
        simulate(net, design, traces=_traces(fmt, net), overrides=UNLIMITED)
    msg = str(err.value)
    assert f"trace format {fmt} cannot be decoded by design {design!r}" in msg
    assert f"designs that decode {fmt}: " in msg and presets_decoding(fmt)[0] in msg
    with pytest.raises(ArchsimInputError, match=f"trace format {fmt}"):
        simulate_layer(net.layers[0], design, _traces(fmt, net)[0], overrides=UNLIMITED)


def test_structural_compression_override_on_a_dense_design_is_an_error() -> None:
    with pytest.raises(ArchsimInputError, match="trace format vq cannot be decoded by design 'ews'"):
        simulate(_net(), "ews", compression={"method": "vq", "d": 16, "k": 16}, overrides=UNLIMITED)


@pytest.mark.parametrize("design", list_presets())
def test_dense_traces_run_everywhere(design: str) -> None:
    net = _net()
    r = simulate(net, design, traces=_traces("dense", net), overrides=UNLIMITED)
    assert r.cycles > 0


def test_cli_run_traces_on_undecodable_design_exits_2(tmp_path, capsys) -> None:
    from archsim.api import compression_traces
    from workloads.zoo import get_network

    path = save_traces(compression_traces(get_network("resnet20"), load_design("ews-c")), tmp_path / "t.json")
    code = main(["run", "-w", "resnet20", "-d", "ws", "--traces", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "trace format vq cannot be decoded by design 'ws'" in err and "ews-c" in err
