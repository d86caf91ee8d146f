"""`WeightDecoder`: the assignment-aware weight loader of a compressed-weight design, as a SimPy stage.

The mapper states the *demand* of each tile where weights enter the array — codeword lookups
(event ``("codebook", "lookup")``) and M-bit mask groups for the LZC decoders (event
``("decoder", "decode")``) — and this component the *service*: the codebook store answers
``buffers.codebook.read_ports`` lookups per cycle and the ``decoder.mask_decoders`` LZC units one
group each per cycle, in parallel, so a tile's decode takes

    max(tile.decode_cycles, ceil(lookups / read_ports), ceil(groups / mask_decoders))

cycles (``tile.decode_cycles`` is any extra decode time a mapper wants to impose; 0 here). The
control FSM runs this stage between the loader and the array with a bounded queue, so decoding
the next fold overlaps the current fold's compute and stalls the array (cause ``decode``) only
when it cannot keep up.
"""

from __future__ import annotations

import math
from typing import Generator

import simpy

from archsim.design import Design
from archsim.schedule import Tile

LOOKUP = ("codebook", "lookup")
MASK_GROUP = ("decoder", "decode")


def decode_cycles(tile: Tile, read_ports: int | None, mask_decoders: int) -> int:
    """Cycles the weight decoder needs for ``tile`` (see the module docstring)."""
    lookups = tile.events.get(LOOKUP, 0)
    groups = tile.events.get(MASK_GROUP, 0)
    if lookups and not read_ports:
        raise ValueError("codebook lookups on a design without buffers.codebook (no read ports)")
    return max(tile.decode_cycles, math.ceil(lookups / read_ports) if lookups else 0,
               math.ceil(groups / mask_decoders) if groups else 0)


def needs_decoder(tile: Tile) -> bool:
    return bool(tile.decode_cycles or tile.events.get(LOOKUP) or tile.events.get(MASK_GROUP))


class WeightDecoder:
    """Codebook read ports + LZC mask decoders; counts lookups, groups and busy cycles."""

    def __init__(self, env: simpy.Environment, read_ports: int | None = None, mask_decoders: int = 1) -> None:
        self.env = env
        self.read_ports = read_ports
        self.mask_decoders = mask_decoders
        self.lookups = 0
        self.groups = 0
        self.busy_cycles = 0

    @classmethod
    def of(cls, env: simpy.Environment, design: Design) -> "WeightDecoder":
        cb = design.buffers.codebook
        return cls(env, cb.read_ports if cb is not None else None, design.decoder.mask_decoders)

    def cycles_for(self, tile: Tile) -> int:
        return decode_cycles(tile, self.read_ports, self.mask_decoders)

    def decode(self, tile: Tile) -> Generator[simpy.Event, None, None]:
        cycles = self.cycles_for(tile)
        self.lookups += tile.events.get(LOOKUP, 0)
        self.groups += tile.events.get(MASK_GROUP, 0)
        if cycles:
            self.busy_cycles += cycles
            yield self.env.timeout(cycles)
