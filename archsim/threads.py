"""Deliberate CPU thread counts for torch, OpenMP and BLAS (issue 13.14).

Left alone, torch starts one OpenMP thread per core it can see and BLAS libraries do the same, whatever
else the machine is doing. On a shared 2-core machine that oversubscribes: `archsim compress resnet50`
took 248 s wall (150 s CPU) with the defaults and 51 s with ``OMP_NUM_THREADS=1``, because every
OpenMP parallel region waits for its slowest thread, and a thread that shares a core with another job
is slow. So every archsim entry point that runs torch kernels picks its thread count here, once:

* the cores this *process* may run on (``os.sched_getaffinity``, which honours ``taskset`` and
  container CPU sets, unlike ``os.cpu_count``),
* minus the cores other jobs keep busy (the 1-minute load average, taken before we start working),
* at least 1, at most `MAX_THREADS`;
* an explicit request wins: ``--threads N`` where a command has it, else ``ARCHSIM_THREADS``, else a
  user-set ``OMP_NUM_THREADS``.

Process pools (``--jobs``) never nest parallelism: each worker runs `single_thread_worker` (1 torch,
OpenMP and BLAS thread), since the pool already uses the cores.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from typing import Iterator, Mapping

from workloads.errors import ArchsimInputError

#: [A] Upper bound on the automatic choice: the masked k-means and reconstruction kernels archsim runs
#: work on tensors of at most a few million elements, where more than 8 threads gain little and each
#: extra OpenMP thread adds synchronisation cost. An explicit request may exceed it.
MAX_THREADS = 8

#: Environment variables read by the OpenMP runtime and the BLAS libraries torch and numpy load; set for
#: subprocesses (they are read once, at library load, so they cannot change this process's pools).
THREAD_ENV_VARS: tuple[str, ...] = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

#: Environment variable that fixes archsim's thread count without a command-line flag.
ENV_OVERRIDE = "ARCHSIM_THREADS"


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask), not the machine's total."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):   # not Linux
        return max(1, os.cpu_count() or 1)


def busy_cores() -> int:
    """Cores other jobs keep busy now: the 1-minute load average, rounded to the nearest whole core."""
    try:
        return int(math.floor(os.getloadavg()[0] + 0.5))
    except (AttributeError, OSError):
        return 0


def _positive(value: object, field: str) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    if n < 1:
        raise ArchsimInputError(f"{field} must be a positive whole number of threads, got {value!r}")
    return n


def choose_threads(requested: int | None = None) -> int:
    """The thread count to use: ``requested`` (``--threads``) if given, else ``ARCHSIM_THREADS``, else a
    user-set ``OMP_NUM_THREADS``, else min(`MAX_THREADS`, free cores of this process), at least 1."""
    if requested is not None:
        return _positive(requested, "--threads")
    for var in (ENV_OVERRIDE, "OMP_NUM_THREADS"):
        if os.environ.get(var, "").strip():
            return _positive(os.environ[var], var)
    cores = available_cores()
    free = cores - min(busy_cores(), cores - 1)
    return max(1, min(MAX_THREADS, free))


def set_threads(n: int) -> int:
    """Use ``n`` threads from now on in this process: torch intra-op threads and the BLAS/OpenMP pools
    (threadpoolctl, when installed). Returns torch's previous intra-op count. Subprocesses get theirs
    through `thread_env` (this process's environment is left alone, so a later `choose_threads` still
    sees what the user set)."""
    import torch

    n = _positive(n, "threads")
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    _limit_blas(n)
    return previous


def thread_env(n: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a subprocess that should use ``n`` threads (``base``: default ``os.environ``)."""
    env = dict(os.environ if base is None else base)
    env.update({var: str(_positive(n, "threads")) for var in THREAD_ENV_VARS})
    return env


def _limit_blas(n: int) -> None:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:   # optional: torch.set_num_threads already covers torch's own OpenMP and MKL
        return
    threadpool_limits(limits=n)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """``with torch_threads(n):`` run with ``n`` torch threads, restoring the caller's count afterwards."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(_positive(n, "threads"))
    try:
        yield n
    finally:
        torch.set_num_threads(previous)


def single_thread_worker() -> None:
    """Initializer for ``--jobs`` pool workers: one thread each (the pool itself is the parallelism); the
    worker's environment says 1 too, for anything it starts."""
    for var in THREAD_ENV_VARS:
        os.environ[var] = "1"
    if "torch" in sys.modules:   # forked workers inherit torch; do not import it into workers that lack it
        sys.modules["torch"].set_num_threads(1)
    _limit_blas(1)


__all__ = ["ENV_OVERRIDE", "MAX_THREADS", "THREAD_ENV_VARS", "available_cores", "busy_cores", "choose_threads",
           "set_threads", "single_thread_worker", "thread_env", "torch_threads"]
