# The CV engine's per-message path on the MicroPython VM: first the whole Box.step with the engine
# as the router's cv output (the merger parses running status, real-time bytes and SysEx and
# hands the engine whole messages); then the real CvEngine (firmware/cv.py, voices.py, dac.py)
# handed note on/off, pitch bend, CC, pressure, drum notes, the sustain pedal and Stop through
# take(), with service() every pass (plays, gate rises, retrigger dips, short gates, drum
# trigger ends, glide steps) in every voice mode, with note ranges (a split). Fake I2C/pins/SPI
# are plain classes.
import gc

import mpharness
from scripted_ports import Jacks, ScriptIn, SinkOut, Ticks

from firmware import app, cv, start


def stream():
    s = bytearray()
    for k in range(24):
        ch = k % 4
        n = 36 + (k * 5) % 48
        if k % 3 == 0:
            s.extend(bytes((0xB0 | ch, 64, 127)))  # the sustain pedal down ...
        s.extend(bytes((0x90 | ch, n, 1 + (k * 11) % 127)))
        s.extend(bytes((n + 3, 90)))  # running status: a second key, mono stack / poly voice
        s.extend(bytes((0xE0 | ch, k & 0x7F, 0x40 + (k & 0x1F))))
        s.append(0xF8)  # real-time between messages ...
        s.extend(bytes((0xB0 | ch, 1, k & 0x7F)))
        s.extend(bytes((0xD0 | ch, 0xFE, (k * 3) & 0x7F)))  # ... and inside one
        s.extend(bytes((0xA0 | ch, n, 40)))
        s.extend(bytes((0x99, 36 + k % 8, 100, 0x89, 36 + k % 8, 0)))
        s.extend(bytes((0x80 | ch, n, 0, 0x90 | ch, n + 3, 0)))  # note-off and velocity 0
        if k % 3 == 1:
            s.extend(bytes((0xB0 | ch, 64, 0)))  # ... and lifted: the keys it held end
        if k % 6 == 5:
            s.extend(bytes((0xF0, 0x7D, 1, 2, 3, 0xF7, 0xB0 | ch, 123, 0)))
    s.append(0xFC)  # Stop: every gate falls
    return s


def whole_messages(data):
    # The stream as the merger hands it to the engine: (status, data1, data2), SysEx left out.
    out = []
    status = 0
    k = 0
    while k < len(data):
        b = data[k]
        k += 1
        if b >= 0xF8:
            out.append((b, 0, 0))
        elif b >= 0xF0:
            status = 0
            while k < len(data) and data[k] < 0x80:
                k += 1
            if k < len(data) and data[k] == 0xF7:
                k += 1
        else:
            if b >= 0x80:
                status = b
                k = skip_real_time(data, k, out)
                b = data[k]
                k += 1
            if status & 0xF0 in (0xC0, 0xD0):
                out.append((status, b, 0))
            else:
                k = skip_real_time(data, k, out)
                out.append((status, b, data[k]))
                k += 1
    return out


def skip_real_time(data, k, out):
    # A real-time byte inside a message is handed first.
    while data[k] >= 0xF8:
        out.append((data[k], 0, 0))
        k += 1
    return k


# The whole pass first, so the heap read below is the box's at boot with the default config:
# the real Box with the engine behind the merger as the cv output.
settings, errors = start.load_settings(None)  # as the box: the checker leaves the heap
hw2 = Jacks()
ticks2 = Ticks()
engine2 = cv.CvEngine(hw2, ticks2.now)
# One byte a pass per input: about what the engine takes a pass (ROOM), so notes reach it rather
# than wait or be dropped by the merge rules (overload_path covers the merge under load).
inputs = [ScriptIn(stream(), 1, loop=True) for _ in range(5)]
outputs = [SinkOut(8), SinkOut(8), SinkOut(8), SinkOut(8), SinkOut(64), engine2]
box = app.Box(inputs, outputs, ticks2.now, settings, errors)
gc.collect()
# --- step ---
mpharness.report_heap("boot_with_cv_engine")
# --- step ---


def passes():
    for _ in range(400):
        box.step()


mpharness.check_no_alloc("cv_box_step", passes, warmup=2)
rises = 0
for p in hw2.gate_pins:
    rises += p.rises
assert rises > 50, rises
print("BOX_GATE_RISES", rises, "BOX_I2C_WRITES", hw2.i2c.writes)

# --- step: every voice mode, take and service called directly ---
hw = Jacks()
ticks = Ticks(calls_per_ms=3)
engine = cv.CvEngine(hw, ticks.now)
data = whole_messages(stream())
SECTIONS = (
    {},
    {"voices": [{"glide_ms": 40, "priority": "low"}, {"legato": True, "glide_ms": 15, "mod": "cc:1"},
                {"priority": "high", "mod": "aftertouch"}, {"mod": "pitch_bend"}],
     "drums": {"mode": ["trigger", "gate"] * 4}},
    {"mode": "poly", "poly": {"channel": 1, "voices": 3, "allocation": "reuse"}},
    {"mode": "poly", "poly": {"channel": 2, "voices": 4, "allocation": "high"}},
    {"mode": "unison", "poly": {"channel": 3, "voices": 2}},
    # A split: voices 1 and 2 share channel 1 (low and high keys), voice 3 layers its middle.
    {"voices": [{"notes": [0, 59]}, {"channel": 1, "notes": [60, 127]}, {"channel": 1, "notes": [50, 70]}]},
    {"mode": "poly", "poly": {"channel": 1, "voices": 3, "allocation": "cyclic"},
     "voices": [{"notes": [55, 127]}, {}, {}, {"channel": 1, "notes": [0, 54]}]},
)
calibration = {"cv1": {"points": [[0.0, 0.01], [4.0, 4.02], [8.0, 7.99]]}, "mod2": {"offset": 0.01, "scale": 0.99}}


def play():
    # A pass: service() plays the message taken in the pass before, then the next is taken.
    for status, d1, d2 in data:
        now = ticks.now()
        if engine.pending:
            engine.service(now, engine.pending)
        engine.take(status, d1, d2)
    for _ in range(60):  # let triggers, dips and glides finish
        now = ticks.now()
        if engine.pending:
            engine.service(now, engine.pending)


mode_index = [0]


def next_mode():
    engine.configure(SECTIONS[mode_index[0]], calibration)
    mode_index[0] += 1


for name in ("cv_mono", "cv_mono_glide_mods", "cv_poly_reuse", "cv_poly_high", "cv_unison", "cv_split",
             "cv_poly_split"):
    next_mode()
    mpharness.check_no_alloc(name, play, warmup=2)
rises = 0
for p in hw.gate_pins:
    rises += p.rises
assert rises > 100, rises
assert hw.i2c.writes > 500, hw.i2c.writes
assert hw.drum_latch.rises > 100, hw.drum_latch.rises
print("GATE_RISES", rises, "I2C_WRITES", hw.i2c.writes, "DRUM_LATCHES", hw.drum_latch.rises)

