"""MIDI messages in words: note names, controller names, SysEx manufacturers, and
``describe(data)``, the one place a message is worded ("ch5 Note On E4 vel 100").

Used by ``decode``, ``bridge --monitor``, ``plot`` and the editor's preview, which runs this
file on MicroPython in the browser: plain Python, no imports. Note 60 is C4.
"""

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
