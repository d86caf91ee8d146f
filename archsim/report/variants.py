"""How a comparison turns (design name, N, M, d, k, array size) into a `Design` and per-layer traces.

This is a thin adapter between the comparison/sweep reports and the design presets: the reports
speak in *compression parameters* (N:M, d, k) and a *dense-equivalent array size*; the presets and
the mapper speak in design fields and `compress.trace.Trace`s. Keeping the translation in one place
means a comparison, a sweep and the MVQ report cannot disagree on what "mvq at 1:4, d=16, 64x64" is.

The sizing rule itself (`CompressionParams`, `prepare`, `Prepared`) lives in `archsim.sizing`, so
that `archsim run` and `archsim.api.simulate` size a design by name exactly as compare does; it is
re-exported here. The array-size convention (dense-equivalent rows, N:M sparse arrays with rows·N/M
physical rows, the weight-side rule for SparTen, S2TA and SA-ZVCG) is stated once, in `archsim.sizing`.
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
