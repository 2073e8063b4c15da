# The clock's hot paths on the MicroPython VM: the real Box.step() with the real Merger and
# Clock, in each master mode, allocate nothing (tests/test_hot_paths.py runs this file).
# - follow: a master's F8 stream (with Start, Song Position + Continue, Stop) goes through
#   Merger.realtime -> Clock.on_master; 48 PPQN, so the half-tick pulses run too;
# - internal: Clock.service returns F8 / FA / FC and Merger.inject_realtime queues them;
# - clock_in: the jack polled every pass, ticks generated between its pulses.
# Each check also asserts that the path really ran (pulses on the jack, bytes on the outputs).
import gc

import mpharness
from scripted_ports import CountingPin, SinkOut, Ticks

from firmware import app, config
from firmware.clock import Clock

PASSES_PER_MS = 6  # scripted_ports.Ticks: a pass on the Pico takes about 0.16 ms


class MasterIn:
    """A clock master on one input: one byte every ``every`` reads, from a fixed script that
    starts, plays, stops, repositions and continues (then loops)."""

    def __init__(self, every):
        s = bytearray()
        s.append(0xFA)
        for _ in range(200):
            s.append(0xF8)
        s.append(0xFC)
        s.extend(bytes((0xF2, 0x08, 0x00)))  # Song Position: 8 sixteenths
        s.append(0xFB)
        for _ in range(200):
            s.append(0xF8)
        self.script = s
        self.pos = 0
        self.every = every
        self.count = 0

    def read(self, buf):
        self.count += 1
        if self.count < self.every:
            return 0
        self.count = 0
        buf[0] = self.script[self.pos]
        self.pos += 1
        if self.pos == len(self.script):
            self.pos = 0
        return 1


class Idle:
    def read(self, buf):
        return 0


TEXT = """{"version": 1, "presets": [
 {"name": "follow", "clock": {"master": "in1", "analog": {"resolution": 48, "pulse_ms": 2}}},
 {"name": "internal", "clock": {"master": "internal", "bpm": 300, "analog": {"resolution": 24}}},
 {"name": "clock in", "clock": {"master": "clock_in", "analog": {"resolution": 4}}}
]}"""
settings, errors = config.load(TEXT)
if errors:
    raise AssertionError(errors)
ticks = Ticks(PASSES_PER_MS)
# A byte every 60 passes (10 ms): F8 at 250 BPM.
master = MasterIn(60)
inputs = [master, Idle(), Idle(), Idle(), Idle()]
outputs = [SinkOut(8), SinkOut(8), SinkOut(8), SinkOut(8), SinkOut(64)]
clock_out = CountingPin()
reset_out = CountingPin()
run_out = CountingPin()
clock_in = CountingPin(True)
jacks = Clock(clock_out, reset_out, run_out, clock_in, ticks.now)
box = app.Box(inputs, outputs, ticks.now, settings, errors, clock=jacks)
gc.collect()


def follow():
    for _ in range(6000):
        box.step()


before = clock_out.rises
mpharness.check_no_alloc("clock_follow", follow, warmup=2)
if clock_out.rises - before < 100 or reset_out.rises == 0 or run_out.rises == 0:
    raise AssertionError("follow: %d pulses, %d resets" % (clock_out.rises - before, reset_out.rises))
print("FOLLOW_PULSES", clock_out.rises - before, "BPM_X100", box.clock.bpm_x100())

box.select_preset(1)  # the followed master was playing: the internal clock carries on
if not box.clock.running:
    raise AssertionError("the running state did not carry over to the internal clock")


def internal():
    for _ in range(3000):
        box.step()


sent = outputs[0].count
before = clock_out.rises
mpharness.check_no_alloc("clock_internal", internal, warmup=1)
if clock_out.rises - before < 100 or outputs[0].count - sent < 100:
    raise AssertionError("internal: %d pulses, %d bytes" % (clock_out.rises - before, outputs[0].count - sent))
print("INTERNAL_PULSES", clock_out.rises - before)
box.clock.start_stop(ticks.t)  # Stop, so the clock-in jack's first pulse starts
box.select_preset(2)


def clock_in_pulses():
    # 4 PPQN at 120 BPM on the jack: high for 5 ms every 125 ms (the pin reads the inverse).
    for _ in range(3000):
        phase = (ticks.t % 125) < 5
        clock_in._v = not phase
        box.step()


sent = outputs[0].count
before = clock_out.rises
mpharness.check_no_alloc("clock_in", clock_in_pulses, warmup=2)
if clock_out.rises - before < 3 or outputs[0].count - sent < 18:
    raise AssertionError("clock in: %d pulses, %d bytes" % (clock_out.rises - before, outputs[0].count - sent))
print("CLOCK_IN_PULSES", clock_out.rises - before, "BPM_X100", box.clock.bpm_x100())

# The internal clock on the PIO metronome and pulse one-shot (scripted: firmware/board_io.py's
# programs on the VM's Ticks): tokens read and handed out as F8 and pulses, the next interval
# written, pulse ends from the one-shot; a stalled loop (time jumping 40 ms) fills the FIFO, the
# metronome is stopped and restarted on the grid.
from scripted_ports import ScriptedTimer  # noqa: E402

mticks = Ticks(PASSES_PER_MS)
metronome = ScriptedTimer(mticks, 1)
one_shot = ScriptedTimer(mticks, 4, one_shot=True)
m_out = CountingPin()
mjacks = Clock(m_out, CountingPin(), CountingPin(), CountingPin(True), mticks.now, metronome, one_shot)
m_outputs = [SinkOut(8), SinkOut(8), SinkOut(8), SinkOut(8), SinkOut(64)]
mbox = app.Box([Idle(), Idle(), Idle(), Idle(), Idle()], m_outputs, mticks.now, settings, errors, clock=mjacks)
mbox.select_preset(1)  # internal, 300 BPM, 24 PPQN
mbox.select_preset(0)
mbox.select_preset(1)  # out of the internal master and back: the metronome stops and restarts
mjacks.start_stop(mticks.t)
gc.collect()
PASS = [0]


def metronome_passes():
    for _ in range(3000):
        PASS[0] += 1
        if PASS[0] % 2000 == 0:
            mticks.t += 40  # a stalled loop
        mbox.step()


sent = m_outputs[0].count
before = m_out.rises
written = metronome.written
shots = one_shot.written
restarts = metronome.restarts
mpharness.check_no_alloc("clock_metronome", metronome_passes, warmup=2)
if (m_out.rises - before < 100 or m_outputs[0].count - sent < 100 or metronome.written - written < 100
        or one_shot.written - shots < 100 or metronome.restarts - restarts < 1):
    raise AssertionError("metronome: %d pulses, %d bytes, %d words, %d shots" % (
        m_out.rises - before, m_outputs[0].count - sent, metronome.written - written, one_shot.written - shots))
print("METRONOME_PULSES", m_out.rises - before, "WORDS", metronome.written - written,
      "RESTARTS", metronome.restarts - restarts)
