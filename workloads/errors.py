"""The one exception type for bad user input, shared by every layer of the package.

It lives at the bottom of the data flow (workloads → compress → archsim) so that every package
can raise it without importing upward. The CLI catches it and prints its message alone — no
traceback — so the message must name the offending field and say how to fix it.
"""

from __future__ import annotations


class ArchsimInputError(ValueError):
    """Bad input from a user: unknown name, malformed file, impossible dimensions, ..."""
