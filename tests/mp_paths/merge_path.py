# The merger's whole byte path, on the MicroPython VM: the real Box.step() with the real Merger,
# ports and routing, fed by scripted inputs. tests/test_hot_paths.py runs every file in this
# folder; each ends with mpharness checks (add a file here for each new hot path).
import gc

import mpharness
from scripted_ports import ScriptIn, SinkOut, Ticks

from firmware import app, start


def stream(seed):
    # Notes with running status, a clock byte inside a note, CC and pitch bend, a SysEx with a
    # real-time byte inside, program change, system common: every branch of the parser.
    s = bytearray()
    for k in range(12):
        n = (seed * 7 + k * 5) % 60 + 30
        s.extend(bytes((0x90 | seed, n, 0x64)))
        s.extend(bytes((n + 2, 0x50)))  # running status
        s.extend(bytes((0x80 | seed, n, 0xF8, 0x40)))  # clock inside a note-off
        s.extend(bytes((0xB0 | seed, 1, k * 9)))
        s.extend(bytes((0xE0 | seed, k, 0x40)))
        s.append(0xF8)
    s.extend(bytes((0xF0, 0x7D, 1, 2, 0xF8, 3, 4, 5, 0xF7)))
    s.extend(bytes((0xC0 | seed, 5, 0xF6, 0xF1, 0x21)))
    return s


settings, errors = start.load_settings(None)  # as the box: the checker leaves the heap
ticks = Ticks()
inputs = [ScriptIn(stream(k), chunk, loop=True) for k, chunk in enumerate((3, 1, 7, 64, 16))]
outputs = [SinkOut(8), SinkOut(8), SinkOut(8), SinkOut(8), SinkOut(64)]
box = app.Box(inputs, outputs, ticks.now, settings, errors)
gc.collect()
# --- step: the VM frees garbage of a step only in a later one, so the heap is read apart ---
mpharness.report_heap("boot_default_config")
# --- step ---


def passes():
    for _ in range(400):
        box.step()


mpharness.check_no_alloc("merge_path", passes, warmup=2)
total = 0
for o in outputs:
    total += o.count
print("FORWARDED", total)
print("PARSED", sum(box.merger.messages_in))
