"""The append-only points file of a sweep: one JSON line per finished point, so a sweep can be resumed.

Why a JSON-lines file: a sweep of hundreds of points must never lose finished work to a Ctrl-C, a
crash or a SIGKILL. Each finished point is appended as one line (``{"key": ..., "row": {...}}``),
flushed and fsync'ed before the next point is counted, so the file on disk always holds every point
that finished. A process killed mid-write can leave at most one partial last line; `PointStore`
drops it (truncating the file back to its last complete line) the next time it opens the file, and
deduplicates by key (the last line of a key wins; a key is never written twice by one run). The
final CSV and plots are rebuilt from this file, so a resumed run and an uninterrupted one write the
same rows.

The key of a point is the JSON of every parameter that determines its numbers (`point_key`): the
workload and batch, the design, the resolved compression and array parameters, every design-field
override, and `code_fingerprint` (a hash of the simulator's source and tables), so a points file written by
other code is never resumed from: a model change cannot leave stale numbers in a new CSV. Two runs of the
same code that share a points file therefore share exactly the points they both ask for.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from workloads.errors import ArchsimInputError

#: Suffix of the points file beside a sweep's CSV.
POINTS_SUFFIX = ".points.jsonl"


#: The packages whose source (and YAML tables/presets) determine a point's numbers.
FINGERPRINTED = ("archsim", "workloads", "compress")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A short SHA-1 of every .py and .yaml file of `FINGERPRINTED` (path and bytes, in path order)."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha1()
    for pkg in FINGERPRINTED:
        for path in sorted(p for p in (root / pkg).rglob("*") if p.suffix in (".py", ".yaml") and p.is_file()):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def point_key(params: Mapping[str, Any]) -> str:
    """A stable key for a point's parameters: a short SHA-1 of their canonical JSON (sorted keys)."""
    text = json.dumps(dict(params), sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    """numpy scalars (and anything with ``.item()``) as plain Python numbers, so rows round-trip exactly."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class PointStore:
    """The points file of one sweep: `load` what finished, `append` each point as it lands."""

    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if fresh and self.path.exists():
                self.path.unlink()
        except OSError as err:
            raise ArchsimInputError(f"--out {str(self.path.parent)!r}: cannot write there ({err.strerror})") from None
        self._rows = self._read()

    def _read(self) -> dict[str, dict[str, Any]]:
        """Every complete line, deduplicated by key; a partial last line (a kill mid-write) is cut off."""
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):                      # an unterminated last line: the write was killed
            with open(self.path, "r+b") as f:
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())
        rows: dict[str, dict[str, Any]] = {}
        for lineno, line in enumerate(data[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                rows[str(rec["key"])] = dict(rec["row"])
            except (ValueError, KeyError, TypeError):
                raise ArchsimInputError(f"points file {str(self.path)!r} line {lineno} is not a sweep point; "
                                        f"rerun with --fresh to start over (or remove the file)") from None
        return rows

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def get(self, key: str) -> dict[str, Any] | None:
        return self._rows.get(key)

    def append(self, key: str, row: Mapping[str, Any]) -> None:
        """Write one finished point as one line, flushed and fsync'ed (a duplicate key is not written)."""
        if key in self._rows:
            return
        line = json.dumps({"key": key, "row": dict(row)}, default=_plain, allow_nan=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self._rows[key] = json.loads(line)["row"]


__all__ = ["FINGERPRINTED", "POINTS_SUFFIX", "PointStore", "code_fingerprint", "point_key"]
