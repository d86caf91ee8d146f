"""`SystolicArray`: the PE array as a SimPy resource, busy for a tile's ``compute_cycles``.

The closed-form timing (fill + stream + drain) is the mapper's; the array only holds itself busy
for it, so overlap with loads and write-back is decided by the simulation. Counters: MACs
executed, busy cycles, tiles; utilisation = MACs / (PEs x elapsed cycles).
"""

from __future__ import annotations

from typing import Generator

import simpy

from archsim.design import ArrayConfig


class SystolicArray:
    def __init__(self, env: simpy.Environment, config: ArrayConfig) -> None:
        self.env = env
        self.config = config
        self.pes = config.rows * config.cols
        self.macs = 0
        self.busy_cycles = 0
        self.tiles = 0

    def compute(self, cycles: int, macs: int) -> Generator[simpy.Event, None, None]:
        self.macs += macs
        self.tiles += 1
        if cycles:
            self.busy_cycles += cycles
            yield self.env.timeout(cycles)

    def utilisation(self, elapsed_cycles: int) -> float:
        return self.macs / (self.pes * elapsed_cycles) if elapsed_cycles else 0.0
