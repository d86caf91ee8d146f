"""``python -m benchmarks.ews_vs_ws`` — see `benchmarks.ews_vs_ws.study`."""

import sys

from benchmarks.ews_vs_ws.study import main

sys.exit(main())
