"""`Dram`: one shared off-chip channel, the service side of every tile's loads and stores.

Model (each a named choice, see `DramTiming`):

* One channel (a ``simpy.Resource`` of capacity 1) serves reads and writes first-come first-served.
  A transfer of ``n`` bytes holds the channel for ``ceil(n / bytes_per_cycle)`` cycles — a fluid
  bandwidth model quantised to whole cycles, as a burst-based memory controller is.
* Latency is pipelined: the channel is free again as soon as the bytes have been streamed, and the
  data arrives ``latency_cycles`` later. A tile's loads are therefore ready at
  ``end of its last transfer + latency``; writes are posted (the buffer half is free once the bytes
  have left it), so latency does not delay a write-back.
* ``unlimited`` (``design.dram.unlimited``): zero latency, infinite bandwidth — a transfer takes 0
  cycles and never touches the channel. Bytes are still counted and priced.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Generator

import simpy


@dataclass(frozen=True)
class DramTiming:
    """DRAM timing at the design clock.

    ``bytes_per_cycle`` = bandwidth (B/s) / clock (Hz); ``latency_cycles`` = ceil(latency_ns x clock).
    """

    bytes_per_cycle: float
    latency_cycles: int
    unlimited: bool = False

    def __post_init__(self) -> None:
        if not self.unlimited and not self.bytes_per_cycle > 0:
            raise ValueError(f"DRAM bandwidth must be > 0 bytes/cycle, got {self.bytes_per_cycle}")
        if self.latency_cycles < 0:
            raise ValueError(f"DRAM latency must be >= 0 cycles, got {self.latency_cycles}")

    @classmethod
    def from_rates(cls, bandwidth_bytes_per_s: float, latency_ns: float, clock_hz: float,
                   unlimited: bool = False) -> "DramTiming":
        if unlimited:
            return cls(bytes_per_cycle=math.inf, latency_cycles=0, unlimited=True)
        return cls(bytes_per_cycle=bandwidth_bytes_per_s / clock_hz,
                   latency_cycles=math.ceil(latency_ns * 1e-9 * clock_hz - 1e-9))


class Dram:
    """The shared channel plus its counters (bytes read/written per operand, busy cycles)."""

    def __init__(self, env: simpy.Environment, timing: DramTiming) -> None:
        self.env = env
        self.timing = timing
        self.channel = simpy.Resource(env, capacity=1)
        self.read_bytes: dict[str, float] = defaultdict(float)
        self.write_bytes: dict[str, float] = defaultdict(float)
        self.busy_cycles = 0
        self.transfers = 0

    def cycles_for(self, nbytes: float, port_bytes_per_cycle: float = math.inf) -> int:
        """Channel occupancy of one transfer: the slower of DRAM and the receiving buffer's port."""
        if self.timing.unlimited or nbytes <= 0:
            return 0
        rate = min(self.timing.bytes_per_cycle, port_bytes_per_cycle)
        return math.ceil(nbytes / rate - 1e-9)

    def transfer(self, operand: str, nbytes: float, write: bool,
                 port_bytes_per_cycle: float = math.inf) -> Generator[simpy.Event, None, tuple[float, float]]:
        """Stream ``nbytes`` over the channel; returns (start, end) of the channel occupancy.

        Used with ``yield from`` inside a process so that no extra SimPy process is created per
        transfer (events per tile, kept few for speed).
        """
        (self.write_bytes if write else self.read_bytes)[operand] += nbytes
        self.transfers += 1
        duration = self.cycles_for(nbytes, port_bytes_per_cycle)
        if duration == 0:
            now = self.env.now
            return now, now
        with self.channel.request() as req:
            yield req
            start = self.env.now
            yield self.env.timeout(duration)
        self.busy_cycles += duration
        return start, self.env.now
