"""CV chords against a PIO input (issue 14): what the board loses on ``in3`` while ``in1`` plays
chords to the CV voices.

A chord is four notes 1 ms apart on channels 1-4 (one per CV voice in the default config, so
each writes its DACs), released 80 ms later; four of them, 150 ms apart, on ``in1``. Meanwhile
``in3`` (a PIO input: its DMA ring holds 41 ms of a full-rate wire, its FIFO alone 2.56 ms)
carries a controller every ``--every`` ms (three bytes, no running status), as a sequencer's
modulation lane would.
Default config: every input merged to every output and the CV engine.

Figures per period, from the board engine (CircuitPython 10.3 on the emulated RP2040,
docs/board-engine.md): ``in3`` bytes lost (its receiver's FIFO or its ring was full) and
pushes that framed a wrong byte, ``in1`` bytes that met a full UART FIFO, the longest
main-loop passes, and the CV gates' delay (``figures.note_to_gate_ms``: from a note on channel N
to the rise of gateN). The CV engine plays one note a pass, and a note's Python and DAC writes
take about 0.6 ms (``make bench``'s CV note pass), so the four notes' passes are where a PIO
input waits longest.

``python -m host_tools.bench_chords [--every 2,1.5]``
"""

import argparse

from host_tools import calibration
from host_tools.figures import NS_PER_MS, note_to_gate_ms
from host_tools.sim import runner

CHORD_STARTS_MS = (100, 250, 400, 550)
UNTIL_MS = 800


def controllers(every_ms):
    lines = []
    t = CHORD_STARTS_MS[0] - 10.0
    n = 0
    while t < UNTIL_MS - 50:
        lines.append((int(t * NS_PER_MS), bytes([0xB9, 74, n % 128])))
        n += 1
        t += every_ms
    return lines


def session(every_ms=None, later_ms=0.0):
    """(config text, inputs, events, until_ms): the chords on in1, ``later_ms`` after
    CHORD_STARTS_MS, with a controller on in3 every ``every_ms`` (None: the chords alone), on
    the default config."""
    config = (runner.REPO / "config.json").read_text()
    inputs = {"in1": calibration.cv_chords([t + later_ms for t in CHORD_STARTS_MS])}
    if every_ms is not None:
        inputs["in3"] = controllers(every_ms)
    return config, inputs, [], UNTIL_MS


def run(every_ms, files=None):
    """{figure: value} of one board run with a controller on in3 every ``every_ms``."""
    from host_tools.board import engine

    config, inputs, events, until = session(every_ms)
    result = engine.board_run(config, inputs, events, until, files=files or engine.find_files())
    in3 = result.counters.get("in3", {})
    passes = sorted(n for t, n in calibration.pass_log(result) if t > 50 * NS_PER_MS)
    gates = note_to_gate_ms(result)
    return {
        "gates": len(gates),
        "gate delay mean": sum(gates) / len(gates) if gates else None,
        "gate delay max": max(gates) if gates else None,
        "in3 lost": in3.get("rx_overflow", 0),
        "in3 misread": in3.get("rx_misread", 0),
        "in1 lost": result.counters.get("in1", {}).get("rx_overflow", 0),
        "longest passes": [n / NS_PER_MS for n in passes[-4:]],
    }


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.bench_chords", description=__doc__.split("\n\n")[0])
    ap.add_argument("--every", default="2,1.5", help="ms between in3's controllers, comma-separated")
    args = ap.parse_args(argv)
    print("Board engine: four CV chords on in1 (notes 1 ms apart), a controller on in3 (PIO) every N ms")
    print("%8s %9s %12s %9s  %-24s %s" % ("every", "in3 lost", "in3 misread", "in1 lost", "longest passes (ms)",
                                          "note to gate, ms: mean / max (gates)"))
    for every in (float(x) for x in args.every.split(",")):
        f = run(every)
        print("%6.2f ms %9d %12d %9d  %-24s %.3f / %.3f (%d)" % (
            every, f["in3 lost"], f["in3 misread"], f["in1 lost"], " ".join("%.2f" % n for n in f["longest passes"]),
            f["gate delay mean"], f["gate delay max"], f["gates"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
