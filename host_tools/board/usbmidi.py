"""USB-MIDI 1.0 event packets (4 bytes: cable/code index, then up to 3 MIDI bytes).

The board engine's USB host sends the ``usb`` input as packets and turns the packets the box
sends back into bytes. Code index numbers (CIN), USB Device Class Definition for MIDI Devices
1.0, table 4-1: 0x2/0x3 system common of 2/3 bytes, 0x4 SysEx starts or continues, 0x5-0x7 a
SysEx ends with 1-3 bytes (0x5 also a 1-byte system common), 0x8-0xE channel messages by their
status nibble, 0xF a single byte.
"""

CIN_LENGTH = {0x2: 2, 0x3: 3, 0x4: 3, 0x5: 1, 0x6: 2, 0x7: 3, 0x8: 3, 0x9: 3, 0xA: 3, 0xB: 3,
              0xC: 2, 0xD: 2, 0xE: 3, 0xF: 1}
CIN_SINGLE_BYTE = 0xF


def _channel_length(status):
    return 2 if status & 0xF0 in (0xC0, 0xD0) else 3


class Encoder:
    def __init__(self):
        self.msg = []  # a message under way (its status first)
        self.need = 0
        self.sysex = []

    def feed(self, b):
        if b >= 0xF8:
            return [(CIN_SINGLE_BYTE, b, 0, 0)]
        if self.sysex:
            if b == 0xF7 or b < 0x80:
                self.sysex.append(b)
                if b == 0xF7:
                    return self._flush_sysex(end=True)
                if len(self.sysex) == 3:
                    return self._flush_sysex(end=False)
                return []
            # A status byte ends the SysEx unterminated: send what there is as single bytes.
            out = [(CIN_SINGLE_BYTE, x, 0, 0) for x in self.sysex]
            self.sysex = []
            return out + self.feed(b)
        if b == 0xF0:
            self.msg = []
            self.sysex = [b]
            return []
        if b >= 0x80:
            out = [(CIN_SINGLE_BYTE, x, 0, 0) for x in self.msg]  # an unfinished message
            self.msg = [b]
            if b < 0xF0:
                self.need = _channel_length(b)
            elif b in (0xF1, 0xF3):
                self.need = 2
            elif b == 0xF2:
                self.need = 3
            else:  # F6 tune request, F7 alone, undefined F4/F5: one byte
                self.msg = []
                cin = 0x5 if b == 0xF6 else CIN_SINGLE_BYTE
                return out + [(cin, b, 0, 0)]
            return out
        if not self.msg:
            return [(CIN_SINGLE_BYTE, b, 0, 0)]  # running status or stray: the byte as it is
        self.msg.append(b)
        if len(self.msg) < self.need:
            return []
        status = self.msg[0]
        cin = status >> 4 if status < 0xF0 else (0x2 if self.need == 2 else 0x3)
        packet = (cin, *self.msg, *([0] * (3 - len(self.msg))))
        self.msg = []
        return [packet]

    def _flush_sysex(self, end):
        data = self.sysex
        self.sysex = []
        if not end:
            return [(0x4, *data)]
        cin = {1: 0x5, 2: 0x6, 3: 0x7}[len(data)] if len(data) <= 3 else 0x4
        return [(cin, *data, *([0] * (3 - len(data))))]


def encode_lines(lines):
    """[(time_ns, bytes)] -> [(time_ns, 4-byte packet)] (a packet goes when its last byte is due)."""
    enc = Encoder()
    out = []
    for t, data in lines:
        for b in data:
            for p in enc.feed(b):
                out.append((t, bytes(p)))
    return out


def decode_packet(packet):
    """The MIDI bytes a packet carries (none for a reserved code index)."""
    n = CIN_LENGTH.get(packet[0] & 0x0F, 0)
    return bytes(packet[1:1 + n])


def packets_to_timed_bytes(packets):
    """[(time_ns, packet)] -> [(time_ns, byte)]."""
    return [(t, b) for t, p in packets for b in decode_packet(p)]


def whole_message_problems(packets):
    """Packets that do not carry a whole message as the USB-MIDI spec lays them out: a single-
    byte packet (CIN 0xF) holding a data byte or a channel status (running status split across
    packets), or a channel packet whose status does not match its code index."""
    problems = []
    for t, p in packets:
        cin = p[0] & 0x0F
        if cin == CIN_SINGLE_BYTE and p[1] < 0xF8 and not (0xF4 <= p[1] <= 0xF6):
            problems.append((t, p, "single-byte packet (CIN 0xF) with %02X" % p[1]))
        elif 0x8 <= cin <= 0xE and p[1] >> 4 != cin:
            problems.append((t, p, "CIN %X with status %02X" % (cin, p[1])))
    return problems
