"""Reading user files as text, with one clear error for every way that can fail.

It lives in ``workloads`` (the bottom of the data flow) so that the SCALE-Sim reader, the trace loader in
``compress`` and every YAML config in ``archsim`` share it without importing upward.
"""

from __future__ import annotations

from pathlib import Path

from workloads.errors import ArchsimInputError


def read_text_file(path: str | Path, what: str = "file") -> str:
    """The text of a user file; a missing file, a folder, an unreadable file or bytes that are not
    UTF-8 are one input error naming the file (never a ``UnicodeDecodeError`` traceback).

    Every archsim input format (YAML, JSON traces, SCALE-Sim CSV) is text, and a binary file passed by
    mistake (a ``.parquet`` renamed, a spreadsheet) must say so plainly."""
    path = Path(path)
    if path.is_dir():
        raise ArchsimInputError(f"{what} {str(path)!r} is a folder; give the path of a file")
    if not path.is_file():
        raise ArchsimInputError(f"{what} {str(path)!r} does not exist")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ArchsimInputError(f"{what} {str(path)!r} cannot be read ({err.strerror or err})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise ArchsimInputError(f"{what} {str(path)!r} is not UTF-8 text (byte 0x{raw[err.start]:02x} on line "
                                f"{line}); save it as UTF-8 text") from None


__all__ = ["read_text_file"]
