"""Shared test helpers: run the simulator in-process, and drive the firmware's Merger directly."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # appended: the repo's code.py must not shadow the stdlib code module

from host_tools import fwimport  # noqa: E402

fwimport._ensure_micropython()


class ListPort:
    """An output port that takes everything it is offered (unlimited room)."""

    def __init__(self):
        self.data = bytearray()

    def write_from(self, buf, start, end):
        self.data.extend(buf[start:end])
        return end - start


@pytest.fixture
def list_port():
    return ListPort


def run_cli(args, capsys=None):
    from host_tools.__main__ import main

    return main(["sim"] + [str(a) for a in args])
