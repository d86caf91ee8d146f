"""Report figures: energy and area breakdowns per design, and ablation / sweep curves.

Why these choices:

* Figures are built on `matplotlib.figure.Figure` with the Agg canvas, never through pyplot's
  global state, so plotting is safe in worker processes and on machines without a display.
* Energy categories have a **fixed order and fixed colours** (`ENERGY_CATEGORIES`,
  `ENERGY_COLOURS`), so the same colour means the same thing in every figure of a study.
* DRAM is off-chip: its stack is hatched (`HATCHES`) so the core/system split reads off every energy
  bar, and `plot_energy_breakdown` can add a TOPS/W panel with core (no DRAM) and system (with DRAM)
  bars side by side; every TOPS/W axis says which ops count (`archsim.results.OPS_NOTE`).
* Every figure is written as PNG; when the path ends in ``.svg`` an SVG is written there as well
  (text kept as text, so files stay small). Values are checked first: a frame with missing,
  unknown, negative or non-numeric columns raises `ArchsimInputError` instead of drawing a
  silently wrong bar.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # no display needed; figures below use the OO API anyway

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from archsim.results import OPS_NOTE  # noqa: E402  (the ops convention quoted on every TOPS/W axis)
from workloads.errors import ArchsimInputError  # noqa: E402

#: Energy categories, bottom to top of each stacked bar (the cost model's category names).
ENERGY_CATEGORIES: tuple[str, ...] = (
    "DRAM", "weight buffer", "input buffer", "output buffer", "codebook",
    "register files", "MACs", "muxes/decoder", "leakage",
)
#: Optional categories accepted in addition (drawn in this position when present).
OPTIONAL_ENERGY_CATEGORIES: tuple[str, ...] = ("clock/control",)
_ENERGY_ORDER = ENERGY_CATEGORIES[:-1] + OPTIONAL_ENERGY_CATEGORIES + ENERGY_CATEGORIES[-1:]

ENERGY_COLOURS: dict[str, str] = {
    "DRAM": "#525252",
    "weight buffer": "#1f77b4",
    "input buffer": "#17becf",
    "output buffer": "#aec7e8",
    "codebook": "#9467bd",
    "register files": "#ff7f0e",
    "MACs": "#d62728",
    "muxes/decoder": "#e377c2",
    "clock/control": "#bcbd22",
    "leakage": "#8c564b",
}

#: Hatch per energy category (only off-chip DRAM: the part of each bar that core TOPS/W leaves out).
HATCHES: dict[str, str] = {"DRAM": "///"}
#: Colours of the core / system TOPS/W bars.
TOPS_COLOURS: dict[str, str] = {"core": "#2ca02c", "system": "#525252"}

_ENERGY_UNITS = {"pJ": 1e-12, "nJ": 1e-9, "uJ": 1e-6, "µJ": 1e-6, "mJ": 1e-3, "J": 1.0}
_AREA_UNITS = {"um2": 1.0, "µm²": 1.0, "mm2": 1e6, "mm²": 1e6}
_PRETTY = {"uJ": "µJ", "um2": "µm²", "mm2": "mm²"}
_DPI = 110


# ---------------------------------------------------------------------------------------------- checks


def _numeric_frame(df: object, columns: Sequence[str], what: str) -> pd.DataFrame:
    """The requested columns as float, or one clear error naming the offending column."""
    if not isinstance(df, pd.DataFrame):
        raise ArchsimInputError(f"{what}: expected a pandas DataFrame (got {type(df).__name__})")
    if df.empty:
        raise ArchsimInputError(f"{what}: the frame is empty; pass at least one row")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ArchsimInputError(f"{what}: missing column(s) {', '.join(map(repr, missing))}; "
                                f"the frame has {', '.join(map(repr, map(str, df.columns)))}")
    out = pd.DataFrame(index=df.index)
    for c in columns:
        try:
            values = pd.to_numeric(df[c], errors="raise").astype(float)
        except (ValueError, TypeError):
            raise ArchsimInputError(f"{what}: column {c!r} must be numeric") from None
        if not np.isfinite(values).all():
            raise ArchsimInputError(f"{what}: column {c!r} has NaN or infinite values; fill them (0 if absent)")
        out[c] = values
    return out


def _non_negative(frame: pd.DataFrame, what: str) -> None:
    bad = [c for c in frame.columns if (frame[c] < 0).any()]
    if bad:
        raise ArchsimInputError(f"{what}: column(s) {', '.join(map(repr, bad))} have negative values; "
                                "energies and areas must be >= 0")


def _pick_unit(values_max: float, unit: str, table: dict[str, float], what: str,
               display_unit: str | None) -> tuple[float, str]:
    """Factor from the frame's unit to a display unit whose largest value reads 1 to 1000."""
    if unit not in table:
        raise ArchsimInputError(f"{what}: unknown unit {unit!r}; use one of {', '.join(table)}")
    if display_unit is not None:
        if display_unit not in table:
            raise ArchsimInputError(f"{what}: unknown display_unit {display_unit!r}; use one of {', '.join(table)}")
        return table[unit] / table[display_unit], _PRETTY.get(display_unit, display_unit)
    base = values_max * table[unit]
    candidates = sorted({v: k for k, v in table.items() if k.isascii()}.items())
    chosen = candidates[0][1]
    for scale, name in candidates:
        if base >= scale:
            chosen = name
    return table[unit] / table[chosen], _PRETTY.get(chosen, chosen)


def _out_paths(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.suffix.lower() not in (".png", ".svg"):
        raise ArchsimInputError(f"plot path {str(p)!r} must end in .png or .svg")
    p.parent.mkdir(parents=True, exist_ok=True)
    return [p] if p.suffix.lower() == ".png" else [p.with_suffix(".png"), p]


def _save(fig: Figure, path: str | Path) -> list[Path]:
    written = []
    for p in _out_paths(path):
        kwargs = {"dpi": _DPI} if p.suffix.lower() == ".png" else {"metadata": {"Date": None}}
        with matplotlib.rc_context({"svg.fonttype": "none"}):
            fig.savefig(p, bbox_inches="tight", **kwargs)
        written.append(p)
    return written


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    digits = max(0, 2 - int(math.floor(math.log10(abs(v)))))
    return f"{v:,.{min(digits, 3)}f}"


# ---------------------------------------------------------------------------------------------- stacked bars


def _stacked(ax, frame: pd.DataFrame, colours: dict[str, str], scale: float, annotate: str | None,
             hatches: dict[str, str] | None = None) -> None:
    x = np.arange(len(frame))
    bottom = np.zeros(len(frame))
    for col in frame.columns:
        vals = frame[col].to_numpy() * scale
        ax.bar(x, vals, bottom=bottom, color=colours[col], label=col, width=0.65, edgecolor="white", linewidth=0.4,
               hatch=(hatches or {}).get(col))
        bottom += vals
    top = bottom.max() if len(bottom) else 1.0
    for xi, total in zip(x, bottom):
        label = _fmt(total) if annotate is None else annotate.format(total)
        ax.text(xi, total + 0.01 * top, label, ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x)
    ax.set_xticklabels([str(i) for i in frame.index], rotation=20 if len(frame) > 3 else 0,
                       ha="right" if len(frame) > 3 else "center", fontsize=9)
    ax.set_ylim(0, top * 1.12 if top > 0 else 1.0)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def plot_energy_breakdown(df: pd.DataFrame, path: str | Path, title: str, *, unit: str = "pJ",
                          display_unit: str | None = None, normalised: bool = True,
                          reference: str | None = None, tops_per_w: pd.DataFrame | None = None,
                          per: str | None = None) -> list[Path]:
    """Stacked energy bars, one per design (``df.index``), stacks in `ENERGY_CATEGORIES` order.

    ``per``: what one bar's energy is for, on the axis label ("inference", "batch of 4", ...): the
    caller states it because only the caller knows whether it divided a batch's energy by the batch.

    ``df``: columns = the nine categories of `ENERGY_CATEGORIES` (0 where a design has none;
    ``clock/control`` may be added), values in ``unit`` (pJ, nJ, uJ, mJ or J). The axis is shown
    in ``display_unit``, by default the unit that makes the largest total read 1-1000. The DRAM
    stack (bottom) is hatched: it is the off-chip part that core TOPS/W excludes.
    ``normalised``: add a second panel with each design's stacks divided by the first design's total
    (or by ``reference``'s, a row label of ``df``, when given).
    ``tops_per_w``: optional frame with columns ``core`` and ``system`` (rows = ``df``'s rows, same
    order) drawn as a last panel of paired bars, so the DRAM share shows as the gap between them.
    Returns the written files (PNG, plus SVG when ``path`` ends in .svg).
    """
    what = "plot_energy_breakdown"
    if isinstance(df, pd.DataFrame):
        unknown = [c for c in df.columns if c not in _ENERGY_ORDER]
        if unknown:
            raise ArchsimInputError(f"{what}: unknown energy categor(ies) {', '.join(map(repr, map(str, unknown)))}; "
                                    f"use {', '.join(_ENERGY_ORDER)}")
    present = [c for c in _ENERGY_ORDER if c in ENERGY_CATEGORIES or (isinstance(df, pd.DataFrame) and c in df.columns)]
    frame = _numeric_frame(df, present, what)
    _non_negative(frame, what)
    totals = frame.sum(axis=1)
    scale, shown = _pick_unit(float(totals.max()), unit, _ENERGY_UNITS, what, display_unit)

    tops = _tops_frame(tops_per_w, frame.index, what) if tops_per_w is not None else None
    show_normalised = normalised and len(frame) > 0
    panels = 1 + show_normalised + (tops is not None)
    width = max(6.0, 1.1 * len(frame) * panels + 3.0)
    fig = Figure(figsize=(width, 4.6))
    axes = fig.subplots(1, panels, squeeze=False)[0]
    _stacked(axes[0], frame, ENERGY_COLOURS, scale, None, HATCHES)
    axes[0].set_ylabel(f"energy per {per} ({shown})" if per else f"energy ({shown})")
    axes[0].set_title("absolute", fontsize=10)
    if show_normalised:
        if reference is not None and reference not in frame.index:
            raise ArchsimInputError(f"{what}: reference {reference!r} is not a row of the frame; "
                                    f"rows: {', '.join(map(str, frame.index))}")
        ref_name = frame.index[0] if reference is None else reference
        ref = float(totals.loc[ref_name]) if reference is not None else float(totals.iloc[0])
        if ref <= 0:
            raise ArchsimInputError(f"{what}: the reference design ({ref_name!r}) has zero total energy; "
                                    "cannot normalise to it (pass normalised=False)")
        _stacked(axes[1], frame, ENERGY_COLOURS, 1.0 / ref, "{:.2f}×", HATCHES)
        axes[1].set_ylabel(f"energy / {ref_name}")
        axes[1].set_title(f"normalised to {ref_name}", fontsize=10)
    if tops is not None:
        _tops_bars(axes[-1], tops)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def _tops_frame(tops: object, index: pd.Index, what: str) -> pd.DataFrame:
    """The ``tops_per_w`` argument checked: columns core and system, the energy frame's rows."""
    frame = _numeric_frame(tops, ["core", "system"], f"{what} tops_per_w")
    _non_negative(frame, f"{what} tops_per_w")
    if list(map(str, frame.index)) != list(map(str, index)):
        raise ArchsimInputError(f"{what}: tops_per_w rows {list(map(str, frame.index))} must be the energy frame's "
                                f"rows {list(map(str, index))}, in the same order")
    return frame


def _tops_bars(ax, tops: pd.DataFrame) -> None:
    """Core and system TOPS/W side by side per design, values on top."""
    x = np.arange(len(tops))
    w = 0.38
    top = float(tops.to_numpy().max()) if len(tops) else 1.0
    for off, col, label, hatch in ((-w / 2, "core", "core (no DRAM)", None),
                                   (w / 2, "system", "system (with DRAM)", HATCHES.get("DRAM"))):
        vals = tops[col].to_numpy()
        ax.bar(x + off, vals, width=w, color=TOPS_COLOURS[col], label=label, hatch=hatch, edgecolor="white",
               linewidth=0.4)
        for xi, v in zip(x + off, vals):
            ax.text(xi, v + 0.01 * top, _fmt(v), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels([str(i) for i in tops.index], rotation=20 if len(tops) > 3 else 0,
                       ha="right" if len(tops) > 3 else "center", fontsize=9)
    ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
    ax.set_ylabel("TOPS/W")
    ax.set_title(f"TOPS/W ({OPS_NOTE})", fontsize=9)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _area_colours(columns: Sequence[str]) -> dict[str, str]:
    """Distinct qualitative colours in column order (tab10, tab20 beyond ten components)."""
    cmap = matplotlib.colormaps["tab10" if len(columns) <= 10 else "tab20"]
    return {c: matplotlib.colors.to_hex(cmap(i % cmap.N)) for i, c in enumerate(columns)}


def plot_area_breakdown(df: pd.DataFrame, path: str | Path, title: str, *, unit: str = "um2",
                        display_unit: str | None = None) -> list[Path]:
    """Stacked area bars, one per design (``df.index``), one stack per column of ``df`` (in column order).

    ``unit``: of the values (um2 or mm2); the axis shows mm² once a total reaches 1 mm²."""
    what = "plot_area_breakdown"
    if isinstance(df, pd.DataFrame) and len(df.columns) == 0:
        raise ArchsimInputError(f"{what}: the frame has no area columns; pass one column per component")
    cols = [str(c) for c in df.columns] if isinstance(df, pd.DataFrame) else []
    frame = _numeric_frame(df.rename(columns=str) if isinstance(df, pd.DataFrame) else df, cols, what)
    _non_negative(frame, what)
    scale, shown = _pick_unit(float(frame.sum(axis=1).max()), unit, {"um2": 1.0, "mm2": 1e6}, what, display_unit)
    fig = Figure(figsize=(max(6.0, 1.1 * len(frame) + 3.5), 4.6))
    ax = fig.subplots()
    _stacked(ax, frame, _area_colours(cols), scale, None)
    ax.set_ylabel(f"area ({shown})")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


# ---------------------------------------------------------------------------------------------- sweeps


def plot_ablation(df: pd.DataFrame, x: str, ys: str | Sequence[str], path: str | Path, title: str, *,
                  series: str | None = None, ylabels: dict[str, str] | None = None,
                  logy: bool = False) -> list[Path]:
    """Line plot(s) of a sweep: one panel per column in ``ys`` against column ``x``.

    ``x`` may be numeric (plotted to scale) or categorical such as ``"2:4"`` (plotted in row order).
    ``series``: optional column whose values become separate lines (e.g. design name).
    ``ylabels``: axis label per y column (e.g. ``{"energy_uj": "energy (µJ)"}``); defaults to the
    column name. Each point is annotated with its value."""
    what = "plot_ablation"
    ys = [ys] if isinstance(ys, str) else list(ys)
    if not ys:
        raise ArchsimInputError(f"{what}: ys is empty; name at least one column to plot")
    if not isinstance(df, pd.DataFrame):
        raise ArchsimInputError(f"{what}: expected a pandas DataFrame (got {type(df).__name__})")
    needed = [x, *([series] if series else [])]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ArchsimInputError(f"{what}: missing column(s) {', '.join(map(repr, missing))}; "
                                f"the frame has {', '.join(map(repr, map(str, df.columns)))}")
    values = _numeric_frame(df, ys, what)
    if logy and (values <= 0).any().any():
        raise ArchsimInputError(f"{what}: logy needs positive values in {', '.join(ys)}")
    numeric_x = pd.api.types.is_numeric_dtype(df[x])
    if numeric_x:
        xs_all = df[x].astype(float)
    else:
        order = list(dict.fromkeys(df[x].astype(str)))
        xs_all = df[x].astype(str).map({v: i for i, v in enumerate(order)}).astype(float)

    groups = [(None, df.index)] if series is None else [(k, g.index) for k, g in df.groupby(series, sort=False)]
    fig = Figure(figsize=(6.4, 2.6 * len(ys) + 0.8))
    axes = fig.subplots(len(ys), 1, sharex=True, squeeze=False)[:, 0]
    for ax, y in zip(axes, ys):
        for key, idx in groups:
            xv = xs_all.loc[idx].to_numpy()
            yv = values.loc[idx, y].to_numpy()
            order_idx = np.argsort(xv, kind="stable")
            xv, yv = xv[order_idx], yv[order_idx]
            ax.plot(xv, yv, marker="o", label=None if key is None else str(key))
            for xi, yi in zip(xv, yv):
                ax.annotate(_fmt(yi), (xi, yi), textcoords="offset points", xytext=(0, 5), ha="center", fontsize=7)
        ax.set_ylabel((ylabels or {}).get(y, y))
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.margins(y=0.18)
        if series is not None:
            ax.legend(fontsize=8, frameon=False)
    if not numeric_x:
        axes[-1].set_xticks(range(len(order)))
        axes[-1].set_xticklabels(order)
    axes[-1].set_xlabel(x)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _save(fig, path)
