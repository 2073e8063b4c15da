"""``python -m host_tools decode DIR|FILE [--merged]``: wire files as timed, readable messages.

    12.345 out3 ch5 Note On E4 vel 100

Reads the project's timed-bytes files (``<port>.txt``, README "The simulator") or a ``.mid``
file; a directory means every ``<port>.txt`` in it (a simulator output directory: ``out1``..
``out4``, ``usb``, and any inputs saved there). Messages come from the independent decoder
``host_tools.midiwire`` (running status restored, real-time bytes inside a message or a SysEx
shown at their own time, stream problems listed). A message's time is the moment its last byte
had fully arrived or left.

``describe(data)`` is the one place that words a message; ``bridge --monitor``, ``plot`` and
the editor's preview (through ``/api/preview``) use it too. Note names: MIDI note 60 is C4
(the convention of most DAWs and of the MIDI Manufacturers Association's note table; some
Yamaha and Elektron manuals call it C3).
"""

import argparse
import os
import sys

from host_tools import midiwire

NS_PER_MS = 1_000_000
PORT_ORDER = ("in1", "in2", "in3", "in4", "usb_in", "out1", "out2", "out3", "out4", "usb")
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
CHANNEL_STATUS = {
    0x80: "Note Off", 0x90: "Note On", 0xA0: "Poly Pressure", 0xB0: "CC", 0xC0: "Program",
    0xD0: "Channel Pressure", 0xE0: "Pitch Bend",
}
CC_NAMES = {  # the controllers the MIDI 1.0 specification names, and the channel mode messages
    0: "Bank Select", 1: "Mod Wheel", 2: "Breath", 4: "Foot", 5: "Portamento Time",
    6: "Data Entry", 7: "Volume", 8: "Balance", 10: "Pan", 11: "Expression",
    32: "Bank Select LSB", 64: "Sustain", 65: "Portamento", 66: "Sostenuto", 67: "Soft Pedal",
    68: "Legato", 69: "Hold 2", 71: "Resonance", 72: "Release Time", 73: "Attack Time",
    74: "Cutoff", 84: "Portamento Control", 96: "Data Increment", 97: "Data Decrement",
    98: "NRPN LSB", 99: "NRPN MSB", 100: "RPN LSB", 101: "RPN MSB",
    120: "All Sound Off", 121: "Reset All Controllers", 122: "Local Control", 123: "All Notes Off",
    124: "Omni Off", 125: "Omni On", 126: "Mono On", 127: "Poly On",
}
SYSTEM_NAMES = {
    0xF6: "Tune Request", 0xF8: "Clock", 0xFA: "Start", 0xFB: "Continue", 0xFC: "Stop",
    0xFE: "Active Sensing", 0xFF: "Reset",
}
MANUFACTURERS = {  # SysEx IDs (one byte, or 00 and two more) of gear the seeds' setups use
    (0x01,): "Sequential", (0x04,): "Moog", (0x40,): "Kawai", (0x41,): "Roland", (0x42,): "Korg",
    (0x43,): "Yamaha", (0x47,): "Akai", (0x7D,): "non-commercial", (0x7E,): "Universal Non-Real Time",
    (0x7F,): "Universal Real Time", (0x00, 0x20, 0x3C): "Elektron", (0x00, 0x20, 0x6B): "Arturia",
    (0x00, 0x20, 0x29): "Novation", (0x00, 0x20, 0x32): "Behringer",
}


class DecodeError(Exception):
    """A file that cannot be read: main() prints it on one line and exits 2."""


def note_name(note):
    """MIDI note number -> name with octave (60 -> "C4", 64 -> "E4")."""
    return "%s%d" % (NOTE_NAMES[note % 12], note // 12 - 1)


def cc_name(number):
    return CC_NAMES.get(number, "CC %d" % number)


def manufacturer(data):
    """(id bytes as hex, name or "") of a SysEx message ``data`` (F0 first)."""
    if len(data) < 2:
        return "", ""
    ident = tuple(data[1:4]) if data[1] == 0 else (data[1],)
    return " ".join("%02X" % b for b in ident), MANUFACTURERS.get(ident, "")


def describe(data):
    """One message (full bytes, status first) in words: "ch5 Note On E4 vel 100"."""
    status = data[0]
    if status < 0xF0:
        kind = status & 0xF0
        head = "ch%d %s" % ((status & 0x0F) + 1, CHANNEL_STATUS[kind])
        if kind in (0x80, 0x90):
            if kind == 0x90 and data[2] == 0:
                return "ch%d Note Off %s (Note On vel 0)" % ((status & 0x0F) + 1, note_name(data[1]))
            return "%s %s vel %d" % (head, note_name(data[1]), data[2])
        if kind == 0xA0:
            return "%s %s %d" % (head, note_name(data[1]), data[2])
        if kind == 0xB0:
            return "ch%d CC %d %s = %d" % ((status & 0x0F) + 1, data[1], cc_name(data[1]), data[2]) \
                if data[1] in CC_NAMES else "%s %d = %d" % (head, data[1], data[2])
        if kind == 0xC0:
            return "%s %d" % (head, data[1] + 1)
        if kind == 0xD0:
            return "%s %d" % (head, data[1])
        return "%s %+d" % (head, (data[1] | data[2] << 7) - 8192)
    if status == 0xF0:
        ident, name = manufacturer(data)
        return "SysEx %d bytes, manufacturer %s%s" % (len(data), ident or "?", " (%s)" % name if name else "")
    if status == 0xF1:
        return "MTC Quarter Frame %d:%d" % (data[1] >> 4, data[1] & 0x0F)
    if status == 0xF2:
        position = data[1] | data[2] << 7
        return "Song Position %d (bar %d, beat %d)" % (position, position // 16 + 1, position % 16 // 4 + 1)
    if status == 0xF3:
        return "Song Select %d" % data[1]
    return SYSTEM_NAMES.get(status, "status %02X" % status)


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


def decode_port(port, timed, clock=True):
    """[(time_ns, port, text)] of one port's bytes, then its stream problems as texts."""
    messages, problems = midiwire.decode(timed)
    rows = [(m.time_ns, port, describe(m.data)) for m in messages if clock or m.data[0] != 0xF8]
    return rows, problems


def format_row(time_ns, port, text):
    return "%10s %-6s %s" % (midiwire.format_time_ns(time_ns), port, text)


def decode_target(target, merged=False, clock=True):
    """The printed lines for ``target``: per port (a header and its messages) or merged in time
    order (ports in box order at equal times)."""
    out = []
    everything = []
    for port, path in wire_files(target):
        rows, problems = decode_port(port, read_port_file(path), clock)
        if merged:
            everything.extend(rows)
            out.extend("%s: problem: %s" % (port, p) for p in problems)
            continue
        out.append("# %s (%s): %d messages%s" % (port, path, len(rows), "" if clock else ", clock hidden"))
        out.extend(format_row(*row) for row in rows)
        out.extend("%s: problem: %s" % (port, p) for p in problems)
    if merged:
        rank = {p: k for k, p in enumerate(PORT_ORDER)}
        everything.sort(key=lambda r: (r[0], rank.get(r[1], len(rank))))
        out[:0] = [format_row(*row) for row in everything]
    return out


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_tools decode",
                                description="Wire files (<port>.txt, .mid) as timed, readable MIDI messages.")
    p.add_argument("target", metavar="DIR|FILE", help="a simulator output directory or one wire file")
    p.add_argument("--merged", action="store_true", help="all ports in one list, in time order")
    p.add_argument("--no-clock", action="store_true", help="leave MIDI clock (F8) out")
    return p


def main(argv):
    args = _parser().parse_args(argv)
    try:
        lines = decode_target(args.target, args.merged, not args.no_clock)
    except DecodeError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    try:
        for line in lines:
            print(line)
    except BrokenPipeError:  # decode DIR | head
        sys.stderr.close()
    return 0
