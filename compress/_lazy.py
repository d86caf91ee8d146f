"""Lazy package exports: a package names its public objects without importing their modules.

Why: `compress.trace` and `compress.pq.facts` are torch-free so archsim can read them without
importing torch; eager re-exports in the package ``__init__`` would pull torch in on any import.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_getattr(exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` that imports ``exports[name]`` (a module path) on first use."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(name)

    return __getattr__
