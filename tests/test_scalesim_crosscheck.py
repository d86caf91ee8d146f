"""archsim vs SCALE-Sim v3 (issue 4): compute cycles identical, access counts explained.

Most tests use the committed golden cache (benchmarks/scalesim_crosscheck/golden/), so they need
no SCALE-Sim. The ``scalesim``-marked test re-runs SCALE-Sim live in its own venv and skips when
that venv is absent (create it with benchmarks/scalesim_crosscheck/setup_venv.sh).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# `benchmarks/` is a top-level folder of the repository, not an installed package: make the
# repository root importable when pytest is started as a script (``python -m pytest`` already does).
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from benchmarks.scalesim_crosscheck import golden, oracle  # noqa: E402
from benchmarks.scalesim_crosscheck.cases import (closed_form_cycles, expected_scalesim_sram_counts,
                                                  scalesim_extent, scalesim_out_size, to_spec)  # noqa: E402
from benchmarks.scalesim_crosscheck.compare import compare_case, run_archsim  # noqa: E402
from benchmarks.scalesim_crosscheck.crosscheck import all_cases, run  # noqa: E402
from workloads.layer import LayerKind, conv2d  # noqa: E402
from workloads.network import Network  # noqa: E402
from workloads.scalesim import to_scalesim_csv  # noqa: E402

MAIN, SWEEP = all_cases()
ALL = list(MAIN) + list(SWEEP)
GOLDEN = golden.load_golden()


def _record(case):
    return GOLDEN[golden.cache_key(to_spec(case))]


def _id(case) -> str:
    return f"{case.name}@{case.ifmap_sram_kb}kB"


def test_golden_cache_covers_every_case():
    missing = [_id(c) for c in ALL if golden.cache_key(to_spec(c)) not in GOLDEN]
    assert not missing, f"no golden SCALE-Sim result for {missing}; run `python -m benchmarks.scalesim_crosscheck --refresh`"
    for c in ALL:
        assert _record(c)["versions"]["scalesim"] == "3.0.0"


@pytest.mark.parametrize("case", ALL, ids=_id)
def test_closed_form_equals_scalesim_compute_cycles(case):
    rec = _record(case)
    assert rec["compute"]["stall_cycles"] == 0  # CALC mode is stall free
    assert rec["compute"]["compute_cycles"] == closed_form_cycles(to_spec(case))


@pytest.mark.parametrize("case", ALL, ids=_id)
def test_archsim_compute_cycles_equal_scalesim(case):
    arch = run_archsim(case)
    assert arch["stall_cycles"] == 0
    assert arch["compute_cycles"] == _record(case)["compute"]["compute_cycles"]


@pytest.mark.parametrize("case", ALL, ids=_id)
def test_scalesim_sram_counts_follow_the_counting_model(case):
    """The README's account of SCALE-Sim's SRAM counts (im2col reads per column fold incl. padding,
    each weight once, one ofmap write per row fold) reproduces its numbers."""
    detail = _record(case)["detail"]
    for item, value in expected_scalesim_sram_counts(to_spec(case)).items():
        assert detail[item] == value, item


@pytest.mark.parametrize("case", MAIN, ids=_id)
def test_every_access_difference_is_explained(case):
    rows = compare_case(case, _record(case), run_archsim(case))
    assert [r["metric"] for r in rows][0] == "compute_cycles"
    bad = [(r["metric"], r["scalesim"], r["archsim"], r["explanation"]) for r in rows if r["status"] == "UNEXPLAINED"]
    assert not bad
    by_metric = {r["metric"]: r for r in rows}
    # Counts that the shared WS loop nest makes equal must stay equal.
    for metric in ("compute_cycles", "sram_ifmap_reads", "sram_filter_reads", "dram_filter_reads"):
        assert by_metric[metric]["status"] == "identical", metric


def test_unexplained_difference_is_flagged():
    """The explanation check can fail: a perturbed archsim count is reported as UNEXPLAINED."""
    case = MAIN[0]
    arch = dict(run_archsim(case))
    arch["dram_filter_reads"] += 1
    rows = {r["metric"]: r for r in compare_case(case, _record(case), arch)}
    assert rows["dram_filter_reads"]["status"] == "UNEXPLAINED"


def test_crosscheck_command_writes_report(tmp_path):
    assert run(mode="golden", out=tmp_path, log=lambda *_: None) == 0
    readme = (tmp_path / "README.md").read_text()
    assert "Compute cycles identical in 6 of 6 layers" in readme
    assert "0 unexplained" in readme
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["scalesim_source"] == "golden cache"
    assert (tmp_path / "comparison.csv").read_text().count("\n") == 1 + 7 * len(MAIN)


# ---- conversion to SCALE-Sim's convention ----------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(h=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), pad=st.integers(0, 3))
def test_scalesim_extent_reproduces_pytorch_output_size(h, k, s, pad):
    padded = h + 2 * pad
    if padded < k:
        return
    out = (padded - k) // s + 1
    extent = scalesim_extent(out, padded, k, s)
    assert scalesim_out_size(extent, k, s) == out
    assert extent <= padded  # only unread trailing padding is ever dropped
    if (padded - k) % s == 0:
        assert extent == padded


def test_strided_case_drops_the_unread_padded_row():
    spec = to_spec(next(c for c in MAIN if c.name == "conv3x3_s2_p1"))
    assert (spec["ifmap_h"], spec["ifmap_w"]) == (9, 9)  # padded 10, but PyTorch's 4 outputs read only 9


@pytest.mark.parametrize("case", MAIN, ids=_id)
def test_specs_agree_with_workloads_scalesim_export(case):
    """Our oracle specs and workloads.scalesim's topology export describe the same SCALE-Sim layer."""
    spec = to_spec(case)
    form = spec["form"]
    csv = to_scalesim_csv(Network("x", (case.layer,)), form=form)
    fields = [f.strip() for f in csv.splitlines()[1].split(",")[:-1]]
    values = [int(f) for f in fields[1:]]
    if form == "conv":
        assert values == [spec[k] for k in ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels",
                                            "num_filters", "stride")]
    else:
        assert case.layer.kind is LayerKind.LINEAR
        assert values == [spec["m"], spec["n"], spec["k"]]


def test_cache_key_ignores_name_but_not_dimensions():
    a = to_spec(MAIN[0])
    assert golden.cache_key(a) == golden.cache_key({**a, "name": "other"})
    assert golden.cache_key(a) != golden.cache_key({**a, "ifmap_sram_kb": a["ifmap_sram_kb"] + 1})
    assert golden.cache_key(a) != golden.cache_key({**a, "scalesim_version": "9.9.9"})


def test_unsupported_layers_are_refused():
    from benchmarks.scalesim_crosscheck.cases import Case
    from workloads.errors import ArchsimInputError

    with pytest.raises(ArchsimInputError, match="groups"):
        to_spec(Case(conv2d("dw", 8, 8, 8, 3, padding=1, groups=8), "depthwise"))


# ---- oracle.py inputs (no SCALE-Sim needed) ---------------------------------------------------

def test_oracle_writes_complete_inputs(tmp_path):
    spec = to_spec(MAIN[0])
    cfg, topo, layout = oracle.write_inputs(spec, tmp_path)
    text = cfg.read_text()
    for section in ("[general]", "[architecture_presets]", "[layout]", "[sparsity]", "[run_presets]"):
        assert section in text
    row = topo.read_text().splitlines()[1]
    assert row.endswith(",")  # SCALE-Sim drops the last field of a row
    assert [int(x) for x in row.split(",")[1:-1]] == [10, 10, 3, 3, 4, 8, 1]
    assert len(layout.read_text().splitlines()) == 1  # header only


def test_oracle_rejects_bad_spec_without_running_scalesim():
    rec = oracle.run_one({**to_spec(MAIN[0]), "name": "conv_DP"})
    assert rec["ok"] is False and "DP" in rec["error"]
    rec = oracle.run_one({**to_spec(MAIN[0]), "array_rows": 0})
    assert rec["ok"] is False and "array_rows" in rec["error"]


# ---- live SCALE-Sim -------------------------------------------------------------------------

@pytest.mark.scalesim
def test_live_scalesim_reproduces_golden_cache():
    if not golden.venv_available():
        pytest.skip(f"SCALE-Sim venv not found ({golden.venv_python()}); run benchmarks/scalesim_crosscheck/setup_venv.sh")
    specs = [to_spec(c) for c in ALL]
    live = golden.run_oracle(specs, timeout_s=120)
    for spec in specs:
        key = golden.cache_key(spec)
        assert live[key]["compute"]["compute_cycles"] == closed_form_cycles(spec)
        assert not golden.drift(GOLDEN[key], live[key]), spec["name"]
