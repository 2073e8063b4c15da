"""``python -m host_tools vcd DIR``: a VCD file (GTKWave, PulseView, sigrok-cli) of a simulation.

    python -m host_tools vcd DIR [--out FILE] [--in PORT=FILE ...]

``DIR`` is a simulator output directory (``python -m host_tools sim --out DIR``). The file holds:

- ``midi.out1`` .. ``midi.out4``: each DIN output as the 1-bit level on its wire, a UART frame
  at 31250 baud per byte: idle high, start bit low, 8 data bits LSB first, stop bit high, 32 us
  a bit. A byte's time in ``<port>.txt`` is the end of its stop bit, so its start bit falls
  320 us earlier. ``--in in1=FILE`` adds an input wire (a ``.txt`` or ``.mid`` input as the
  simulator reads it, DIN timing applied).
- ``jacks.<signal>``: every row of ``signals.csv`` as a real-valued variable in volts.

The USB port (``usb.txt``) is no UART wire and is left out. Times are whole microseconds
(``timescale 1 us``); if an input's first start bit would fall before 0, the whole file is
shifted by 1 ms and its ``$comment`` says so.
"""

import argparse
import csv
import os
import sys

from host_tools import midiwire

BAUD = 31250
BIT_US = 1_000_000 // BAUD  # 32
BYTE_US = 10 * BIT_US  # 320
SHIFT_US = 1000
DIN_OUTPUTS = ("out1", "out2", "out3", "out4")
DIN_INPUTS = ("in1", "in2", "in3", "in4")


class VcdError(Exception):
    pass


def uart_levels(timed_us, name="wire"):
    """[(end_of_stop_bit_us, byte)] -> [(time_us, level)]: the level changes of the wire."""
    changes = []
    level = 1
    last_end = None
    for end, b in timed_us:
        start = end - BYTE_US
        if last_end is not None and start < last_end:
            raise VcdError("%s: byte %02X ending at %.3f ms starts before the previous byte ended (%.3f ms): "
                           "a DIN byte takes 0.320 ms" % (name, b, end / 1000, last_end / 1000))
        bits = [0] + [(b >> i) & 1 for i in range(8)] + [1]
        for k, bit in enumerate(bits):
            if bit != level:
                changes.append((start + k * BIT_US, bit))
                level = bit
        last_end = end
    return changes


def read_wire_file(path, name):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise VcdError("%s: cannot read (%s)" % (path, e.strerror)) from None
    try:
        lines = midiwire.parse_timed_text(text, path)
    except midiwire.FormatError as e:
        raise VcdError(str(e)) from None
    return [(t, b) for t, data in lines for b in data]


def read_input(spec):
    from host_tools.sim.wires import din_arrival_times

    if "=" not in spec:
        raise VcdError("--in %s: expected PORT=FILE" % spec)
    port, path = spec.split("=", 1)
    if port not in DIN_INPUTS:
        raise VcdError("--in %s: %r is not a DIN input (%s)" % (spec, port, ", ".join(DIN_INPUTS)))
    try:
        if path.endswith(".mid"):
            lines = midiwire.read_smf(path)
        else:
            with open(path) as f:
                lines = midiwire.parse_timed_text(f.read(), path)
    except OSError as e:
        raise VcdError("%s: cannot read (%s)" % (path, e.strerror)) from None
    except midiwire.FormatError as e:
        raise VcdError(str(e)) from None
    return port, din_arrival_times(lines)


def read_signals(path):
    """signals.csv -> {name: [(time_us, volts)]} in file order."""
    out = {}
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise VcdError("%s: cannot read (%s)" % (path, e.strerror)) from None
    if not rows or rows[0] != ["time_ms", "signal", "value"]:
        raise VcdError("%s: not a simulator signals.csv (header time_ms,signal,value)" % path)
    for number, row in enumerate(rows[1:], 2):
        try:
            t_ms, name, value = row
            t_us = round(float(t_ms) * 1000)
            volts = float(value)
        except ValueError:
            raise VcdError("%s:%d: expected time_ms,signal,value" % (path, number)) from None
        out.setdefault(name, []).append((t_us, volts))
    return out


def _ns_to_us(timed):
    return [((t + 500) // 1000, b) for t, b in timed]


def write_vcd(out_dir, path, inputs=(), progress=print):
    """Write the VCD of sim output ``out_dir`` to ``path``. Returns the number of changes."""
    if not os.path.isdir(out_dir):
        raise VcdError("%s: not a directory (run python -m host_tools sim --out %s first)" % (out_dir, out_dir))
    wires = {}
    for port, timed in inputs:
        wires[port] = _ns_to_us(timed)
    for port in DIN_OUTPUTS:
        p = os.path.join(out_dir, port + ".txt")
        if os.path.exists(p):
            wires[port] = _ns_to_us(read_wire_file(p, port + ".txt"))
    signals_path = os.path.join(out_dir, "signals.csv")
    signals = read_signals(signals_path) if os.path.exists(signals_path) else {}
    if not wires and not signals:
        raise VcdError("%s: no out1..out4 .txt and no signals.csv: not a simulator output directory" % out_dir)
    levels = {}
    for port, timed in wires.items():
        levels[port] = uart_levels(timed, port)
        progress("vcd: %s: %d bytes, %d edges" % (port, len(timed), len(levels[port])))
    earliest = min([c[0][0] for c in levels.values() if c] + [0])
    shift = SHIFT_US if earliest < 0 else 0
    if signals:
        progress("vcd: signals.csv: %d signals, %d changes" % (len(signals), sum(len(v) for v in signals.values())))

    from vcd import VCDWriter

    comment = "Thruway simulation %s: DIN wires as UART frames at %d baud, jack voltages in volts" % (
        os.path.abspath(out_dir), BAUD)
    if shift:
        comment += "; time 0 of the run is at %d us in this file" % shift
    events = []  # (time_us, seq, var, value): one global time order, each variable's order kept
    seq = 0
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        with VCDWriter(f, timescale="1 us", date="(simulated time)", comment=comment,
                       version="python -m host_tools vcd") as w:
            for port in sorted(wires, key=lambda p: (p.startswith("out"), p)):
                var = w.register_var("midi", port, "wire", size=1, init=1)
                for t, level in levels[port]:
                    events.append((t + shift, seq, var, level))
                    seq += 1
            for name, rows in signals.items():
                at_zero = [v for t, v in rows if t == 0]
                init = at_zero[-1] if at_zero else 0.0
                var = w.register_var("jacks", name, "real", init=init)
                for t, volts in rows:
                    if t == 0 and not shift:
                        continue
                    events.append((t + shift, seq, var, volts))
                    seq += 1
            events.sort(key=lambda e: (e[0], e[1]))
            for t, _, var, value in events:
                w.change(var, t, value)
    os.replace(tmp, path)
    return len(events)


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_tools vcd", description="VCD of a simulator output directory.")
    p.add_argument("dir", metavar="DIR", help="simulator output directory")
    p.add_argument("--out", metavar="FILE", help="VCD file to write (default DIR/signals.vcd)")
    p.add_argument("--in", dest="inputs", action="append", default=[], metavar="PORT=FILE",
                   help="add a DIN input wire (in1..in4) from the file the simulator was given")
    return p


def main(argv):
    args = _parser().parse_args(argv)
    path = args.out or os.path.join(args.dir, "signals.vcd")
    try:
        inputs = [read_input(spec) for spec in args.inputs]
        n = write_vcd(args.dir, path, inputs)
    except VcdError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    except OSError as e:
        print("error: %s: cannot write (%s)" % (path, e.strerror), file=sys.stderr)
        return 2
    print("vcd: wrote %s (%d changes)" % (path, n))
    return 0
