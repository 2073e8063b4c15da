"""What each piece of a pass costs on real CircuitPython (the board engine, docs/board-engine.md):
the box is built as on the board (``firmware.start.build()``, the bench's two-preset config), then
a ``code.py`` calls one operation at a time between two ``readinto`` calls on in1, so each
operation is one "pass" in the engine's figures (plus the readinto, the ``mark`` row).

    python -m host_tools.bench_board_parts

Prints cycles per operation (the median over REPEATS; the first run of each is often dearer).
"""

import statistics

from host_tools import bench_board
from host_tools.board import engine

REPEATS = 6

# (name, the statements of one operation). ``now``: the ticks of the run's start; ``c.running``
# is set, so the clock's followed ticks take the running path.
OPERATIONS = [
    ("mark (readinto of in1 alone)", ""),
    ("merger.set_routes (preset 2's tables)", "merger_setup.set_routes(m, masks, tr)"),
    ("clock.install (a prepared clock)", "c.install(sw[0])"),
    ("merger.set_master + set_clock_outputs", "m.set_master(sw[3]); m.set_clock_outputs(sw[1], sw[2])"),
    ("cv.install (a prepared CV setup)", "cv.install(sw[4])"),
    ("cv.refresh (its DAC codes)", "cv.refresh()"),
    ("box.switch_preset (routing, clock, panel)", "box.switch_preset(rep & 1)"),
    ("panel: compose a changed LED frame", "p.have[0] = 0xFE; p._leds(now)"),
    ("panel.service: write that frame", "p.next_led = now + 100; p.last = now; p.service(now + 1, 0)"),
    ("panel.service: button scan", "p.next_scan = now; p.last = now - 1; p.service(now, 0)"),
    ("panel.service: nothing due", "p.last = now - 1; p.service(now, 0)"),
    ("merger.service (timeouts)", "m.service(now)"),
    # A note on channel 16 (no CV voice) from in1 to every DIN and USB output, a new note each
    # repeat: the note tables' path (firmware/tracking.py).
    ("merger.feed: a note-on to every output", "m.feed(0, ons[rep], 0, 3)"),
    ("merger.write_outputs after it", "m.write_outputs(now)"),
    ("merger.feed: its note-off", "m.feed(0, offs[rep], 0, 3)"),
    ("merger.write_outputs after that", "m.write_outputs(now)"),
    ("clock.on_master(F8), no pulse", "c._phase = 1; c.on_master(0xF8, now)"),
    ("clock.on_master(F8) with a pulse", "c._phase = 0; c.on_master(0xF8, now)"),
    ("clock.follow_ticks (tempo estimate)", "c.follow_ticks()"),
    ("cv.take(note-on): kept for the next pass", "cv.take(0x90, 0x3C, 0x64)"),
    ("cv.service: plays it (voice, DAC writes)", "cv.service(now, cv.pending)"),
    ("cv.service: the gate rises", "cv.service(now, cv.pending)"),
    ("cv.take(note-off)", "cv.take(0x80, 0x3C, 0)"),
    ("cv.service: plays it (the gate falls)", "cv.service(now, cv.pending)"),
]

CODE = """import gc
from firmware import merger_setup, start
box = start.build()
gc.collect()
rd = box.polled[0][1]
buf = bytearray(64)
note_on = bytearray(b"\\x90\\x3c\\x64")
note_off = bytearray(b"\\x80\\x3c\\x00")
ons = [bytearray((0x9F, 40 + r, 100)) for r in range(%d)]
offs = [bytearray((0x8F, 40 + r, 0)) for r in range(%d)]
m = box.merger
c = box.clock
cv = box.cv
p = box.panel
masks, tr = box.routing[1]
sw = box.switches[1]
now = box.ticks_ms()
c.running = True
print("parts ready")
for rep in range(%d):
    rd(buf)
%s
print("parts done")
while True:
    rd(buf)
"""


def code():
    body = "\n".join("    rd(buf)\n    %s" % (stmt or "pass") for _, stmt in OPERATIONS)
    return (CODE % (REPEATS, REPEATS, REPEATS, body)).encode()


def measure(files):
    tree = {k: v for k, v in engine.install_files(files["mpy_cross"]).items()
            if k.startswith("firmware/") or k.startswith("lib/")}
    tree["config.json"] = bench_board.two_preset_config(copy=True).encode()  # every switch: the same routes
    tree["code.py"] = code()
    result = engine.board_run(None, {}, until_ms=400, files=files, tree=tree)
    if "parts done" not in result.console:
        raise engine.BoardError("parts benchmark did not finish:\n" + result.console[-2000:])
    cycles = result.pass_cycles
    per_rep = len(OPERATIONS) + 1  # each repeat begins with a readinto after the last operation's
    figures = {}
    for k, (name, _) in enumerate(OPERATIONS):
        figures[name] = int(statistics.median(cycles[rep * per_rep + 1 + k] for rep in range(REPEATS)))
    return figures, result.clk_sys_hz


def main():
    print("Board engine: CPU cycles per operation and their time (CircuitPython 10.3, emulated RP2040;"
          " each figure includes one readinto of in1, the first row)")
    try:
        files = engine.find_files()
    except engine.Missing as e:
        print("  skipped: %s" % e)
        return None
    figures, hz = measure(files)
    print("  (the firmware's CPU clock: %d MHz)" % (hz // 1_000_000))
    for name, cycles in figures.items():
        print("  %-46s %8d cycles %7.3f ms" % (name, cycles, cycles * 1000 / hz))
    return figures


if __name__ == "__main__":
    main()
