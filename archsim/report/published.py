"""Published figures of the sparse accelerators the MVQ paper compares against, normalised to 40 nm.

Why a separate table: the MVQ paper's "1.73x over S2TA" compares MVQ's 40 nm result with *published* chips
normalised to 40 nm, not with a simulation on one array. archsim's simulated, same-array comparisons
(`archsim compare`, `results/mvq/README.md`) answer a different question. This module keeps the two apart:
it lists only what the reference notes hold (`shared/reference/energy_tables.md` §2, `mvq.md` §3), the
normalisation rule used for each absolute figure (with its source), and MVQ's simulated figure beside them —
never folded into one ratio without saying which sources it mixes.

Normalisation to 40 nm (energy per op; TOPS/W divides by it):

* ``L·V²`` — dynamic energy ∝ C·V² with C ∝ feature size L: ``(40/L) · (V40/V)²`` (energy_tables.md §2
  "Normalising across nodes", §3.3 "dynamic energy ∝ V²");
* ``S&B`` — Stillmaker & Baas node factors at equal supply (`archsim.tech.scaling.energy_factor`, energy_tables.md
  §3.3), no supply term — exactly the two rules whose range energy_tables.md §2 quotes (3.8x-5.0x for 16 -> 40 nm).

MVQ's corner is 0.99 V at 40 nm (mvq.md §3.3 [S1]). A published figure's own supply is used where the notes hold it;
otherwise the rule's assumed supply is stated in the row ([A]).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from archsim.tech.scaling import energy_factor

#: MVQ's implementation corner (mvq.md §3.3 [S1])
MVQ_NODE_NM = 40
MVQ_VDD = 0.99


@dataclass(frozen=True)
class Published:
    """One published figure as the reference notes hold it."""

    design: str
    venue: str
    node_nm: int | None
    metric: str            # what the figure is
    value: float | None    # absolute TOPS/W, or None for a relative claim
    claim: str             # the figure as published (relative claims verbatim-paraphrased)
    vdd: float | None      # supply of the figure, if the notes hold it
    source: str


PUBLISHED: tuple[Published, ...] = (
    Published("S2TA", "HPCA'22", 16, "relative", None,
              ">2x speed-up and >2x energy reduction vs SA-ZVCG (5 CNNs); 65 nm version: 2.2x less energy per "
              "inference than Eyeriss v2, 3.1x less than SparTen", None,
              "[P] S2TA abstract (energy_tables.md §2, mvq.md §3)"),
    Published("Sparse STA / VDBB (S2TA's sibling)", "arXiv 2009.02381", 16, "TOPS/W", 16.8,
              "16.8 TOPS/W at 50% sparsity (up to 55.7 at 87.5%), INT8", 0.8,
              "[P] abstract (energy_tables.md §2); 0.8 V is the supply energy_tables.md §2 assumes for its "
              "normalisation [A]"),
    Published("SparTen", "MICRO'19", 45, "relative", None,
              "4.7x / 1.8x / 3x faster than dense, one-sided-sparse and SCNN (FPGA: 4.3x, 1.9x)", None,
              "[P] abstract; node [M] 45 nm (energy_tables.md §2)"),
    Published("CGNet", "MICRO'19", None, "relative", None,
              "2.3x average speed-up on quantized ResNet-18 (ImageNet) at 2.8x theoretical FLOP reduction", None,
              "[P] (energy_tables.md §2); node [U]"),
    Published("SPOTS", "TACO'22", None, "relative", None,
              "1.74x faster than Eyeriss, 2.16x than Gemmini, 1.63x than Sparse-PE; 78x / 12x more energy-efficient "
              "than CPU / GPU", None, "[P] (energy_tables.md §2); node [U]"),
    Published("MVQ (paper)", "ASPLOS'25", 40, "TOPS/W", 6.9,
              "6.9 TOPS/W on ResNet-18, 64x64 array; 1.73x the energy efficiency of S2TA normalised to 40 nm", 0.99,
              "[S1] secondary summary (mvq.md §3.3-3.4); 1.73x [P] abstract"),
)


def normalise_to_40nm(p: Published) -> dict[str, float | str]:
    """TOPS/W of an absolute figure at MVQ's 40 nm / 0.99 V corner by both rules (NaN for relative claims)."""
    nan = float("nan")
    if p.value is None or p.node_nm is None:
        return {"tops_per_w_40nm_LV2": nan, "tops_per_w_40nm_SB": nan, "normalisation": "not applicable: "
                + ("a relative claim, no absolute figure in the reference notes" if p.value is None
                   else "node unknown")}
    vdd = p.vdd if p.vdd is not None else MVQ_VDD
    lv2 = (MVQ_NODE_NM / p.node_nm) * (MVQ_VDD / vdd) ** 2
    sb = energy_factor(p.node_nm, MVQ_NODE_NM) if p.node_nm != MVQ_NODE_NM else 1.0
    rule = (f"energy x{lv2:.2f} (L·V²: {MVQ_NODE_NM}/{p.node_nm} x ({MVQ_VDD}/{vdd})²) or x{sb:.2f} "
            f"(Stillmaker & Baas {p.node_nm}->{MVQ_NODE_NM} nm, equal supply)")
    return {"tops_per_w_40nm_LV2": p.value / lv2, "tops_per_w_40nm_SB": p.value / sb, "normalisation": rule}


def published_frame(mvq_core: float, mvq_system: float, workload: str = "resnet18") -> pd.DataFrame:
    """The table: one row per published figure, and MVQ's simulated core/system TOPS/W on ``workload`` beside
    every row (the same two numbers in each row: they are a reference column, not a ratio)."""
    rows = []
    for p in PUBLISHED:
        n = normalise_to_40nm(p)
        rows.append({"design": p.design, "venue": p.venue, "node_nm": p.node_nm, "published": p.claim,
                     "metric": p.metric, "published_tops_per_w": p.value, **n,
                     f"mvq_simulated_tops_per_w_core_{workload}": mvq_core,
                     f"mvq_simulated_tops_per_w_system_{workload}": mvq_system, "source": p.source})
    return pd.DataFrame(rows)


def markdown(frame: pd.DataFrame, workload: str = "resnet18") -> str:
    """The README section: published rows, the rule, and the simulated MVQ figure kept in its own column."""
    core = frame[f"mvq_simulated_tops_per_w_core_{workload}"].iloc[0]
    system = frame[f"mvq_simulated_tops_per_w_system_{workload}"].iloc[0]
    lines = [
        "## Published figures, normalised to 40 nm (kept apart from the simulated comparisons)",
        "",
        "These are *published* numbers from the reference notes, not simulations. The MVQ paper's 1.73x over S2TA is "
        "of this kind (published chips normalised to 40 nm); archsim's same-array ratios above are a different "
        "measurement and are never mixed with these. Normalisation rules: `archsim/report/published.py` (L·V² and "
        "Stillmaker & Baas at equal supply, energy_tables.md §2-§3.3). Where the notes hold only a relative "
        "claim, no absolute number is invented.",
        "",
        "| design | venue | node | published | TOPS/W at 40 nm (L·V²) | (S&B) | source |",
        "|---|---|---|---|---:|---:|---|",
    ]
    for _, r in frame.iterrows():
        node = f"{int(r['node_nm'])} nm" if pd.notna(r["node_nm"]) else "unknown"
        a = f"{r['tops_per_w_40nm_LV2']:.2f}" if pd.notna(r["tops_per_w_40nm_LV2"]) else "–"
        b = f"{r['tops_per_w_40nm_SB']:.2f}" if pd.notna(r["tops_per_w_40nm_SB"]) else "–"
        lines.append(f"| {r['design']} | {r['venue']} | {node} | {r['published']} | {a} | {b} | {r['source']} |")
    vdbb = frame[frame["design"].str.startswith("Sparse STA")].iloc[0]
    lines += [
        "",
        f"MVQ simulated on {workload} (this simulator, 64x64 dense-equivalent, 40 nm, iso-throughput): "
        f"**{core:.2f} TOPS/W core**, **{system:.2f} TOPS/W system** (ops = 2 x dense-equivalent MACs).",
        "",
        f"Reading: the only absolute sparse-accelerator figure the notes hold is S2TA's sibling (VDBB, 16 nm, 50% "
        f"sparsity): {min(vdbb['tops_per_w_40nm_LV2'], vdbb['tops_per_w_40nm_SB']):.1f}-"
        f"{max(vdbb['tops_per_w_40nm_LV2'], vdbb['tops_per_w_40nm_SB']):.1f} TOPS/W at 40 nm depending on "
        f"the rule. The paper's 6.9 TOPS/W / 1.73 implies about {6.9 / 1.73:.1f} TOPS/W for S2TA at 40 nm "
        "(energy_tables.md §2 makes the same check); the paper's workload and the sibling's are not known to match (mvq.md §3.3 [I]). A ratio of "
        "archsim's simulated MVQ to one of these published figures would mix a simulation with a chip measurement "
        "at another node: we do not report one.",
    ]
    return "\n".join(lines) + "\n"


def write(out: Path, mvq_core: float, mvq_system: float, workload: str = "resnet18") -> list[Path]:
    from archsim.validation import ensure_writable_dir

    ensure_writable_dir(out, "--out")
    frame = published_frame(mvq_core, mvq_system, workload)
    csv = out / "published_normalised.csv"
    frame.to_csv(csv, index=False, float_format="%.4g")
    md = out / "published_normalised.md"
    md.write_text(markdown(frame, workload))
    return [csv, md]


__all__ = ["PUBLISHED", "Published", "markdown", "normalise_to_40nm", "published_frame", "write"]
