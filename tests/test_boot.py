"""boot.py: the USB MIDI device's name, and who may write the CIRCUITPY drive.

boot.py runs on the fake CircuitPython modules (as the simulator runs it before code.py): by
default the computer may write the drive; button 1 held at power-up remounts it writable for
the firmware (read-only to the computer). A held button does not also count as a panel press.
"""

import contextlib
import io
import json
import runpy
import sys

import pytest

from host_tools.sim import runner
from host_tools.sim import world as sim_world

MS = 1_000_000


def run_boot(held=False):
    """Run boot.py alone in a fresh world; returns (world, usb_midi module, printed text)."""
    w = sim_world.install(sim_world.World())
    out = io.StringIO()
    try:
        w.pin_levels = {14: False} if held else {}  # GP14: button 1, pressed pulls it low
        with runner._firmware_imports():
            import storage

            storage._drive()["in_boot"] = True
            with contextlib.redirect_stdout(out):
                runpy.run_path(str(runner.REPO / "boot.py"), run_name="__main__")
            usb_midi = sys.modules["usb_midi"]
            board = sys.modules["board"]
            names = dict(usb_midi._names)
            enabled = usb_midi._enabled
            button_free = board.GP14.in_use_by is None
    finally:
        sim_world.uninstall()
    return w, names, enabled, button_free, out.getvalue()


def test_usb_midi_is_enabled_with_the_box_s_name():
    _, names, enabled, _, _ = run_boot()
    assert enabled
    assert names == {
        "streaming_interface_name": "Thruway MIDI",
        "audio_control_interface_name": "Thruway",
        "in_jack_name": "Thruway in",
        "out_jack_name": "Thruway out",
    }


@pytest.mark.parametrize("held", [False, True])
def test_drive_mode_follows_button_1_at_power_up(held):
    w, _, _, button_free, printed = run_boot(held)
    drive = w.drive
    assert drive["firmware_writable"] is held
    assert drive["remounts"] == ([("/", False, False)] if held else [])
    assert button_free  # boot.py let the pin go: board_io claims it for the panel
    assert ("read-only to the computer" in printed) is held
    assert ("writable by the computer" in printed) is not held


def test_remount_is_refused_outside_boot_py():
    sim_world.install(sim_world.World())
    try:
        with runner._firmware_imports():
            import storage

            with pytest.raises(RuntimeError, match="visible via USB"):
                storage.remount("/", readonly=False)
            assert storage.getmount("/").readonly is True  # code.py reads the drive only
    finally:
        sim_world.uninstall()


def test_whole_box_with_button_1_held_at_power_up():
    """Through the simulator: boot.py sees the held button, the firmware starts normally, and
    releasing the button afterwards selects nothing."""
    config = json.dumps({"presets": [{"name": "A"}, {"name": "B"}]})
    events = [(0, "press", "button1"), (1500 * MS, "release", "button1")]
    held = runner.simulate(config, {}, events=events, until_ms=2500)
    assert held.drive["firmware_writable"] is True
    assert "button 1 held" in held.boot_out
    assert "fault:" not in held.console and "Thruway ready: preset 1" in held.console
    assert held.counters["preset"] == 1 and held.nvm_writes == 0
    normal = runner.simulate(config, {}, until_ms=100)
    assert normal.drive["firmware_writable"] is False and "writable by the computer" in normal.boot_out


def test_boot_runs_again_after_a_reset(monkeypatch):
    real = runner.runpy.run_path
    boots = []

    def run_path(path, run_name=None):
        if str(path).endswith("boot.py"):
            boots.append(sim_world.current().now_ns)
        if str(path).endswith("code.py") and len(boots) == 1:
            import microcontroller

            import firmware.app as app

            step = app.Box.step
            app.Box.step = lambda self: microcontroller.reset() if sim_world.current().now_ns > 20 * MS else step(self)
        return real(path, run_name=run_name)

    monkeypatch.setattr(runner.runpy, "run_path", run_path)
    r = runner.simulate(json.dumps({}), {}, until_ms=1200)
    assert len(boots) == 2 and r.drive["firmware_writable"] is False
