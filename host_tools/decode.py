"""``python -m host_tools decode DIR|FILE [--merged] [--config CONFIG]``: wire files as timed,
readable messages.

    12.345 out3 ch5 Note On E4 vel 100
    12.345 JU-06A (out3) ch5 Note On E4 vel 100      (with --config naming out3 "JU-06A")

Reads the project's timed-bytes files (``<port>.txt``, README "The simulator") or a ``.mid``
file; a directory means every ``<port>.txt`` in it (a simulator output directory: ``out1``..
``out4``, ``usb``, and any inputs saved there). Messages come from the independent decoder
``host_tools.midiwire`` (running status restored, real-time bytes inside a message or a SysEx
shown at their own time, stream problems listed). A message's time is the moment its last byte
had fully arrived or left.

The words come from ``host_tools.midiwords`` (shared with ``bridge --monitor``, ``plot`` and
the editor's preview). Note names: MIDI note 60 is C4 (the convention of most DAWs; some
Yamaha and Elektron manuals call it C3). Ports: with ``--config``, a port the config's
``"names"`` names is printed as ``explain`` prints it (``explain.label``: "KeyStep (in1)").
"""

import argparse
import os
import sys

from host_tools import midiwire
from host_tools.explain import config_names, label
from host_tools.midiwords import describe

NS_PER_MS = 1_000_000
PORT_ORDER = ("in1", "in2", "in3", "in4", "usb_in", "out1", "out2", "out3", "out4", "usb", "usbh")
class DecodeError(Exception):
    """A file that cannot be read: main() prints it on one line and exits 2."""


def flatten(lines):
    """[(time_ns, bytes)] -> [(time_ns, byte)]: the bytes of a line arrive together."""
    return [(t, b) for t, data in lines for b in data]


def read_port_file(path):
    """A ``.txt`` wire file or a ``.mid`` -> [(time_ns, byte)]."""
    try:
        if str(path).lower().endswith(".mid"):
            return flatten(midiwire.read_smf(path))
        with open(path) as f:
            return flatten(midiwire.parse_timed_text(f.read(), str(path)))
    except OSError as e:
        raise DecodeError("%s: cannot read (%s)" % (path, e.strerror)) from None
    except midiwire.FormatError as e:
        raise DecodeError(str(e)) from None


def port_of(path):
    return os.path.splitext(os.path.basename(path))[0]


def wire_files(target):
    """``target`` (a directory or a file) -> [(port, path)], ports in box order."""
    if os.path.isdir(target):
        names = [n for n in os.listdir(target) if n.endswith(".txt") and n != "console.txt"]
        rank = {p: k for k, p in enumerate(PORT_ORDER)}
        names.sort(key=lambda n: (rank.get(port_of(n), len(rank)), n))
        if not names:
            raise DecodeError("%s: no <port>.txt wire files (a simulator output directory has out1.txt ...)" % target)
        return [(port_of(n), os.path.join(target, n)) for n in names]
    if not os.path.exists(target):
        raise DecodeError("%s: no such file or directory" % target)
    return [(port_of(target), target)]


def decode_port(port, timed, clock=True, names=None):
    """[(time_ns, port, text)] of one port's bytes, then its stream problems as texts. The port
    as ``label`` words it with ``names`` ({port: name}, explain.port_names)."""
    messages, problems = midiwire.decode(timed)
    port = label(port, names or {})
    rows = [(m.time_ns, port, describe(m.data)) for m in messages if clock or m.data[0] != 0xF8]
    return rows, problems


def format_row(time_ns, port, text):
    return "%10s %-6s %s" % (midiwire.format_time_ns(time_ns), port, text)


def decode_target(target, merged=False, clock=True, names=None):
    """The printed lines for ``target``: per port (a header and its messages) or merged in time
    order (ports in box order at equal times). ``names``: {port: name} for the ports' words."""
    out = []
    everything = []
    for port, path in wire_files(target):
        rows, problems = decode_port(port, read_port_file(path), clock, names)
        rank = PORT_ORDER.index(port) if port in PORT_ORDER else len(PORT_ORDER)
        shown = label(port, names or {})
        if merged:
            everything.extend((t, rank, p, text) for t, p, text in rows)
            out.extend("%s: problem: %s" % (shown, p) for p in problems)
            continue
        out.append("# %s (%s): %d messages%s" % (shown, path, len(rows), "" if clock else ", clock hidden"))
        out.extend(format_row(*row) for row in rows)
        out.extend("%s: problem: %s" % (shown, p) for p in problems)
    if merged:
        everything.sort(key=lambda r: (r[0], r[1]))
        out[:0] = [format_row(t, p, text) for t, _, p, text in everything]
    return out


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_tools decode",
                                description="Wire files (<port>.txt, .mid) as timed, readable MIDI messages.")
    p.add_argument("target", metavar="DIR|FILE", help="a simulator output directory or one wire file")
    p.add_argument("--merged", action="store_true", help="all ports in one list, in time order")
    p.add_argument("--no-clock", action="store_true", help="leave MIDI clock (F8) out")
    p.add_argument("--config", metavar="CONFIG", help="a config.json whose \"names\" name the ports")
    return p


def main(argv):
    args = _parser().parse_args(argv)
    try:
        names = None
        if args.config:
            try:
                names = config_names(args.config)
            except OSError as e:
                raise DecodeError("%s: cannot read (%s)" % (args.config, e.strerror)) from None
            except ValueError as e:
                raise DecodeError("%s: not valid JSON (%s)" % (args.config, e)) from None
        lines = decode_target(args.target, args.merged, not args.no_clock, names)
    except DecodeError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    try:
        for line in lines:
            print(line)
    except BrokenPipeError:  # decode DIR | head
        sys.stderr.close()
    return 0
