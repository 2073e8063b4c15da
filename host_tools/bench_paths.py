"""Benchmark bodies that run unchanged on CPython and on the MicroPython VM (``bench`` ships
this file into the VM). Each returns (seconds_or_us, bytes, messages) for one run."""

import gc

from scripted_ports import ScriptIn, SinkOut, Ticks

from firmware import app, config

try:
    from time import ticks_diff, ticks_us  # MicroPython

    def clock_us():
        return ticks_us()

    def elapsed_us(a, b):
        return ticks_diff(b, a)

except ImportError:  # CPython
    from time import perf_counter_ns

    def clock_us():
        return perf_counter_ns() // 1000

    def elapsed_us(a, b):
        return b - a


def mixed_stream(channel, notes):
    """Notes (running status), clock, CC, pitch bend: a busy keyboard with a sequencer clock."""
    s = bytearray()
    for k in range(notes):
        n = 36 + (k * 7) % 48
        s.extend(bytes((0x90 | channel, n, 0x64)))
        s.extend(bytes((n, 0x00)))
        s.extend(bytes((0xB0 | channel, 1, k & 0x7F)))
        s.extend(bytes((0xE0 | channel, k & 0x7F, 0x40)))
        s.append(0xF8)
    return s


def bare(data, chunk):
    """The reference: the same five inputs polled and five outputs written as the firmware's
    pass, but each read written straight to every output: no parsing, routing or queueing."""
    inp = ScriptIn(data, chunk)
    inputs = [inp] + [ScriptIn(bytearray(), 1) for _ in range(4)]
    outs = [SinkOut(64) for _ in range(5)]
    ticks = Ticks().now
    buf = bytearray(64)
    t0 = clock_us()
    while inp.pos < len(data):
        ticks()
        for port in inputs:
            n = port.read(buf)
            if n:
                for out in outs:
                    out.send(buf, 0, n, 0)
    return elapsed_us(t0, clock_us()), outs[0].count


def _box(data, chunk):
    # Five inputs and five outputs, default config; one input carries ``data`` to every output.
    settings, errors = config.load(None)
    inp = ScriptIn(data, chunk)
    idle = [ScriptIn(bytearray(), 1) for _ in range(4)]
    outs = [SinkOut(64) for _ in range(5)]
    return inp, outs, app.Box([inp] + idle, outs, Ticks().now, settings, errors)


def full_path(data, chunk):
    """The firmware's whole path: Box.step over five inputs and five outputs."""
    inp, outs, box = _box(data, chunk)
    gc.collect()
    t0 = clock_us()
    while inp.pos < len(data) or box.merger.pending(0):
        box.step()
    return elapsed_us(t0, clock_us()), outs[0].count


def full_path_alloc(data, chunk):
    """Bytes allocated while the path carries ``data`` (set-up excluded); MicroPython only."""
    inp, outs, box = _box(data, chunk)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    while inp.pos < len(data) or box.merger.pending(0):
        box.step()
    b = gc.mem_alloc()
    gc.enable()
    return b - a


def alloc_per_message(fn, *args):
    """Bytes allocated by fn(*args) (MicroPython only; None on CPython)."""
    if not hasattr(gc, "mem_alloc"):
        return None
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    fn(*args)
    b = gc.mem_alloc()
    gc.enable()
    return b - a


def adafruit_midi_path(data, chunk):
    """The same stream through adafruit_midi receive() + send(), for comparison."""
    import adafruit_midi

    # adafruit_midi decodes only the message classes that have been imported (they register).
    from adafruit_midi.control_change import ControlChange  # noqa: F401
    from adafruit_midi.note_off import NoteOff  # noqa: F401
    from adafruit_midi.note_on import NoteOn  # noqa: F401
    from adafruit_midi.pitch_bend import PitchBend  # noqa: F401
    from adafruit_midi.timing_clock import TimingClock  # noqa: F401

    class Port:
        def __init__(self, inp):
            self.inp = inp
            self.count = 0

        def read(self, n):
            buf = bytearray(n)
            got = self.inp.read(buf)
            return bytes(buf[:got])

        def write(self, b, n=None):
            self.count += len(b)

    inp = ScriptIn(data, chunk)
    port = Port(inp)
    midi = adafruit_midi.MIDI(midi_in=port, midi_out=port, in_buf_size=64)
    t0 = clock_us()
    messages = 0
    idle = 0
    while idle < 3:
        msg = midi.receive()
        if msg is None:
            if inp.pos >= len(data):
                idle += 1
            continue
        if getattr(msg, "_STATUS", None) is None:
            continue  # MIDIUnknownEvent / MIDIBadEvent: the message is lost
        messages += 1
        midi.send(msg, channel=getattr(msg, "channel", None))
    return elapsed_us(t0, clock_us()), port.count, messages
