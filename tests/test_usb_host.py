"""The USB host port ``usbh`` (issue 18, docs/usb-host.md): packets, descriptors, the button
ladder, and the port through the simulator contract (the Pico 2 variant), plug and unplug."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools import fwimport, midiwire
from host_tools.sim import runner, usbhost

ROOT = Path(__file__).resolve().parents[1]
usb_host_port = fwimport.firmware_module("usb_host_port")
button_ladder = fwimport.firmware_module("button_ladder")

NOTE_ON = bytes((0x90, 0x3C, 0x64))
NOTE_OFF = bytes((0x80, 0x3C, 0x40))


def _ms(t_ms):
    return int(round(t_ms * 1_000_000))


def run(inputs=None, events=(), config=None, until_ms=None, usbh=None):
    text = (ROOT / "config.json").read_text() if config is None else json.dumps(config)
    lines = {port: [(_ms(t), bytes(data)) for t, data in timed] for port, timed in (inputs or {}).items()}
    ev = [(_ms(t), action, what) for t, action, what in events]
    return runner.simulate(text, lines, ev, until_ms=until_ms, usbh=usbh)


def messages(result, port):
    msgs, problems = midiwire.decode(result.outputs[port])
    assert not problems, problems
    return [(m.time_ns / 1e6, bytes(m.data)) for m in msgs]


# -- packets ----------------------------------------------------------------------------------

STREAMS = [
    NOTE_ON + bytes((0x3E, 0x50)) + NOTE_OFF,  # running status
    bytes((0xC5, 0x07, 0xD5, 0x30, 0xE0, 0x00, 0x40, 0xB0, 0x40, 0x7F)),
    bytes((0xF1, 0x21, 0xF2, 0x10, 0x02, 0xF3, 0x05, 0xF6, 0xF8, 0xFA, 0xFC)),
] + [bytes((0xF0,) + tuple(range(1, n)) + (0xF7,)) for n in range(1, 9)] + [
    bytes((0xF0, 0x43, 0xF8, 0x10, 0x4C, 0x00, 0xF8, 0x7E, 0xF7)),  # clock bytes inside a SysEx
]


@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s.hex())
def test_firmware_packer_agrees_with_the_simulators_device(stream):
    # Two implementations (the box's Packer, the simulated device's packets()) give the same
    # USB-MIDI packets, fed whole or a byte at a time; unpack gives back every message whole.
    expect, _ = usbhost.packets(stream)
    for step in (len(stream), 1):
        packer = usb_host_port.Packer()
        out = bytearray(64)
        got = []
        k = 0
        while k < len(stream):
            k += packer.pack(stream, k, min(k + step, len(stream)), out, 0)
            got += [bytes(out[j:j + 4]) for j in range(0, packer.filled, 4)]
        assert got == expect
    flat = b"".join(expect)
    buf = bytearray(3 * len(expect))
    n = usb_host_port.unpack(flat, len(flat), buf)
    assert bytes(buf[:n]) == b"".join(usbhost.midi_bytes(p) for p in expect)


def test_packer_stops_when_the_transfer_is_full_and_goes_on_next_time():
    stream = NOTE_ON * 20  # 20 messages: 16 packets fill a 64-byte transfer
    packer = usb_host_port.Packer()
    out = bytearray(64)
    taken = packer.pack(stream, 0, len(stream), out, 0)
    assert (taken, packer.filled) == (48, 64)
    taken2 = packer.pack(stream, taken, len(stream), out, 0)
    assert (taken2, packer.filled) == (12, 16)


def test_unpack_skips_padding_and_reserved_packets():
    packets = bytes((0x09, 0x90, 0x3C, 0x64, 0x00, 0x00, 0x00, 0x00, 0x0C, 0xC0, 0x05, 0x00, 0x01, 0x11, 0x22, 0x33))
    buf = bytearray(12)
    n = usb_host_port.unpack(packets, len(packets), buf)
    assert bytes(buf[:n]) == bytes((0x90, 0x3C, 0x64, 0xC0, 0x05))


def test_midi_endpoints_from_a_configuration_descriptor():
    desc = usbhost.CONFIG_DESCRIPTOR
    assert usb_host_port.midi_endpoints(desc, len(desc)) == (usbhost.IN_ENDPOINT, usbhost.OUT_ENDPOINT)
    # A HID keyboard: interface class 3, one IN endpoint: no MIDI.
    hid = bytes((9, 2, 25, 0, 1, 1, 0, 0x80, 50, 9, 4, 0, 0, 1, 3, 1, 1, 0, 7, 5, 0x81, 3, 8, 0, 10))
    assert usb_host_port.midi_endpoints(hid, len(hid)) == (0, 0)
    # Cut short (a descriptor longer than the buffer read): what is there is walked safely.
    assert usb_host_port.midi_endpoints(desc, 30) == (0, 0)


def test_ladder_constants_are_the_hardware_files():
    ladder = json.loads((ROOT / "hardware" / "usbhost.json").read_text())["ladder"]
    assert list(button_ladder.RESISTORS) == ladder["resistors"]
    assert button_ladder.PULL_DOWN == ladder["pull_down"]


class Adc:
    def __init__(self, value):
        self.value = value


@pytest.mark.parametrize("combo", range(16))
def test_ladder_reads_every_combination_within_its_tolerance(combo):
    # Each combination at its nominal reading and at the extremes of 1 % resistors and 10 mV of
    # ADC error (the worst the hardware check allows) reads as itself.
    ladder = json.loads((ROOT / "hardware" / "usbhost.json").read_text())["ladder"]
    tol, err = ladder["tolerance"], ladder["adc_error_v"] / ladder["vref"] * 65535
    readings = []
    for sign in (-1, 1):
        g = sum(1.0 / (r * (1 - sign * tol)) for k, r in enumerate(ladder["resistors"]) if combo >> k & 1)
        v = 65535 * g / (g + 1.0 / (ladder["pull_down"] * (1 + sign * tol)))
        readings.append(v + sign * err)
    readings.append(button_ladder.levels()[combo])
    for v in readings:
        decoded = button_ladder.Ladder(Adc(int(v))).sample()
        assert decoded == combo, (combo, v)


# -- through the simulator: the Pico 2 variant ----------------------------------------------


def test_a_note_from_usbh_reaches_the_din_outputs_and_a_din_note_reaches_usbh():
    # The device is plugged in at power-up; the box finds it once it has enumerated.
    r = run({"usbh": [(500, NOTE_ON), (700, NOTE_OFF)], "in1": [(600, bytes((0x91, 0x40, 0x50)))]})
    assert "fault" not in r.console, r.console
    for port in ("out1", "out2", "out3", "out4", "usb"):
        got = [m for m in messages(r, port) if m[1][0] & 0xF0 in (0x80, 0x90) and m[1][0] & 0x0F == 0]
        assert [d for _, d in got] == [NOTE_ON, NOTE_OFF], port
        # Read within a poll (2 ms) and a frame of its arrival, then the wire time.
        assert 500 < got[0][0] <= 500 + 4 + 0.96, (port, got)
    assert [d for _, d in messages(r, "usbh")] == [bytes((0x91, 0x40, 0x50))]  # never echoed to itself
    assert 600.96 < messages(r, "usbh")[0][0] <= 600.96 + 2
    assert r.counters["usbh_in"]["parsed"] == 2


def test_unplugging_mid_note_releases_it_and_a_replugged_device_plays_again():
    r = run({"usbh": [(500, NOTE_ON), (700, NOTE_OFF), (1500, bytes((0x90, 0x40, 0x64)))]},
            events=[(600, "unplug", "usbh"), (1000, "plug", "usbh")])
    got = messages(r, "out1")
    # The note-on; at the unplug its off (velocity 0: the merger's release); the device's own
    # note-off at 700 went nowhere (unplugged); after the replug (enumeration, then the box's
    # next look) the new note.
    assert [d for _, d in got] == [NOTE_ON, bytes((0x80, 0x3C, 0x00)), bytes((0x90, 0x40, 0x64))]
    release = got[1][0]
    assert 600 < release <= 600 + usb_host_port.POLL_MS + 2, got
    assert 1500 < got[2][0] <= 1505
    assert r.counters["usbh_in"]["unplugged"] == 3  # the note-off played while unplugged
    assert [w for _, w in r.usbh_plugs] == ["unplug", "plug"]


def test_a_device_plugged_in_later_is_found_within_a_look():
    r = run({"usbh": [(900, NOTE_ON)]}, events=[(400, "plug", "usbh")])
    got = messages(r, "out1")
    assert [d for _, d in got] == [NOTE_ON]
    # Not before it is enumerated (100 ms) and the box has looked (every 250 ms).
    assert 900 < got[0][0] < 905


def test_the_variant_boots_with_every_part_and_its_ladder_buttons_switch_presets():
    # Pico 2: the host port takes a whole PIO block, the DIN PIO UARTs, the clock's metronome and
    # one-shot and the LEDs share the other two; the panel reads the four buttons on one ADC pin.
    config = {"presets": [{"name": "A", "routes": [{"from": "all", "to": "all"}]},
                          {"name": "B", "routes": [{"from": "usbh", "to": "out2"}]}]}
    r = run({"usbh": [(900, NOTE_ON)]}, events=[(300, "press", "button2"), (400, "release", "button2")],
            config=config)
    assert "fault" not in r.console, r.console
    assert r.counters["preset"] == 2
    assert r.led_frames, "the LEDs were never written"
    assert r.counters["clock_timer"] == "pio"
    assert [d for _, d in messages(r, "out2")] == [NOTE_ON]
    assert messages(r, "out1") == []


def test_button1_held_at_power_up_locks_the_drive_through_the_ladder():
    r = run(events=[(0, "press", "button1"), (50, "release", "button1")], usbh=True, until_ms=100)
    assert "button 1 held" in r.boot_out


def test_the_plain_pico_has_no_usbh_and_routes_to_it_change_nothing():
    # The default board: no usb_host pins in its map, so no port; a config naming usbh is valid
    # and routes nothing there; the outputs are what they are without it.
    config = {"presets": [{"routes": [{"from": ["in1", "usbh"], "to": ["out1", "usbh"]}]}]}
    r = run({"in1": [(10, NOTE_ON)]}, config=config)
    assert not r.usbh and "usbh" not in r.outputs
    assert "fault" not in r.console and "usb host" not in r.console
    assert [d for _, d in messages(r, "out1")] == [NOTE_ON]
    plain = run({"in1": [(10, NOTE_ON)]}, config={"presets": [{"routes": [{"from": "in1", "to": "out1"}]}]})
    assert plain.outputs["out1"] == r.outputs["out1"]


def test_sim_command_line_feeds_usbh_and_writes_usbh_txt(tmp_path):
    (tmp_path / "dev.txt").write_text("500 90 3C 64\n")
    (tmp_path / "in1.txt").write_text("600 91 40 50\n")
    (tmp_path / "events.txt").write_text("# the device\n650 unplug usbh\n")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "host_tools", "sim", "--no-plot", "--out", str(out),
           "--in", "usbh=%s" % (tmp_path / "dev.txt"), "--in", "in1=%s" % (tmp_path / "in1.txt"),
           "--events", str(tmp_path / "events.txt")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    usbh = midiwire.parse_timed_text((out / "usbh.txt").read_text())
    assert [b for _, data in usbh for b in data] == [0x91, 0x40, 0x50]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ports"]["usbh_in"]["messages"] == 1 and summary["ports"]["usbh"]["messages"] == 1
    assert summary["ports"]["usbh_in"]["plugs"] == [[650.0, "unplug"]]
    # out1: the device's note, then its release at the unplug.
    out1 = [bytes(data) for _, data in midiwire.parse_timed_text((out / "out1.txt").read_text())]
    assert b"".join(out1).endswith(bytes((0x80, 0x3C, 0x00)))


@pytest.mark.parametrize("args, needle", [
    (["--events", "EV"], "only usbh is plugged"),
    (["--in", "usbh=DEV.txt", "--engine", "board"], "board engine emulates the Pico (RP2040) only"),
])
def test_sim_refuses_what_it_cannot_do(tmp_path, args, needle):
    (tmp_path / "EV").write_text("10 plug usb\n")
    (tmp_path / "DEV.txt").write_text("10 90 3C 64\n")
    args = [str(tmp_path / a) if a == "EV" else a.replace("DEV", str(tmp_path / "DEV")) for a in args]
    cmd = [sys.executable, "-m", "host_tools", "sim", "--no-plot", "--out", str(tmp_path / "o")] + args
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "CIRCUITPY_UF2": "", "CIRCUITPY_MPY_CROSS": "",
                               "CIRCUITPY_BOOTROM": ""})
    assert proc.returncode == 2 and needle in proc.stderr, proc.stderr


# -- the board engine: what of usb_host runs on the emulated Pico ------------------------------

PROBE = b'''import board, busio, supervisor
uart = busio.UART(tx=board.GP0, rx=board.GP1, baudrate=31250, timeout=0)
buf = bytearray(8)
t0 = supervisor.ticks_ms()
while supervisor.ticks_ms() - t0 < 1500:  # the serial console is read once the host has opened it
    uart.readinto(buf)
import usb_host, usb.core
print("probe: modules", usb_host.Port, usb.core.find, usb.core.USBTimeoutError)
try:
    print("probe: find", usb.core.find())
except Exception as e:
    print("probe: find error", repr(e))
while True:
    uart.readinto(buf)
'''


def test_the_pico_build_has_usb_host_and_find_needs_a_port_on_the_board_engine():
    # docs/usb-host.md, "What cannot be tested here": the modules are in CircuitPython's Pico
    # build; find() before usb_host.Port raises as Device.c says. (Port() itself never returns
    # on the engine: rp2040js runs core 0 only, and the port starts core 1.)
    from host_tools.board import engine

    try:
        files = engine.find_files()
    except engine.Missing as e:
        pytest.skip(str(e))
    run = engine.board_run(None, {}, until_ms=2000, files=files, tree={"code.py": PROBE})
    assert "probe: modules <class 'Port'> <function> <class 'USBTimeoutError'>" in run.console, run.console
    assert "probe: find error RuntimeError('No usb host port initialized',)" in run.console, run.console
