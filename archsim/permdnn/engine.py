"""SimPy model of a column-broadcast sparse engine (PermDNN and EIE share it).

A non-zero detector walks the non-zero input activations in order and broadcasts each one to every
PE's activation FIFO, one broadcast per ``interval`` cycles. The broadcast is atomic: it waits
while *any* PE's FIFO holds ``queue_depth`` entries (EIE: "stalled if any queue is full"). Each PE
takes the next entry from its FIFO as soon as it is idle and spends ``work[pe, column]`` cycles on
it (PermDNN: ceil(blocks it owns / multipliers); EIE: stored entries of that column in its slice,
padding zeros included). The layer ends when the last PE finishes, plus the pipeline drain.

What emerges rather than being assumed: EIE's load imbalance (PEs with more non-zeros fall behind;
the FIFO lets the others run ahead until it fills) and, for small layers, the detector/broadcast
bottleneck. Events are per (PE, column) -- never per cycle -- so AlexNet FC6 on 64 PEs is ~1 M events.

`analytical_cycles` is an independent max-plus recursion of the same machine (numpy, per column,
vectorised over PEs); the tests require the two to agree exactly, and with an unbounded FIFO the
result is the closed form ``max_pe max_c (b_c + sum_{c' >= c} work[pe, c'])``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from workloads.errors import ArchsimInputError


@dataclass(frozen=True)
class BroadcastResult:
    cycles: int                     # layer latency incl. pipeline drain
    compute_cycles: int             # last PE finish time (no drain)
    pe_busy: np.ndarray             # (n_pe,) cycles each PE worked = its total work
    broadcast_stall_cycles: int     # cycles the detector waited on a full FIFO
    max_queue_occupancy: int

    @property
    def utilisation(self) -> float:
        """Mean PE busy fraction over the compute cycles."""
        return float(self.pe_busy.mean() / self.compute_cycles) if self.compute_cycles else 0.0


def _check(work: np.ndarray, queue_depth: int | None, interval: int, latency: int) -> np.ndarray:
    work = np.asarray(work)
    if work.ndim != 2 or work.shape[0] < 1:
        raise ArchsimInputError(f"work must be a (n_pe, n_columns) array (got shape {work.shape})")
    if work.size and (work.min() < 0 or not np.issubdtype(work.dtype, np.integer)):
        raise ArchsimInputError("work must hold whole numbers of cycles >= 0")
    if queue_depth is not None and (isinstance(queue_depth, bool) or queue_depth < 1):
        raise ArchsimInputError(f"queue_depth must be >= 1 or None for unbounded (got {queue_depth!r})")
    if interval < 1 or latency < 0:
        raise ArchsimInputError(f"interval must be >= 1 and latency >= 0 (got {interval}, {latency})")
    return work.astype(np.int64)


def simulate_broadcast(work: np.ndarray, queue_depth: int | None = 8, interval: int = 1,
                       latency: int = 0) -> BroadcastResult:
    """Run the SimPy model. ``work``: (n_pe, n_columns) cycles per PE per broadcast column."""
    work = _check(work, queue_depth, interval, latency)
    n_pe, n_cols = work.shape
    env = simpy.Environment()
    cap = float("inf") if queue_depth is None else queue_depth
    queues = [simpy.Store(env, capacity=cap) for _ in range(n_pe)]
    state = {"waiter": None, "stall": 0, "max_occ": 0}
    finish = np.zeros(n_pe, dtype=np.int64)
    rows = work.tolist()  # python ints: faster than numpy scalars inside SimPy

    def detector():
        for c in range(n_cols):
            t0 = env.now
            while any(len(q.items) >= cap for q in queues):
                state["waiter"] = env.event()
                yield state["waiter"]
            state["stall"] += env.now - t0
            for q in queues:
                q.put(c)                    # room checked above, so every put succeeds now: atomic broadcast
            state["max_occ"] = max(state["max_occ"], max(len(q.items) for q in queues))
            yield env.timeout(interval)

    def pe(k: int):
        w = rows[k]
        q = queues[k]
        for _ in range(n_cols):
            c = yield q.get()
            waiter = state["waiter"]
            if waiter is not None and not waiter.triggered:
                waiter.succeed()
            if w[c]:
                yield env.timeout(w[c])
        finish[k] = env.now

    env.process(detector())
    for k in range(n_pe):
        env.process(pe(k))
    env.run()
    compute = int(finish.max()) if n_cols else 0
    return BroadcastResult(cycles=compute + latency, compute_cycles=compute, pe_busy=work.sum(axis=1),
                           broadcast_stall_cycles=int(state["stall"]), max_queue_occupancy=int(state["max_occ"]))


def analytical_cycles(work: np.ndarray, queue_depth: int | None = 8, interval: int = 1, latency: int = 0) -> int:
    """Max-plus recursion of the same machine (no SimPy).

    ``b_c`` = broadcast time of column c, ``s[pe, c]`` = time PE pe dequeues it, ``f`` = its finish:
    ``b_c = max(b_{c-1} + interval, max_pe s[pe, c - Q])`` (the FIFO of depth Q has room once the
    entry Q columns back left it), ``s = max(b_c, f[pe, c-1])``, ``f = s + work``."""
    work = _check(work, queue_depth, interval, latency)
    n_pe, n_cols = work.shape
    if n_cols == 0:
        return latency
    if queue_depth is None:
        b = np.arange(n_cols, dtype=np.int64) * interval
        suffix = np.cumsum(work[:, ::-1], axis=1)[:, ::-1]
        return int((b[None, :] + suffix).max()) + latency
    start = np.zeros((n_pe, n_cols), dtype=np.int64)
    f_prev = np.zeros(n_pe, dtype=np.int64)
    b_prev = -interval
    for c in range(n_cols):
        b = b_prev + interval
        if c >= queue_depth:
            b = max(b, int(start[:, c - queue_depth].max()))
        s = np.maximum(b, f_prev)
        start[:, c] = s
        f_prev = s + work[:, c]
        b_prev = b
    return int(f_prev.max()) + latency


__all__ = ["BroadcastResult", "simulate_broadcast", "analytical_cycles"]
