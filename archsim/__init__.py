"""archsim: what does a compressed DNN cost to run on a given accelerator — cycles, energy, area, and why."""

__version__ = "0.1.0"
