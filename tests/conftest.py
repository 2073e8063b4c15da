"""Shared test helpers: run the simulator in-process, and drive the firmware's Merger directly."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # appended: the repo's code.py must not shadow the stdlib code module

from host_tools import fwimport  # noqa: E402

fwimport._ensure_micropython()


def run_cli(args, capsys=None):
    from host_tools.__main__ import main

    return main(["sim"] + [str(a) for a in args])
