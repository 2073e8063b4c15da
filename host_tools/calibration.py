"""The simulator's timing model against the board engine, on a reference set of streams.

Each reference stream runs on both engines (the fast simulator, ``host_tools/sim``, and real
CircuitPython on the emulated RP2040, ``host_tools/board``) with the same config and input, and
the figures the latency targets are stated in are compared: mean and max added latency per
message class, the CV gates' delay (mean and max, from a note to its gate's rise) and the
longest main-loop pass. ``tests/test_calibration.py`` holds every figure within ``TOLERANCE`` of
the board's; ``python -m host_tools calibrate`` prints the table.

The simulator's one fitted factor is ``host_tools/sim/costs.py`` ``PY_SCALE``.
"""

import argparse
import json
import sys

from host_tools.figures import NS_PER_MS, note_to_gate_ms
from host_tools.sim import report, runner

TOLERANCE = 0.30  # sim within 30 % of the board (issue 13)
# The first passes after "Thruway ready" finish the start-up (first LED frame, first panel scan):
# the longest pass is taken over the passes that start later.
SETTLE_MS = 5
# Below this a figure is at the resolution of a pass: compared in absolute terms instead.
FLOOR_MS = 0.25
# Where a message lands among the loop's passes decides its latency, and one run's max is one
# such landing: shifting the demo's inputs by a quarter of a ms moved its note max from 4.9 to
# 7.5 ms on the board and from 5.5 to 8.1 ms in the simulator, with the same firmware. So each
# session runs with its inputs and events shifted by each of these, on both engines, and a max
# is compared as the mean of the runs' maxima, a mean as their mean (``combined``). The worst
# over the runs was one landing again: a simulator pass 20 us later than the board's put the
# demo's Digitakt note on the far side of a CV pass, and its gate max read 5.60 ms against the
# board's 3.65 in one of four runs (docs/design.md, "Timing model").
SHIFTS_MS = (0.0, 0.25, 0.5, 0.75)
# The demo at eighths of a ms since December 2026: a change that ran no differently on it (it
# moved only the boot, so the ms tick's phase) turned the quarters' gate max from sim 3.51 /
# board 3.12 ms into 3.89 / 2.84, over the 30 %, with one run again at 5.67 in the simulator;
# over the eighths it read 3.68 / 3.01. (The reference session stays at quarters: eight runs
# of it too cost make test about a minute of its ten.)
DEMO_SHIFTS_MS = (0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875)

_TWO_PRESETS = json.dumps({"version": 1, "presets": [
    {"name": "Merge all", "routes": [{"from": "all", "to": "all"}]},
    {"name": "Keys to 1 and 2", "routes": [{"from": "all", "to": ["out1", "out2", "cv"]}]},
]})


def _ms(t):
    return int(round(t * NS_PER_MS))


def _clock_stream(start_ms, end_ms, period_ms):
    t = start_ms
    lines = []
    while t < end_ms:
        lines.append((_ms(t), b"\xf8"))
        t += period_ms
    return lines


def _running_status_notes():
    # A keyboard with running status: one status byte, then key pairs; note-offs as velocity 0.
    lines = [(_ms(20), bytes([0x9A, 60, 100]))]
    t = 20.0
    for k in range(1, 16):
        t += 17.0
        lines.append((_ms(t), bytes([60 + k, 100])))
        lines.append((_ms(t + 8.0), bytes([60 + k - 1, 0])))
    return lines


def cv_chords(starts_ms=(30.0, 160.0, 290.0)):
    """A chord at each of ``starts_ms``: four notes 1 ms apart on channels 1-4, one per CV voice
    (default CV), so each writes its DACs; released 80 ms later (also host_tools/bench_chords.py)."""
    lines = []
    for k, t in enumerate(starts_ms):
        for ch in range(4):
            lines.append((_ms(t + ch * 1.0), bytes([0x90 | ch, 48 + 7 * ch + k, 90])))
        for ch in range(4):
            lines.append((_ms(t + 80.0 + ch * 1.0), bytes([0x80 | ch, 48 + 7 * ch + k, 0])))
    return lines


# The reference session: one run of sections apart in time, each measured on its own window.
# (name, start ms, end ms); the preset switch comes last (the box stays in preset 2 after it).
SECTIONS = (
    ("idle", 0, 200),
    ("clock", 300, 700),
    ("notes_running_status", 800, 1100),
    ("cv_chord", 1200, 1600),
    ("preset_switch", 1700, 2100),
)
GAP_MS = 80  # outputs of a section may still be leaving this long after its window


def _shift(lines, ms):
    return [(t + _ms(ms), data) for t, data in lines]


def reference_session():
    """(config text, inputs, events, until_ms) of the reference session (SECTIONS)."""
    start = dict((name, t0) for name, t0, _ in SECTIONS)
    in1 = (_shift(_clock_stream(10, 400, 10.4), start["clock"])
           + _shift(cv_chords(), start["cv_chord"])
           + _shift(_clock_stream(10, 400, 10.4), start["preset_switch"]))
    in2 = _shift(_running_status_notes(), start["notes_running_status"])
    t = start["preset_switch"]
    events = [(_ms(t + 150), "press", "button2"), (_ms(t + 200), "release", "button2")]
    return _TWO_PRESETS, {"in1": in1, "in2": in2}, events, SECTIONS[-1][2]


def demo_stream(until_ms=None):
    """(config text, inputs, events, until_ms) of the demo session, as ``make demo`` runs it."""
    from host_tools import midiwire

    inputs = {}
    for port, name in (("in1", "keystep"), ("in2", "digitakt")):
        with open(runner.REPO / "examples" / "demo" / (name + ".txt")) as f:
            inputs[port] = midiwire.parse_timed_text(f.read(), "examples/demo/%s.txt" % name)
    with open(runner.REPO / "config.json") as f:
        return f.read(), inputs, [], until_ms


class _Window:
    """The part of a result in [start, end) ms: what ``report.latencies`` reads."""

    def __init__(self, result, start_ms, end_ms):
        lo, hi = _ms(start_ms), _ms(end_ms)
        self.inputs = {p: [(t, b) for t, b in v if lo <= t < hi] for p, v in result.inputs.items()}
        self.outputs = {p: [(t, b) for t, b in v if lo <= t < hi + _ms(GAP_MS)] for p, v in result.outputs.items()}
        self.signals = [(t, name, v) for t, name, v in result.signals if lo <= t < hi + _ms(GAP_MS)]
        self.pass_log = [(t, n) for t, n in pass_log(result) if lo <= t < hi]


def figures(result, start_ms=None, end_ms=None):
    """The compared figures of a run, or of its window [start_ms, end_ms): {name: ms}."""
    if start_ms is not None:
        result = _Window(result, start_ms, end_ms)
    latency, _ = report.latencies(result)
    out = {}
    for cls, st in latency.items():
        if cls != "all" and st["count"]:
            out["%s mean" % cls] = st["mean"]
            out["%s max" % cls] = st["max"]
    # The CV gates' delay (a note's on the modular side), where gates rose.
    gates = note_to_gate_ms(result)
    if gates:
        out["gate mean"] = sum(gates) / len(gates)
        out["gate max"] = max(gates)
    log = pass_log(result)
    out["longest pass"] = max((n for t, n in log if t >= SETTLE_MS * NS_PER_MS), default=0) / NS_PER_MS
    return out


def pass_log(result):
    """(start_ns, length_ns) of every pass, from either engine."""
    lengths = getattr(result, "pass_ns", None)
    if lengths is None:
        return result.pass_log  # the simulator's, or a _Window's
    log = []
    t = 0
    for ns in lengths:
        log.append((t, ns))
        t += ns
    return log


def section_figures(result, sections=SECTIONS):
    """{section: figures} of a run: each of ``sections`` (name, start ms, end ms), or, for None,
    the whole run as one section, ``"all"``."""
    if sections is None:
        return {"all": figures(result)}
    return {name: figures(result, t0, t1) for name, t0, t1 in sections}


def run_engines(stream, board_files=None, board=None):
    """(simulator result, board result) of one stream (``board``: a board run of it, reused)."""
    from host_tools.board import engine

    config, inputs, events, until = stream
    if board is None:
        board = engine.board_run(config, inputs, events, until, files=board_files)
    # The simulator's ms tick steps where the board's did against the inputs (sim/ticks.py).
    return runner.simulate(config, inputs, events, until, python_costs=True,
                           timer_us_at_zero=board.timer_us_at_zero), board


def shifted(stream, ms):
    """``stream`` with every input byte and event ``ms`` later."""
    config, inputs, events, until = stream
    ns = _ms(ms)
    inputs = {port: [(t + ns, data) for t, data in lines] for port, lines in inputs.items()}
    return config, inputs, [(t + ns,) + tuple(rest) for t, *rest in events], until


def combined(runs):
    """One figures dict from the same figures of several runs: each the mean over the runs that
    have it (a max, the longest pass: the mean of the runs' maxima)."""
    out = {}
    for name in sorted(set().union(*runs)):
        values = [run[name] for run in runs if name in run]
        out[name] = sum(values) / len(values)
    return out


def shifted_figures(stream, sections=None, board_files=None, board=None, shifts=SHIFTS_MS):
    """{section: (simulator figures, board figures)} of ``stream`` run at each of ``shifts`` on
    both engines, ``combined`` over the runs. ``sections``: (name, start ms, end ms) windows
    (SECTIONS), or None for the whole run (one section, ``"all"``). ``board``: a board run of
    the stream as it is (the first shift, 0), reused."""
    sims, boards = [], []
    for ms in shifts:
        sim, board_run = run_engines(shifted(stream, ms), board_files, board if ms == 0 else None)
        sims.append(section_figures(sim, sections))
        boards.append(section_figures(board_run, sections))
    return {name: (combined([run[name] for run in sims]), combined([run[name] for run in boards]))
            for name in sims[0]}


def within(sim, board):
    """True when a simulator figure agrees with the board's (TOLERANCE, or FLOOR_MS apart)."""
    return abs(sim - board) <= max(TOLERANCE * board, FLOOR_MS)


def compare(sim, board):
    """Rows (figure, sim, board, ok) over the figures both engines have."""
    rows = []
    for name in sorted(set(sim) & set(board)):
        rows.append((name, sim[name], board[name], within(sim[name], board[name])))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m host_tools calibrate", description=__doc__.split("\n")[0])
    p.add_argument("--ops", action="store_true",
                   help="measure what each Python operation costs on the board instead (costs.PY_OP_CYCLES)")
    args = p.parse_args(argv)
    from host_tools.board import engine

    try:
        files = engine.find_files()
    except engine.Missing as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    if args.ops:
        for name, cycles in board_op_costs(files).items():
            print("  %-32s %7.0f cycles" % (name, cycles))
        return 0
    sections = shifted_figures(reference_session(), SECTIONS, files)
    tables = [(name, sections[name][0], sections[name][1]) for name, _, _ in SECTIONS]
    tables.append(("demo",) + shifted_figures(demo_stream(), None, files, shifts=DEMO_SHIFTS_MS)["all"])
    print("each session run with its inputs shifted by %s ms (the demo by %s): a max is the mean of the runs'"
          " maxima, a mean their mean" % (", ".join("%g" % ms for ms in SHIFTS_MS),
                                          ", ".join("%g" % ms for ms in DEMO_SHIFTS_MS)))
    bad = 0
    for name, s_fig, b_fig in tables:
        print("%s" % name)
        for figure, s, b, ok in compare(s_fig, b_fig):
            bad += not ok
            print("  %-22s sim %8.3f  board %8.3f  %s" % (figure, s, b, "ok" if ok else "OFF"))
    print("%d figure(s) outside %d %%" % (bad, TOLERANCE * 100))
    return 0


# -- What a Python operation costs on the board: the figures behind costs.PY_OP_CYCLES ------

# (name, statement): each runs OPS_REPEAT times in a loop between two reads of in1's UART (the
# board engine's pass marker); its cost is the pass less the empty loop's, per statement.
PYTHON_OPS = (
    ("empty loop", "pass"),
    ("local load", "x = a"),
    ("constant", "x = 5"),
    ("global load", "x = G"),
    ("attribute load (2 attributes)", "x = small.a"),
    ("attribute load (70 attributes)", "x = big.a50"),
    ("attribute store", "small.a = i"),
    ("bytearray read", "x = ba[3]"),
    ("bytearray write", "ba[3] = 1"),
    ("list read", "x = lst[3]"),
    ("dict read", "x = d[3]"),
    ("a + b", "x = a + b"),
    ("a // b", "x = a // b"),
    ("a % b", "x = a % b"),
    ("compare and jump", "if a < b: pass"),
    ("if local", "if z: pass"),
    ("function call", "f(i)"),
    ("method call (2 attributes)", "small.m(i)"),
    ("method call (70 attributes)", "big.m(i)"),
    ("len()", "len(ba)"),
    ("range loop iteration", "for j in range(1): pass"),
)
OPS_REPEAT = 64
_OPS_PRELUDE = """import board, busio
uart = busio.UART(board.GP0, board.GP1, baudrate=31250, timeout=0)
mark = bytearray(8)
G = 7
class Small:
    def __init__(self):
        self.a = 1
    def m(self, x):
        return x
class Big:
    def __init__(self):
        for k in range(70):
            setattr(self, "a%d" % k, k)
    def m(self, x):
        return x
def f(x):
    return x
"""


def _ops_program():
    lines = [_OPS_PRELUDE]
    for k, (_, statement) in enumerate(PYTHON_OPS):
        lines.append("def t%d(small, big, ba, lst, d, a, b, z):\n    for i in range(%d):\n        %s\n"
                     % (k, OPS_REPEAT, statement))
    lines.append("tests = [%s]\n" % ", ".join("t%d" % k for k in range(len(PYTHON_OPS))))
    lines.append("""args = (Small(), Big(), bytearray(16), list(range(16)), {1: 2, 3: 4}, 5000, 7, 0)
for t in tests + tests:
    uart.readinto(mark)
    t(*args)
while True:
    uart.readinto(mark)
""")
    return "".join(lines).encode()


def board_op_costs(board_files=None):
    """{operation: board cycles} for PYTHON_OPS (the second round of each, past any warm-up)."""
    from host_tools.board import engine

    result = engine.board_run("{}", {}, (), 400, files=board_files, tree={"code.py": _ops_program()})
    passes = result.pass_cycles
    n = len(PYTHON_OPS)
    if len(passes) < 2 * n:
        raise RuntimeError("board engine: the operation benchmark did not finish")
    second = passes[n:2 * n]
    empty = second[0]
    return {name: (cycles - empty) / OPS_REPEAT for (name, _), cycles in zip(PYTHON_OPS[1:], second[1:])}
