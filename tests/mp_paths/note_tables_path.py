# The note tables at saturation on the MicroPython VM (firmware/tracking.py): notes on more
# channels than there are tables, so channels take tables, a note-on finds none (dropped by
# rule), silent channels give theirs back, and a lost input's notes are released. No allocation.
import gc

import mpharness
from scripted_ports import SinkOut

from firmware import config, merger_setup, router
from firmware.merger import DROP_TOO_MANY_NOTES, Merger
from firmware.tracking import NOTE_TABLES

settings, errors = config.load(None)
m = Merger(5, 5)
merger_setup.set_outputs(m, [SinkOut(64) for _ in range(5)])
merger_setup.set_output_modes(m, 0x0F, 0x0F)
merger_setup.set_routes(m, merger_setup.prepare_routes(m, router.build_masks(settings["presets"][0]["routes"], 5)))
on = bytearray((0x90, 60, 100))
off = bytearray((0x80, 60, 0))
gc.collect()
# --- step ---


def round_of_notes():
    # Inputs 1-3 play a note on each of their 16 channels: 48 channels for NOTE_TABLES tables.
    for i in range(3):
        for ch in range(16):
            on[0] = 0x90 | ch
            m.feed(i, on, 0, 3)
        m.write_outputs(m.now)
    # Input 1's channels fall silent; a tick later input 4's notes take their tables back.
    for ch in range(16):
        off[0] = 0x80 | ch
        m.feed(0, off, 0, 3)
    m.write_outputs(m.now)
    m.now += 1
    for ch in range(16):
        on[0] = 0x90 | ch
        m.feed(3, on, 0, 3)
    m.write_outputs(m.now)
    # Every note that sounds gets its off (an input lost, or a preset taking its routes away).
    for i in range(4):
        m.release_notes(i)
        m.write_outputs(m.now)
    m.now += 1


mpharness.check_no_alloc("note_tables_path", round_of_notes, warmup=2)
print("TOO_MANY_NOTES", m.dropped[DROP_TOO_MANY_NOTES], "TABLES", NOTE_TABLES, "OWED", sum(m.owed))
