"""Clock timing in the simulator: analog clock edge jitter and the F8-to-edge delay.

``python -m host_tools bench`` prints these figures after the byte-path table (``bench.py``
calls ``main``); ``summary.json`` carries the same measures for any simulated run
(``summary_figures``, called by ``host_tools/sim/report.py``); tests/test_clock.py uses
``simulate_clock`` to drive the panel and the clock-in jack of a simulated box.

Measures (all from virtual time, so they are exact and repeatable):
- jitter: the clock jack's rising edges against the ideal grid. The grid's period is the
  tempo's (given, or fitted by least squares when unknown); its offset is fitted (the mean
  residual), so a constant delay is not counted. Reported: the largest deviation from the grid
  and the standard deviation, in ms.
- F8 to edge: for a followed master, the time from a clock byte having fully arrived at an input
  to the rising edge it made on the clock jack (every tick that makes a pulse).
"""

import json
import math
import sys

from host_tools.sim import runner
from host_tools.sim import world as _world

NS_PER_MS = 1_000_000


# -- driving a simulated box ------------------------------------------------------------------------


def simulate_clock(config_text, inputs=None, actions=(), jack=(), until_ms=None, events=(), metronome=True):
    """``runner.simulate`` plus panel calls and the clock-in jack.

    ``actions``: [(time_ms, what)] run at that moment of virtual time: ``what`` "start_stop" or
    "tap" calls the firmware's ``box.clock.<what>(ticks_ms)`` as a panel button would; a
    callable is called as ``what(box, ticks_ms)`` (a preset switch, say). ``jack``:
    [(time_ms, high)]: the clock-in jack's level (``runner.simulate``'s ``clock_in``).
    ``events``: panel button events as ``runner.simulate`` takes them. ``metronome`` False: the
    box starts without its PIO metronome (as when no state machine is left for it) and times
    its clock on the ms tick. Returns the ``SimResult``."""
    real_install = _world.install

    def install(w):
        real_install(w)
        for t_ms, name in actions:
            w.at(int(round(t_ms * NS_PER_MS)), lambda w=w, name=name: _panel(w, name))
        if not metronome:
            _no_room_for_the_metronome(w)
        return w

    _world.install = install
    try:
        return runner.simulate(config_text, inputs or {}, events, until_ms,
                               clock_in=[(int(round(t * NS_PER_MS)), high) for t, high in jack])
    finally:
        _world.install = real_install


def _no_room_for_the_metronome(w):
    # The fake rp2pio's PIO blocks (host_tools/sim/fakes/rp2pio.py): block 0 keeps room for the
    # DIN ports, block 1 has 7 instruction words left: the LEDs' neopixel_write still gets a
    # state machine, the metronome's 9-word program fits nowhere (board_io records a fault).
    w.pio_blocks = [{"sms": 0, "used": [False] * 32, "programs": {}},
                    {"sms": 0, "used": [True] * 25 + [False] * 7, "programs": {}}]


def _panel(w, what):
    supervisor = sys.modules["supervisor"]  # the fake, as the firmware imported it
    now = supervisor.ticks_at(w)
    app = sys.modules.get("firmware.app")
    box = getattr(app, "box", None)
    if box is None:  # still booting: the panel acts once the box runs
        w.at(w.now_ns + 100_000, lambda: _panel(w, what))
        return
    if callable(what):
        what(box, now)
    else:
        getattr(box.clock, what)(now)


def clock_config(master="auto", bpm=120, resolution=4, pulse_ms=5, more=()):
    """A config whose first preset has this clock; ``more``: further presets' clock objects."""
    presets = [{"name": "clock", "routes": [{"from": "all", "to": "all"}], "clock": {
        "master": master, "bpm": bpm, "analog": {"resolution": resolution, "pulse_ms": pulse_ms}}}]
    for k, clock in enumerate(more):
        presets.append({"name": "clock %d" % (k + 2), "routes": [{"from": "all", "to": "all"}], "clock": clock})
    return json.dumps({"version": 1, "presets": presets})


def midi_clock_lines(bpm, start_ms, seconds, lead_ticks=24):
    """A master's timed bytes: clock while stopped (from time 0 at the earliest), Start at
    ``start_ms``, then clock on the exact grid from 1 ms after it; [(time_ns, bytes)]."""
    period_ns = 60e9 / bpm / 24
    lines = []
    for k in range(lead_ticks):
        t = int(round(start_ms * NS_PER_MS - (lead_ticks - k) * period_ns))
        if t >= 0:
            lines.append((t, b"\xf8"))
    lines.append((int(start_ms * NS_PER_MS), b"\xfa"))
    n = int(seconds * 1e9 / period_ns)
    for k in range(n):
        lines.append((int(round(start_ms * NS_PER_MS + 1e6 + k * period_ns)), b"\xf8"))
    return lines


# -- measures ---------------------------------------------------------------------------------------


def rising_edges(result, name="clock"):
    """Times (ns) at which a signal went from 0 V to high."""
    out = []
    level = 0.0
    for t, n, v in result.signals:
        if n != name:
            continue
        if v > 0 and level <= 0:
            out.append(t)
        level = v
    return out


def grid_jitter(edges_ns, period_ns=None):
    """{"edges", "period_ms", "max_ms", "std_ms"} of edges against a grid of ``period_ns``
    (least-squares fitted when None). A gap over 1.5 periods (a Stop, a Start) begins a new
    segment; each segment's grid has its own fitted offset, the period is shared."""
    n = len(edges_ns)
    if n < 3:
        return {"edges": n, "period_ms": None, "max_ms": None, "std_ms": None}
    gaps = sorted(b - a for a, b in zip(edges_ns, edges_ns[1:]))
    rough = period_ns or gaps[len(gaps) // 2]
    segments = [[edges_ns[0]]]
    for a, b in zip(edges_ns, edges_ns[1:]):
        if b - a > 1.5 * rough:
            segments.append([])
        segments[-1].append(b)
    indexed = []  # per segment: [(k, t)], k the grid index from its first edge, counted gap by gap
    for seg in segments:
        k = 0
        row = [(0, seg[0])]
        for a, b in zip(seg, seg[1:]):
            k += max(1, round((b - a) / rough))
            row.append((k, b))
        indexed.append(row)
    if period_ns is None:
        num = den = 0.0
        for seg in indexed:
            mk = sum(k for k, _ in seg) / len(seg)
            mt = sum(t for _, t in seg) / len(seg)
            num += sum((k - mk) * (t - mt) for k, t in seg)
            den += sum((k - mk) ** 2 for k, _ in seg)
        period_ns = num / den if den else rough
    dev = []
    for seg in indexed:
        residuals = [t - k * period_ns for k, t in seg]
        mean = sum(residuals) / len(residuals)
        dev.extend(r - mean for r in residuals)
    return {
        "edges": n,
        "period_ms": round(period_ns / NS_PER_MS, 4),
        "max_ms": round(max(abs(d) for d in dev) / NS_PER_MS, 4),
        "std_ms": round(math.sqrt(sum(d * d for d in dev) / n) / NS_PER_MS, 4),
    }


def f8_to_edge(result, window_ms=5.0):
    """Delay (ns) from each clock byte fully arrived at an input to the clock-jack edge that
    followed it within ``window_ms`` (a tick that made a pulse); [] when no input sent F8."""
    arrivals = sorted(t for timed in result.inputs.values() for t, b in timed if b == 0xF8)
    if not arrivals:
        return []
    out = []
    j = 0
    for e in rising_edges(result):
        while j + 1 < len(arrivals) and arrivals[j + 1] <= e:
            j += 1
        if arrivals[j] <= e <= arrivals[j] + window_ms * NS_PER_MS:
            out.append(e - arrivals[j])
    return out


def _delay_stats(delays):
    if not delays:
        return {"count": 0, "mean_ms": None, "max_ms": None, "min_ms": None}
    return {
        "count": len(delays),
        "mean_ms": round(sum(delays) / len(delays) / NS_PER_MS, 4),
        "max_ms": round(max(delays) / NS_PER_MS, 4),
        "min_ms": round(min(delays) / NS_PER_MS, 4),
    }


def summary_figures(result):
    """The ``clock`` entry of summary.json: the clock jack's edges, their jitter against a fitted
    grid, the F8-to-edge delay when following, and the box's tempo estimate."""
    edges = rising_edges(result)
    return {
        "edges": len(edges),
        "reset_pulses": len(rising_edges(result, "reset")),
        "jitter_ms": grid_jitter(edges),
        "f8_to_edge_ms": _delay_stats(f8_to_edge(result)),
        "bpm": result.counters.get("clock_bpm"),
        "timer": result.counters.get("clock_timer"),  # the internal clock's: "pio" metronome or "ms" tick
    }


# -- the benchmark ------------------------------------------------------------------------------------


def internal_run(bpm, resolution, seconds=8, metronome=True):
    res = simulate_clock(clock_config("internal", bpm, resolution), actions=[(10, "start_stop")],
                         until_ms=10 + seconds * 1000, metronome=metronome)
    per_beat = {1: 1, 2: 2, 4: 4, 24: 24, 48: 48}[resolution]
    period_ns = 60e9 / bpm / per_beat
    return res, grid_jitter(rising_edges(res), period_ns)


def loop_ms(result):
    """The run's mean main-loop period in ms (summary.json's ``loop.mean_period_ms``)."""
    return result.end_ns / result.passes / NS_PER_MS


def follow_run(bpm, resolution=4, seconds=8):
    lines = midi_clock_lines(bpm, 100, seconds)
    res = simulate_clock(clock_config("auto", bpm, resolution), inputs={"in1": lines}, until_ms=200 + seconds * 1000)
    per_beat = {4: 4, 24: 24}[resolution]
    return res, grid_jitter(rising_edges(res), 60e9 / bpm / per_beat), _delay_stats(f8_to_edge(res))


# Cost of the clock's own Python per MIDI tick on the MicroPython VM (the simulator charges
# hardware calls only). Per tick, app.Box.step makes these calls: following, Merger.realtime
# (which counts the tick and, while the clock runs, calls on_master(F8)), then follow_ticks()
# and service() when the pulse ends; internal, service() returning F8 (and the pulse's end) and
# once more returning 0. Timed against the same loop with empty methods. The VM's ticks_us moves in
# whole ms, hence runs of about a second.
VM_SCRIPT = """
from time import ticks_us, ticks_diff
from firmware.clock import Clock
from firmware import clock_setup
from firmware.merger import Merger
from firmware.defaults import DEFAULT_CLOCK

class Pin:
    def __init__(self):
        self.value = False

class Null:
    def on_master(self, b, now):
        return 0
    def follow_ticks(self):
        return 0
    def service(self, now):
        return 0

def clock(master, res):
    c = {}
    for k in DEFAULT_CLOCK:
        c[k] = DEFAULT_CLOCK[k]
    c["master"] = master
    c["analog"] = {"resolution": res, "pulse_ms": 5, "reset_ms": 5}
    k = Clock(Pin(), Pin(), Pin(), Pin(), lambda: 0)
    m = Merger(1, 1)  # the followed master's ticks reach the clock through it
    k.follow(m.clock_master)
    clock_setup.configure(k, c)
    return k, m

N = 60000
T = [1000]  # virtual ms, always moving on (each run continues the last)

def follow(c, m):
    t = T[0]
    t0 = ticks_us()
    for _ in range(N):
        m.now = t
        m.realtime(0, 0xF8)
        c.follow_ticks()
        c.service(t + 10)
        t += 20
    T[0] = t
    return ticks_diff(ticks_us(), t0)

def internal(c):
    t = T[0]
    t0 = ticks_us()
    for _ in range(N):
        t += 21
        c.service(t)
        c.service(t)
    T[0] = t
    return ticks_diff(ticks_us(), t0)

def best(fn, *args):
    return min(fn(*args) for _ in range(5))

null = Null()
m = Merger(1, 1)
m.clock_master.tick_sink = null
base = best(follow, null, m)
f, fm = clock("auto", 24)
f.on_master(0xFA, 0)
print("FOLLOW", (best(follow, f, fm) - base) / N)
f, fm = clock("auto", 4)
f.on_master(0xFA, 0)
print("FOLLOW4", (best(follow, f, fm) - base) / N)
i, _ = clock("internal", 24)
i.start_stop(0)
base = best(internal, null)
print("INTERNAL", (best(internal, i) - base) / N)

# Reference for the Pico estimate (host_tools/bench_ref.py), measured in the same run.
from bench_ref import ref_parse

def ref(_):
    t0 = ticks_us()
    ref_parse(4 * N)
    return ticks_diff(ticks_us(), t0)

print("REF", best(ref, None) / (4 * N))
"""
from host_tools.bench_ref import PICO_US_PER_REF_BYTE  # noqa: E402


def vm_costs():
    """{"follow24", "follow4", "internal24"}: us per tick on the MicroPython VM, and "ref": us a
    byte of the minimal parser in the same run (the Pico estimate's scale)."""
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import mpvm

    files = mpvm.firmware_files()
    files["/fw/bench_ref.py"] = (Path(__file__).resolve().parent / "bench_ref.py").read_text()
    out = mpvm.run(VM_SCRIPT, files=files, timeout=120, import_guard=False)  # ticks_us: VM only
    got = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 2:
            got[{"FOLLOW": "follow24", "FOLLOW4": "follow4", "INTERNAL": "internal24", "REF": "ref"}[f[0]]] = float(f[1])
    return got


def midi_tick_jitter(result, bpm, port="out1"):
    """Jitter of the clock bytes (F8) leaving ``port`` against the tempo's tick grid."""
    return grid_jitter([t for t, b in result.outputs[port] if b == 0xF8], 60e9 / bpm / 24)


def measure():
    """Rows (master, timer, bpm, ppqn, jitter, F8-to-edge, loop ms) and the F8-on-the-wire rows
    (timer, bpm, ppqn, jitter): the internal clock on the PIO metronome and, for comparison,
    on the ms tick (no metronome), and a followed clock."""
    rows = []
    midi = []
    for metronome in (True, False):
        timer = "pio" if metronome else "ms"
        for resolution in (4, 24, 48):
            for bpm in (40, 120, 300):
                res, jit = internal_run(bpm, resolution, metronome=metronome)
                rows.append(("internal", timer, bpm, resolution, jit, None, loop_ms(res)))
                if resolution != 4:
                    midi.append((timer, bpm, resolution, midi_tick_jitter(res, bpm)))
    for resolution in (4, 24):
        res, jit, delay = follow_run(120, resolution)
        rows.append(("follow in1", "-", 120, resolution, jit, delay, loop_ms(res)))
    return rows, midi


def main(argv=()):
    rows, midi = measure()
    print("Clock: analog clock edges against the ideal grid (simulator, virtual time; offset fitted)")
    print("timer pio: the internal clock on the PIO metronome; ms: on supervisor.ticks_ms alone (no metronome)")
    print("%-12s %5s %5s %5s %6s %9s %9s %9s %14s" % (
        "master", "timer", "bpm", "ppqn", "edges", "max ms", "std ms", "loop ms", "F8->edge ms"))
    for master, timer, bpm, res, jit, delay, loop in rows:
        d = "" if delay is None else "%.3f..%.3f" % (delay["min_ms"], delay["max_ms"])
        print("%-12s %5s %5d %5d %6d %9.3f %9.3f %9.3f %14s" % (
            master, timer, bpm, res, jit["edges"], jit["max_ms"], jit["std_ms"], loop, d))
    print("F8 leaving out1 (DIN) against the tick grid, internal clock:")
    for timer, bpm, res, jit in midi:
        print("  %-3s %3d BPM %2d PPQN: max %.3f ms, std %.3f ms" % (timer, bpm, res, jit["max_ms"], jit["std_ms"]))
    print("loop ms: the run's mean main-loop period. On the ms tick an edge whose ideal time is not a")
    print("whole ms is rounded to the nearest ms (+-0.5 ms); on the metronome it waits for the next pass only.")
    print()
    print("the clock's own Python per MIDI tick (the simulator does not charge it), MicroPython VM:")
    costs = vm_costs()
    scale = PICO_US_PER_REF_BYTE / costs["ref"]
    for key, text in (("follow24", "followed F8 making a pulse (on_master + the pulse's end)"),
                      ("follow4", "followed F8, no pulse on most ticks (4 PPQN)"),
                      ("internal24", "internal tick (service returns F8, pulse, pulse end)")):
        us = costs.get(key)
        if us is not None:
            print("  %-58s %6.2f us VM, about %4.0f us on the Pico" % (text, us, us * scale))
    print("  (Pico: VM time scaled by the minimal parser of docs/design.md, %.3f us a byte on the VM in the"
          % costs["ref"])
    print("  same run and 36 us on the Pico: rough)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
