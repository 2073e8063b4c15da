"""CV engine figures: the DAC path's cost, and gate/CV timing of any simulated run.

``python -m host_tools bench`` prints ``main()``'s table after the byte-path one (``bench.py``
calls it); ``summary.json`` carries ``summary_figures(result)`` under ``"cv"`` for every
simulated run (``host_tools/sim/report.py``). Asserts nothing: tests assert behaviour.

Bench rows:
- DAC path on the MicroPython VM (tests/mpvm): ``Dac.flush`` of 1, 2 and 4 changed channels, and
  a whole note-on + note-off through ``CvEngine.play`` + ``service``, in us per update and
  bytes allocated per update; the same for adafruit_mcp4728's ``channel.raw_value = code``.
- I2C time per update at 400 kHz from the simulator's bus model (``host_tools/sim/i2c.py``: CPU
  of ``writeto`` plus 9 bits a byte, start and stop), for the firmware's transactions and for
  ``raw_value`` writes to the emulated chip.

Summary figures (virtual time, exact and repeatable):
- ``gate_rise_delay_ms``: for every rising edge of gate1..gate4, the time since the last note
  message (note-on or note-off: a note-off can make a mono voice retrigger to a held key) that
  had fully arrived at any input. Exact while notes for different voices are not interleaved
  within a millisecond; a retriggered note's delay includes its dip.
- ``cv_settle_ms``: for every rising edge of gateN, the time since cvN or modN last changed.
  ``min`` is the figure to read: the op-amp stages need about 0.1 ms (docs/build.md).
- ``gate_high_ms``: every high phase of gate1..gate4. ``min`` is the figure to read: every gate
  stays up more than 1 ms (firmware/cv.py).
- ``retrigger_dip_ms``: every low phase of a gate shorter than 5 ms.
- ``drum_trigger_ms``: every high phase of drum1..drum8.
"""

import sys
from pathlib import Path

from host_tools import midiwire
from host_tools.figures import NS_PER_MS
from host_tools.figures import stats_ms as _stats

REPO = Path(__file__).resolve().parents[1]
DIP_LIMIT_NS = 5 * NS_PER_MS
# The CV engine's contracts these figures are read against (firmware/cv.py): a gate rises only
# once its CV has settled (docs/build.md section 8: the pitch stage, about 0.1 ms), and every
# gate stays up more than 1 ms.
PITCH_SETTLE_MS = 0.1
GATE_MIN_MS = 1.0


def _histories(result):
    out = {}
    for t, name, volts in result.signals:
        out.setdefault(name, []).append((t, volts))
    return out


def _phases(hist, high):
    """Durations (ns) of the completed high (or low) phases after the first edge."""
    spans = []
    start = None
    for (t, v), (_, prev) in zip(hist[1:], hist):
        if v == prev:
            continue
        if (v > 0) == high:
            start = t
        elif start is not None:
            spans.append(t - start)
            start = None
    return spans


def summary_figures(result):
    notes = []
    for timed in result.inputs.values():
        msgs, _ = midiwire.decode(timed)
        notes.extend(m.time_ns for m in msgs if m.data[0] & 0xE0 == 0x80)
    notes.sort()
    hist = _histories(result)
    delays, settles, dips, highs = [], [], [], []
    for k in range(1, 5):
        gate = hist.get("gate%d" % k, [])
        changes = sorted(t for name in ("cv%d" % k, "mod%d" % k) for t, _ in hist.get(name, [])[1:])
        for (t, v), (_, prev) in zip(gate[1:], gate):
            if not (v > 0 and prev <= 0):
                continue
            before = [n for n in notes if n <= t]
            if before:
                delays.append(t - before[-1])
            written = [c for c in changes if c <= t]
            if written:
                settles.append(t - written[-1])
        dips.extend(d for d in _phases(gate, high=False) if d < DIP_LIMIT_NS)
        highs.extend(_phases(gate, high=True))
    triggers = []
    for k in range(1, 9):
        triggers.extend(_phases(hist.get("drum%d" % k, []), high=True))
    return {
        "gate_rise_delay_ms": _stats(delays),
        "cv_settle_ms": _stats(settles),
        "gate_high_ms": _stats(highs),
        "retrigger_dip_ms": _stats(dips),
        "drum_trigger_ms": _stats(triggers),
    }


# -- the bench -------------------------------------------------------------------------------------

VM_SCRIPT = """
import gc
import time
from firmware import cv, cv_setup, dac

from scripted_ports import CountingI2C as I2C, Jacks as Hw

T = [0]
def ticks():
    return T[0]

N = %(n)d

def measure(name, fn):
    # Bytes allocated over N updates (collector off), then the best of 5 timed runs. The VM's
    # ticks_us moves in whole milliseconds: N is large enough for that not to matter.
    fn(1)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    fn(N)
    b = gc.mem_alloc()
    gc.enable()
    best = None
    for _ in range(5):
        gc.collect()
        t0 = time.ticks_us()
        fn(N)
        us = time.ticks_diff(time.ticks_us(), t0)
        best = us if best is None or us < best else best
    print("ROW", name, best, b - a)

# Reference for the Pico estimate (host_tools/bench_ref.py).
from bench_ref import ref_parse as ref
measure("ref_parser_byte", ref)

d = dac.Dac(I2C(), 3)
cv_setup.setup_dac(d)
def flush1(n):
    for k in range(n):
        d.set(0, k & 4095)
        d.flush()
def flush2(n):
    for k in range(n):
        d.set(0, k & 4095)
        d.set(1, (k + 7) & 4095)
        d.flush()
def flush4(n):
    for k in range(n):
        c = k & 4095
        d.set(0, c)
        d.set(1, c ^ 1)
        d.set(2, c ^ 2)
        d.set(3, c ^ 3)
        d.flush()
measure("flush_1ch", flush1)
measure("flush_2ch", flush2)
measure("flush_4ch_fast", flush4)

e = cv.CvEngine(Hw(), ticks)
def note(n):
    for k in range(n):
        nn = 36 + (k %% 48)
        e.now = T[0]
        e.play(0x90, nn, 1 + (k %% 127))
        T[0] += 1
        if e.pending:
            e.service(T[0], e.pending)
        e.play(0x80, nn, 0)
        T[0] += 3
        if e.pending:
            e.service(T[0], e.pending)
measure("note_on_off", note)
e.play(0x90, 60, 100)
def bends(n):
    for k in range(n):
        e.play(0xE0, k & 127, (k >> 7) & 127)
measure("pitch_bend", bends)
def drums(n):
    for k in range(n):
        e.now = T[0]
        e.play(0x99, 36 + (k & 7), 100)
        T[0] += 11
        if e.pending:
            e.service(T[0], e.pending)
measure("drum_trigger", drums)
def idle(n):
    e.pending = 0
    for k in range(n):
        if e.pending:
            e.service(T[0], e.pending)
measure("idle_pass_check", idle)

try:
    import adafruit_mcp4728
    chip = adafruit_mcp4728.MCP4728(I2C())
    def raw1(n):
        for k in range(n):
            chip.channel_a.raw_value = k & 4095
    def raw4(n):
        for k in range(n):
            c = k & 4095
            chip.channel_a.raw_value = c
            chip.channel_b.raw_value = c ^ 1
            chip.channel_c.raw_value = c ^ 2
            chip.channel_d.raw_value = c ^ 3
    measure("adafruit_raw_1ch", raw1)
    measure("adafruit_raw_4ch", raw4)
except ImportError as err:
    print("ADAFRUIT_MISSING", err)
"""


def _vm(n):
    sys.path.insert(0, str(REPO / "tests"))
    import mpvm

    files = mpvm.firmware_files()
    import adafruit_bus_device
    import adafruit_mcp4728

    files["/fw/adafruit_mcp4728.py"] = Path(adafruit_mcp4728.__file__).read_text()
    bus = Path(adafruit_bus_device.__file__).parent
    for p in bus.glob("*.py"):
        files["/fw/adafruit_bus_device/%s" % p.name] = p.read_text()
    for name in ("bench_ref.py", "scripted_ports.py"):
        files["/fw/" + name] = (REPO / "host_tools" / name).read_text()
    out = mpvm.run(VM_SCRIPT % {"n": n}, files=files, timeout=300, import_guard=False)
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "ROW":
            rows[f[1]] = (int(f[2]), int(f[3]))
    return rows


def _bus_model():
    """Virtual time (ns) of each kind of update on the simulated 400 kHz bus with an emulated
    MCP4728: the firmware's transactions and adafruit_mcp4728's raw_value writes."""
    import types

    from host_tools import fwimport
    from host_tools.sim import i2c as fake_i2c
    from host_tools.sim import runner, world
    from host_tools.sim.mcp4728 import MCP4728

    dac = fwimport.firmware_module("dac")
    cv_setup = fwimport.firmware_module("cv_setup")
    names = runner._FAKE_MODULES
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    sys.path.insert(0, str(runner.FAKES))
    busio = types.ModuleType("busio")
    busio.I2C = fake_i2c.I2C
    sys.modules["busio"] = busio
    w = world.install(world.World())
    out = {}
    try:
        import adafruit_mcp4728
        import board

        fake_i2c.attach(0x60, MCP4728(), world=w)
        fake_i2c.attach(0x64, MCP4728(address=0x64), world=w)
        bus = fake_i2c.I2C(board.GP9, board.GP8, frequency=400_000)
        chip = adafruit_mcp4728.MCP4728(bus, 0x60)

        def timed(fn):
            t0 = w.now_ns
            fn()
            return w.now_ns - t0

        out["adafruit_raw_1ch"] = timed(lambda: setattr(chip.channel_a, "raw_value", 100))

        def raw4():
            for k, ch in enumerate((chip.channel_a, chip.channel_b, chip.channel_c, chip.channel_d)):
                ch.raw_value = 200 + k

        out["adafruit_raw_4ch"] = timed(raw4)
        d = dac.Dac(bus, 3)
        cv_setup.setup_dac(d)

        def flush(channels, base):
            for c in channels:
                d.set(c, base + c)
            d.flush()

        out["flush_1ch"] = timed(lambda: flush((0,), 300))
        out["flush_2ch"] = timed(lambda: flush((0, 1), 400))
        out["flush_4ch_fast"] = timed(lambda: flush((0, 1, 2, 3), 500))
        out["flush_8ch_both_chips"] = timed(lambda: flush(range(8), 600))
    finally:
        world.uninstall()
        sys.path.remove(str(runner.FAKES))
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    return out


LABELS = (
    ("flush_1ch", "firmware: 1 channel (Multi-Write, 3 B)", 1),
    ("flush_2ch", "firmware: 2 channels (Multi-Write, 6 B)", 2),
    ("flush_4ch_fast", "firmware: 4 channels (Fast Write, 8 B)", 4),
    ("adafruit_raw_1ch", "adafruit_mcp4728 raw_value, 1 channel", 1),
    ("adafruit_raw_4ch", "adafruit_mcp4728 raw_value, 4 channels", 4),
)
ENGINE_ROWS = (
    ("note_on_off", "note-on + note-off (play, gate rise, service)"),
    ("pitch_bend", "pitch bend on a sounding voice (1 channel)"),
    ("drum_trigger", "drum note-on + its trigger end"),
    ("idle_pass_check", "an idle pass: app's `if cv.pending` test"),
)
from host_tools.bench_ref import PICO_US_PER_REF_BYTE  # noqa: E402


def main(argv=(), n=20000):
    print("Thruway bench: the CV engine's DAC path (MCP4728 over I2C at 400 kHz)")
    rows = _vm(n)
    bus = _bus_model()
    ref_us, _ = rows.get("ref_parser_byte", (None, None))
    scale = PICO_US_PER_REF_BYTE / (ref_us / n) if ref_us else None

    def pico(us):
        return "%.0f" % (us / n * scale) if scale and us is not None else "-"

    print("%-42s %10s %9s %9s %14s %11s" % ("DAC update", "VM us", "VM B", "Pico us~", "I2C us (400k)",
                                           "I2C us/ch"))
    for key, label, channels in LABELS:
        us, alloc = rows.get(key, (None, None))
        t = bus.get(key)
        print("%-42s %10s %9s %9s %14s %11s" % (
            label,
            "%.2f" % (us / n) if us is not None else "-",
            "%.1f" % (alloc / n) if alloc is not None else "-",
            pico(us),
            "%.1f" % (t / 1000) if t is not None else "-",
            "%.1f" % (t / 1000 / channels) if t is not None else "-",
        ))
    if "flush_8ch_both_chips" in bus:
        print("%-42s %10s %9s %9s %14.1f" % ("firmware: all 8 channels (2 Fast Writes)", "-", "-", "-",
                                             bus["flush_8ch_both_chips"] / 1000))
    print()
    print("%-52s %10s %9s %9s" % ("CV engine, per event (CPU only, I2C not included)", "VM us", "VM B", "Pico us~"))
    for key, label in ENGINE_ROWS:
        us, alloc = rows.get(key, (None, None))
        print("%-52s %10s %9s %9s" % (label, "%.2f" % (us / n) if us is not None else "-",
                                      "%.1f" % (alloc / n) if alloc is not None else "-", pico(us)))
    print()
    print("VM: MicroPython 1.27 under node with a fake I2C that returns at once. Pico us~: VM time scaled")
    print("by the minimal parser of docs/design.md measured in the same run (%.3f us/byte on the VM, 36 on"
          % (ref_us / n if ref_us else float("nan")))
    print("the Pico): rough. I2C: the simulator's bus model (writeto CPU 17.2 us + 9 bits a byte, start, stop).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
