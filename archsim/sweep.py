"""Parameter sweeps: one design, one workload, a grid of compression / array parameters.

`run_sweep` simulates every point of the Cartesian product of the swept values and returns one
row per point (cycles, energy per category, core and DRAM energy, area, TOPS/W core and system, ...;
`archsim.results` defines core vs system and the ops convention, `OPS_NOTE`). Points are independent, so they
can run in parallel: ``executor="dask"`` uses dask (the ``dist`` extra: ``pip install
archsim[dist]``) with its process scheduler, or a `dask.distributed` client when one is active;
``executor="processes"`` uses `concurrent.futures` processes; ``"sequential"`` (the default) runs
in this process. Every executor computes the same numbers (the simulation is deterministic).

Swept parameters (`SWEEPABLE`)
------------------------------
``nm``    N:M pairs, e.g. ``1:4,2:4,2:8,4:16`` (sets both the weights and a sparse array's pattern)
``n``, ``m``, ``d``, ``k``   compression parameters (see `archsim.report.variants.CompressionParams`)
``array`` square dense-equivalent array size: ``rows = cols = value``
``rows``, ``cols``           dense-equivalent array rows / columns (see `archsim.report.variants`)

A point whose parameters do not fit (e.g. ``M`` not dividing ``d``) is an input error naming the
point, raised before anything is simulated.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pandas as pd

from archsim.cost import CATEGORIES
from workloads.errors import ArchsimInputError
from workloads.network import Network

SWEEPABLE = ("nm", "n", "m", "d", "k", "array", "rows", "cols")
EXECUTORS = ("sequential", "processes", "dask")


@dataclass(frozen=True)
class SweepPoint:
    """One grid point: the swept values (for the table) and what they resolve to."""

    values: tuple[tuple[str, Any], ...]
    n: int
    m: int
    d: int
    k: int
    rows: int
    cols: int


def parse_param(spec: str) -> tuple[str, list[Any]]:
    """``"k=64,128,256"`` -> ``("k", [64, 128, 256])``; ``"nm=1:4,2:8"`` -> ``("nm", [(1, 4), (2, 8)])``."""
    name, sep, values = spec.partition("=")
    name = name.strip().lower()
    if not sep or not values.strip():
        raise ArchsimInputError(f"--param {spec!r}: use NAME=V1,V2,..., e.g. --param k=64,128,256")
    if name not in SWEEPABLE:
        raise ArchsimInputError(f"--param {spec!r}: unknown parameter {name!r}; sweepable: {', '.join(SWEEPABLE)}")
    out: list[Any] = []
    for raw in values.split(","):
        raw = raw.strip()
        try:
            if name == "nm":
                n, m = raw.split(":")
                out.append((int(n), int(m)))
            else:
                out.append(int(raw))
        except ValueError:
            form = "N:M pairs like 1:4" if name == "nm" else "integers"
            raise ArchsimInputError(f"--param {spec!r}: {raw!r} is not valid; {name} takes {form}") from None
    if len(set(out)) != len(out):
        raise ArchsimInputError(f"--param {spec!r}: a value is listed twice")
    return name, out


def grid(params: Mapping[str, Sequence[Any]], base: Any, rows: int, cols: int) -> list[SweepPoint]:
    """Every combination of the swept values on top of ``base`` (a `CompressionParams`)."""
    from archsim.report.variants import CompressionParams

    if not params:
        raise ArchsimInputError("a sweep needs at least one --param NAME=V1,V2,...")
    clash = {"nm", "n", "m"} & set(params)
    if "nm" in params and len(clash) > 1:
        raise ArchsimInputError("--param nm sets N and M; do not also sweep n or m")
    if "array" in params and {"rows", "cols"} & set(params):
        raise ArchsimInputError("--param array sets rows and cols; do not also sweep rows or cols")
    names = list(params)
    points = []
    for combo in itertools.product(*(params[n] for n in names)):
        values = dict(zip(names, combo))
        p = {"n": base.n, "m": base.m, "d": base.d, "k": base.k, "rows": rows, "cols": cols}
        for key, v in values.items():
            if key == "nm":
                p["n"], p["m"] = v
            elif key == "array":
                p["rows"] = p["cols"] = v
            else:
                p[key] = v
        label = ", ".join(f"{k}={'%d:%d' % v if k == 'nm' else v}" for k, v in values.items())
        try:
            CompressionParams(n=p["n"], m=p["m"], d=p["d"], k=p["k"])
        except ArchsimInputError as err:
            raise ArchsimInputError(f"sweep point ({label}): {err}") from None
        for key in ("rows", "cols"):
            if not 1 <= p[key] <= 4096:
                raise ArchsimInputError(f"sweep point ({label}): {key} must be in 1..4096, got {p[key]}")
        points.append(SweepPoint(tuple(values.items()), **p))
    return points


def _point_row(network: Network, design: str, point: SweepPoint) -> dict[str, Any]:
    """Simulate one point; plain data back (cheap to send between processes)."""
    from archsim.api import SimContext, simulate
    from archsim.report.compare import array_area_um2, slug
    from archsim.report.variants import CompressionParams, prepare

    params = CompressionParams(point.n, point.m, point.d, point.k)
    prep = prepare(design, params, point.rows, point.cols)
    r = simulate(network, prep.design, context=SimContext(prep.design))
    row: dict[str, Any] = {}
    for key, v in point.values:
        row[key] = f"{v[0]}:{v[1]}" if key == "nm" else v
    row.update({"design": design, "workload": network.name, "n": point.n, "m": point.m, "d": point.d, "k": point.k,
                "rows": point.rows, "cols": point.cols,
                "physical_pes": prep.design.array.rows * prep.design.array.cols, "cycles": r.cycles,
                "stall_cycles": r.stall_cycles, "macs": r.macs, "energy_uj": r.energy_pj / 1e6,
                "energy_core_uj": r.energy_core_pj / 1e6, "energy_dram_uj": r.energy_dram_pj / 1e6})
    breakdown = r.energy_breakdown
    for cat in CATEGORIES:
        row[f"energy_{slug(cat)}_uj"] = breakdown.get(cat, 0.0) / 1e6
    row["energy_dram_uj"] = r.energy_dram_pj / 1e6  # the DRAM category, as the exact sum core + DRAM = total
    row.update({"area_mm2": r.area_um2 / 1e6, "array_area_mm2": array_area_um2(r.area) / 1e6,
                "tops_per_w": r.tops_per_w(), "tops_per_w_system": r.tops_per_w_system(),
                "tops_per_w_core": r.tops_per_w_core(), "tops_per_mm2": r.tops_per_mm2(),
                "inferences_per_s": r.inferences_per_s,
                "dram_bytes": sum(r.dram_read_bytes.values()) + sum(r.dram_write_bytes.values())})
    return row


def run_sweep(network: Network, design: str, params: Mapping[str, Sequence[Any]], *, base: Any = None,
              rows: int = 64, cols: int = 64, executor: str = "sequential", jobs: int = 2) -> pd.DataFrame:
    """One row per grid point, in grid order (first swept parameter varies slowest)."""
    from archsim.report.variants import CompressionParams, check_designs

    check_designs([design])
    base = base or CompressionParams()
    points = grid(params, base, rows, cols)
    if executor not in EXECUTORS:
        raise ArchsimInputError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if executor == "sequential" or len(points) == 1:
        rows_out = [_point_row(network, design, p) for p in points]
    elif executor == "processes":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
        with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx) as pool:
            rows_out = list(pool.map(_point_row, [network] * len(points), [design] * len(points), points))
    else:
        rows_out = _run_dask(network, design, points, jobs)
    return pd.DataFrame(rows_out)


def dask_available() -> bool:
    try:
        import dask  # noqa: F401
    except ImportError:
        return False
    return True


def _run_dask(network: Network, design: str, points: list[SweepPoint], jobs: int) -> list[dict[str, Any]]:
    if not dask_available():
        raise ArchsimInputError("--dask needs dask: pip install 'archsim[dist]' (or run without --dask)")
    import dask

    tasks = [dask.delayed(_point_row)(network, design, p) for p in points]
    try:  # an active dask.distributed client (e.g. a cluster) takes precedence
        from distributed import get_client

        get_client()
        return list(dask.compute(*tasks))
    except (ImportError, ValueError):
        return list(dask.compute(*tasks, scheduler="processes", num_workers=max(1, jobs)))


def sweep_axis(df: pd.DataFrame, params: Mapping[str, Sequence[Any]]) -> tuple[str, str | None]:
    """(x column, series column) for plotting: the first swept parameter on x, the second as series."""
    names = list(params)
    return names[0], (names[1] if len(names) > 1 else None)


__all__ = ["EXECUTORS", "SWEEPABLE", "SweepPoint", "dask_available", "grid", "parse_param", "run_sweep",
           "sweep_axis"]
