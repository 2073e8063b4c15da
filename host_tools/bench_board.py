"""``make bench``'s board figures: CPU cycles per main-loop pass on real CircuitPython (the board
engine, docs/board-engine.md), and their time at the CPU clock each runs at (the firmware sets
200 MHz, the bare loop keeps CircuitPython's 125), for the firmware and for a bare loop in the
same run.

The firmware runs a scripted session (the default config, with a second preset that routes every
input to out1 and the CV engine only, so the switch ends a held note on the outputs it leaves);
the bare loop (``BARE_LOOP``) polls the same five inputs
with ``readinto`` and writes what came to the same five outputs. A scenario's figure is the
median over its events of the longest pass that started within ``WINDOW_MS`` after the event's
byte (or button release) arrived: the pass that did the work.
"""

import bisect
import json
import statistics

from host_tools.board import engine
from host_tools.sim import runner

MS = 1_000_000
BYTE_NS = 10 * 1_000_000_000 // engine.MIDI_BAUD  # a MIDI byte on the wire: 320 us
WINDOW_MS = 2.0  # a byte is read within one pass and sent within the same pass
# A lone F8 (0.32 ms on the wire) is read a pass or two after its stop bit. Its figure is the
# pass that wrote it to out1 (``forwarding``), not the longest pass near it: the next ms tick
# runs the followed clock's tempo estimate (Clock.follow_ticks) in a pass of its own, within
# 1 ms at most phases, and once the F8's own pass was the shorter of the two the longest within
# 1 ms read the estimate's pass (68,106 cycles where the F8's was 60,310).
F8_WINDOW_MS = 1.0
AFTER_MS = 8.0  # work an event leaves for the passes after it (the CV engine's, a gate) ends by then
IDLE = (50, 250)  # ms: no input
# The events of a scenario land at phases of the ms tick spread over most of it: what a pass
# costs depends on where in its tick it falls (the FIFO estimates drain in the first send of a
# tick; the once-a-tick work may be due), and with one phase for every event a figure moved by
# 10 % whenever a change to the firmware moved its boot time.
PHASE_MS = 0.1
FORWARD_AT = [300 + 50 * k + PHASE_MS * k for k in range(10)]  # one F8 each: forwarded to every output
NOTE_AT = [1000 + 61 * k + 2 * PHASE_MS * k for k in range(5)]  # note-ons on channel 1: CV voice 1 (DAC + gate)
START_AT = 1400
# After Start, 120 BPM at 24 ppqn: a pulse on the 1st tick, then every 6th (125 ms apart: each
# pulse meets the panel's 20 ms LED cadence at another phase; each pulse, and the ticks up to
# the next, a tick phase later).
TICK_MS = 60_000 / 120 / 24
TICK_AT = [1420 + TICK_MS * k + PHASE_MS * (k // 6) for k in range(49)]
SWITCH_PRESS, SWITCH_RELEASE = 2600, 2700  # button 2: preset 2 when released
# A note held across the switch: preset 2 no longer routes it to out2-out4 and USB, so the switch
# sends it its off there (in parts: Merger.strand_part); its own off comes later, to out1 and CV.
HOLD_ON, HOLD_OFF = 2500, 2800
SWITCH_WINDOW_MS = 60.0  # debounce (3 samples at 5 ms) plus the switch itself
END_MS = 2850
BARE_END_MS = 850

# The bare loop: the same ports as firmware/board_io.py builds, no parsing, no routing.
BARE_LOOP = b"""import rp2pio
import usb_midi
from firmware import board_io as io
from firmware import pinmap as pm
from firmware import ports

u1 = io._uart(pm.MIDI_OUT1, pm.MIDI_IN1)
u2 = io._uart(pm.MIDI_OUT2, pm.MIDI_IN2)
r1 = ports.uart_in(u1).read  # as the firmware reads them (firmware/ports.py)
r2 = ports.uart_in(u2).read
r3 = io._pio_rx(pm.MIDI_IN3).read
r4 = io._pio_rx(pm.MIDI_IN4).read
t3 = io._pio_tx_machine(pm.MIDI_OUT3)
t4 = io._pio_tx_machine(pm.MIDI_OUT4)
usb_in = usb_out = None
for p in usb_midi.ports:
    if isinstance(p, usb_midi.PortIn):
        usb_in = p
    else:
        usb_out = p
buf = bytearray(64)
views = [memoryview(buf)[:n] for n in range(65)]


def send(n):
    v = views[n]
    u1.write(v)
    u2.write(v)
    t3.background_write(v)  # as the firmware writes them (firmware/ports.py)
    t4.background_write(v)
    usb_out.write(v)


print("bare loop ready")
while True:
    n = r1(buf)
    if n:
        send(n)
    n = r2(buf)
    if n:
        send(n)
    n = r3(buf)
    if n:
        send(n)
    n = r4(buf)
    if n:
        send(n)
    n = usb_in.readinto(buf)
    if n:
        send(n)
"""


def two_preset_config(copy=False):
    # The default config and a second preset: every input to out1 and the CV engine only, or
    # (``copy``) the first preset's routes.
    config = json.loads((runner.REPO / "config.json").read_text())
    second = dict(config["presets"][0])
    second["name"] = "Copy" if copy else "Keys to 1"
    if not copy:
        second["routes"] = [{"from": "all", "to": ["out1", "cv"]}]
    config["presets"].append(second)
    return json.dumps(config)


def pass_starts(result):
    """(start ns, CPU cycles) of every pass in the session."""
    out = []
    t = 0
    for c, ns in zip(result.pass_cycles, result.pass_ns):
        out.append((t, c))
        t += ns
    return out


def _longest_after(passes, at_ms, window_ms):
    lo, hi = at_ms * MS, (at_ms + window_ms) * MS
    return max((c for t, c in passes if lo <= t <= hi), default=None)


def _written_at(sent, at_ms):
    # When the first byte a DIN output sent at or after ``at_ms`` began (``sent``: the output's
    # (end of its stop bit in ns, byte)): an idle UART starts the byte as it is written.
    end = next((t for t, _ in sent if t >= at_ms * MS), None)
    return None if end is None else end - BYTE_NS


def forwarding(passes, sent, times_ms):
    """Per event the pass that wrote its byte to the DIN output ``sent`` came from, the median:
    the pass that did the work."""
    starts = [t for t, _ in passes]
    values = []
    for at in times_ms:
        t = _written_at(sent, at)
        k = bisect.bisect_right(starts, t) - 1 if t is not None else -1
        if k >= 0:
            values.append(passes[k][1])
    return int(statistics.median(values)) if values else None


def after_forwarding(passes, sent, times_ms, window_ms=F8_WINDOW_MS):
    """Per event the longest pass within ``window_ms`` after the one that forwarded it, the
    median: after a followed F8, the next tick's tempo estimate."""
    starts = [t for t, _ in passes]
    values = []
    for at in times_ms:
        t = _written_at(sent, at)
        if t is None:
            continue
        k = bisect.bisect_right(starts, t)
        later = [c for start, c in passes[k:] if start <= t + window_ms * MS]
        if later:
            values.append(max(later))
    return int(statistics.median(values)) if values else None


def scenario(passes, times_ms, window_ms=WINDOW_MS):
    values = [v for v in (_longest_after(passes, t, window_ms) for t in times_ms) if v is not None]
    return int(statistics.median(values)) if values else None


def idle(passes):
    values = [c for t, c in passes if IDLE[0] * MS <= t <= IDLE[1] * MS]
    return int(statistics.median(values)) if values else None


def second_longest(passes, times_ms, window_ms=AFTER_MS):
    """Per event the second-longest pass that started within ``window_ms`` after it (the pass
    after the one that forwarded the message: the CV engine plays a note there), the median."""
    values = []
    for at in times_ms:
        lo, hi = at * MS, (at + window_ms) * MS
        inside = sorted((c for t, c in passes if lo <= t <= hi), reverse=True)
        if len(inside) > 1:
            values.append(inside[1])
    return int(statistics.median(values)) if values else None


def quiet_longest(passes):
    """The longest pass that started away from every input byte and button event of the
    session (``AFTER_MS`` after each): the box's own timed work (panel scans, LED frames,
    watchdog, timeouts)."""
    busy = [(t, AFTER_MS) for t in FORWARD_AT + NOTE_AT + [t + 30 for t in NOTE_AT] + [START_AT] + TICK_AT
            + [HOLD_ON, HOLD_OFF]]
    busy += [(SWITCH_PRESS, SWITCH_WINDOW_MS), (SWITCH_RELEASE, SWITCH_WINDOW_MS)]
    spans = sorted((at * MS, (at + w) * MS) for at, w in busy)
    longest = None
    k = 0
    for t, c in passes:
        while k < len(spans) and spans[k][1] < t:
            k += 1
        if any(lo <= t <= hi for lo, hi in spans[k:k + 3]):
            continue
        if longest is None or c > longest:
            longest = c
    return longest


def _firmware_inputs():
    in1 = [(round(t * MS), b"\xf8") for t in FORWARD_AT]
    in1 += [(round(t * MS), b"\x90\x3c\x64") for t in NOTE_AT] + [(round((t + 30) * MS), b"\x80\x3c\x00") for t in NOTE_AT]
    in1 += [(START_AT * MS, b"\xfa")] + [(round(t * MS), b"\xf8") for t in TICK_AT]
    in1 += [(HOLD_ON * MS, b"\x90\x40\x64"), (HOLD_OFF * MS, b"\x80\x40\x00")]
    in1.sort()
    events = [(SWITCH_PRESS * MS, "press", "button2"), (SWITCH_RELEASE * MS, "release", "button2")]
    return {"in1": in1}, events


def firmware_figures(files):
    """The firmware's scenario on the board engine: (figures, BoardResult)."""
    inputs, events = _firmware_inputs()
    fw = engine.board_run(two_preset_config(), inputs, events, until_ms=END_MS, files=files)
    fwp = pass_starts(fw)
    pulses = [t for k, t in enumerate(TICK_AT) if k % 6 == 0]
    out1 = fw.outputs["out1"]
    figures = {
        "idle": idle(fwp),
        "forward": forwarding(fwp, out1, FORWARD_AT),
        "tempo_estimate": after_forwarding(fwp, out1, TICK_AT),
        "cv_note": scenario(fwp, NOTE_AT),
        "cv_note_after": second_longest(fwp, NOTE_AT),
        "clock_pulse": forwarding(fwp, out1, pulses),
        "preset_switch": scenario(fwp, [SWITCH_RELEASE], SWITCH_WINDOW_MS),
        "quiet_longest": quiet_longest(fwp),
        "longest_playing": fw.board["longest_pass_playing_cycles"],
        "allocated_blocks_playing": fw.board["allocated_blocks_playing"],
        "gc_collections_playing": fw.board["gc_collections_playing"],
        "heap_free_after_boot": fw.board["heap_free_after_boot"],
        "forwarded_ok": len(fw.outputs["out1"]) >= len(FORWARD_AT),
        "clk_sys_hz": fw.clk_sys_hz,
    }
    return figures, fw


def pass_ms(figures, name):
    """A figure of ``figures`` (CPU cycles) as time, at the CPU clock of its run."""
    return figures[name] * 1000 / figures["clk_sys_hz"]


def measure(files):
    firmware, _ = firmware_figures(files)
    bare_tree = {k: v for k, v in engine.install_files(files["mpy_cross"]).items() if k.startswith("firmware/")}
    bare_tree["code.py"] = BARE_LOOP
    bare = engine.board_run(None, {"in1": [(round(t * MS), b"\xf8") for t in FORWARD_AT]}, until_ms=BARE_END_MS,
                            files=files, tree=bare_tree)
    barep = pass_starts(bare)
    return {
        "firmware": firmware,
        "bare": {"idle": idle(barep), "forward": forwarding(barep, bare.outputs["out1"], FORWARD_AT),
                 "forwarded_ok": len(bare.outputs["out1"]) == len(FORWARD_AT), "clk_sys_hz": bare.clk_sys_hz},
    }


def main():
    print("Board engine: CircuitPython 10.3 on an emulated RP2040, CPU cycles per main-loop pass and their time")
    try:
        files = engine.find_files()
    except engine.Missing as e:
        print("  skipped: %s" % e)
        return None
    figures = measure(files)
    fw, bare = figures["firmware"], figures["bare"]

    def row(name, run, key, base=None):
        cycles = run[key]
        if cycles is None:
            print("  %-46s %10s" % (name, "n/a"))
            return
        ratio = " (%.1fx the bare loop)" % (cycles / base[key]) if base else ""
        print("  %-46s %10d cycles %8.3f ms%s" % (name, cycles, pass_ms(run, key), ratio))

    print("  (the firmware at %d MHz, the bare loop at %d MHz)" % (fw["clk_sys_hz"] // 1_000_000, bare["clk_sys_hz"] // 1_000_000))
    print("  (a pass: from one busio.UART.readinto of in1 to the next; an F8's: the pass that wrote it to out1,"
          " else the longest pass within %g ms of the event; the median over the events)" % WINDOW_MS)
    row("bare loop, idle", bare, "idle")
    row("bare loop, forward one byte", bare, "forward")
    row("firmware, idle", fw, "idle", bare)
    row("firmware, forward F8 to every output", fw, "forward", bare)
    row("firmware, CV note: the pass forwarding it", fw, "cv_note")
    row("firmware, CV note: the next (CV engine, DAC)", fw, "cv_note_after")
    row("firmware, clock tick with a pulse", fw, "clock_pulse")
    row("firmware, the tick after: tempo estimate", fw, "tempo_estimate")
    row("firmware, preset switch", fw, "preset_switch")
    row("firmware, longest pass with no input (panel)", fw, "quiet_longest")
    row("firmware, longest pass while playing", fw, "longest_playing")
    print("  allocated while playing: %s blocks, %s collections"
          % (fw["allocated_blocks_playing"], fw["gc_collections_playing"]))
    print("  heap free after boot: %s bytes" % fw["heap_free_after_boot"])
    return figures
