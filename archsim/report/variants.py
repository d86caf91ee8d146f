"""How a comparison turns (design name, N, M, d, k, array size) into a `Design` and per-layer traces.

This is a thin adapter between the comparison/sweep reports and the design presets: the reports
speak in *compression parameters* (N:M, d, k) and a *dense-equivalent array size*; the presets and
the mapper speak in design fields and `compress.trace.Trace`s. Keeping the translation in one place
means a comparison, a sweep and the MVQ report cannot disagree on what "mvq at 1:4, d=16, 64x64" is.

The sizing rule itself (`CompressionParams`, `prepare`, `Prepared`) lives in `archsim.sizing`, so
that `archsim run` and `archsim.api.simulate` size a design by name exactly as compare does; it is
re-exported here. The convention, for reference:

Array size convention
---------------------
By default ``rows`` is the **dense-equivalent reduction length** the array covers per cycle and
``cols`` the output channels, so ``rows x cols`` is the peak of dense-equivalent MACs per cycle. For
a dense array that is also the PE count. An N:M sparse array (MVQ's sparse systolic array, the
S2TA-like array) built for the same ``rows`` replaces the ``d`` PEs of each ``d``-long reduction
segment by ``Q = (N/M)·d`` PEs, each with an M:1 activation mux (mvq.md §3.2 [S1]): it has
``rows·N/M`` physical PE rows (``array.rows`` in `archsim.design`, which counts physical rows),
``(N/M)·rows·cols`` multipliers, and the same peak dense-equivalent MACs per cycle — on layers that
really are N:M sparse (a dense layer, e.g. the first conv, runs one reduction row per PE row).
``rows_are="physical"`` reads ``rows`` as physical PE rows instead: the presets' own convention
(mvq.yaml's "64x64" is 64 physical rows covering 256 reduction rows at 1:4).

SparTen (``dataflow: sparten``; unstructured sparsity, no N:M array) follows the same weight-side rule
[A]: its weights are pruned to density N/M (``weights.density``: every sparse design keeps as many
weights), and it gets ``rows·N/M`` CUs per cluster (``array.rows``) x ``cols`` clusters — the
multipliers of the N:M arrays, i.e. the same peak dense-equivalent MACs per cycle *counting weight
sparsity only*. Its activation sparsity (like S2TA's) is data-dependent and comes on top.

S2TA and its baseline follow the weight-side rule too [A]: iso-throughput is defined on the
dense-equivalent *weight* side only, because activation sparsity is data-dependent (it is measured per
run, `compress.activations`) and never resizes an array. ``s2ta`` (the ``s2ta-w`` array plus run-time
activation DBB) gets ``rows·N/M`` physical rows exactly like ``s2ta-w``; ``sa-zvcg`` (dense array,
zero-value clock gating) gets ``rows`` like every dense design. What activation sparsity buys then
shows up as fewer cycles (s2ta) or clock-gated MACs (sa-zvcg), not as a different array.
"""

from __future__ import annotations

from archsim.design import list_presets
from archsim.sizing import ROW_MEANINGS, CompressionParams, Prepared, prepare
from workloads.errors import ArchsimInputError

#: The design names a comparison knows, in ladder order (dense baselines, then the MVQ ladder, then S2TA).
LADDER: tuple[str, ...] = ("ws", "ews", "ews-c", "ews-cm", "mvq", "s2ta-w")


def known_designs() -> list[str]:
    """Presets available now (ladder order first)."""
    presets = list_presets()
    return [d for d in LADDER if d in presets] + sorted(p for p in presets if p not in LADDER)


def check_designs(names: list[str]) -> list[str]:
    """The list, validated: known presets (or .yaml paths), no duplicates, not empty."""
    if not names:
        raise ArchsimInputError("--designs is empty; give a comma-separated list, e.g. --designs ews,mvq")
    known = known_designs()
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ArchsimInputError(f"--designs: {name!r} is listed twice")
        seen.add(name)
        if name not in known and not name.endswith((".yaml", ".yml")):
            raise ArchsimInputError(f"--designs: unknown design {name!r}; known: {', '.join(known)} "
                                    f"(or a path to a design .yaml)")
    return names


__all__ = ["LADDER", "ROW_MEANINGS", "CompressionParams", "Prepared", "check_designs", "known_designs", "prepare"]
