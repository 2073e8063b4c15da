"""What config format 2's routing does on an event, for the presets that use it: an input that
others follow plays a note on another channel (``follow_moved``), a preset is entered (its
``on_enter`` program changes: ``enter``, ``send_own``), a program change selects a preset
(``selector``). ``firmware.start`` imports this module only when some preset uses follow,
on_enter or preset_select, so a box without them does not carry its code (the heap).

Allocation-free once wired: the merger and the box call these with ints and their own tables.
"""

from micropython import const

from firmware.merger import DROP_QUEUE_FULL, N_DROP_REASONS

_NONE = const(0xFF)
_OFF_BYTES = const(3)


def follow_moved(m, j, ch):
    # Input ``j``'s note-on moved to channel ``ch`` (or came first): the kinds that follow it
    # (merger ``m``'s pairs with a follow table) leave their old channel, which first gets what
    # they left held there reset, as on a route change (``Merger._strand_controllers``).
    n_out = m.n_out
    track = m.track
    for i in range(len(m.state)):
        outs_bend = 0
        outs_cc = 0
        for o in range(n_out):
            x = m.xform[i * n_out + o]
            if x is None:
                continue
            if x[0] is None:
                # A pair several routes transform: any of its parts that follows j.
                for part in x[1]:
                    outs_bend |= _follows(part[5], 0xE, j) << o
                    outs_cc |= _follows(part[5], 0xB, j) << o
            else:
                outs_bend |= _follows(x[5], 0xE, j) << o
                outs_cc |= _follows(x[5], 0xB, j) << o
        if not outs_bend | outs_cc:
            continue
        sustain = track.sustain[i]
        held = m.held[i]
        for c in range(16):
            bend = held[c] & outs_bend
            cc = (held[16 | c] | sustain[c]) & outs_cc
            if bend:
                m._own_value(i, bend, 0xE0 | c, 0, 0x40)  # centred bend
                held[c] &= ~bend
            if cc:
                m._own_value(i, cc, 0xB0 | c, 1, 0)  # mod wheel 0
                m._own_value(i, cc, 0xB0 | c, 64, 0)  # sustain 0
                held[16 | c] &= ~cc
                pedal = sustain[c] & outs_cc
                if pedal:
                    sustain[c] &= ~pedal  # no longer sounding there: its off goes now
                    m._place(i, pedal, (0xB0 | c) | (i << 8), 0xB0 | c, 64, 0, 2, pedal)
    m.follow_ch[j] = ch


def _follows(follow, hi, j):
    # 1 when a transform's ``follow`` table (or None) sends kind ``hi`` on input j's channel.
    return 1 if follow is not None and follow[hi] == j + 1 else 0


def send_own(m, o, s, d1, d2, n):
    # A message of the box's own (a preset's on_enter) to merger ``m``'s output ``o``: into the
    # ring with room kept for every owed off, else the late queue; dropped and counted
    # (``queue_full``) when neither can take it. Never running status (key -1).
    bit = 1 << o
    if not m.present & bit:
        return
    q = m.queues
    if m.owner[o] == _NONE and not m.lated & bit and q.ring_free(o) >= n + 1 + _OFF_BYTES * m.owed[o]:
        m._write(o, -1, s, d1, d2, n)
    elif q.late_values(bit, len(m.state), s, d1, d2):
        m.lated |= bit
        m.busy |= bit
        m.queued |= bit
    else:
        m.dropped[o * N_DROP_REASONS + DROP_QUEUE_FULL] += 1


def enter(box, index):
    # Preset ``index``'s on_enter (``box.on_enter[index]``: 4 bytes a message, output, status,
    # data1, data2): bank select and program change messages.
    records = box.on_enter[index]
    if records is not None:
        m = box.merger
        m.now = box.ticks_ms()  # the ports pace by it (at power-up it is not set yet)
        for k in range(0, len(records), 4):
            s = records[k + 1]
            send_own(m, records[k], s, records[k + 2], records[k + 3], 1 if s >= 0xC0 else 2)


def selector(box):
    # The merger's ``select(program)`` for config preset_select: a program change n selects
    # preset n + 1 when the config has it (between messages), as a button does.
    def select(program):
        if program != box.preset and box.switch_preset(program):
            box.announce = program

    return select
