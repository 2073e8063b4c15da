"""The merge rules as a reference model in plain Python (tests only), with its own strict MIDI
decoder, and the input streams the merge tests and the fuzz job send.

The model does not copy the firmware's queues: it states what the rules allow, given what
went into the box and what came out, and says which rule an output breaks. Inputs are made
attributable: input ``i`` plays on channels ``3i .. 3i+2``, its SysEx reads ``F0 7D i ...``,
and only input 0 sends System Reset, input 1 Tune Request, input 2 MTC quarter frames. Offs the
box makes itself (lost input, route change) are ``8n k 00`` and ``Bn 40 00``, and the
controllers it centres then ``En 00 40`` and ``Bn 01 00``; the streams here never send those,
so they are told apart.

Rules checked per output (``check``):
- valid: the output decodes as a strict MIDI stream (nothing cut, nothing interleaved);
- order: per input, its notes, program changes, SysEx and system messages arrive in the order
  sent, unchanged (a subsequence); per controller / bend / pressure key, its values arrive in
  order and the last one sent is the last one delivered (the final value always arrives);
- hung: no note and no sustain pedal is left on at the end;
- accounting: messages routed to the output minus messages delivered equals the drops plus
  coalesced values the box counted for it, exactly; nothing arrives that was not sent, except
  the box's own offs.
"""

import random

DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2, 0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0}
TIMING = (0xF8, 0xFA, 0xFB, 0xFC, 0xFE)
N_IN = 5
USB = 4  # input and output index of USB: never routed back to itself


# -- decoder ------------------------------------------------------------------------------------


def decode(data, final=True):
    """Strict decoder: returns (messages, problems). Messages are bytes with their status
    restored; timing bytes are messages of their own, wherever they appear. With ``final``
    False an unfinished message at the end is not a problem (a stream still flowing)."""
    msgs = []
    problems = []
    running = 0
    cur = None  # bytearray of the message under way
    need = 0
    sysex = None
    for k, b in enumerate(data):
        if b >= 0xF8:
            if b in (0xF9, 0xFD):
                problems.append((k, "undefined real-time %02X" % b))
            else:
                msgs.append(bytes([b]))
            continue
        if sysex is not None:
            if b < 0x80:
                sysex.append(b)
                continue
            if b == 0xF7:
                sysex.append(b)
                msgs.append(bytes(sysex))
                sysex = None
                continue
            problems.append((k, "SysEx cut by %02X" % b))
            sysex = None
        if b >= 0x80:
            if cur is not None and need:
                problems.append((k, "message %s cut by %02X" % (cur.hex(), b)))
            cur = None
            if b == 0xF0:
                sysex = bytearray([b])
                running = 0
            elif b == 0xF7 or b in (0xF4, 0xF5):
                problems.append((k, "stray status %02X" % b))
                running = 0
            elif b >= 0xF0:
                running = 0
                need = DATA_LEN[b]
                cur = bytearray([b])
                if need == 0:
                    msgs.append(bytes(cur))
                    cur = None
            else:
                running = b
                need = DATA_LEN[b & 0xF0]
                cur = bytearray([b])
            continue
        # a data byte
        if cur is None:
            if not running:
                problems.append((k, "data %02X without status" % b))
                continue
            cur = bytearray([running])
            need = DATA_LEN[running & 0xF0]
        cur.append(b)
        need -= 1
        if need == 0:
            msgs.append(bytes(cur))
            cur = None
    if final and (sysex is not None or (cur is not None and need)):
        problems.append((len(data), "unfinished message at the end"))
    return msgs, problems


# -- attribution ---------------------------------------------------------------------------------


def source(m):
    """The input a (non-timing) message came from, or None for the box's own offs."""
    s = m[0]
    if s < 0xF0:
        if (s & 0xF0 == 0x80 and m[2] == 0) or (s & 0xF0 == 0xB0 and m[1] in (1, 64) and m[2] == 0):
            return None
        if s & 0xF0 == 0xE0 and m[1:] == b"\x00\x40":
            return None
        return (s & 0x0F) // 3
    if s == 0xF0:
        return m[2]
    return {0xFF: 0, 0xF6: 1, 0xF1: 2}[s]


def value_key(m):
    """Controller / bend / pressure messages (what coalescing may replace): their key."""
    hi = m[0] & 0xF0
    if hi in (0xA0, 0xB0):
        return m[:2]
    if hi in (0xD0, 0xE0):
        return m[:1]
    return None


def routed(i, o):
    return not (i == USB and o == USB)


# -- the rules ------------------------------------------------------------------------------------


class Report:
    def __init__(self):
        self.bytes_in = 0
        self.invalid = []  # (output, problem)
        self.hung = []  # (output, what)
        self.order = []  # (output, input, what)
        self.miscounted = []  # (output, expected missing, counted)
        self.invented = []  # (output, message)

    def ok(self):
        return not (self.invalid or self.hung or self.order or self.miscounted or self.invented)

    def figures(self):
        return {"bytes": self.bytes_in, "invalid streams": len(self.invalid), "hung notes": len(self.hung),
                "order violations": len(self.order), "miscounted drops": len(self.miscounted) + len(self.invented)}

    def __repr__(self):
        return "Report(%r, invalid=%r, hung=%r, order=%r, miscounted=%r, invented=%r)" % (
            self.figures(), self.invalid[:3], self.hung[:3], self.order[:3], self.miscounted[:3], self.invented[:3])


def hung_notes(msgs):
    on = set()
    pedal = set()
    for m in msgs:
        hi = m[0] & 0xF0
        ch = m[0] & 0x0F
        if m[0] >= 0xF0:
            continue
        if hi == 0x90 and m[2]:
            on.add((ch, m[1]))
        elif hi in (0x80, 0x90):
            on.discard((ch, m[1]))
        elif hi == 0xB0 and m[1] == 64:
            (pedal.add if m[2] >= 64 else pedal.discard)(ch)
    return sorted(on), sorted(pedal)


def check(inputs, outputs, dropped, coalesced, n_reasons, report=None, expand=None):
    """``inputs[i]``: the bytes input i sent; ``outputs[o]``: the bytes output o sent; the box's
    counters. ``expand(i, o, m)``, when given: the messages output o is sent for input i's
    message m (routes that each transform sharing the pair: a split or a layer leaves one
    message as several, or none), each counted as one routed to o; by default ``[m]``.
    Returns a Report."""
    r = report or Report()
    sent = []
    for data in inputs:
        r.bytes_in += len(data)
        msgs, problems = decode(data)
        assert not problems, "the test's own input is invalid: %r" % problems[:3]
        sent.append([m for m in msgs if m[0] not in TIMING])
    for o, data in enumerate(outputs):
        msgs, problems = decode(data)
        for p in problems:
            r.invalid.append((o, p))
        msgs = [m for m in msgs if m[0] not in TIMING]
        on, pedal = hung_notes(msgs)
        r.hung.extend((o, "note", x) for x in on)
        r.hung.extend((o, "sustain", x) for x in pedal)
        got = [[] for _ in inputs]
        own_last = set()  # value keys whose last word on this output is the box's own reset
        for m in msgs:
            i = source(m)
            key = value_key(m)
            if key is not None:
                (own_last.add if i is None else own_last.discard)(key)
            if i is None:
                continue
            if i >= len(inputs) or not routed(i, o):
                r.invented.append((o, m.hex()))
                continue
            got[i].append(m)
        missing = 0
        for i, expect in enumerate(sent):
            if not routed(i, o):
                continue
            if expand is not None:
                expect = [c for m in expect for c in expand(i, o, m)]
            matched = _match(r, o, i, expect, got[i], own_last)
            missing += len(expect) - matched
        counted = sum(dropped[o * n_reasons:(o + 1) * n_reasons]) + coalesced[o]
        if missing != counted:
            r.miscounted.append((o, missing, counted))
    return r


def _plain(m):
    # A note-on compared without its velocity (a preset may scale it).
    return m[:2] + b"\x01" if m[0] & 0xF0 == 0x90 and m[2] else m


def _match(r, o, i, expect, got, own_last=()):
    # Non-values: an exact subsequence. Values: per key, in order, the final one last.
    # Returns how many sent messages were delivered.
    plain_e = [_plain(m) for m in expect if value_key(m) is None]
    plain_g = [_plain(m) for m in got if value_key(m) is None]
    k = 0
    matched = 0
    for m in plain_g:
        while k < len(plain_e) and plain_e[k] != m:
            k += 1
        if k == len(plain_e):
            if m[0] == 0xF0:
                r.invented.append((o, "cut SysEx " + m[:8].hex()))
            else:
                r.order.append((o, i, "%s out of order or not sent" % m.hex()))
            continue
        k += 1
        matched += 1
    keys = {}
    for m in expect:
        key = value_key(m)
        if key is not None:
            keys.setdefault(key, ([], []))[0].append(m)
    for m in got:
        key = value_key(m)
        if key is not None:
            if key not in keys:
                r.invented.append((o, m.hex()))
                continue
            keys[key][1].append(m)
    for key, (e, g) in keys.items():
        k = 0
        for m in g:
            while k < len(e) and e[k] != m:
                k += 1
            if k == len(e):
                r.order.append((o, i, "value %s out of order" % m.hex()))
                break
            k += 1
            matched += 1
        # (A sustain pedal's last word may be the box's own off after a loss or a switch, a bend's
        # or mod wheel's the box's own centring; the hang check covers the pedal.)
        if e and (not g or g[-1] != e[-1]) and key[1:] != b"\x40" and key not in own_last:
            r.order.append((o, i, "final value of %s: sent %s, last delivered %s"
                            % (key.hex(), e[-1].hex(), g[-1].hex() if g else None)))
    return matched


# -- input streams ------------------------------------------------------------------------------------


class Player:
    """A random but attributable, balanced source for input ``i``: notes (running status,
    velocity-0 note-offs), a sustain pedal, two value keys, program changes, SysEx of any
    length, and the system messages this input may send. ``close()`` ends what is sounding."""

    def __init__(self, i, rng):
        self.i = i
        self.rng = rng
        self.on = set()
        self.pedal = False
        self.base = 3 * i

    def message(self):
        rng = self.rng
        ch = self.base + rng.randrange(3)
        x = rng.random()
        if x < 0.30:
            n = rng.randrange(128)
            if (ch, n) in self.on:
                self.on.discard((ch, n))
                return bytes([0x80 | ch, n, 0x40]) if rng.random() < 0.5 else bytes([0x90 | ch, n, 0])
            self.on.add((ch, n))
            return bytes([0x90 | ch, n, rng.randrange(1, 128)])
        if x < 0.45 and self.on:
            ch, n = self.rng.choice(sorted(self.on))
            self.on.discard((ch, n))
            return bytes([0x80 | ch, n, 0x40])
        if x < 0.60:
            return bytes([0xB0 | self.base, 1, rng.randrange(1, 128)])  # 0: the box's own
        if x < 0.70:
            return bytes([0xE0 | self.base, rng.randrange(1, 128), rng.randrange(128)])  # 00 40: the box's own
        if x < 0.74:
            self.pedal = not self.pedal
            return bytes([0xB0 | self.base, 64, 0x7F if self.pedal else 0x05])
        if x < 0.80:
            return bytes([0xC0 | ch, rng.randrange(128)])
        if x < 0.86:
            return self.sysex(rng.choice((0, 1, 5, 40, 300, 1200)))
        if x < 0.88:
            return {0: bytes([0xFF]), 1: bytes([0xF6]), 2: bytes([0xF1, rng.randrange(128)])}.get(
                self.i, bytes([0xC0 | ch, 0]))
        return bytes([0x90 | ch, rng.randrange(128), 0])  # a note-off for a note not sounding

    def sysex(self, length):
        return bytes([0xF0, 0x7D, self.i] + [self.rng.randrange(128) for _ in range(length)] + [0xF7])

    def panic(self):
        out = bytearray()
        for n in range(16):
            ch = self.base + n % 3
            if (ch, 40 + n) not in self.on:
                self.on.add((ch, 40 + n))
                out += bytes([0x90 | ch, 40 + n, 100])
        for ch in range(self.base, self.base + 3):
            out.append(0x80 | ch)
            for n in range(128):
                out += bytes([n, 0x40])
                self.on.discard((ch, n))
        return bytes(out)

    def close(self):
        out = bytearray()
        for ch, n in sorted(self.on):
            out += bytes([0x80 | ch, n, 0x40])
        self.on.clear()
        if self.pedal:
            out += bytes([0xB0 | self.base, 64, 0x05])
            self.pedal = False
        return bytes(out)


def with_running_status(messages, rng, timing=()):
    """Wire bytes of ``messages``: running status where allowed (sometimes), timing bytes
    inserted anywhere (inside messages and SysEx too)."""
    out = bytearray()
    running = 0
    for m in messages:
        s = m[0]
        if s < 0xF0 and s == running and rng.random() < 0.7:
            out += m[1:]
        else:
            out += m
        running = s if s < 0xF0 else (running if s >= 0xF8 else 0)
    for t in timing:
        out.insert(rng.randrange(len(out) + 1), t)
    return bytes(out)


def make_rng(seed):
    return random.Random(seed)
