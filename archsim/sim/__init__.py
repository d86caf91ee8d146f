"""The SimPy discrete-event engine: components (`Dram`, `SramBuffer`, `WeightDecoder`, `SystolicArray`), the
`ControlFsm` that walks a layer's tile schedule, and `simulate_schedule` that returns counters.

Time unit: one clock cycle. Events per tile, never per cycle.
"""

from archsim.sim.array import SystolicArray
from archsim.sim.buffer import SramBuffer
from archsim.sim.decoder import WeightDecoder, decode_cycles
from archsim.sim.dram import Dram, DramTiming
from archsim.sim.engine import BufferCounts, LayerCounters, dram_timing, simulate_schedule
from archsim.sim.fsm import ControlFsm, FsmOptions

__all__ = ["BufferCounts", "ControlFsm", "Dram", "DramTiming", "FsmOptions", "LayerCounters", "SramBuffer",
           "SystolicArray", "WeightDecoder", "decode_cycles", "dram_timing", "simulate_schedule"]
