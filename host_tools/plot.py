"""Plots of a simulation: MIDI activity per port and the CV/gate signals at the jacks.

Two callers: the simulator (``plot_result``, from ``host_tools.sim.report``: writes
``signals.png`` with the run's inputs and outputs), and ``python -m host_tools plot DIR``
(``plot_dir``: the same picture from a simulator output directory, optionally zoomed):

    python -m host_tools plot DIR [--out FILE] [--in PORT=FILE ...] [--start MS] [--end MS]

MIDI lanes show, per port, a tick for every byte (the moment it had fully arrived or left) on
the lower row and a tick for every message on the upper row (coloured by kind: notes blue,
real-time grey, SysEx purple, other orange), decoded by the independent decoder
``host_tools.midiwire``; note-ons carry their note names (60 is C4), and the pitch jacks the
note they settle on. Signals that never move (CV jacks when no CV is used, drums, ...) are left
off, and a panel with none is not drawn; the x-axis label lists them.
"""

import argparse
import csv
import os
import sys

from host_tools import midiwire
from host_tools.midiwords import note_name

NS_PER_MS = 1_000_000
NOTE_NUMBER = {note_name(n): n for n in range(128)}
LABELS_ACROSS = 50  # at most about this many labels across a lane (closer ones would overprint)
PORTS_OUT = ("out1", "out2", "out3", "out4", "usb")
PORTS_IN = ("in1", "in2", "in3", "in4", "usb")
KIND_COLOURS = (("note", "tab:blue"), ("realtime", "tab:gray"), ("sysex", "tab:purple"))


class PlotError(Exception):
    pass


def _steps(rows, name, end_ms):
    xs, ys = [], []
    value = 0.0
    for t, n, v in rows:
        if n != name:
            continue
        x = t / NS_PER_MS
        xs.extend([x, x])
        ys.extend([value, v])
        value = v
    xs.append(end_ms)
    ys.append(value)
    if xs and xs[0] > 0:
        xs.insert(0, 0.0)
        ys.insert(0, ys[0])
    return xs, ys


def lane_ticks(timed):
    """[(time_ns, byte)] -> (byte times ms, {kind: message times ms}): what a lane shows."""
    msgs, _ = midiwire.decode(timed)
    byte_ms = [t / NS_PER_MS for t, _ in timed]
    kinds = {}
    for m in msgs:
        kind = m.kind()
        if kind not in dict(KIND_COLOURS):
            kind = "other"
        kinds.setdefault(kind, []).append(m.time_ns / NS_PER_MS)
    return byte_ms, kinds


def moving(signals):
    """Signal names whose value ever changes, in first-seen order (a jack that stays at its
    first value is left off the plot)."""
    first = {}
    moved = []
    for _, name, value in signals:
        if name not in first:
            first[name] = value
        elif value != first[name] and name not in moved:
            moved.append(name)
    return [n for n in first if n in moved]


def spaced(points, gap):
    """Points (x, text) at least ``gap`` apart in x, so labels do not overprint."""
    out = []
    for x, text in points:
        if not out or x - out[-1][0] >= gap:
            out.append((x, text))
    return out


def note_labels(timed, start, end):
    """(time ms, note name) of each note-on of a lane inside [start, end]."""
    msgs, _ = midiwire.decode(timed)
    out = []
    for m in msgs:
        t = m.time_ns / NS_PER_MS
        if m.data[0] & 0xF0 == 0x90 and m.data[2] and start <= t <= end:
            out.append((t, note_name(m.data[1])))
    return out


def _note_0v():
    from host_tools import fwimport

    return fwimport.firmware_module("cv_setup").NOTE_0V


def pitch_labels(signals, name, start, end):
    """(time ms, note name) where pitch jack ``name`` settles on a semitone (1 V/oct, 0 V at
    note 24: firmware/cv_setup.py)."""
    zero = _note_0v()
    out = []
    for t, n, v in signals:
        x = t / NS_PER_MS
        if n != name or not start <= x <= end:
            continue
        note = zero + v * 12
        if abs(note - round(note)) < 0.05 and 0 <= round(note) <= 127:
            out.append((x, note_name(int(round(note)))))
    return out


def draw(lanes, signals, end_ms, path, window=None):
    """``lanes``: [(label, [(time_ns, byte)])]; ``signals``: [(time_ns, name, volts)]. Signals
    that never move are left off, and a panel with none is not drawn. Note-ons are labelled
    with their names on the MIDI lanes, and pitch jacks with the note they settle on.
    Returns {"xlim": (a, b), "panels": [titles], "labels": count}."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = moving(signals)
    groups = [
        ("pitch CV (V)", [n for n in names if n.startswith("cv")]),
        ("mod CV (V)", [n for n in names if n.startswith("mod")]),
        ("gates (V)", [n for n in names if n.startswith("gate")]),
        ("drums (V)", [n for n in names if n.startswith("drum")]),
        ("clock / reset / run (V)", [n for n in names if n in ("clock", "reset", "run")]),
    ]
    groups = [g for g in groups if g[1]]
    start, end = window if window else (0.0, end_ms)
    gap = (end - start) / LABELS_ACROSS
    lane_height = 0.45 * max(len(lanes), 2) + 1.2
    heights = [lane_height] + [2.2] * len(groups)
    fig, axes = plt.subplots(len(groups) + 1, 1, figsize=(12, sum(heights) + 0.6), sharex=True,
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    axes = axes[:, 0]
    ax = axes[0]
    colours = dict(KIND_COLOURS, other="tab:orange")
    labels = 0
    for y, (_, timed) in enumerate(lanes, 1):
        byte_ms, kinds = lane_ticks(timed)
        ax.plot(byte_ms, [y - 0.2] * len(byte_ms), "|", color="black", markersize=4)
        for kind, times in kinds.items():
            ax.plot(times, [y + 0.15] * len(times), "|", color=colours[kind], markersize=9)
        for x, text in spaced(note_labels(timed, start, end), gap):
            ax.text(x, y + 0.3, text, fontsize=6, color="tab:blue", ha="left", va="bottom", clip_on=True)
            labels += 1
    ax.set_yticks(range(1, len(lanes) + 1))
    ax.set_yticklabels([label for label, _ in lanes])
    ax.set_ylim(0.4, len(lanes) + 0.8)
    ax.set_title("MIDI per port: bytes (black, lower row); messages: notes (blue, note-ons named), "
                 "real-time (grey), SysEx (purple), other (orange)", fontsize="small")
    for ax, (title, group) in zip(axes[1:], groups):
        for name in group:
            xs, ys = _steps(signals, name, end_ms)
            line, = ax.plot(xs, ys, label=name, linewidth=1)
            if name.startswith("cv"):
                for x, text in spaced(pitch_labels(signals, name, start, end), gap):
                    v = (NOTE_NUMBER[text] - _note_0v()) / 12
                    ax.text(x, v, text, fontsize=6, color=line.get_color(), ha="left", va="bottom", clip_on=True)
                    labels += 1
        ax.set_ylabel(title)
        ax.legend(loc="upper right", fontsize="x-small", ncol=4)
    hidden = sorted({n for _, n, _ in signals} - set(names))
    if hidden:
        axes[-1].set_xlabel("time (ms)    (not drawn, never moved: %s)" % _compact(hidden))
    else:
        axes[-1].set_xlabel("time (ms)")
    axes[-1].set_xlim(start, end)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return {"xlim": (start, end), "panels": ["MIDI"] + [title for title, _ in groups], "labels": labels}


def _compact(names):
    """["cv3", "cv4", "drum2", "drum4", "run"] -> "cv3-4, drum2, drum4, run"."""
    families = {}
    for n in names:
        stem = n.rstrip("0123456789")
        families.setdefault(stem, []).append(int(n[len(stem):]) if n != stem else None)
    parts = []
    for stem, nums in families.items():
        if nums == [None]:
            parts.append(stem)
            continue
        runs = []
        for k in sorted(nums):
            if runs and runs[-1][1] == k - 1:
                runs[-1][1] = k
            else:
                runs.append([k, k])
        parts.extend("%s%d" % (stem, a) if a == b else "%s%d-%d" % (stem, a, b) for a, b in runs)
    return ", ".join(parts)


def plot_result(result, path):
    """The simulator's signals.png: inputs as they reached the box, then outputs."""
    end_ms = max(result.end_ns / NS_PER_MS, 1.0)
    lanes = list(result.inputs.items()) + [("->" + p, t) for p, t in result.outputs.items()]
    draw(lanes, result.signals, end_ms, path)


# -- from a simulator output directory -------------------------------------------------------------


def _read_timed(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise PlotError("%s: cannot read (%s)" % (path, e.strerror)) from None
    try:
        return midiwire.parse_timed_text(text, path)
    except midiwire.FormatError as e:
        raise PlotError(str(e)) from None


def read_signals(path):
    """signals.csv -> [(time_ns, name, volts)] in file order."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise PlotError("%s: cannot read (%s)" % (path, e.strerror)) from None
    if not rows or rows[0] != ["time_ms", "signal", "value"]:
        raise PlotError("%s: not a simulator signals.csv (header time_ms,signal,value)" % path)
    out = []
    for number, row in enumerate(rows[1:], 2):
        try:
            t, name, value = row
            out.append((int(round(float(t) * NS_PER_MS)), name, float(value)))
        except ValueError:
            raise PlotError("%s:%d: expected time_ms,signal,value" % (path, number)) from None
    return out


def read_input(spec):
    from host_tools.sim.wires import din_arrival_times

    if "=" not in spec:
        raise PlotError("--in %s: expected PORT=FILE" % spec)
    port, path = spec.split("=", 1)
    if port not in PORTS_IN:
        raise PlotError("--in %s: unknown input port %r (ports are %s)" % (spec, port, ", ".join(PORTS_IN)))
    if path.endswith(".mid"):
        try:
            lines = midiwire.read_smf(path)
        except midiwire.FormatError as e:
            raise PlotError(str(e)) from None
    else:
        lines = _read_timed(path)
    if port == "usb":
        return port, [(t, b) for t, data in lines for b in data]
    return port, din_arrival_times(lines)


def dir_lanes(out_dir, inputs=()):
    """The lanes of a simulator output directory: given inputs first, then every <port>.txt."""
    if not os.path.isdir(out_dir):
        raise PlotError("%s: not a directory (run python -m host_tools sim --out %s first)" % (out_dir, out_dir))
    lanes = [(port, timed) for port, timed in inputs]
    for port in PORTS_OUT:
        p = os.path.join(out_dir, port + ".txt")
        if os.path.exists(p):
            lanes.append(("->" + port, [(t, b) for t, data in _read_timed(p) for b in data]))
    return lanes


def plot_dir(out_dir, path, inputs=(), window=None, progress=print):
    """Draw ``out_dir`` to ``path``. Returns {"lanes": {label: (bytes, messages)}, "xlim": (a, b),
    "panels": [titles drawn], "labels": note labels drawn}."""
    lanes = dir_lanes(out_dir, inputs)
    signals_path = os.path.join(out_dir, "signals.csv")
    signals = read_signals(signals_path) if os.path.exists(signals_path) else []
    if not signals and not [label for label, _ in lanes if label.startswith("->")]:
        raise PlotError("%s: no <port>.txt and no signals.csv: not a simulator output directory" % out_dir)
    end_ms = 1.0
    for _, timed in lanes:
        if timed:
            end_ms = max(end_ms, timed[-1][0] / NS_PER_MS)
    if signals:
        end_ms = max(end_ms, max(t for t, _, _ in signals) / NS_PER_MS)
    info = {"lanes": {}}
    for label, timed in lanes:
        msgs, _ = midiwire.decode(timed)
        info["lanes"][label] = (len(timed), len(msgs))
        progress("plot: %-7s %6d bytes %6d messages" % (label, len(timed), len(msgs)))
    if window:
        start = 0.0 if window[0] is None else window[0]
        end = end_ms if window[1] is None else window[1]
        if end <= start:
            raise PlotError("--start %s --end %s: the end must be after the start" % (start, end))
        window = (start, end)
    progress("plot: drawing %d lanes and %d signals" % (len(lanes), len({n for _, n, _ in signals})))
    info.update(draw(lanes, signals, end_ms, path, window))
    return info


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_tools plot",
                                description="PNG of the signals and MIDI activity of a simulator output directory.")
    p.add_argument("dir", metavar="DIR", help="simulator output directory")
    p.add_argument("--out", metavar="FILE", help="PNG to write (default DIR/signals.png)")
    p.add_argument("--in", dest="inputs", action="append", default=[], metavar="PORT=FILE",
                   help="add an input lane (in1..in4, usb) from the file the simulator was given")
    p.add_argument("--start", type=float, metavar="MS", help="left edge of the time axis")
    p.add_argument("--end", type=float, metavar="MS", help="right edge of the time axis")
    return p


def main(argv):
    args = _parser().parse_args(argv)
    path = args.out or os.path.join(args.dir, "signals.png")
    window = (args.start, args.end) if args.start is not None or args.end is not None else None
    try:
        inputs = [read_input(spec) for spec in args.inputs]
        plot_dir(args.dir, path, inputs, window)
    except PlotError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    except OSError as e:
        print("error: %s: cannot write (%s)" % (path, e.strerror), file=sys.stderr)
        return 2
    print("plot: wrote %s" % path)
    return 0
