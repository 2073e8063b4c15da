# Routing (config format 2) on the MicroPython VM: a controller filter with a cc_map, a split
# by note range with transpose, bend and mod wheel following another input's note channel as it
# moves, program changes that select presets (each switch centring what was held and sending
# the new preset's on_enter), and an input lost after active sensing. No allocation.
import gc
import json

import mpharness
from scripted_ports import ScriptIn, SinkOut, Ticks

from firmware import app, config


def keys(seed):
    # in1: notes across the split, mod wheel, sustain, bends; a program change on channel 16
    # every 8 rounds (presets 1-3 in turn).
    s = bytearray()
    for k in range(48):
        n = 30 + (k * 7) % 70
        s.extend(bytes((0x90, n, 1 + k)))
        s.extend(bytes((0xB0, 1, k, 64, 127 if k % 2 else 0, 7, k)))
        s.extend(bytes((0xE0, k, 0x40 + k % 8)))
        s.extend(bytes((0xA0, n, k)))
        s.extend(bytes((0x80, n, 0)))
        if k % 8 == 7:
            s.extend(bytes((0xCF, (k // 8) % 3)))
    return s


def sequencer(seed):
    # in2: notes on channels that move (what "follow" watches), clock.
    s = bytearray()
    for k in range(30):
        s.extend(bytes((0x90 | (k % 3), 40 + k, 100, 0x80 | (k % 3), 40 + k, 0, 0xF8)))
    return s


text = json.dumps({"version": 2, "names": {"in1": "Keys", "in2": "Seq"},
                   "preset_select": {"from": "Keys", "channel": 16},
                   "presets": [
    {"routes": [{"from": "Keys", "to": "out1", "notes": [0, 59], "transpose": -12, "channels": "all", "channel": 2},
                {"from": "Keys", "to": "out2", "notes": [60, 127], "controllers": [1, 64], "cc_map": {"1": 74}},
                {"from": "Keys", "to": "out3", "kinds": ["pitch_bend", "control_change"], "controllers": [1, 64],
                 "remap": {"pitch_bend": "follow:Seq", "control_change": "follow:Seq"}},
                {"from": "Seq", "to": ["out3", "out4"]}],
     "clock": {"master": "Seq"},
     "on_enter": [{"to": "out3", "channel": 5, "program": 1, "bank": [2, 3]}]},
    {"routes": [{"from": "Keys", "to": "out4"}, {"from": "Seq", "to": "out3"}],
     "on_enter": [{"to": "out4", "channel": 1, "program": 7}]},
    {"routes": []},
]})
settings, errors = config.load(text)
assert not errors, errors
ticks = Ticks()
inputs = [ScriptIn(keys(0), 16, loop=True), ScriptIn(sequencer(1), 16, loop=True), None, None, None]
outputs = [SinkOut(2), SinkOut(2), SinkOut(2), SinkOut(2), SinkOut(8)]
box = app.Box(inputs, outputs, ticks.now, settings, errors)
selects = [0]  # program changes that selected a preset (the path really switched)
selected, follow_moved, parts = box.merger.route_hooks
followed = [0]  # the inputs some route followed while playing, seen at each selection


def select(program):
    selects[0] += 1
    followed[0] |= box.merger.follow_in
    selected(program)


box.merger.route_hooks = (select, follow_moved, parts)
gc.collect()
# --- step ---


def passes():
    for _ in range(300):
        box.step()


def lose():
    box.merger.input_lost(0)


mpharness.check_no_alloc("routing_path", passes, warmup=3)
mpharness.check_no_alloc("routing_input_lost", lose, warmup=2)
print("SELECTS", selects[0])
print("FOLLOWED", followed[0])
