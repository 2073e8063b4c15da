# Splits and layers onto one output (routes that each transform sharing an input and an
# output: firmware/shared_pairs.py) on the MicroPython VM: notes across a split, a layer with
# transpose, velocity and a cc_map, bend and mod wheel following another input in a part, outputs
# slower than the inputs (queues fill, values go late and coalesce, another input's SysEx holds
# the outputs so owed offs wait in the late queue), program changes that switch presets (each
# switch ends every copy of every note and centres what was held), an input lost. No allocation.
import gc
import json

import mpharness
from scripted_ports import ScriptIn, SinkOut, Ticks

from firmware import app, config


def keys(seed):
    # in1: notes across the split, sustain, mod wheel, bends, poly pressure; a program change
    # on channel 16 every 6 rounds (presets 1-3 in turn).
    s = bytearray()
    for k in range(36):
        n = 30 + (k * 7) % 70
        s.extend(bytes((0x90, n, 1 + k, 0x90, n + 5, 100)))
        s.extend(bytes((0xB0, 1, k, 64, 127 if k % 2 else 0)))
        s.extend(bytes((0xE0, k, 0x40 + k % 8)))
        s.extend(bytes((0xA0, n, k)))
        s.extend(bytes((0x80, n, 0, 0x90, n + 5, 0)))
        if k % 6 == 5:
            s.extend(bytes((0xCF, (k // 6) % 3)))
    return s


def sequencer(seed):
    # in2: notes on channels that move (what "follow" watches), clock, and a SysEx now and
    # then that holds out1 and out2 while in1's offs are owed there.
    s = bytearray()
    for k in range(30):
        s.extend(bytes((0x90 | (k % 3), 40 + k, 100, 0x80 | (k % 3), 40 + k, 0, 0xF8)))
        if k % 7 == 3:
            s.extend(bytes((0xF0, 0x7D, 1)) + bytes(range(k, k + 40)) + bytes((0xF7,)))
    return s


text = json.dumps({"version": 2, "names": {"in1": "Keys", "in2": "Seq"},
                   "preset_select": {"from": "Keys", "channel": 16},
                   "presets": [
    {"routes": [{"from": "Keys", "to": "out1", "notes": [0, 59], "channel": 1, "kinds": ["notes"]},
                {"from": "Keys", "to": "out1", "notes": [60, 127], "channel": 2},
                {"from": "Keys", "to": "out2", "channel": 1, "kinds": ["notes", "poly_pressure"]},
                {"from": "Keys", "to": "out2", "channel": 2, "transpose": 12, "velocity": {"scale": 50},
                 "cc_map": {"1": 74}},
                {"from": "Seq", "to": ["out1", "out2", "out3"]}]},
    {"routes": [{"from": "Keys", "to": "out1", "channel": 3},
                {"from": "Keys", "to": "out1", "kinds": ["pitch_bend", "control_change"], "controllers": [1, 64],
                 "remap": {"pitch_bend": "follow:Seq", "control_change": "follow:Seq"}},
                {"from": "Seq", "to": ["out1", "out2"]}]},
    {"routes": []},
]})
settings, errors = config.load(text)
assert not errors, errors
ticks = Ticks()
inputs = [ScriptIn(keys(0), 16, loop=True), ScriptIn(sequencer(1), 16, loop=True), None, None, None]
outputs = [SinkOut(1), SinkOut(1), SinkOut(2), SinkOut(2), SinkOut(8)]
box = app.Box(inputs, outputs, ticks.now, settings, errors)
selected, follow_moved, parts = box.merger.route_hooks
calls = bytearray(4)  # place, copies, late_takes, own: the shared-pair code really ran


class Counted:
    # firmware.shared_pairs, counting its calls (small ints: no allocation).
    def place(self, m, i, o, p, key, s, d1, d2, n, off, late, grow):
        calls[0] = (calls[0] + 1) & 0x7F or 1
        return parts.place(m, i, o, p, key, s, d1, d2, n, off, late, grow)

    def copies(self, m, p, s, d1):
        calls[1] = (calls[1] + 1) & 0x7F or 1
        return parts.copies(m, p, s, d1)

    def late_takes(self, m, o, i, p, s, d1):
        calls[2] = (calls[2] + 1) & 0x7F or 1
        return parts.late_takes(m, o, i, p, s, d1)

    def own(self, m, i, o, late, p, s, d1, d2):
        calls[3] = (calls[3] + 1) & 0x7F or 1
        parts.own(m, i, o, late, p, s, d1, d2)


box.merger.route_hooks = (selected, follow_moved, Counted())
gc.collect()
# --- step ---


def passes():
    for _ in range(400):
        box.step()


def lose():
    box.merger.input_lost(0)


mpharness.check_no_alloc("shared_pairs_path", passes, warmup=3)
mpharness.check_no_alloc("shared_pairs_input_lost", lose, warmup=2)
print("CALLS", calls[0], calls[1], calls[2], calls[3])
print("TOO_MANY_NOTES", sum(box.merger.dropped[3::5]))
