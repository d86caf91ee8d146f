"""Engine speed: whole ResNet-50 on each design (ws, ews and the MVQ ladder) — wall time, tiles and SimPy events per second,
against references measured in the same run. Run ``python -m benchmarks.engine_speed`` (see `speed.main`)."""
