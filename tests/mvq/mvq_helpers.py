"""Helpers and fixtures for the MVQ tests (a unique module name instead of conftest.py: tests/sim imports
`from conftest import ...`, so another conftest.py loaded after theirs would shadow it). Test modules
import the fixtures they use from here."""

from __future__ import annotations

import pytest

from archsim.design import load_design
from workloads.layer import conv2d, linear
from workloads.network import Network

LADDER = ("ews-c", "ews-cm", "mvq", "s2ta-w")


def tiny_network(batch: int = 1) -> Network:
    """conv1 (dense by policy), a 3x3 conv, a strided 1x1 conv and an FC: every weight-path case, fast."""
    return Network(name="tiny", layers=(
        conv2d("conv1", 3, 32, 16, 3, padding=1, batch=batch),
        conv2d("block.conv", 32, 64, 16, 3, padding=1, batch=batch),
        conv2d("block.down", 64, 64, 16, 1, stride=2, batch=batch),
        linear("fc", 64, 32, batch=batch),
    ), input_shape=(batch, 3, 16, 16), batch=batch)


@pytest.fixture(scope="session")
def tiny() -> Network:
    return tiny_network()


@pytest.fixture(scope="session")
def designs() -> dict:
    return {name: load_design(name) for name in ("ews", *LADDER)}


@pytest.fixture(scope="session")
def r18_results() -> dict:
    """ResNet-18 on the ladder with structural traces (shared: ~3 s per design)."""
    from archsim.api import compression_traces, simulate
    from workloads.zoo import get_network

    net = get_network("resnet18")
    out = {}
    for name in ("ews", *LADDER):
        design = load_design(name)
        traces = compression_traces(net, design)
        out[name] = (simulate(net, design, traces=traces), {t.layer.name: t for t in traces or []})
    return out
