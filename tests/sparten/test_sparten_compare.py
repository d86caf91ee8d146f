"""`archsim compare` sizing of SparTen: the weight-side iso-throughput rule, iso-PE and iso-area."""

from __future__ import annotations

import pytest

from archsim.design import load_design
from archsim.report.compare import run_comparison
from archsim.report.variants import CompressionParams, prepare
from workloads.errors import ArchsimInputError
from workloads.network import Network
from sparten_helpers import conv, linear


def test_iso_throughput_gives_sparten_the_multipliers_of_the_nm_arrays():
    for n, m in ((1, 4), (2, 8), (1, 2)):
        params = CompressionParams(n=n, m=m, d=4 * m)
        sp = prepare("sparten", params, 64, 64)
        s2 = prepare("s2ta-w", params, 64, 64)
        assert sp.design.array.rows * sp.design.array.cols == s2.design.array.rows * s2.design.array.cols
        assert sp.design.weights.density == pytest.approx(n / m)
        assert (sp.physical_rows, sp.dense_equivalent_rows) == (64 * n // m, 64)
    assert prepare("sparten", CompressionParams(), 64, 64).design == load_design("sparten")    # the preset's own sizing
    pes = prepare("sparten", CompressionParams(), 32, 64, rows_are="physical")
    assert (pes.design.array.rows, pes.dense_equivalent_rows) == (32, 128)
    with pytest.raises(ArchsimInputError, match="multiple of 4"):
        prepare("sparten", CompressionParams(), 62, 64)


def test_compare_runs_sparten_beside_the_baselines_at_iso_throughput_and_iso_area():
    net = Network("tiny", (conv(name="a", cin=3, cout=16, hw=8), conv(name="b", cin=16, cout=32, hw=8),
                           linear(name="fc", cin=32 * 64, cout=10)))
    comp = run_comparison(net, ["ews", "sparten", "sparten-40nm"], rows=16, cols=16)
    table = comp.table()
    assert table.loc["sparten", "physical_pes"] == 4 * 16
    assert table.loc["sparten", "macs"] < table.loc["ews", "macs"]
    assert table.loc["sparten", "area_mm2"] > table.loc["sparten-40nm", "area_mm2"]       # 45 nm vs 40 nm
    area = run_comparison(net, ["ews", "sparten-40nm"], rows=16, cols=16, iso="area").table()
    assert abs(area.loc["sparten-40nm", "area_vs_target"]) < 0.05
    assert area.loc["sparten-40nm", "physical_rows"] % 1 == 0
