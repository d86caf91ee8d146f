"""Shared fixtures for the compare/report/sweep tests: an isolated network cache and a small workload."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_network_cache(tmp_path_factory):
    """Never read or write the user's ~/.cache from tests."""
    old = os.environ.get("ARCHSIM_CACHE_DIR")
    os.environ["ARCHSIM_CACHE_DIR"] = str(tmp_path_factory.mktemp("archsim-cache"))
    yield
    if old is None:
        os.environ.pop("ARCHSIM_CACHE_DIR", None)
    else:
        os.environ["ARCHSIM_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def resnet20():
    from archsim.report.netcache import load_network

    return load_network("resnet20")


@pytest.fixture(scope="session")
def tiny():
    """Three conv layers and an FC, built without torch: every design runs it in milliseconds."""
    from workloads.layer import conv2d, linear
    from workloads.network import Network

    layers = (conv2d("conv1", 3, 16, 16, 3, padding=1),
              conv2d("b1", 16, 32, 16, 3, padding=1),
              conv2d("b2", 32, 64, 16, 1),
              linear("fc", 64, 10))
    return Network(name="tiny", layers=layers, input_shape=(1, 3, 16, 16))
