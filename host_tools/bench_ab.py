"""A change judged on one build: the demo on the board engine, in arms that differ only in
module globals the firmware reads, set before it starts.

Why: any change of the firmware's code moves the cost of passes whose code it never touches (the
bytecode's layout in RAM, the map slots its names land in): the idle pass went 19,786 -> 20,898
cycles with a change it never runs (docs/board-engine.md, "Judging a change on one build"). Two
builds then differ by that roll of the dice as well as by the change, and the demo's figures
move by more than most changes do. Put the change behind a module global (``CV_DEFER = 0`` in
``firmware/app.py``, its test where the code reads it) and compare the arms of one build: their
layout is the same, and the board engine is deterministic (the same build and inputs give the
same figures to the cycle), so what differs between arms is the change.

    python -m host_tools.bench_ab [--shifts 6] [--jobs 2] [--full-rate MS] [--load SHARE] ARM [ARM ...]

An ARM is ``module.NAME=value[,module.NAME=value...]`` (integers): the loader sets
``firmware.<module>.NAME`` before ``app.run()``. Every arm sets the same names, and the loader's
code is the same in every arm: it reads the values from ``/bench_ab.txt``, written at one width
(``VALUE_FORMAT``). An arm whose code.py or values were a byte longer would start with its heap
laid out otherwise, which moves the figures as a change of code does. Each arm runs the demo
(``bench_full_rate.shifted_demo``) ``--shifts`` ways; per arm the tool prints each figure's
range (``bench_full_rate.print_spread``), their means over the runs, and the CV gates' delay:
from a note message on MIDI channel N to the rise of gateN (the default config plays voice N
on channel N), which ``bench_full_rate`` does not measure. With ``--full-rate MS`` each arm runs
``bench_full_rate``'s full-rate session that long instead, seeded anew each run, and the means
add the input bytes lost, the merger's drops by rule and the USB packets taken; with ``--load
SHARE`` as well, that session leaves a gap after each message, every wire busy that share of its
time (``--load`` alone: for ``bench_full_rate.LOAD_SECONDS``; ``--load 0.1`` is ``make bench``'s
busy rig). With ``--chords``
each arm runs ``bench_chords``' CV chords instead (four notes 1 ms apart, one per CV voice: the
engine's busiest moment), for the gates' delay.

Not a test and not part of ``make bench``: a tool for deciding whether to keep a change.
"""

import argparse
import ast
import concurrent.futures
import os

from host_tools import bench_chords, bench_full_rate, dense_streams
from host_tools.figures import note_to_gate_ms

CHORD_SHIFT_MS = 0.173  # --chords: each run's chords this much later than the run before
VALUE_FORMAT = "%+012d"  # one width for every value: the arms' heaps alike
SETTINGS_FILE = "bench_ab.txt"


def parse_arm(text):
    """[(module, name, value)] of an ARM argument."""
    out = []
    for part in text.split(","):
        target, _, value = part.partition("=")
        module, _, name = target.strip().rpartition(".")
        if not module or not name or not value:
            raise ValueError("an arm is module.NAME=value[,...], not %r" % text)
        try:
            number = ast.literal_eval(value.strip())
        except (SyntaxError, ValueError):
            number = None
        if type(number) is not int or len(VALUE_FORMAT % number) != len(VALUE_FORMAT % 0):
            raise ValueError("%s: the value is not an integer of at most 11 digits: %r" % (target, value))
        out.append((module, name, number))
    return out


def parse_arms(texts):
    """[settings] of the ARM arguments, which must set the same names."""
    arms = [parse_arm(text) for text in texts]
    names = [[(m, n) for m, n, _ in arm] for arm in arms]
    if any(n != names[0] for n in names):
        raise ValueError("every arm sets the same names (module.NAME), in the same order: %s" % " | ".join(texts))
    return arms


def arm_tree(config_text, mpy_cross, settings):
    """{drive path: bytes}: the drive ``flash`` writes, its code.py (``thruway_code.py`` in the
    version directory) preceded by the loader of the arm's settings, and their file."""
    from host_tools.board import engine

    tree = engine.drive_files(config_text, mpy_cross)
    (code,) = [path for path in tree if path.endswith("/thruway_code.py")]
    lines = ["import firmware.%s" % module for module in sorted({m for m, _, _ in settings})]
    lines.append("with open(%r) as f:" % ("/" + SETTINGS_FILE))
    lines.append("    values = f.read().split()")
    lines += ["firmware.%s.%s = int(values[%d])" % (module, name, k) for k, (module, name, _) in enumerate(settings)]
    lines.append('print("bench_ab:", *values)')
    lines.append("del f, values")
    tree[code] = ("\n".join(lines) + "\n").encode() + tree[code]
    tree[SETTINGS_FILE] = (" ".join(VALUE_FORMAT % value for _, _, value in settings) + "\n").encode()
    return tree


def session(shift, full_rate_ms=0, chords=False, load=1.0):
    """The demo moved ``shift`` ways; with ``full_rate_ms`` the full-rate session of
    ``bench_full_rate`` that long, seeded ``shift`` on from its seed, every wire busy ``load``
    of its time; with ``chords``, ``bench_chords``' CV chords alone on in1, ``shift`` times
    CHORD_SHIFT_MS later."""
    if full_rate_ms:
        return dense_streams.session(full_rate_ms, seed=dense_streams.SEED + shift, load=load)
    if chords:
        return bench_chords.session(later_ms=shift * CHORD_SHIFT_MS)
    return bench_full_rate.shifted_demo(shift)


def run_arm(files, tree, shift, full_rate_ms=0, chords=False, load=1.0):
    """``bench_full_rate.board_figures`` of ``session(shift, full_rate_ms, chords, load)`` on an
    arm's drive (``arm_tree``), with ``note_to_gate`` (its delays) and ``idle_cycles`` (the 5th
    percentile pass)."""
    from host_tools.board import engine

    config, inputs, events, until = session(shift, full_rate_ms, chords, load)
    result = engine.board_run(config, inputs, events, until, files=files, tree=tree)
    figures = bench_full_rate.board_figures(result)
    figures["note_to_gate"] = note_to_gate_ms(result)
    passes = sorted(result.pass_cycles)
    figures["idle_cycles"] = passes[len(passes) // 20]
    figures["console"] = result.console
    return figures


def measure(files, arms, shifts, jobs=1, full_rate_ms=0, chords=False, load=1.0):
    """{arm text: [figures per shift]} (each board run is a node process: threads run them at
    once)."""
    # The drives first, one at a time: the flasher's output is silenced by swapping
    # sys.stdout, which threads would tangle. A session's config is the same however it moves.
    config = session(0, full_rate_ms, chords)[0]
    trees = {arm: arm_tree(config, files["mpy_cross"], settings) for arm, settings in zip(arms, parse_arms(arms))}
    work = [(arm, k) for arm in arms for k in range(shifts)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(pool.map(lambda job: run_arm(files, trees[job[0]], job[1], full_rate_ms, chords, load), work))
    out = {arm: [] for arm in arms}
    for (arm, _), figures in zip(work, done):
        out[arm].append(figures)
    return out


def means(runs):
    """The means over ``runs`` of the figures a change is judged by (ms; idle pass in cycles)."""
    def mean(values):
        return sum(values) / len(values)

    def latency(port, kind, stat):
        stats = [r["latency"][port][kind] for r in runs]
        return mean([st[stat] for st in stats]) if all(st and st["count"] for st in stats) else None

    gates = [d for r in runs for d in r["note_to_gate"]]
    dropped = [sum(sum(d.values()) for d in r["drops"].values()) for r in runs if r["drops"] is not None]
    return {
        "out1 clock mean": latency("out1", "clock", "mean"),
        "out1 clock max": latency("out1", "clock", "max"),
        "out4 clock max": latency("out4", "clock", "max"),
        "usb clock max": latency("usb", "clock", "max"),
        "out1 note mean": latency("out1", "note", "mean"),
        "out1 note max, idle": latency("out1", "note_idle", "max"),
        "out4 note max, idle": latency("out4", "note_idle", "max"),
        "usb note mean": latency("usb", "note", "mean"),
        "longest pass": mean([r["longest_pass_playing_ms"] for r in runs]),
        "note to gate mean": mean(gates) if gates else None,
        "note to gate max": mean([max(r["note_to_gate"]) for r in runs if r["note_to_gate"]]) if gates else None,
        "idle pass (cycles)": mean([r["idle_cycles"] for r in runs]),
        "input bytes lost": mean([sum(v["lost"] for v in r["input_loss"].values()) for r in runs]),
        "dropped by rule": mean(dropped) if dropped else None,
        "usb packets taken": mean([r["usb_in"]["packets_taken"] for r in runs]),
    }


def print_arms(measured, stream=print, demo=True):
    labels = [chr(ord("A") + k) for k in range(len(measured))]
    for label, (arm, runs) in zip(labels, measured.items()):
        stream("arm %s: %s" % (label, arm))
        if demo:
            bench_full_rate.print_spread(len(runs), bench_full_rate.spread(runs), stream=stream)
    stream("means over the runs (ms; a max row: the mean of each run's max)")
    stream("  %-22s %s" % ("arm", "".join("%9s" % label for label in labels)))
    table = [means(runs) for runs in measured.values()]
    for name in table[0]:
        counted = "cycles" in name or name in ("input bytes lost", "dropped by rule", "usb packets taken")
        cells = ["%9s" % ("-" if row[name] is None else "%d" % row[name] if counted else "%.3f" % row[name])
                 for row in table]
        stream("  %-22s %s" % (name, "".join(cells)))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.bench_ab", description=__doc__.split("\n\n")[0])
    ap.add_argument("arms", nargs="+", help="module.NAME=value[,...] per arm")
    ap.add_argument("--shifts", type=int, default=6, help="demo runs per arm, moved as bench_full_rate's")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="board runs at once")
    ap.add_argument("--full-rate", type=int, default=0, metavar="MS", help="instead of the demo, bench_full_rate's "
                    "full-rate session this long, a seed a run")
    ap.add_argument("--load", type=float, default=1.0, metavar="SHARE", help="with --full-rate (or alone: "
                    "bench_full_rate.LOAD_SECONDS of it), every wire busy this share of its time, e.g. 0.1 "
                    "(bench_full_rate.BUSY_LOAD: the busy rig)")
    ap.add_argument("--chords", action="store_true", help="instead of the demo, bench_chords' CV chords "
                    "(four notes 1 ms apart, one per CV voice), moved CHORD_SHIFT_MS a run")
    args = ap.parse_args(argv)
    from host_tools.board import engine

    parse_arms(args.arms)  # a bad arm fails before any run
    if args.load < 1 and not args.full_rate:
        args.full_rate = bench_full_rate.LOAD_SECONDS * 1000
    files = engine.find_files()
    measured = measure(files, args.arms, args.shifts, args.jobs, args.full_rate, args.chords, args.load)
    print_arms(measured, demo=not (args.full_rate or args.chords))
    return measured


if __name__ == "__main__":
    main()
