"""``python -m benchmarks.engine_speed`` — see `benchmarks.engine_speed.speed`."""

import sys

from benchmarks.engine_speed.speed import main

sys.exit(main())
