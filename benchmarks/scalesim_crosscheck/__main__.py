"""``python -m benchmarks.scalesim_crosscheck`` — see `crosscheck.py`."""

import sys

from benchmarks.scalesim_crosscheck.crosscheck import main

sys.exit(main())
