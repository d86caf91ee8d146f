"""Makes s2ta_helpers importable (a unique module name: several test folders have a conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
