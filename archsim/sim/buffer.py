"""`SramBuffer`: an on-chip buffer whose halves are slots, so back-pressure is real.

A double-buffered buffer has two slots (ping-pong halves), a single-buffered one has one. The
loader must take a free slot before it fills a tile's data into the buffer; the slot is given back
when the last tile that reads that data has finished computing (the FSM knows when: the next tile
that loads into the same buffer replaces it). With one slot, the next load therefore cannot start
until the current data is dead — no overlap; with two, the next tile's data streams in while the
current one computes. The slots are a ``simpy.Container`` so a blocked loader really waits.

Counters: bytes and accesses read and written. An access moves at most one port width
(``port_bits / 8`` bytes); a transfer of ``n`` bytes costs ``ceil(n / port_bytes)`` accesses.
"""

from __future__ import annotations

import math

import simpy

from archsim.design import BufferConfig


class SramBuffer:
    def __init__(self, env: simpy.Environment, name: str, config: BufferConfig) -> None:
        self.env = env
        self.name = name
        self.config = config
        self.slots = config.halves
        self.slot_bytes = config.capacity_bytes / self.slots
        self.port_bytes = config.port_bits / 8
        #: peak bytes per cycle the buffer can accept (all banks written in parallel)
        self.fill_bytes_per_cycle = self.port_bytes * config.banks
        self.free = simpy.Container(env, capacity=self.slots, init=self.slots)
        self.read_bytes = 0.0
        self.write_bytes = 0.0
        self.read_accesses = 0
        self.write_accesses = 0
        self.peak_slot_bytes = 0.0

    def accesses(self, nbytes: float) -> int:
        return math.ceil(nbytes / self.port_bytes - 1e-9) if nbytes > 0 else 0

    def count_read(self, nbytes: float, times: int = 1) -> None:
        self.read_bytes += nbytes * times
        self.read_accesses += self.accesses(nbytes) * times

    def count_write(self, nbytes: float, times: int = 1) -> None:
        self.write_bytes += nbytes * times
        self.write_accesses += self.accesses(nbytes) * times

    def check_fits(self, nbytes: float, layer: str, tile_index: int) -> None:
        """A tile's data must fit one slot; a mapper that produced more is wrong, not the user."""
        self.peak_slot_bytes = max(self.peak_slot_bytes, nbytes)
        if nbytes > self.slot_bytes + 1e-9:
            raise ValueError(f"layer {layer!r}, tile {tile_index}: {nbytes:.0f} B into {self.name} but one "
                             f"{'half' if self.slots == 2 else 'slot'} holds {self.slot_bytes:.0f} B; "
                             f"the mapper must split the tile")
