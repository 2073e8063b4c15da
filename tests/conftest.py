"""Shared test helpers: run the simulator in-process, and drive the firmware's Merger directly."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # appended: the repo's code.py must not shadow the stdlib code module

from host_tools import fwimport  # noqa: E402

fwimport._ensure_micropython()

# The files that run the board engine take minutes each (pytest --durations): started first, the
# two workers share them and the short files fill in after, instead of one worker running a long
# file alone at the end. xdist hands out files in collection order (--no-loadscope-reorder).
LONGEST_FIRST = ("test_calibration_demo.py", "test_calibration.py", "test_flash.py", "test_board_engine.py",
                 "test_heap.py", "test_board_speed.py", "test_board_load.py", "test_usb_host.py", "test_config.py")


def pytest_collection_modifyitems(items):
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def board_demo():
    """The demo session (make demo's config and inputs) on the board engine: one run, shared by
    every test that reads it (a board run costs about a minute). Skips without the files."""
    from host_tools import calibration
    from host_tools.board import engine

    try:
        files = engine.find_files()
    except engine.Missing as e:
        pytest.skip(str(e))
    config, inputs, events, until = calibration.demo_stream()
    return engine.board_run(config, inputs, events, until, files=files)


def run_cli(args, capsys=None):
    from host_tools.__main__ import main

    return main(["sim"] + [str(a) for a in args])
