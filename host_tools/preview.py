"""The editor's preview: the real firmware (``firmware/app.py``'s ``Box`` with the merger, the
router, the CV engine and the clock) playing a timed phrase on small fake hardware, and what
left each output in words plus the jacks over time.

Runs in two places with the same code: on MicroPython (WebAssembly) in the editor's page, which
writes ``firmware/*.py``, ``midiwire.py``, ``midiwords.py`` and this file into the VM's file
system and calls ``run_json``; and on CPython for ``/api/preview`` (the server's fallback when
the page has no VM) and the tests. So: no CPython-only modules, no f-strings with ``=``.

Time model (simpler than the simulator's, ``host_tools/sim``): virtual time moves ``PASS_US``
per main-loop pass (about a Pico pass with a byte to handle). A DIN input's bytes arrive 320 us
apart from a line's time (31250 baud), USB bytes together. DIN outputs take every byte and send
one each 320 us; the time shown for a message is when its last byte has fully left. The jacks
are read after each pass: the pitch and mod DAC codes the engine asked for (``dac.want``, in
volts through the op-amp stages of ``firmware/dac.py``), gates, drums and the clock jacks.
"""

try:  # CPython: the host package (fwimport provides micropython.const); MicroPython in the page:
    # flat files next to this one
    from host_tools import fwimport, midiwire, midiwords

    fwimport.firmware_module("app")
except ImportError:
    import midiwire
    import midiwords

from firmware import app, dac
from firmware import config as fwconfig
from firmware.clock import Clock
from firmware.cv import CvEngine
from firmware.router import INPUTS, OUTPUTS

PASS_US = 200
BYTE_US = 320  # one DIN byte on the wire
TICKS_MASK = 0x1FFFFFFF
MAX_MS = 20000  # a preview plays at most this long (the page waits for it)
TAIL_MS = 300  # played after the last input byte, so note-offs, triggers and gates finish
DIN = ("in1", "in2", "in3", "in4", "out1", "out2", "out3", "out4")


class VirtualTime:
    def __init__(self):
        self.us = 0

    def ticks_ms(self):
        return (self.us // 1000) & TICKS_MASK


class TimedIn:
    """An input handing out each byte once its arrival time has come."""

    def __init__(self, timed, vt):
        self.timed = timed  # [(time_us, byte)], in order
        self.pos = 0
        self.vt = vt

    def read(self, buf):
        n = 0
        timed = self.timed
        now = self.vt.us
        while self.pos < len(timed) and n < len(buf) and timed[self.pos][0] <= now:
            buf[n] = timed[self.pos][1]
            self.pos += 1
            n += 1
        return n


class Recorder:
    """An output that takes every byte; a DIN one sends a byte each ``BYTE_US``."""

    def __init__(self, vt, din):
        self.vt = vt
        self.din = din
        self.free_us = 0  # when the wire is free again
        self.timed = []  # [(time_ns the byte fully left, byte)]

    def send(self, buf, start, end, now):
        t = self.vt.us
        for k in range(start, end):
            if self.din:
                t = max(t, self.free_us) + BYTE_US
                self.free_us = t
            self.timed.append((t * 1000, buf[k]))
        return end - start


class Pin:
    def __init__(self):
        self.value = False


class I2C:
    """Every DAC answers and takes every write (the engine's codes are read from ``dac.want``)."""

    def try_lock(self):
        return True

    def unlock(self):
        pass

    def writeto(self, address, buf, start=0, end=None):
        pass

    def readfrom_into(self, address, buf, start=0, end=None):
        for k in range(len(buf)):
            buf[k] = 0


class Spi:
    def write(self, buf):
        pass


class Jacks:
    """The CV side of ``board_io.Hardware`` that ``CvEngine`` uses."""

    def __init__(self):
        self.i2c = I2C()
        self.faults = []
        self.gate_pins = [Pin(), Pin(), Pin(), Pin()]
        self.drum_spi = Spi()
        self.drum_latch = Pin()


def din_times(lines, din):
    """[(time_ns, bytes)] -> [(time_us, byte)]: a DIN line's bytes 320 us apart (later when the
    wire is still busy), USB bytes together."""
    out = []
    free = 0
    for t_ns, data in lines:
        t = t_ns // 1000
        for b in data:
            if din:
                t = max(t, free)
                free = t + BYTE_US
            out.append((t, b))
    return out


def run(config_text, preset, inputs, until_ms=None):
    """Play ``inputs`` ({port: [(time_ns, bytes)]}) through the box with ``config_text`` in
    preset ``preset`` (0-based). Returns a dict::

        {"errors": [...the checker's, the box then runs the safe default...],
         "preset": index played, "end_ms": float,
         "outputs": {port: [[time_ms, words], ...]},   # every output port, cv left out
         "problems": {port: [text]},                    # what the independent decoder flags
         "signals": {name: [[time_ms, volts], ...]}}    # jacks that moved: the first value, then changes
    """
    settings, errors = fwconfig.load(config_text)
    vt = VirtualTime()
    ports_in = []
    last_us = 0
    for name in INPUTS:
        timed = din_times(inputs.get(name, []), name in DIN)
        if timed:
            last_us = max(last_us, timed[-1][0])
        ports_in.append(TimedIn(timed, vt))
    outs = [Recorder(vt, name in DIN) for name in OUTPUTS if name != "cv"]
    hw = Jacks()
    engine = CvEngine(hw, vt.ticks_ms)
    clock_pin, reset_pin, run_pin = Pin(), Pin(), Pin()
    clock = Clock(clock_pin, reset_pin, run_pin, None, vt.ticks_ms)
    # The outputs in the router's order, the CV engine at its place (usbh comes after it).
    ports_out = list(outs)
    ports_out.insert(OUTPUTS.index("cv"), engine)
    box = app.Box(ports_in, ports_out, vt.ticks_ms, settings, errors, clock=clock)
    if 0 < preset < len(settings["presets"]):
        box.select_preset(preset)
    end_us = int(until_ms * 1000) if until_ms else last_us + TAIL_MS * 1000
    end_us = min(end_us, MAX_MS * 1000)
    pitch_volts = dac.VREF_VOLTS * dac.PITCH_GAIN / (dac.DAC_MAX + 1)
    mod_volts = dac.VREF_VOLTS * dac.MOD_GAIN / (dac.DAC_MAX + 1)
    names = ["cv1", "cv2", "cv3", "cv4", "mod1", "mod2", "mod3", "mod4", "gate1", "gate2", "gate3", "gate4"]
    names += ["drum%d" % (k + 1) for k in range(8)] + ["clock", "reset", "run"]
    history = [[] for _ in names]
    last = [None] * len(names)
    want = engine.dac.want
    gates = hw.gate_pins
    while vt.us <= end_us:
        box.step()
        now_ms = vt.us / 1000
        values = [want[k] * pitch_volts for k in range(4)] + [want[4 + k] * mod_volts for k in range(4)]
        values += [5.0 if g.value else 0.0 for g in gates]
        bits = engine.drum_bits
        values += [5.0 if bits >> k & 1 else 0.0 for k in range(8)]
        values += [5.0 if clock_pin.value else 0.0, 5.0 if reset_pin.value else 0.0, 5.0 if run_pin.value else 0.0]
        for k in range(len(names)):
            v = values[k]
            if v != last[k]:
                history[k].append([now_ms, round(v, 4)])
                last[k] = v
        vt.us += PASS_US
    result = {"errors": errors, "preset": box.preset, "end_ms": end_us / 1000, "outputs": {}, "problems": {},
              "signals": {}}
    for name, rec in zip([n for n in OUTPUTS if n != "cv"], outs):
        messages, problems = midiwire.decode(rec.timed)
        result["outputs"][name] = [[m.time_ns / 1000000, midiwords.describe(m.data)] for m in messages]
        result["problems"][name] = problems
    for name, points in zip(names, history):
        if len(points) > 1:
            result["signals"][name] = points
    return result


def parse_inputs(spec):
    """{port: timed-bytes text} -> {port: [(time_ns, bytes)]} (the project's wire format)."""
    return {port: midiwire.parse_timed_text(text, port) for port, text in spec.items()}


def run_json(request_text):
    """The page's entry point: a JSON request ``{"config": text, "preset": n, "inputs": {port:
    timed-bytes text}, "until_ms": ms or null}`` -> the JSON of ``run``'s result (or
    ``{"failure": text}`` for inputs that are not the wire format)."""
    import json

    request = json.loads(request_text)
    try:
        inputs = parse_inputs(request.get("inputs", {}))
    except ValueError as e:
        return json.dumps({"failure": str(e)})
    return json.dumps(run(request["config"], int(request.get("preset", 0)), inputs, request.get("until_ms")))
