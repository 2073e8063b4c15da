"""The box's heap after boot (docs/design.md, "Heap").

- Start-up code leaves the heap: once the box runs, the config checker, the hardware set-up
  (board_io), the DAC table builders (cv_tables) and the start-up itself (start) are no longer
  loaded.
- On the MicroPython VM (``python -m host_tools heap``, the same object layout as the board's
  32-bit build): the firmware after boot with the default config and with the 16-preset example
  stays within what was measured when the cuts were made, and 16 presets cost a bounded amount
  more than one (equal routing tables and settings are shared). These are the proxies until the
  board engine (issue 13) measures the real figure: >= 64 KB free after boot.
"""

import gc
import sys
from pathlib import Path

import pytest

from host_tools import heap
from host_tools.sim import runner

ROOT = Path(__file__).resolve().parents[1]
SIXTEEN = ROOT / "examples" / "configs" / "sixteen-presets.json"
START_UP_MODULES = ("firmware.config", "firmware.board_io", "firmware.cv_tables", "firmware.start")
# Measured with `python -m host_tools heap` on the MicroPython VM: 115,104 bytes (default) and
# 132,688 (16 presets) after the cuts; 117,920 and 160,912 before them (commit ac83a8d).
VM_DEFAULT_BOUND = 114 * 1024
VM_SIXTEEN_BOUND = 131 * 1024


def test_start_up_modules_leave_the_heap(monkeypatch):
    """Seen at the collection app.run() makes once the box is built (the simulator runs the
    unchanged firmware on CPython)."""
    seen = []
    real = gc.collect

    def collect(*args):
        seen.append(sorted(name for name in sys.modules if name.startswith("firmware.")))
        return real(*args)

    monkeypatch.setattr(gc, "collect", collect)
    result = runner.simulate((ROOT / "config.json").read_text(), until_ms=50)
    monkeypatch.undo()
    assert "Thruway ready" in result.console
    at_start = [names for names in seen if "firmware.app" in names]
    assert at_start, seen
    for name in START_UP_MODULES:
        assert name not in at_start[-1], (name, at_start[-1])
    assert "firmware.cv" in at_start[-1]  # the box itself is still there


@pytest.fixture(scope="module")
def vm_figures():
    return {name: heap.measure(path.read_text()) for name, path in
            (("default", ROOT / "config.json"), ("sixteen", SIXTEEN))}


def firmware_bytes(boot):
    live = {label: value for label, _, value in boot}
    return boot[-1][2] - live["start"] - (live["fakes"] - live["import start"])


def test_vm_heap_after_boot(vm_figures):
    default = firmware_bytes(vm_figures["default"][0])
    sixteen = firmware_bytes(vm_figures["sixteen"][0])
    print("VM heap after boot: default %d, 16 presets %d" % (default, sixteen))
    assert default <= VM_DEFAULT_BOUND
    assert sixteen <= VM_SIXTEEN_BOUND


def test_equal_tables_and_settings_are_one_object():
    from firmware import app, config
    from host_tools.scripted_ports import ScriptIn, SinkOut, Ticks

    text = """{"version": 1, "presets": [
        {"name": "A", "routes": [{"from": "all", "to": "all"}], "clock": {"master": "in2", "bpm": 90}},
        {"name": "B", "routes": [{"from": "all", "to": "all"}], "clock": {"master": "in2", "bpm": 90}},
        {"name": "C", "routes": [{"from": "in1", "to": "out2", "transpose": 12},
                                 {"from": "in2", "to": "out3", "transpose": 12}]},
        {"name": "D", "routes": [{"from": "in1", "to": "out2", "transpose": 12}]}]}"""
    settings, errors = config.load(text)
    assert errors == []
    ticks = Ticks()
    box = app.Box([ScriptIn(b"", 1) for _ in range(5)], [SinkOut(8) for _ in range(5)], ticks.now, settings)
    (masks_a, _), (masks_b, _), (masks_c, xf_c), (masks_d, xf_d) = box.routing
    assert masks_a is masks_b  # identical presets: one list of tables
    assert masks_a[0] is masks_a[1] is masks_a[3]  # inputs with the same routes: one table
    assert masks_c[2] is masks_c[3] is masks_d[2]  # inputs without routes: one empty table
    n_out = 5
    assert xf_c[0 * n_out + 1] is xf_d[0 * n_out + 1]  # the same transform in two presets
    assert xf_c[0 * n_out + 1][0] is xf_c[1 * n_out + 2][0]  # one channel map for both routes
    presets = box.settings["presets"]
    assert box.switches[0] == box.switches[1]
    assert box.switches[2][0] is box.switches[3][0]  # one clock setup for equal clock sections
    assert box.switches[0][4] is box.switches[1][4]  # one CV setup for equal cv sections
    assert list(presets[0]) == ["name"]  # routes kept as tables, clock and cv as the setups
