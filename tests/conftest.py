"""Suite-wide settings.

Hypothesis runs derandomized by default, so a CI run is reproducible: the same commit gives the same
examples, and a red run can be re-run and debugged. ``HYPOTHESIS_PROFILE=explore`` draws fresh random
examples (more of them) when hunting for new counterexamples locally.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
