"""MIDI byte streams on the host: the timed-bytes text format, an independent stream decoder,
and Standard MIDI File input and output.

The decoder is written apart from the firmware's parser on purpose: tests use it as the
oracle that an output is a valid MIDI stream. (mido's parser drops running-status notes and
notes with a clock byte inside; docs/design.md, "Libraries and chips".)
"""

import math

NS_PER_MS = 1_000_000


class FormatError(ValueError):
    pass


# -- the project's wire format ------------------------------------------------------------------


def parse_timed_text(text, source="<text>"):
    """``<time_ms> <hex byte> ...`` lines -> [(time_ns, bytes)], in file order, times kept."""
    lines = []
    last = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        try:
            t = float(fields[0])
        except ValueError:
            raise FormatError("%s:%d: %r is not a time in ms" % (source, number, fields[0])) from None
        if not math.isfinite(t) or t < 0:
            raise FormatError("%s:%d: time %r must be a number >= 0" % (source, number, fields[0]))
        if last is not None and t < last:
            raise FormatError("%s:%d: time %s goes back (previous line %s)" % (source, number, fields[0], last))
        last = t
        if len(fields) < 2:
            raise FormatError("%s:%d: a time needs at least one hex byte" % (source, number))
        data = bytearray()
        for field in fields[1:]:
            try:
                value = int(field, 16)
            except ValueError:
                raise FormatError("%s:%d: %r is not a hex byte" % (source, number, field)) from None
            if not 0 <= value <= 0xFF or len(field) > 2:
                raise FormatError("%s:%d: %r is not a byte (00-FF)" % (source, number, field))
            data.append(value)
        lines.append((int(round(t * NS_PER_MS)), bytes(data)))
    return lines


def format_time_ns(t_ns):
    us = (t_ns + 500) // 1000
    return "%d.%03d" % (us // 1000, us % 1000)


def format_timed_bytes(timed, header=None):
    """[(time_ns, byte)] -> the wire format, one byte a line."""
    out = []
    if header:
        out.extend("# " + h for h in header)
    out.extend("%s %02X" % (format_time_ns(t), b) for t, b in timed)
    return "\n".join(out) + "\n"


# -- stream decoder -------------------------------------------------------------------------------

_DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_COMMON_LEN = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0}


class Message:
    """A decoded message: full bytes (status restored), the time its last byte arrived."""

    __slots__ = ("data", "time_ns", "start_ns")

    def __init__(self, data, time_ns, start_ns):
        self.data = bytes(data)
        self.time_ns = time_ns
        self.start_ns = start_ns

    @property
    def status(self):
        return self.data[0]

    def kind(self):
        s = self.data[0]
        if s >= 0xF8:
            return "realtime"
        if s == 0xF0:
            return "sysex"
        if s >= 0xF0:
            return "common"
        if s & 0xF0 in (0x80, 0x90):
            return "note"
        return "channel"

    def __repr__(self):
        return "Message(%s @%s)" % (self.data.hex(" "), format_time_ns(self.time_ns))


class StreamError(ValueError):
    pass


def decode(timed, strict=False):
    """[(time_ns, byte)] -> (messages, problems). With ``strict``, the first problem raises.

    Problems are things a valid stream never contains: a data byte with no status, an undefined
    status byte, a message cut by a status byte, an F7 outside SysEx, a SysEx with no end."""
    messages = []
    problems = []

    def problem(text):
        if strict:
            raise StreamError(text)
        problems.append(text)

    running = 0
    need = 0
    buf = []
    start = None
    sysex = None
    for t, b in timed:
        if b >= 0xF8:
            if b in (0xF9, 0xFD):
                problem("undefined real-time byte %02X at %s" % (b, format_time_ns(t)))
                continue
            messages.append(Message([b], t, t))
            continue
        if b & 0x80:
            if sysex is not None:
                if b == 0xF7:
                    sysex.append(b)
                    messages.append(Message(sysex, t, start))
                    sysex = None
                    running = 0
                    continue
                problem("SysEx cut by status %02X at %s" % (b, format_time_ns(t)))
                sysex = None
            if buf and len(buf) < need + 1:
                problem("message %s cut by status %02X at %s" % (bytes(buf).hex(" "), b, format_time_ns(t)))
            buf = []
            if b < 0xF0:
                running = b
                need = _DATA_LEN[b & 0xF0]
                buf = [b]
                start = t
            elif b == 0xF0:
                running = 0
                sysex = [b]
                start = t
            elif b in _COMMON_LEN:
                running = 0
                need = _COMMON_LEN[b]
                buf = [b]
                start = t
                if need == 0:
                    messages.append(Message(buf, t, t))
                    buf = []
            else:
                running = 0
                problem("stray status %02X at %s" % (b, format_time_ns(t)))
            continue
        if sysex is not None:
            sysex.append(b)
            continue
        if not buf:
            if not running:
                problem("data byte %02X with no status at %s" % (b, format_time_ns(t)))
                continue
            buf = [running]
            need = _DATA_LEN[running & 0xF0]
            start = t
        buf.append(b)
        if len(buf) == need + 1:
            messages.append(Message(buf, t, start))
            buf = []
    if sysex is not None:
        problem("SysEx not ended at the end of the stream")
    if buf:
        problem("message %s not complete at the end of the stream" % bytes(buf).hex(" "))
    return messages, problems


def message_count(messages, include_realtime=True):
    return sum(1 for m in messages if include_realtime or m.kind() != "realtime")


# -- Standard MIDI Files --------------------------------------------------------------------------


def read_smf(path):
    """A Standard MIDI File -> [(time_ns, bytes)], one line per message, all tracks merged."""
    import mido

    try:
        mid = mido.MidiFile(path)
    except (OSError, ValueError, EOFError, KeyError) as e:
        raise FormatError("%s: not a readable MIDI file (%s)" % (path, e)) from None
    lines = []
    t = 0.0
    for msg in mid:  # iterating a MidiFile yields delta times in seconds, tempo applied
        t += msg.time
        if msg.is_meta:
            continue
        lines.append((int(round(t * 1e9)), bytes(msg.bytes())))
    return lines


# 0.1 ms per tick: tempo 1,000,000 us a beat, 10,000 ticks a beat.
_SMF_TICKS_PER_BEAT = 10000
_SMF_TEMPO = 1_000_000


def write_smf(path, messages):
    """Channel messages, system common and SysEx of ``messages`` to a type 0 SMF (real-time
    bytes have no place in a file)."""
    import mido

    mid = mido.MidiFile(type=0, ticks_per_beat=_SMF_TICKS_PER_BEAT)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=_SMF_TEMPO, time=0))
    last_tick = 0
    for m in messages:
        s = m.data[0]
        if s >= 0xF8 or s in (0xF1, 0xF2, 0xF3, 0xF6):
            continue
        tick = int(round(m.time_ns / 100_000))
        try:
            msg = mido.Message.from_bytes(list(m.data), time=tick - last_tick)
        except ValueError:
            continue
        track.append(msg)
        last_tick = tick
    mid.save(path)
