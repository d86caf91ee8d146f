"""One way to turn pydantic validation failures and dotted overrides into user-facing errors.

Every YAML-configured part of archsim (designs, the PQA/DLA and PermDNN/EIE configs) validates with
pydantic and lets users override single fields by dotted path (``array.rows=32``). Both must end in
*one* `ArchsimInputError` that names the field and the fix, never a pydantic traceback; keeping that
logic here means every config speaks the same language.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import ValidationError

from workloads.errors import ArchsimInputError

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


def read_yaml_mapping(path: Path, what: str = "config file", expect: str = "fields") -> dict[str, Any]:
    """The mapping a YAML config file holds; a missing file, bad YAML or a non-mapping is one input error."""
    path = Path(path)
    if not path.is_file():
        raise ArchsimInputError(f"{what} {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ArchsimInputError(f"{what} {str(path)!r} is not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise ArchsimInputError(f"{what} {str(path)!r} must hold a mapping of {expect}")
    return data


__all__ = ["FRIENDLY", "apply_dotted_overrides", "describe_validation_error", "input_error", "read_yaml_mapping"]
