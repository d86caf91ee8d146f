"""Small workloads for the S2TA / SA-ZVCG tests: built without torch, each runs in milliseconds."""

from __future__ import annotations

from archsim.design import load_design
from workloads.layer import conv2d, linear
from workloads.network import Network

UNLIMITED = {"dram.unlimited": True}


def small_net() -> Network:
    """An RGB first conv (no 8-channel block: dense input), two 3x3 convs, a 1x1 and an FC."""
    layers = (conv2d("conv1", 3, 32, 16, 3, padding=1),
              conv2d("b1", 32, 32, 16, 3, padding=1),
              conv2d("b2", 32, 64, 16, 3, padding=1, stride=2),
              conv2d("pw", 64, 64, 8, 1),
              linear("fc", 64, 16))
    return Network(name="small", layers=layers, input_shape=(1, 3, 16, 16))


def design(name: str, **overrides: object):
    return load_design(name).with_overrides(**{**UNLIMITED, **overrides})
