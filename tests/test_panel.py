"""The front panel: buttons, LEDs, the preset kept in NVM, the watchdog.

Unit tests drive ``firmware.panel.Panel`` with plain stand-ins and a hand-moved millisecond
tick; the simulator tests drive the whole box through the command line (``--events``,
``--preset``) and ``runner.simulate`` (a power cycle with the same NVM, a hang the watchdog
ends).
"""

import json
import subprocess
import sys
from pathlib import Path

import mpvm
import pytest

from host_tools import fwimport, midiwire
from host_tools.sim import runner
from host_tools.sim import world as sim_world

ROOT = Path(__file__).resolve().parents[1]
panel = fwimport.firmware_module("panel")
panel_setup = fwimport.firmware_module("panel_setup")
MS = 1_000_000


# ---------------------------------------------------------------------------------------------
# Unit: the Panel with stand-ins


class Pin:
    def __init__(self):
        self.value = True  # pull-up: released


class Dog:
    def __init__(self):
        self.fed = []

    def feed(self):
        self.fed.append(1)


def ticks_of(work, name):
    """The ticks ``work`` (Rig.record_work) saw ``name`` run in."""
    return [t for t, names in work.items() if name in names]


class Rig:
    """A panel, its four pins, an LED recorder, NVM and a watchdog; ``run(ms)`` calls
    ``service`` 6 times a millisecond like the main loop and applies preset actions."""

    def __init__(self, n_presets=8, nvm=None, long_press_ms=600, brightness=0.2, error=False, fault=False,
                 held=()):
        self.pins = [Pin() for _ in range(4)]
        for k in held:
            self.pins[k].value = False
        self.frames = []
        self.nvm = bytearray(256) if nvm is None else nvm
        self.dog = Dog()
        self.last_rx = [0, 0, 0, 0, 0]
        self.now = 1000
        self.actions = []
        self.busy = 0  # what app passes: true while every pass carries a message
        self.p = panel.Panel(self.pins, self.write, self.nvm, self.dog, n_presets,
                             {"brightness": brightness, "long_press_ms": long_press_ms}, self.last_rx, self.now,
                             error=error, fault=fault)

    def write(self, buf):
        assert len(buf) == 27
        self.frames.append((self.now, bytes(buf)))

    def run(self, ms):
        for _ in range(ms):
            self.now += 1
            for _ in range(6):
                action = self.p.service(self.now, self.busy)
                if action:
                    self.actions.append((self.now, action))
                    if action >= panel.ACTION_PRESET:
                        self.p.set_preset(action - panel.ACTION_PRESET, self.now)

    def record_work(self):
        """{tick: [names]} of the button scans, frame compositions and writes from now on."""
        work = {}
        for name in ("_scan", "_leds", "write_leds"):
            def record(*args, _name=name, _real=getattr(self.p, name)):
                work.setdefault(self.now, []).append(_name)
                return _real(*args)
            setattr(self.p, name, record)
        return work

    def press(self, k, ms=80):
        self.pins[k].value = False
        self.run(ms)
        self.pins[k].value = True
        self.run(60)

    def led(self, k):
        """GRB of LED k in the last frame written."""
        frame = self.frames[-1][1]
        return tuple(frame[3 * k:3 * k + 3])

    def colour(self, c):
        pal = panel_setup.palette(0.2)
        return tuple(pal[3 * c:3 * c + 3])

    def presets(self):
        return [a - panel.ACTION_PRESET for _, a in self.actions if a >= panel.ACTION_PRESET]


def test_a_short_press_selects_its_preset_on_release_after_debouncing():
    r = Rig()
    r.pins[2].value = False
    r.run(200)
    assert r.actions == []  # nothing while held: it may become a long press or a combination
    r.pins[2].value = True
    r.run(30)
    ((t, action),) = r.actions
    assert action == panel.ACTION_PRESET + 2
    assert 1200 + 10 <= t <= 1200 + 20  # released at 1200, counted after 3 samples 5 ms apart


def test_contact_bounce_is_ignored():
    r = Rig()
    for _ in range(5):  # 1 ms closures and openings: never stable for 3 samples
        r.pins[0].value = False
        r.run(1)
        r.pins[0].value = True
        r.run(2)
    r.run(100)
    assert r.actions == []
    # A press that bounces at both ends still counts once.
    for level in (False, True, False, True, False):
        r.pins[1].value = level
        r.run(1)
    r.run(100)
    for level in (True, False, True):
        r.pins[1].value = level
        r.run(1)
    r.run(50)
    assert r.presets() == [1]


def test_long_press_steps_back_and_forth_repeating_and_wrapping():
    r = Rig(n_presets=6)
    r.pins[1].value = False  # button 2: next
    r.run(600 + 15 + 2 * panel.REPEAT_MS + 50)
    r.pins[1].value = True
    r.run(50)
    assert r.presets() == [1, 2, 3]  # at the long press, then every REPEAT_MS; nothing at release
    r.actions.clear()
    r.pins[0].value = False  # button 1: previous, from preset 3, wrapping below 0
    r.run(600 + 15 + 4 * panel.REPEAT_MS + 50)
    r.pins[0].value = True
    r.run(50)
    assert r.presets() == [2, 1, 0, 5, 4]


def test_long_press_length_is_the_config_s():
    r = Rig(long_press_ms=200)
    r.press(1, ms=250)
    assert r.presets() == [1]  # stepped to next (from 0) at 200 ms, nothing at release
    r = Rig(long_press_ms=1000)
    r.press(1, ms=800)
    assert r.presets() == [1]  # a short press: preset 2 itself


def test_hold_4_and_tap_3_is_tap_tempo_and_selects_nothing():
    r = Rig()
    r.pins[3].value = False
    r.run(300)
    for _ in range(4):
        r.pins[2].value = False
        r.run(40)
        r.pins[2].value = True
        r.run(460)
    r.pins[3].value = True
    r.run(100)
    assert [a for _, a in r.actions] == [panel.ACTION_TAP] * 4
    taps = [t for t, _ in r.actions]
    assert [b - a for a, b in zip(taps, taps[1:])] == [500, 500, 500]  # the press moments, evenly


def test_3_and_4_together_is_start_stop_whichever_first():
    for first, second in ((2, 3), (3, 2)):
        r = Rig()
        r.pins[first].value = False
        r.run(40)
        r.pins[second].value = False
        r.run(100)
        r.pins[first].value = True
        r.pins[second].value = True
        r.run(100)
        assert [a for _, a in r.actions] == [panel.ACTION_START_STOP]


def test_other_combinations_and_long_presses_of_3_4_do_nothing():
    r = Rig()
    r.pins[0].value = False
    r.pins[2].value = False
    r.run(300)
    r.pins[0].value = True
    r.pins[2].value = True
    r.run(100)
    r.press(3, ms=900)  # a long press on 4: cancelled
    assert r.actions == []


def test_buttons_past_the_last_preset_do_nothing():
    r = Rig(n_presets=2)
    r.press(2)
    r.press(3)
    assert r.actions == []
    r.press(1)
    assert r.presets() == [1]


def test_a_button_held_at_start_up_is_ignored_until_released():
    r = Rig(held=(0,))  # button 1 held since power-up (boot.py's drive mode)
    r.run(2000)
    r.pins[0].value = True
    r.run(100)
    assert r.actions == []
    r.press(0)
    assert r.presets() == [0]


def test_leds_show_the_preset_page_by_colour():
    r = Rig(n_presets=16)
    r.run(30)
    assert r.led(0) == r.colour(panel.C_PRESET) and r.led(1) == r.colour(panel.C_OFF)
    for preset, led, colour in ((5, 1, panel.C_PAGE2), (10, 2, panel.C_PAGE3), (15, 3, panel.C_PAGE4), (3, 3, panel.C_PRESET)):
        r.p.set_preset(preset, r.now)
        r.run(30)
        assert [r.led(k) == r.colour(colour) for k in range(4)] == [k == led for k in range(4)], preset


def test_activity_leds_follow_input_bytes():
    r = Rig()
    r.run(100)
    assert all(r.led(4 + i) == r.colour(panel.C_OFF) for i in range(4))
    r.last_rx[2] = r.now  # a byte on in3 now
    r.run(25)
    assert r.led(6) == r.colour(panel.C_ACTIVITY) and r.led(5) == r.colour(panel.C_OFF)
    r.run(panel.ACTIVITY_MS + panel.LED_MS)
    assert r.led(6) == r.colour(panel.C_OFF)


def test_status_led_ok_fault_error_and_flash():
    r = Rig()
    r.run(30)
    assert r.led(8) == r.colour(panel.C_OK)
    r = Rig(fault=True)
    r.run(30)
    assert r.led(8) == r.colour(panel.C_FAULT)
    r = Rig(error=True)
    states = []
    for _ in range(8):
        r.run(panel.BLINK_MS)
        states.append(r.led(8))
    assert set(states) == {r.colour(panel.C_ERROR), r.colour(panel.C_OFF)}  # the error pattern: blinking red
    assert states[0] != states[1] and states[0] == states[2]
    r = Rig()
    r.pins[3].value = False
    r.run(300)
    r.pins[2].value = False
    r.run(25)
    assert r.led(8) == r.colour(panel.C_FLASH)  # a tap acknowledged
    r.run(100)
    assert r.led(8) == r.colour(panel.C_OK)


def test_leds_are_written_only_when_they_change_and_at_most_every_led_ms():
    r = Rig()
    r.run(2000)
    assert len(r.frames) == 1  # the first frame, then nothing changed
    for _ in range(100):  # a byte every 3 ms for 300 ms: the activity LED just stays lit
        r.last_rx[0] = r.now
        r.run(3)
    assert len(r.frames) == 2
    r.run(200)
    assert len(r.frames) == 3  # and goes dark once
    times = [t for t, _ in r.frames]
    assert all(b - a >= panel.LED_MS for a, b in zip(times, times[1:]))


def test_the_scan_the_frame_and_its_write_never_share_a_tick():
    # Each is a few hundred us on the board; the three in one pass made it 0.9 ms, which ended
    # right at the next ms tick (docs/board-engine.md, "Where the two engines' ms ticks differ").
    r = Rig()
    work = r.record_work()
    for _ in range(300):  # a byte every 3 ms, then silence: frames change, and are written
        r.last_rx[0] = r.now
        r.run(3)
    r.run(300)
    assert max(len(names) for names in work.values()) == 1, [(t, n) for t, n in work.items() if len(n) > 1]
    scans, frames, writes = (ticks_of(work, name) for name in ("_scan", "_leds", "write_leds"))
    assert {b - a for a, b in zip(scans, scans[1:])} == {panel._SCAN_MS}
    # A frame is composed a tick late when the scan is due, which keeps the scan's grid: its
    # period stays LED_MS, give or take that tick.
    assert len(frames) >= 1200 // panel.LED_MS - 1
    assert all(panel.LED_MS <= b - a <= panel.LED_MS + 1 for a, b in zip(frames, frames[1:]))
    assert len(writes) >= 2 and all(any(0 < w - f <= 2 for f in frames) for w in writes)


def test_in_passes_that_carry_messages_the_led_work_waits_led_wait_ms():
    # A frame's composition or write after a note's forwarding made a pass of over 1 ms on the
    # board: while every pass carries a message, each waits LED_WAIT_MS past its due tick, and
    # no longer. The button scan keeps its grid.
    r = Rig()
    work = r.record_work()
    r.busy = 1
    for _ in range(6):  # bursts of bytes 3 ms apart on in1, 150 ms apart: frames change
        for _ in range(30):
            r.last_rx[0] = r.now
            r.run(3)
        r.run(150)
    scans, frames, writes = (ticks_of(work, name) for name in ("_scan", "_leds", "write_leds"))
    assert {b - a for a, b in zip(scans, scans[1:])} == {panel._SCAN_MS}
    # Due LED_MS after the last one, composed LED_WAIT_MS later (a tick more when the scan
    # has that tick).
    assert len(frames) >= 1440 // (panel.LED_MS + panel.LED_WAIT_MS + 1)
    wait = panel.LED_MS + panel.LED_WAIT_MS
    assert {b - a for a, b in zip(frames, frames[1:])} <= {wait, wait + 1}
    # Each changed frame is written LED_WAIT_MS after the tick following its composition.
    assert len(writes) >= 12
    for w in writes:
        f = max(f for f in frames if f < w)
        assert panel.LED_WAIT_MS + 1 <= w - f <= panel.LED_WAIT_MS + 2, (f, w)
    # A pass with no message takes the waiting work at once.
    r.busy = 0
    work.clear()
    r.p.next_led = r.now + 1
    r.run(3)
    assert any("_leds" in names for names in work.values())


def test_brightness_scales_the_colours_and_zero_is_dark():
    assert panel_setup.palette(1.0)[3 * panel.C_PRESET:3 * panel.C_PRESET + 3] == bytes((255, 0, 0))  # GRB green
    assert panel_setup.palette(0.2)[3 * panel.C_PRESET] == 51
    assert panel_setup.palette(0) == bytes(30)


def test_nvm_keeps_the_preset_written_once_after_it_stayed():
    r = Rig()
    r.press(2)
    assert r.nvm[:3] == bytes(3)  # not yet: a preset must stay NVM_SAVE_MS
    r.run(panel.NVM_SAVE_MS + panel.FEED_MS)
    assert r.nvm[:3] == bytes((panel.NVM_MAGIC, 2, 2 ^ 0xFF)) and r.p.nvm_writes == 1
    r.run(5000)
    assert r.p.nvm_writes == 1  # written only when it changes
    r.press(0)
    r.press(1)  # stepping through presets quickly: one write for where it ends
    r.run(panel.NVM_SAVE_MS + panel.FEED_MS)
    assert r.nvm[1] == 1 and r.p.nvm_writes == 2
    r.press(2)
    r.press(1)  # back where NVM already is: no write
    r.run(panel.NVM_SAVE_MS + panel.FEED_MS)
    assert r.p.nvm_writes == 2


class Transport:
    def __init__(self):
        self.running = True


def test_nvm_write_waits_while_the_clock_runs():
    # The flash write stops the loop for about 51 ms: never while the clock runs (the box may be
    # the master, with no input byte to hold the write back).
    r = Rig()
    r.p.transport = Transport()
    r.press(3)
    r.run(panel.NVM_SAVE_MS + 3000)
    assert r.p.nvm_writes == 0
    r.p.transport.running = False
    r.run(panel.FEED_MS + 5)
    assert r.p.nvm_writes == 1 and r.nvm[1] == 3


def test_nvm_write_waits_for_a_gap_between_messages():
    r = Rig()
    r.press(3)
    for _ in range(panel.NVM_SAVE_MS + 500):  # a byte every millisecond on in2
        r.last_rx[1] = r.now
        r.run(1)
    assert r.p.nvm_writes == 0
    r.run(panel.FEED_MS + 5)
    assert r.p.nvm_writes == 1 and r.nvm[1] == 3


def test_stored_preset_checks_magic_check_byte_and_range():
    nvm = bytearray(256)
    nvm[:3] = panel.nvm_record(5)
    assert Rig(nvm=nvm).p.stored_preset() == 5
    assert Rig(nvm=nvm, n_presets=5).p.stored_preset() is None  # this config has no preset 6
    for bad in (bytes((panel.NVM_MAGIC, 5, 5)), bytes((0, 5, 5 ^ 0xFF)), bytes((0xFF, 0xFF, 0xFF)), bytes(3)):
        nvm[:3] = bad
        assert Rig(nvm=nvm).p.stored_preset() is None, bad


def test_watchdog_is_fed_every_feed_ms():
    r = Rig()
    r.run(1000)
    assert len(r.dog.fed) in (9, 10, 11)
    r.p.watchdog = None
    r.run(1000)  # no watchdog: nothing to feed, nothing breaks


def test_service_returns_at_once_when_the_tick_has_not_moved():
    r = Rig()
    r.run(10)
    calls = []
    r.pins[0] = type("Spy", (), {"value": property(lambda self: calls.append(1) or True)})()
    for _ in range(100):
        assert r.p.service(r.now, 0) == panel.ACTION_NONE
    assert calls == []


def test_panel_path_on_micropython_carries_real_traffic():
    """tests/mp_paths/panel_path.py (run by test_hot_paths for allocations) really presses
    buttons, writes LEDs, feeds the watchdog and saves to NVM."""
    out = mpvm.run((Path(__file__).parent / "mp_paths" / "panel_path.py").read_text(), timeout=120)
    figures = out.split("PANEL_ACTIONS")[1].split()
    actions, led_writes, feeds = int(figures[0]), int(figures[2]), int(figures[4])
    assert actions >= 14 and led_writes > 100 and feeds > 40
    assert int(out.split("NVM_SAVES")[1].split()[0]) >= 1
    report = mpvm.parse_report(out)
    mpvm.assert_no_alloc(report, "panel_service")
    mpvm.assert_no_alloc(report, "panel_nvm_save")


# ---------------------------------------------------------------------------------------------
# The simulator: presets under a running stream, NVM across a power cycle, the watchdog

PRESETS = {
    "version": 1,
    "presets": [
        {"name": "Keys to 1", "routes": [{"from": "in1", "to": "out1"}, {"from": "in2", "to": "all"}]},
        {"name": "Keys to 2", "routes": [{"from": "in1", "to": "out2"}, {"from": "in2", "to": "all"}]},
        {"name": "Keys to 3", "routes": [{"from": "in1", "to": "out3"}, {"from": "in2", "to": "all"}]},
    ],
}


def sim(tmp_path, *args, expect=0):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "host_tools", "sim", "--no-plot", "--out", str(out)] + [str(a) for a in args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == expect, proc.stderr + proc.stdout
    return out, proc


def wire(path):
    return [(t, b) for t, data in midiwire.parse_timed_text(path.read_text()) for b in data]


def notes_pair_up(messages):
    """Every note-on has its note-off later on the same output (velocity-0 note-ons count)."""
    sounding = {}
    for m in messages:
        s = m.data[0]
        if s & 0xF0 in (0x80, 0x90) and len(m.data) == 3:
            key = (s & 0x0F, m.data[1])
            if s & 0xF0 == 0x90 and m.data[2]:
                sounding[key] = sounding.get(key, 0) + 1
            elif sounding.get(key):
                sounding[key] -= 1
    return {k: v for k, v in sounding.items() if v}


def test_preset_switching_under_a_running_stream(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(PRESETS))
    keys = tmp_path / "keys.txt"
    # in1: two notes every 20 ms (the second by running status), each 18 ms long, a mod-wheel
    # CC between: most of the time a note is sounding, so each switch strands one.
    lines = []
    for k in range(100):
        t, n = 20 * k, 48 + k % 24
        lines += ["%d 90 %02X 64 %02X 50" % (t, n, n + 7), "%d B0 01 %02X" % (t + 5, k),
                  "%d 80 %02X 40 %02X 40" % (t + 18, n, n + 7)]
    keys.write_text("\n".join(lines) + "\n")
    clock = tmp_path / "clock.txt"  # in2: Start, then clock at 120 BPM (every 20.833 ms), Stop
    clock.write_text("0 FA\n" + "".join("%.3f F8\n" % (k * 125 / 6) for k in range(96)) + "2000 FC\n")
    events = tmp_path / "events.txt"
    # Press 2, later 3, then 1; each switch (10-15 ms after the release) lands inside a note.
    events.write_text("590 press button2\n603 release button2\n1190 press button3\n1250 release button3\n"
                      "1603 press button1\n1660 release button1\n")
    # The calls model: the windows below are its timing of the switch's parts.
    out, proc = sim(tmp_path, "--cost-model", "calls", "--config", cfg, "--in", "in1=%s" % keys, "--in",
                    "in2=%s" % clock, "--events", events)
    summary = json.loads((out / "summary.json").read_text())
    console = (out / "console.txt").read_text()
    assert "preset 2: Keys to 2" in console and "preset 3: Keys to 3" in console and "preset 1: Keys to 1" in console
    per_port = {}
    for port in ("out1", "out2", "out3", "out4", "usb"):
        timed = wire(out / ("%s.txt" % port))
        msgs, problems = midiwire.decode(timed)
        assert problems == [], (port, problems)  # no broken message anywhere
        assert notes_pair_up(msgs) == {}, port  # no hung note: every note-on got its note-off
        clocks = [m.time_ns for m in msgs if m.data == b"\xf8"]
        assert len(clocks) == 96, port  # the clock went on through every switch, no tick lost
        # From the second tick on: the first is already waiting in in2's buffer when the box
        # finishes booting (1.2 ms in), and in1's first note, read first in that pass, is sent
        # at once, ahead of it.
        gaps = [b - a for a, b in zip(clocks[1:], clocks[2:])]
        assert max(gaps) - min(gaps) < 2 * MS, port  # and evenly: no pause at a switch
        per_port[port] = msgs
    notes = {p: [m.time_ns / MS for m in per_port[p] if m.data[0] == 0x90] for p in per_port}
    # Each output got the keys exactly while its preset was active (switches after the releases).
    assert all(t < 625 or t > 1660 for t in notes["out1"]) and any(t > 1660 for t in notes["out1"])
    assert notes["out2"] and all(600 < t < 1270 for t in notes["out2"])
    assert notes["out3"] and all(1250 < t < 1680 for t in notes["out3"])
    assert notes["out4"] == [] and notes["usb"] == []
    # The note sounding at the first switch got its note-off on out1 from the box itself (the
    # keyboard's own note-off, at 618, went to out2 by then).
    offs = [m.time_ns / MS for m in per_port["out1"] if m.data[0] == 0x80 and m.data[1] == 48 + 30 % 24]
    assert any(610 < t < 625 for t in offs), offs
    for port in ("in1", "in2"):
        assert summary["ports"][port]["dropped"]["rx_overflow"] == 0


def test_preset_survives_a_power_cycle(tmp_path):
    text = json.dumps(PRESETS)
    first = runner.simulate(text, {}, events=[(100 * MS, "press", "button3"), (160 * MS, "release", "button3")],
                            until_ms=3000)
    assert first.counters["preset"] == 3
    assert first.nvm[:3] == bytes((panel.NVM_MAGIC, 2, 2 ^ 0xFF)) and first.nvm_writes == 1
    # Power off, power on: a new run with the NVM the first one left.
    note = {"in1": [(50 * MS, bytes((0x90, 60, 100))), (60 * MS, bytes((0x80, 60, 0)))]}
    second = runner.simulate(text, note, until_ms=200, nvm=first.nvm)
    assert "Thruway ready: preset 3" in second.console
    assert second.counters["preset"] == 3 and second.nvm_writes == 0  # nothing rewritten
    assert bytes(b for _, b in second.outputs["out3"]) == bytes((0x90, 60, 100, 0x80, 60, 0))
    assert second.outputs["out1"] == []
    # A stored preset this config does not have: preset 1.
    fewer = runner.simulate(json.dumps({"presets": PRESETS["presets"][:2]}), {}, until_ms=100, nvm=first.nvm)
    assert fewer.counters["preset"] == 1


def test_preset_option_starts_the_box_in_a_preset(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(PRESETS))
    note = tmp_path / "n.txt"
    note.write_text("10 90 3C 64\n20 80 3C 00\n")
    for choice, port in (("2", "out2"), ("Keys to 3", "out3"), ("1", "out1")):
        out, _ = sim(tmp_path, "--config", cfg, "--preset", choice, "--in", "in1=%s" % note)
        assert [b for _, b in wire(out / ("%s.txt" % port))] == [0x90, 0x3C, 0x64, 0x80, 0x3C, 0x00], choice
        assert json.loads((out / "summary.json").read_text())["ports"]["out4"]["messages"] == 0


@pytest.mark.parametrize("choice, needle", [
    ("4", "--preset 4: the config has 3 presets"),
    ("0", "--preset 0: the config has 3 presets"),
    ("Keys to 9", "--preset 'Keys to 9': no preset of that name (presets: 'Keys to 1', 'Keys to 2', 'Keys to 3')"),
])
def test_preset_option_refuses_what_the_config_lacks(tmp_path, choice, needle):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(PRESETS))
    _, proc = sim(tmp_path, "--config", cfg, "--preset", choice, expect=2)
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_broken_config_shows_the_error_pattern_and_routes_everything(tmp_path):
    bad = json.dumps({"presets": [{"routes": [{"from": "in1", "to": "out9"}]}]})
    r = runner.simulate(bad, {"in1": [(10 * MS, bytes((0x90, 60, 100)))]}, until_ms=1200)
    assert "config error: presets[0].routes[0].to: unknown port 'out9'" in r.console
    assert bytes(b for _, b in r.outputs["out4"]) == bytes((0x90, 60, 100))  # the safe default
    pal = panel_setup.palette(0.2)
    red = bytes(pal[3 * panel.C_ERROR:3 * panel.C_ERROR + 3])
    status = [(t, frame[24:27]) for t, frame in r.led_frames]
    changes = [(t, s) for k, (t, s) in enumerate(status) if k == 0 or s != status[k - 1][1]]
    assert {s for _, s in changes} == {red, bytes(3)} and len(changes) >= 5  # blinking red
    times = [t for t, _ in changes[1:]]
    assert all(abs((b - a) / MS - panel.BLINK_MS) <= panel.LED_MS for a, b in zip(times, times[1:]))
    good = runner.simulate(json.dumps(PRESETS), {}, until_ms=300)
    green = bytes(pal[3 * panel.C_OK:3 * panel.C_OK + 3])
    assert [frame[24:27] for _, frame in good.led_frames] == [green]  # steady: one write


def test_led_writes_cost_their_wire_time_and_stay_rare(tmp_path):
    # The demo session (two inputs busy for 10 s): how many LED writes, and what they cost.
    keys = midiwire.parse_timed_text((ROOT / "examples" / "demo" / "keystep.txt").read_text())
    dt = midiwire.parse_timed_text((ROOT / "examples" / "demo" / "digitakt.txt").read_text())
    r = runner.simulate((ROOT / "config.json").read_text(), {"in1": keys, "in2": dt})
    seconds = r.end_ns / 1e9
    writes = len(r.led_frames)
    assert writes <= seconds * 1000 / panel.LED_MS  # at most one per LED period
    import importlib.util

    spec = importlib.util.spec_from_file_location("fake_neopixel_write", runner.FAKES / "neopixel_write.py")
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    per_write = fake.SETUP_NS + 27 * 8 * fake.BIT_NS
    assert 270_000 <= per_write < 300_000  # 270 us of wire time for 9 pixels, plus set-up
    busy_ns = writes * per_write
    print("LED writes: %d in %.1f s (%.1f a second), %.2f%% of the time blocked"
          % (writes, seconds, writes / seconds, 100 * busy_ns / r.end_ns))
    assert busy_ns / r.end_ns < 0.01
    assert all(len(frame) == 27 for _, frame in r.led_frames)


def test_watchdog_restarts_a_hung_box_in_its_last_preset(monkeypatch):
    """The firmware hangs inside Box.step (spinning on the clock, as a loop waiting for a lock
    does); the watchdog resets the box 2 s after its last feed, and it comes back in the preset
    it was in (NVM), routing again."""
    real_run_path = runner.runpy.run_path
    boots = []
    hang_ns = 3000 * MS

    def run_path(path, run_name=None):
        if str(path).endswith("code.py"):
            boots.append(sim_world.current().now_ns)
            if len(boots) == 1:
                import firmware.app as app  # the run's own, freshly imported module

                real_step = app.Box.step

                def step(self):
                    if sim_world.current().now_ns >= hang_ns:
                        while True:
                            self.ticks_ms()
                    real_step(self)

                app.Box.step = step
        return real_run_path(path, run_name=run_name)

    monkeypatch.setattr(runner.runpy, "run_path", run_path)
    events = [(100 * MS, "press", "button2"), (160 * MS, "release", "button2")]
    note = {"in1": [(6500 * MS, bytes((0x90, 62, 90))), (6510 * MS, bytes((0x80, 62, 0)))]}
    r = runner.simulate(json.dumps(PRESETS), note, events=events, until_ms=7000)
    ((t_reset, reason),) = r.resets
    assert reason == "watchdog"
    # Fed at most FEED_MS before the hang; reset WATCHDOG_S after the last feed.
    assert hang_ns + 1900 * MS <= t_reset <= hang_ns + 2000 * MS + 1 * MS, t_reset / MS
    assert len(boots) == 2 and boots[1] >= t_reset + runner.REBOOT_NS
    assert "[simulator: reset (watchdog)" in r.console
    assert r.console.count("Thruway ready: preset 2") == 1  # the second boot, from NVM
    assert r.counters["preset"] == 2
    assert bytes(b for _, b in r.outputs["out2"]) == bytes((0x90, 62, 90, 0x80, 62, 0))
    assert r.outputs["out1"] == []


def test_microcontroller_reset_reboots_too(monkeypatch):
    real_run_path = runner.runpy.run_path
    boots = []

    def run_path(path, run_name=None):
        if str(path).endswith("code.py"):
            boots.append(sim_world.current().now_ns)
            if len(boots) == 1:
                import microcontroller

                import firmware.app as app

                real_step = app.Box.step

                def step(self):
                    if sim_world.current().now_ns >= 50 * MS:
                        microcontroller.reset()
                    real_step(self)

                app.Box.step = step
        return real_run_path(path, run_name=run_name)

    monkeypatch.setattr(runner.runpy, "run_path", run_path)
    r = runner.simulate(json.dumps(PRESETS), {}, until_ms=1500)
    assert [reason for _, reason in r.resets] == ["reset"] and len(boots) == 2


def test_tap_tempo_and_start_stop_from_the_panel_drive_the_internal_clock():
    config = json.dumps({"presets": [{"name": "Own clock", "routes": [{"from": "all", "to": "all"}],
                                      "clock": {"master": "internal", "bpm": 120}}]})
    ev = [(100, "press", "button3"), (120, "press", "button4"), (200, "release", "button3"),
          (200, "release", "button4")]  # together: start
    ev += [(1000, "press", "button4")]
    for t in (1500, 2100, 2700, 3300, 3900):  # taps 600 ms apart: 100 BPM
        ev += [(t, "press", "button3"), (t + 60, "release", "button3")]
    ev += [(4200, "release", "button4")]
    ev += [(5000, "press", "button4"), (5010, "press", "button3"), (5100, "release", "button3"),
           (5100, "release", "button4")]  # together again: stop
    r = runner.simulate(config, {}, events=[(t * MS, a, b) for t, a, b in ev], until_ms=5600)
    out = [(t / MS, b) for t, b in r.outputs["out1"]]
    transport = [(t, b) for t, b in out if b != 0xF8]
    assert [b for _, b in transport] == [0xFA, 0xFC]
    assert 120 < transport[0][0] < 160 and 5010 < transport[1][0] < 5050  # after the debounce
    ticks = [t for t, b in out if b == 0xF8]
    before = [b - a for a, b in zip(ticks, ticks[1:]) if b < 1400]
    after = [b - a for a, b in zip(ticks, ticks[1:]) if 4000 < a]
    assert abs(sum(before) / len(before) - 500 / 24) < 0.2  # 120 BPM
    assert abs(sum(after) / len(after) - 600 / 24) < 0.5  # 100 BPM from the taps
    assert r.counters["preset"] == 1  # no button selected a preset on the way
