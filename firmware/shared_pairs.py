"""What the merger does for an input/output pair that several routes transform: a keyboard
split or a layer onto one output (config format 2, routes that each transform sharing an input
and an output). The pair's transform is ``(None, parts, ...)`` (``router.build_transforms``):
a message leaves once per part that sends it, in route order; a system message once, as it
came. ``firmware.start`` imports this module only when some preset has such a pair, so a box
without one does not carry its code (the heap), and hands it to the merger in ``route_hooks``.

Every copy of a note-on (or sustain-on) owes its own off, and its off leaves as the same copies:
the parts are those of the on, since a switch that changes a pair's transform ends its notes
first (``Merger.set_input_routes``). ``firmware/output_queues.py`` sizes the queues' room for
``MAX_COPIES`` copies. Allocation-free: ints, the merger's tables and the parts' own.
"""

from micropython import const

from firmware.merger import DROP_QUEUE_FULL, DROP_SYSEX_BUSY, DROP_TOO_MANY_NOTES, N_DROP_REASONS
from firmware.output_queues import PROMISED

_NONE = const(0xFF)
_MAX_OWED = const(64)  # firmware.output_queues' MAX_OWED
_MAX_COPIES = const(4)  # and its MAX_COPIES (tests/test_merger.py checks both)
_OWN = const(0x40)  # firmware.merger's: a late record of a value the box sent itself


def _data1(part, s, d1):
    # The first data byte ``part`` sends for ``(s, d1)``: the note or controller as its tables
    # make it (above 127: not sent), else as it came.
    hi = s & 0xF0
    t = part[1] if hi <= 0xA0 else part[4] if hi == 0xB0 else None
    return d1 if t is None else t[d1]


def copies(m, parts, s, d1):
    # How many messages ``parts`` make of ``(s, d1)`` (a system message: one).
    if s >= 0xF0:
        return 1
    k = 0
    for part in parts:
        if part[0][s] and _data1(part, s, d1) <= 127:
            k += 1
    return k


def late_takes(m, o, i, parts, s, d1):
    # Whether output ``o``'s late queue takes every copy of this value: a slot for each copy
    # whose key (as its part sends it) is not waiting already.
    q = m.queues
    need = 0
    for part in parts:
        es = m._status(part, s)
        e1 = _data1(part, s, d1)
        if es and e1 <= 127 and not q.late_values(1 << o, i, es, e1, 0, 0) >> 8:
            need += 1
    return q.late_free(o) >= need


def own(m, i, o, late, parts, s, d1, d2):
    # ``Merger._own_value`` for output ``o``: the reset on each part's channel that carries it.
    for part in parts:
        es = m._status(part, s)
        if not es:
            continue
        if not late >> o & 1:
            m._write(o, es | (i << 8), es, d1, d2, 2)
        elif m.queues.late_values(1 << o, i | _OWN, es, d1, d2):
            m.lated |= 1 << o


def place(m, i, o, parts, key, s, d1, d2, n, off, late, grow):
    # ``Merger._place`` for output ``o`` of such a pair: ``off``, ``late``, ``grow`` as there,
    # for this output (its bit or 0). Keeps ``owed`` itself; returns the output's bit when it
    # took a late record (else 0).
    bit = 1 << o
    if s >= 0xF0:
        m._write(o, key, s, d1, d2, n)
        return 0
    owed = m.owed
    track = m.track
    hi = s & 0xF0
    if grow:
        # _emit counted one off owed; the copies owe one each. More than the queues keep room
        # for (firmware/output_queues.py) and the on is not sent here at all.
        k = copies(m, parts, s, d1)
        if owed[o] + k - 1 > _MAX_OWED - 1 + _MAX_COPIES:
            owed[o] -= 1
            if hi == 0xB0:
                track.sustain[i][s & 0x0F] &= ~bit
            else:
                track.notes[i][s & 0x0F][d1] &= ~bit
            m.dropped[o * N_DROP_REASONS + DROP_TOO_MANY_NOTES] += k
            return 0
        if k > 1:
            owed[o] += k - 1
        if owed[o] >= _MAX_OWED:
            track.full |= bit
    q = m.queues
    held = m.owner[o] != _NONE or m.lated & bit
    lated = 0
    sent = 0
    for part in parts:
        es = m._status(part, s)
        if not es:
            continue  # this part's route does not carry it
        e1 = _data1(part, s, d1)
        if e1 > 127:
            continue
        e2 = d2
        vt = part[2]
        if vt is not None and hi == 0x90 and d2:
            e2 = vt[d2]
        if hi == 0xB0 and (e1 == 1 or e1 == 64):
            m.held[i][16 | (s & 0x0F)] |= bit  # mapped onto a held controller
        sent += 1
        if off:
            if held:
                q.late_put(o, i, es, e1, e2, PROMISED)
                lated = bit
            else:
                m._write(o, es | (i << 8), es, e1, e2, n)
                owed[o] -= 1
        elif late:
            r = q.late_values(bit, i, es, e1, e2)
            if r > 0xFF:
                m.coalesced[o] += 1
            elif r:
                lated = bit
            else:
                w = m.owner[o]
                reason = DROP_SYSEX_BUSY if w != _NONE and w != i else DROP_QUEUE_FULL
                m.dropped[o * N_DROP_REASONS + reason] += 1
        else:
            m._write(o, es | (i << 8), es, e1, e2, n)
    if off:
        if not sent:
            owed[o] -= 1  # its on was not sent either: the one off counted for it
        if owed[o] < _MAX_OWED:
            track.full &= ~bit
    return lated
