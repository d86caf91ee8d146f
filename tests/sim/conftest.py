"""Fixtures for engine tests; plain helpers live in sim_helpers.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sim_helpers import make_design, toy_mapper  # noqa: E402,F401


@pytest.fixture(scope="session")
def tech():
    from archsim.tech import load_tech_table

    return load_tech_table("40nm")
