# Overload and transforms on the MicroPython VM: routes with a channel remap per kind, a
# transpose and a velocity curve, and outputs slower than the inputs, so the queues fill, inputs
# wait (their carries; USB unread), SysEx from several inputs contend for the outputs, values go
# to the late queues and are coalesced, and DIN inputs that cannot wait drop by rule. Still no
# allocation.
import gc

import mpharness
from scripted_ports import ScriptIn, SinkOut, Ticks

from firmware import app, config, merger_setup, router
from firmware.midi import KIND_ALL


def stream(seed):
    s = bytearray()
    for k in range(40):
        n = (seed * 11 + k * 3) % 50 + 40
        s.extend(bytes((0x90 | seed, n, 1 + k * 3)))
        s.extend(bytes((0xB0 | seed, 1, k, 74, 127 - k)))  # running status: two controllers
        s.extend(bytes((0xE0 | seed, k, 0x40, k + 1, 0x41)))
        s.extend(bytes((0xD0 | seed, k)))
        s.extend(bytes((0x80 | seed, n, 0x40)))
        s.append(0xF8)
        if k % 10 == seed:
            s.extend(bytes((0xF0, 0x7D, seed)) + bytes(range(k, k + 30)) + bytes((0xF7, 0xFF)))
    return s


settings, errors = config.load(None)
ticks = Ticks()
inputs = [ScriptIn(stream(k), 16, loop=True) for k in range(5)]
outputs = [SinkOut(1), SinkOut(1), SinkOut(2), SinkOut(1), SinkOut(4)]
box = app.Box(inputs, outputs, ticks.now, settings, errors)
routes = [
    {"from": [0, 1], "to": [0, 1, 2], "kinds": KIND_ALL, "channels": 0xFFFF,
     "remap": {0xE0: 1, 0xB0: 1, 0xD0: 1}, "transpose": 12, "velocity": (80, 10)},
    {"from": [2, 3, 4], "to": [0, 1, 2, 3, 4], "kinds": KIND_ALL, "channels": 0xFFFF},
]
merger_setup.set_routes(box.merger, merger_setup.prepare_routes(box.merger, router.build_masks(routes, 5)), router.build_transforms(routes, 5, 5))
gc.collect()
# --- step ---


def passes():
    for _ in range(400):
        box.step()


mpharness.check_no_alloc("overload_path", passes, warmup=3)
print("COALESCED", sum(box.merger.coalesced))
print("DROPPED", sum(box.merger.dropped))
print("SYSEX_DROPPED", sum(box.merger.dropped[1::5]))
