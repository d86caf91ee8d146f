"""Parameter sweeps: designs x workloads x a grid of compression, array and design-field values.

`run_sweep` / `run_points` simulate every point of the Cartesian product of the swept values and return
one row per point (cycles, energy per category, core and DRAM energy, area, TOPS/W core and system, ...;
`archsim.results` defines core vs system and the ops convention, `OPS_NOTE`). Points are independent, so
they can run in parallel: ``executor="dask"`` uses dask (the ``dist`` extra: ``pip install
archsim[dist]``): a `dask.distributed` scheduler at ``dask_address`` (``tcp://host:8786``) when given,
else an active `dask.distributed` client, else dask's process scheduler; ``executor="processes"`` uses
`concurrent.futures` processes; ``"sequential"`` (the default) runs in this process. Every executor
computes the same numbers (the simulation is deterministic) and returns the rows in grid order.

With a `archsim.sweep_store.PointStore`, each point is appended to the store the moment it finishes
and points already in the store are not run again (resume), so an interrupted sweep keeps its work.

Swept parameters
----------------
Shortcuts (`SWEEPABLE`), resolved through the sizing rule (`archsim.report.variants.prepare`):

``nm``    N:M pairs, e.g. ``1:4,2:4,2:8,4:16`` (sets both the weights and a sparse array's pattern)
``n``, ``m``, ``d``, ``k``   compression parameters (see `archsim.report.variants.CompressionParams`)
``array`` square dense-equivalent array size: ``rows = cols = value``
``rows``, ``cols``           dense-equivalent array rows / columns (see `archsim.report.variants`)

Any other field of `archsim.design.Design`, by its dotted path (``buffers.weight.capacity_bytes``,
``dram.kind``, ``clock_hz``, ...), is applied with `Design.with_overrides` on top of the sized design, so
it is validated by the design schema. Values parse as integers, byte sizes (`parse_bytes`: ``64KiB``),
floats, ``true``/``false``, ``none``, or else stay strings (``LPDDR4``). The fields the shortcuts own
(`SIZED_FIELDS`) cannot be swept by path: the sizing rule would be bypassed.

Every point is built and validated before any point runs: a point whose parameters do not fit (e.g.
``M`` not dividing ``d``, an unknown field, a value the schema refuses) is one input error naming it.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import sys
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from archsim.cost import CATEGORIES
from archsim.sweep_store import PointStore, code_fingerprint, point_key
from workloads.errors import ArchsimInputError
from workloads.network import Network

SWEEPABLE = ("nm", "n", "m", "d", "k", "array", "rows", "cols")
EXECUTORS = ("sequential", "processes", "dask")
#: Design fields the sizing rule sets from the shortcuts; sweeping them by path would bypass it.
SIZED_FIELDS = {"array.rows": "rows (or array)", "array.cols": "cols (or array)", "array.sparse_n": "nm",
                "array.sparse_m": "nm", "weights.n": "n (or nm)", "weights.m": "m (or nm)", "weights.d": "d",
                "weights.k": "k"}
#: Byte-size units: IEC binary (KiB = 1024 B) and SI decimal (KB = 1000 B), as their standards define them.
BYTE_UNITS = {"b": 1, "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3, "kb": 1000, "mb": 1000 ** 2,
              "gb": 1000 ** 3}
_BYTES = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)$", re.IGNORECASE)
_FIELD = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")


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
    overrides: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={_show(k, v)}" for k, v in self.values)


@dataclass(frozen=True)
class SweepTask:
    """One point of one design on one workload, built and validated; ``key`` names it in a points file."""

    key: str
    network: Network
    design: str
    point: SweepPoint
    built: Any  # the `archsim.design.Design` the point simulates


def _show(name: str, v: Any) -> Any:
    return f"{v[0]}:{v[1]}" if name == "nm" else v


def parse_bytes(text: str) -> int | None:
    """``"64KiB"`` -> 65536, ``"1MB"`` -> 1000000 (`BYTE_UNITS`); None when ``text`` is not a byte size."""
    match = _BYTES.match(text.strip())
    if not match:
        return None
    value = float(match.group(1)) * BYTE_UNITS[match.group(2).lower()]
    if value != int(value):
        raise ValueError(f"{text!r} is not a whole number of bytes")
    return int(value)


def parse_value(raw: str) -> Any:
    """A design-field value from the command line: int, byte size, float, bool, None, else the string."""
    low = raw.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(raw)
    except ValueError:
        pass
    size = parse_bytes(raw)           # a byte size that is not whole raises: never a silently rounded size
    if size is not None:
        return size
    try:
        return float(raw)
    except ValueError:
        return raw


def design_fields() -> set[str]:
    """Every dotted path of `Design` (sections and leaves), from its pydantic schema."""
    from pydantic import BaseModel

    from archsim.design import Design

    def models_in(annotation: Any) -> list[type]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]

    out: set[str] = set()

    def walk(model: type, prefix: str) -> None:
        for name, info in model.model_fields.items():
            out.add(prefix + name)
            for sub in models_in(info.annotation):
                walk(sub, f"{prefix}{name}.")

    walk(Design, "")
    return out


def parse_param(spec: str) -> tuple[str, list[Any]]:
    """``"k=64,128,256"`` -> ``("k", [64, 128, 256])``; ``"nm=1:4,2:8"`` -> ``("nm", [(1, 4), (2, 8)])``;
    ``"buffers.weight.capacity_bytes=64KiB,128KiB"`` -> ``(..., [65536, 131072])``."""
    name, sep, values = spec.partition("=")
    name = name.strip().lower()
    if not sep or not values.strip():
        raise ArchsimInputError(f"--param {spec!r}: use NAME=V1,V2,..., e.g. --param k=64,128,256")
    if name in SIZED_FIELDS:
        raise ArchsimInputError(f"--param {spec!r}: {name} is set by the sizing rule; sweep "
                                f"{SIZED_FIELDS[name]} instead")
    if name not in SWEEPABLE and not (_FIELD.match(name) and name in design_fields()):
        raise ArchsimInputError(f"--param {spec!r}: unknown parameter {name!r}; sweepable: {', '.join(SWEEPABLE)} "
                                f"or any design field by its path (e.g. buffers.weight.capacity_bytes, dram.kind, "
                                f"clock_hz; a preset's YAML in archsim/presets/ shows them)")
    out: list[Any] = []
    for raw in values.split(","):
        raw = raw.strip()
        try:
            if name == "nm":
                n, m = raw.split(":")
                out.append((int(n), int(m)))
            elif name in SWEEPABLE:
                out.append(int(raw))
            else:
                out.append(parse_value(raw))
        except ValueError as err:
            form = "N:M pairs like 1:4" if name == "nm" else "integers"
            why = str(err) if name not in SWEEPABLE else f"{name} takes {form}"
            raise ArchsimInputError(f"--param {spec!r}: {raw!r} is not valid; {why}") from None
    if len({json.dumps(v) for v in out}) != len(out):
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
        overrides = []
        for key, v in values.items():
            if key == "nm":
                p["n"], p["m"] = v
            elif key == "array":
                p["rows"] = p["cols"] = v
            elif key in SWEEPABLE:
                p[key] = v
            else:
                overrides.append((key, v))
        point = SweepPoint(tuple(values.items()), **p, overrides=tuple(overrides))
        try:
            CompressionParams(n=p["n"], m=p["m"], d=p["d"], k=p["k"])
        except ArchsimInputError as err:
            raise ArchsimInputError(f"sweep point ({point.label}): {err}") from None
        for key in ("rows", "cols"):
            if not 1 <= p[key] <= 4096:
                raise ArchsimInputError(f"sweep point ({point.label}): {key} must be in 1..4096, got {p[key]}")
        points.append(point)
    return points


def build_point(design: str, point: SweepPoint) -> Any:
    """The `Design` a point simulates: the sizing rule, then the design-field overrides (schema-validated)."""
    from archsim.report.variants import CompressionParams, prepare

    try:
        built = prepare(design, CompressionParams(point.n, point.m, point.d, point.k), point.rows, point.cols).design
        if point.overrides:
            built = built.with_overrides(**dict(point.overrides))
    except ArchsimInputError as err:
        raise ArchsimInputError(f"sweep point ({design}: {point.label}): {err}") from None
    return built


def plan(networks: Sequence[Network], designs: Sequence[str], params: Mapping[str, Sequence[Any]], *,
         base: Any = None, rows: int = 64, cols: int = 64) -> list[SweepTask]:
    """Every (workload, design, point), built and validated before anything runs, in grid order."""
    from archsim.report.variants import CompressionParams, check_designs

    check_designs(list(designs))
    points = grid(params, base or CompressionParams(), rows, cols)
    built = {(d, p): build_point(d, p) for d in designs for p in points}
    code = code_fingerprint()
    tasks = []
    for network in networks:
        for d in designs:
            for p in points:
                key = point_key({"workload": network.name, "batch": network.batch, "design": d, "n": p.n,
                                 "m": p.m, "d": p.d, "k": p.k, "rows": p.rows, "cols": p.cols,
                                 "overrides": [list(o) for o in p.overrides], "code": code})
                tasks.append(SweepTask(key, network, d, p, built[(d, p)]))
    return tasks


def _point_row(network: Network, design: str, point: SweepPoint, built: Any) -> dict[str, Any]:
    """Simulate one point; plain data back (cheap to send between processes)."""
    from archsim.api import SimContext, simulate
    from archsim.report.compare import array_area_um2, slug

    r = simulate(network, built, context=SimContext(built))
    row: dict[str, Any] = {key: _show(key, v) for key, v in point.values}
    row.update({"design": design, "workload": network.name, "n": point.n, "m": point.m, "d": point.d, "k": point.k,
                "rows": point.rows, "cols": point.cols,
                "physical_pes": built.array.rows * built.array.cols, "cycles": r.cycles,
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


def _run_task(task: SweepTask) -> dict[str, Any]:
    try:
        return _point_row(task.network, task.design, task.point, task.built)
    except ArchsimInputError as err:   # e.g. a layer that does not fit a swept buffer size: name the point
        raise ArchsimInputError(f"sweep point ({task.network.name}, {task.design}: {task.point.label}): "
                                f"{err}") from None


def _plain_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row as the points file stores it (JSON round trip), so stored and fresh rows are identical."""
    return json.loads(json.dumps(dict(row), default=lambda v: v.item()))


def run_points(tasks: Sequence[SweepTask], *, executor: str = "sequential", jobs: int = 2,
               store: PointStore | None = None, progress: bool = False, dask_address: str | None = None,
               on_point: Callable[[SweepTask], None] | None = None) -> pd.DataFrame:
    """Run the tasks not yet in ``store``, appending each to it as it lands; one row per task, in task order.

    ``progress`` shows a tqdm bar on stderr. A KeyboardInterrupt propagates after the running executor is
    shut down; what finished is in ``store``."""
    from tqdm import tqdm

    if executor not in EXECUTORS:
        raise ArchsimInputError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    rows: dict[str, dict[str, Any]] = {}
    todo: list[SweepTask] = []
    seen: set[str] = set()
    for t in tasks:
        stored = store.get(t.key) if store is not None else None
        if stored is not None:
            rows[t.key] = stored
        elif t.key not in seen:
            todo.append(t)
        seen.add(t.key)
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), disable=not progress, file=sys.stderr,
               unit="pt", desc="sweep", dynamic_ncols=True)

    def done(task: SweepTask, row: Mapping[str, Any]) -> None:
        plain = _plain_row(row)
        if store is not None:
            store.append(task.key, plain)
        rows[task.key] = plain
        bar.update()
        if on_point is not None:
            on_point(task)

    try:
        if executor == "sequential" or len(todo) <= 1:
            for t in todo:
                done(t, _run_task(t))
        elif executor == "processes":
            _run_processes(todo, jobs, done)
        else:
            _run_dask(todo, jobs, done, dask_address)
    finally:
        bar.close()
    return pd.DataFrame([rows[t.key] for t in tasks])


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which prints one line (no traceback per worker), and run one
    thread each: the pool is the parallelism, nested thread pools would oversubscribe (archsim.threads)."""
    from archsim.threads import single_thread_worker

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    single_thread_worker()


def _process_pool(jobs: int) -> Any:
    """A process pool (fork where available: workers inherit the loaded network) whose workers ignore Ctrl-C."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    return ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx, initializer=_ignore_sigint)


def _run_processes(todo: list[SweepTask], jobs: int, done: Callable[[SweepTask, Mapping[str, Any]], None]) -> None:
    from concurrent.futures import as_completed

    pool = _process_pool(jobs)
    try:
        futures = {pool.submit(_run_task, t): t for t in todo}
        for fut in as_completed(futures):
            done(futures[fut], fut.result())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def dask_available() -> bool:
    try:
        import dask  # noqa: F401
    except ImportError:
        return False
    return True


def _run_dask(todo: list[SweepTask], jobs: int, done: Callable[[SweepTask, Mapping[str, Any]], None],
              address: str | None) -> None:
    """On the scheduler at ``address``, else an active distributed client, else dask's process scheduler."""
    if not dask_available():
        raise ArchsimInputError("--dask needs dask: pip install 'archsim[dist]' (or run without --dask)")
    if address:
        try:
            from distributed import Client
        except ImportError:
            raise ArchsimInputError(f"--dask {address}: a scheduler address needs dask.distributed: "
                                    f"pip install 'archsim[dist]'") from None
        try:
            client = Client(address, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            raise ArchsimInputError(f"--dask {address}: cannot connect to a Dask scheduler there "
                                    f"({type(err).__name__}: {err}); start one (`dask scheduler`) or drop the "
                                    f"address to use a local one") from None
        try:
            _run_on_client(client, todo, done)
        finally:
            client.close()
        return
    try:  # an active dask.distributed client (e.g. a cluster) takes precedence
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:
        _run_on_client(client, todo, done)
        return
    import dask

    # dask's process scheduler returns a whole compute at once, so batches of `jobs` points land as they finish;
    # one pool for all batches (workers ignore Ctrl-C, like `_run_processes`), not a fresh one per batch.
    step = max(1, jobs)
    pool = _process_pool(step)
    try:
        for i in range(0, len(todo), step):
            batch = todo[i:i + step]
            for t, row in zip(batch, dask.compute(*(dask.delayed(_run_task)(t) for t in batch),
                                                  scheduler="processes", pool=pool)):
                done(t, row)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _run_on_client(client: Any, todo: list[SweepTask], done: Callable[[SweepTask, Mapping[str, Any]], None]) -> None:
    from distributed import as_completed

    futures = {client.submit(_run_task, t, pure=False): t for t in todo}
    try:
        for fut in as_completed(list(futures), loop=client.loop):
            done(futures[fut], fut.result())
    except BaseException:
        client.cancel(list(futures))
        raise


def run_sweep(network: Network | Sequence[Network], design: str | Sequence[str], params: Mapping[str, Sequence[Any]],
              *, base: Any = None, rows: int = 64, cols: int = 64, executor: str = "sequential", jobs: int = 2,
              store: PointStore | None = None, progress: bool = False,
              dask_address: str | None = None) -> pd.DataFrame:
    """One row per grid point, in grid order (workload, then design, then the first swept parameter slowest)."""
    networks = [network] if isinstance(network, Network) else list(network)
    designs = [design] if isinstance(design, str) else list(design)
    if executor not in EXECUTORS:
        raise ArchsimInputError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    tasks = plan(networks, designs, params, base=base, rows=rows, cols=cols)
    return run_points(tasks, executor=executor, jobs=jobs, store=store, progress=progress, dask_address=dask_address)


def sweep_axis(df: pd.DataFrame, params: Mapping[str, Sequence[Any]]) -> tuple[str, str | None]:
    """(x column, series column) for plotting: the first swept parameter on x, the second as series."""
    names = list(params)
    return names[0], (names[1] if len(names) > 1 else None)


__all__ = ["BYTE_UNITS", "EXECUTORS", "SIZED_FIELDS", "SWEEPABLE", "SweepPoint", "SweepTask", "build_point",
           "dask_available", "design_fields", "grid", "parse_bytes", "parse_param", "parse_value", "plan",
           "run_points", "run_sweep", "sweep_axis"]
