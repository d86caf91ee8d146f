"""One way to turn pydantic validation failures and dotted overrides into user-facing errors.

Every YAML-configured part of archsim (designs, the PQA/DLA and PermDNN/EIE configs) validates with
pydantic and lets users override single fields by dotted path (``array.rows=32``). Both must end in
*one* `ArchsimInputError` that names the field and the fix, never a pydantic traceback; keeping that
logic here means every config speaks the same language.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import ValidationError

from workloads.errors import ArchsimInputError
from workloads.files import read_text_file

#: Plain-words endings for the pydantic error types users hit most.
FRIENDLY = {
    "missing": "is missing; add it",
    "extra_forbidden": "is not a known field; remove it or fix its spelling",
}


def describe_validation_error(err: ValidationError) -> str:
    """``field.path: problem; other.field: problem`` for every failure pydantic reports."""
    problems = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = FRIENDLY.get(e["type"], e["msg"])
        problems.append(f"{loc}: {msg}")
    return "; ".join(problems)


def input_error(err: ValidationError, where: str) -> ArchsimInputError:
    """The `ArchsimInputError` to raise (``from None``) for a validation failure in ``where``."""
    return ArchsimInputError(f"{where}: {describe_validation_error(err)}")


def apply_dotted_overrides(data: Mapping[str, Any], changes: Mapping[str, object], what: str) -> dict[str, Any]:
    """A deep copy of ``data`` with ``{"section.field": value}`` changes; an unknown section or field is
    an input error naming the override and the known fields (``what`` names the config in messages)."""
    out = copy.deepcopy(dict(data))
    for dotted, value in changes.items():
        node = out
        *parents, leaf = str(dotted).split(".")
        for p in parents:
            if not isinstance(node.get(p), dict):
                raise ArchsimInputError(f"override {dotted!r}: {p!r} is not a section of {what}")
            node = node[p]
        if leaf not in node:
            raise ArchsimInputError(f"override {dotted!r}: unknown field {leaf!r} of {what}; "
                                    f"fields: {', '.join(node)}")
        node[leaf] = value
    return out


def reject_non_finite(data: Any, where: str, path: str = "") -> None:
    """Raise one input error naming the first NaN or infinite number anywhere in ``data`` (nested
    mappings and lists, as parsed from YAML/JSON), by its dotted field path.

    YAML reads ``.nan``/``.inf`` and Python's JSON reads ``NaN``/``Infinity`` without complaint; a NaN
    that reaches a comparison passes every range check (``nan < 0`` is False) and then propagates into
    every sum, so no archsim input file may hold one."""
    if isinstance(data, float) and not math.isfinite(data):
        field = path or "(top level)"
        raise ArchsimInputError(f"{where}: {field} is {data!r}; give a finite number")
    if isinstance(data, Mapping):
        for key, value in data.items():
            reject_non_finite(value, where, f"{path}.{key}" if path else str(key))
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            reject_non_finite(value, where, f"{path}[{i}]")


def read_yaml_mapping(path: Path, what: str = "config file", expect: str = "fields") -> dict[str, Any]:
    """The mapping a YAML config file holds; a missing file, non-UTF-8 bytes, bad YAML, a non-mapping or
    a NaN/infinite number anywhere is one input error naming the file (and the field)."""
    path = Path(path)
    text = read_text_file(path, what)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ArchsimInputError(f"{what} {str(path)!r} is not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise ArchsimInputError(f"{what} {str(path)!r} must hold a mapping of {expect}")
    reject_non_finite(data, f"{what} {str(path)!r}")
    return data


def _output_error(option: str, path: Path, problem: str) -> ArchsimInputError:
    return ArchsimInputError(f"{option} {str(path)!r}: {problem}")


def ensure_writable_dir(path: str | Path, option: str = "--out") -> Path:
    """Create the output folder ``path`` (and its parents) or raise one input error naming ``option``.

    The one check every writer of a results folder uses: a file where a folder is expected, a parent
    that is a file, or a folder without write permission each end in ``<option> 'path': <problem>``
    instead of an ``OSError`` traceback half-way through writing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise _output_error(option, path, "is a file, not a folder; give a folder path (or remove the file)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _output_error(option, path, f"cannot create the folder ({err.strerror or err}); "
                                          f"check that no part of the path is a file") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise _output_error(option, path, "the folder is not writable; choose another folder")
    return path


def ensure_writable_file(path: str | Path, option: str) -> Path:
    """Check (before any work) that the output file ``path`` can be written: its folder is created if
    missing; a folder at ``path``, a file where a parent folder should be or a read-only location is one
    input error naming ``option``. Returns the path."""
    path = Path(path)
    if path.is_dir():
        raise _output_error(option, path, "is a folder; give a file path")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise _output_error(option, path, f"{str(parent)!r} is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _output_error(option, path, f"cannot create its folder ({err.strerror or err}); "
                                          f"check that no part of the path is a file") from None
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise _output_error(option, path, "is not writable; choose another path")
    return path


__all__ = ["FRIENDLY", "apply_dotted_overrides", "describe_validation_error", "ensure_writable_dir",
           "ensure_writable_file", "input_error", "read_text_file", "read_yaml_mapping", "reject_non_finite"]
