"""Entry point of the `archsim` command.

Each sub-command lives in its own module ``archsim.cli.<name>_cmd`` exposing
``register(subparsers) -> None``; the parser it adds sets ``func(args) -> int``. User errors
(`ArchsimInputError`) are printed as one line on stderr with exit status 2 — never a traceback;
Ctrl-C prints one line and exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from archsim import __version__
from workloads.errors import ArchsimInputError

#: Sub-command modules, in the order `archsim --help` lists them.
SUBCOMMAND_MODULES: tuple[str, ...] = ("workloads", "run", "compress", "compare", "sweep", "pqa", "permdnn")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archsim",
        description="Simulate what a (compressed) DNN costs on an accelerator: cycles, energy, area.")
    parser.add_argument("--version", action="version", version=f"archsim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"archsim.cli.{name}_cmd").register(subparsers)
    return parser


#: Exit status after Ctrl-C: 128 + SIGINT, what a shell reports for a process killed by Ctrl-C.
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()   # imports every sub-command (torch among them): Ctrl-C can land here too
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("archsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        return int(args.func(args) or 0)
    except ArchsimInputError as err:
        print(f"archsim {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:   # Ctrl-C in any command: one line, no traceback (sweep adds its own details)
        print(f"archsim {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `archsim ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
