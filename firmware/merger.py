"""The byte path: parse every input, route each message, and hand it whole to every output, or
make its input wait."""

# Each pass ``app`` calls ``feed()`` with what an input read, ``resume()`` for an input that is
# waiting, ``service()`` once per ms tick for timeouts, and ``write_outputs()`` when anything is
# queued. The rules live in rooms a reader can check one at a time:
#
# - ``firmware.output_queues``: per output a ring (whole messages, in order), a lane for timing
#   bytes, and a late queue; full and empty cannot be confused.
# - ``firmware.tracking``: the notes and sustain pedals sounding on each output; every one is owed
#   its off, and the queues keep room for it.
# - ``firmware.clock_master``: which input's clock and transport pass, and the clock dividers.
# - SysEx arbitration (below, in this module): who holds an output while its SysEx streams.
#
# The merge rules (docs/merger.md has them in full), as ``_emit`` applies them to each message:
# 1. Timing bytes (F8 FA FB FC, FE when routed) take the lane at once; they never wait. Everything
#    else, System Reset (FF) included, keeps its place among its input's messages.
# 2. An output can take a message when no other input's SysEx holds it, its late queue is empty,
#    and its ring has room for the message plus the room kept for every off it owes. An off the
#    output owes always goes on: into the ring, or the late queue while it must wait.
# 3. When an output cannot take a message, its input waits: it stops at that message, and its
#    bytes wait in its ``carry`` (a USB input is not read while its carry cannot take a read:
#    USB's own back-pressure). So each input's order is kept on every output, always.
# 4. A DIN input whose carry is full cannot wait longer (its UART would overflow): the waiting
#    messages in the way of its next read go on now (``resume(i, room)``), dropped and counted
#    where they are still blocked; a SysEx is dropped whole at its F0 there, never cut.
# 5. A controller / bend / pressure value that finds its output blocked goes to the late queue,
#    where a waiting value with the same key takes the new value (coalesced): the newest value
#    always arrives, and a fast sweep does not make its input wait.
# 6. SysEx: an input's SysEx holds every output it streams to from its F0 until its F7 or any
#    status byte (then closed with F7), or until ``_SYSEX_TIMEOUT_MS`` without a byte of it (timing
#    bytes do not count). It starts only when all its outputs are free; a USB SysEx of any length
#    therefore reaches the DIN outputs whole.
#
# Why it is written this way: on the RP2040 a method call costs about 1,600 cycles and an
# attribute load 220, against about 4,500 cycles for a whole minimal parser step (design notes
# 3b). So the per-byte work stays in ``feed``'s loop with its state in locals; methods are called
# per message (``_emit``) or for rare bytes (real-time, SysEx), never per ordinary byte; the
# common message (nothing busy, no transform) is written inline; output masks are walked through
# ``BITS``.
#
# Nothing here allocates once constructed: queues are fixed bytearrays, counters small ints.
#

from micropython import const

from firmware.clock_master import BITS, MASTER_AUTO, MASTER_INTERNAL, MAX_OUTPUTS, NONE, ClockMaster  # noqa: F401  (app imports the modes here; tests read the rest)
from firmware.midi import DATA_LENGTH
from firmware.output_queues import MAX_OWED, PROMISED, OutputQueues  # noqa: F401  (tests read MAX_OWED here)
from firmware.ports import Wires
from firmware.ticks import ticks_diff
from firmware.tracking import SILENT_NOTES, Tracking

# The queue geometry the byte path writes inline, as this module's own consts: MicroPython folds
# a const() only within its module (an imported name is a global lookup on every use). They are
# firmware.output_queues' figures; tests/test_merger.py checks they agree (a check here at import
# would cost 256 bytes of heap on the board).
_RING_SIZE = const(512)
_RING_MASK = const(511)
_RING_WRAP = const(1023)
_LANE_SIZE = const(32)
_LANE_MASK = const(31)
_LANE_WRAP = const(63)
_PRESSURE = const(256)
_OFF_BYTES = const(3)
_NONE = const(0xFF)
_MAX_OWED = const(64)
_MORE_COPIES = const(18)  # ring room the further copies of a message may take (3 more, 3 + 3 bytes each)
_OWN = const(0x40)  # in a late record's input byte: a value the box sent itself (_own_value)
_NO_TABLE = const(0x80)  # firmware.tracking's NO_TABLE
_USB_OUTPUT = const(4)  # firmware.router's USB_OUTPUT



# What an input that must wait keeps: enough for a DIN input to wait about 50 ms at full rate
# plus one read (app reads at most ports.READ_SIZE a pass).
CARRY_SIZE = const(224)
# What ``resume`` feeds of a waiting input's carry a pass, beyond what rule 4 forces: after a
# SysEx the inputs it held go on a message a pass, not a whole carry in one (a 190 ms USB SysEx
# held the demo's Digitakt: the pass that forwarded its carry took 4.6 ms on the board engine;
# 16 bytes were 8 running-status notes, 3.25 ms). An input whose carry falls behind its wire
# fills it, and rule 4 then feeds as much as its next read needs room for.
_RESUME_BYTES = const(3)
_SILENT = bytes(16)  # a per-channel table with nothing sounding
_UNHELD = bytes(32)  # a held-controllers table with nothing held
_SYSEX_START_FREE = const(64)  # ring room a SysEx needs beyond the owed offs to start
_SYSEX_TIMEOUT_MS = const(500)
_ALL_NOTES = const(2048)  # 16 channels of 128 notes: a whole input in one ``_strand_notes``
_STRAND_PART = const(24)  # notes a part of a route change's offs scans (``strand_part``)
_SENSING_TIMEOUT_MS = const(300)

# Drop reasons, indexes into the per-output counters (messages not delivered; a SysEx is one).
DROP_QUEUE_FULL = const(0)  # the output's queue was full and the input could not wait
DROP_SYSEX_BUSY = const(1)  # another input's SysEx held the output and the input could not wait
_DROP_SYSEX_OVERFLOW = const(2)  # a SysEx cut (closed with F7) because its input could not wait
DROP_TOO_MANY_NOTES = const(3)  # a note-on / sustain-on beyond the offs an output may owe
_DROP_REALTIME_FULL = const(4)  # the timing lane was full
N_DROP_REASONS = const(5)
DROP_REASON_NAMES = ("queue_full", "sysex_busy", "sysex_overflow", "too_many_notes", "realtime_full")


def _lefts():
    # Data bytes a status byte starts: 2 for two, 3 for one (a marker: "one left, the last"),
    # 0 for none.
    t = bytearray(256)
    for s in range(0x80, 0xF8):
        n = DATA_LENGTH[s]
        t[s] = 2 if n == 2 else (3 if n == 1 else 0)
    return t


_LEFT = _lefts()
del _lefts  # run once: its code need not stay in the heap


def _followed(follow):
    # The inputs a transform's ``follow`` table (or None) follows, as a bitmask.
    bits = 0
    if follow is not None:
        for k in follow:
            if k:
                bits |= 1 << (k - 1)
    return bits


class Merger:
    # Parsers, routing tables and output queues for ``n_in`` inputs and ``n_out`` outputs.

    # The fields firmware/merger_setup.py's setup_merger sets, which says what each holds
    # (annotations only: nothing at run time).
    n_out: int
    state: list
    data1: bytearray
    cur_mask: bytearray
    masks: list
    xouts: list
    xform: list
    follow_ch: bytearray
    follow_in: int
    held: list
    selector: int
    route_hooks: "tuple | None"
    carry: list
    carry_start: list
    carry_end: list
    stalled: int
    forcing: int
    late_to: int
    queues: OutputQueues
    track: Tracking
    clock_master: ClockMaster
    rings: list
    heads: list
    tails: list
    out_key: list
    owed: bytearray
    wires: Wires
    direct: int
    direct_timing: int
    present: int
    msg: bytearray
    queued: int
    owned: int
    lated: int
    pressed: int
    busy: int
    owner: bytearray
    sysex_to: bytearray
    sysex_held: bytearray
    sysex_last: list
    last_rx: list
    sensing: bytearray
    watch: int
    now: int
    serviced: int
    dropped: list
    coalesced: list
    stray: list
    messages_in: list
    sysex_timeouts: int

    def __init__(self, n_in, n_out, usb=-1):
        # Its state and rooms are set up by start-up code, which leaves the heap once the box
        # runs (app): firmware/merger_setup.py, ``setup_merger``, names and explains each field.
        from firmware import merger_setup

        merger_setup.setup_merger(self, n_in, n_out, usb)

    # -- configuration -----------------------------------------------------------------

    def set_input_routes(self, i, masks, transforms):
        # Input ``i``'s part of ``merger_setup.set_routes``: a preset switch installs one input
        # a ms tick (app.Box.switch_preset), so no pass holds the loop for all of them.
        #
        # A sounding note (or sustain) whose output loses its route, or whose transform changes,
        # gets its off now, through the old transform, so it ends exactly as it began.
        n_out = self.n_out
        base = i * n_out
        xform = self.xform
        changed = 0
        if transforms is not None or self.xouts[i]:
            # Transforms before or after: compare each pair's (one loop, 6 outputs).
            for o in range(n_out):
                new = transforms[base + o] if transforms else None
                old = xform[base + o]
                if (new[3] if new else None) != (old[3] if old else None):
                    changed |= 1 << o
        track = self.track
        at = track.strand_at
        if at >= 0:
            # An earlier change's offs still to send: all of them now, before its routes go.
            self._strand_notes(at >> 11, self.masks[at >> 11], self.present, at & 0x7FF, False)
            track.strand_at = -1
        src = masks[i]
        if changed:
            # A transform changes: the notes it sent end through it, so all before it goes.
            self._strand_notes(i, src, self.present & ~changed, 0, False)
        elif track.notes[i] != track.none_taken:
            # Else the offs can follow the new routes in parts (``strand_part``, a ms tick each
            # in a preset switch): a note whose output the new routes no longer reach keeps that
            # output in its table until then (an off on the input clears only the outputs it
            # goes to), and scanning a channel's 128 notes takes the board about 2 ms.
            track.strand_at = i << 11
        self._strand_controllers(i, src, self.present & ~changed)
        self.masks[i] = src
        st = self.state[i] & 0xFF
        if 0 < st < 0xF0:
            self.cur_mask[i] = src[st]  # a channel message under way follows the new routes
        xouts = 0
        if transforms is not None:
            for o in range(n_out):
                new = transforms[base + o]
                xform[base + o] = new
                if new:
                    xouts |= 1 << o
        elif self.xouts[i]:
            for o in range(n_out):
                xform[base + o] = None
        self.xouts[i] = xouts
        # The inputs some pair follows (their note-on channel is watched): over the transformed
        # pairs only, so a preset without transforms pays one test per input.
        follow_in = 0
        for j in range(len(self.xouts)):
            for o in BITS[self.xouts[j]]:
                x = xform[j * n_out + o]
                if x[0] is None:
                    for part in x[1]:
                        follow_in |= _followed(part[5])
                else:
                    follow_in |= _followed(x[5])
        self.follow_in = follow_in

    def set_master(self, mode):
        # Clock master: ``MASTER_AUTO``, ``MASTER_INTERNAL`` or an input index.
        self.clock_master.set_master(mode)

    def set_clock_outputs(self, send, divide):
        # ``send``: bitmask of outputs that get clock and transport; ``divide[o]``: pass one
        # tick in that many (1 = all).
        self.clock_master.set_outputs(send, divide)

    # -- the byte path -------------------------------------------------------------------

    def feed(self, i, buf, k, end):
        # Parse ``buf[k:end]`` (bytes read from input ``i``, or its carry) and pass on what it
        # completes. Stops at a message an output cannot take (rule 3): the rest is kept in the
        # input's carry. Returns where it stopped (``end`` when it took everything).
        #
        # State per input: the status in force (running status; 0xF0 inside a SysEx) and the data
        # bytes still expected (``left``: 2 then 1 for a two-byte message, 3 for a one-byte
        # message, 0 for none) in ``state``; the first data byte in ``data1``; the message's
        # output mask in ``cur_mask``. A byte is taken only once what it completes was passed on,
        # so a stop leaves the state as it was before that byte.
        st = self.state[i]
        status = st & 0xFF
        left = st >> 8
        got = 0
        while k < end:
            b = buf[k]
            k += 1
            if b < 0x80:
                if left == 1:
                    d1 = self.data1[i]
                    if self._emit(i, self.cur_mask[i], status, d1, b, 2):
                        k -= 1
                        break
                    got += 1
                    left = 2
                    if status >= 0xF0:
                        # Song position: a system common message has no running status.
                        if status == 0xF2:
                            self.clock_master.song_position(i, d1 | (b << 7))
                        status = 0
                        left = 0
                elif left == 2:
                    self.data1[i] = b
                    left = 1
                elif left == 3:
                    if (status | i << 8) == self.selector:
                        # A program change that selects a preset (config preset_select): not
                        # forwarded; the switch happens now, between messages (what it changes
                        # of this input's state, cur_mask, this status never reads).
                        got += 1
                        self.route_hooks[0](b)  # type: ignore[index]  # set whenever selector is
                        continue
                    if self._emit(i, self.cur_mask[i], status, b, 0, 1):
                        k -= 1
                        break
                    got += 1
                    if status >= 0xF0:
                        status = 0
                        left = 0
                elif status == 0xF0:
                    # A SysEx's data bytes, the whole run up to the next status or timing byte
                    # in one call; it stops short where an output has no room (rule 3).
                    k = self._sysex_run(i, buf, k - 1, end)
                    if k < end and buf[k] < 0x80 and not self.forcing:
                        break
                else:
                    self.stray[i] += 1
            elif b >= 0xF8:
                if b == 0xFF:
                    # System Reset keeps its place (rule 1) and resets running status on output.
                    if self._emit(i, self.masks[i][0xFF], 0xFF, 0, 0, 0):
                        k -= 1
                        break
                    got += 1
                else:
                    self.realtime(i, b)
            else:
                if status == 0xF0:
                    # Any status byte ends a SysEx; F7 is its proper end, anything else
                    # interrupts it and the outputs get an F7 to close it cleanly.
                    self._sysex_end(i)
                    status = 0
                    left = 0
                    if b == 0xF7:
                        continue
                if b < 0xF0:
                    status = b
                    left = _LEFT[b]
                    self.cur_mask[i] = self.masks[i][b]
                elif b == 0xF0:
                    if self._sysex_start(i):
                        k -= 1
                        break
                    status = 0xF0
                    left = 0
                elif DATA_LENGTH[b] == 0xFF:
                    # F7 with no SysEx open, or an undefined status (F4 F5 F9 FD).
                    status = 0
                    left = 0
                    self.stray[i] += 1
                else:
                    # System common: cancels running status on input and output.
                    mask = self.masks[i][b]
                    if b == 0xF2 or b == 0xF3:
                        # Song position/select only from the clock master, to clocked outputs.
                        if not self.clock_master.allows(i):
                            mask = 0
                        mask &= self.clock_master.send
                    if _LEFT[b] == 0:
                        if self._emit(i, mask, b, 0, 0, 0):
                            k -= 1
                            break
                        got += 1
                        status = 0
                        left = 0
                    else:
                        status = b
                        left = _LEFT[b]
                        self.cur_mask[i] = mask
        self.state[i] = status | (left << 8)
        if got:
            self.messages_in[i] += got
        if k < end:
            self._wait(i, buf, k, end)
        return k

    def _emit(self, i, mask, s, d1, d2, n):
        # One whole message from input ``i`` to the outputs in ``mask``. Returns 1 when the
        # input must wait (nothing was done: rule 3), else 0.
        hi = s & 0xF0
        offs = 0
        grow = 0
        full = 0
        if hi <= 0x90 or (hi == 0xB0 and d1 == 64):
            # Notes and sustain (the tracking room): an on makes each output it reaches owe
            # an off; an off an output owes is always passed on.
            track = self.track
            if hi == 0xB0:
                table = track.sustain[i]
                idx = s & 0x0F
                on = d2 >= 64
            else:
                table = track.notes[i][s & 0x0F]
                idx = d1
                on = hi == 0x90 and d2
            if on:
                if self.follow_in >> i & 1 and hi == 0x90 and self.follow_ch[i] != s & 0x0F:
                    self.route_hooks[1](self, i, s & 0x0F)  # type: ignore[index]  # set whenever follow_in is
                old = table[idx]
                if old < _NO_TABLE:
                    grow = mask & ~old
                    full = grow & track.full
                else:
                    # The channel's first note takes a table; with none to take it is not sent
                    # (too_many_notes), so its off is not owed (firmware/tracking.py).
                    old = 0
                    table = track.take(i, s & 0x0F, self.now)
                    grow = mask
                    full = grow & track.full if table is not None else grow
                if full:
                    # Outputs that owe MAX_OWED offs do not get it (counted once it goes on).
                    mask &= ~full
                    grow &= ~full
            else:
                offs = table[idx] & mask
        elif hi == 0xE0 or (hi == 0xB0 and d1 == 1):
            # A bent pitch or a mod wheel off zero: the outputs it reached hold it until a
            # centred value, or until a route change resets it there (_strand_controllers).
            idx = (s & 0x0F) if hi == 0xE0 else 16 | (s & 0x0F)
            if (d2 if hi == 0xB0 else (d1 | d2 << 7) != 0x2000):
                self.held[i][idx] |= mask
            else:
                self.held[i][idx] &= ~mask
        if mask & self.busy & ~offs:
            mask = self._admit(i, mask & ~offs, grow, s, d1, n)
            if mask < 0:
                return 1
            mask |= offs
            grow &= mask
        if grow:
            # Each output the on reaches now owes its off (firmware/tracking.py's rule, applied
            # here inline: a call costs about 1,600 cycles on the RP2040).
            table[idx] = old | grow
            owed = self.owed
            for o in BITS[grow]:
                c = owed[o] + 1
                owed[o] = c
                if c >= _MAX_OWED:
                    track.full |= 1 << o
        elif offs:
            # Those outputs get the off now: the note (or pedal) no longer sounds there; the owed
            # count drops when the off is written (below, or in _place).
            table[idx] &= ~offs
        if full:
            for o in BITS[full]:
                self.dropped[o * N_DROP_REASONS + DROP_TOO_MANY_NOTES] += (
                    self._copies(i, o, s, d1) if self.xouts[i] >> o & 1 else 1)
        key = s | (i << 8) if s < 0xF0 else -2
        if mask & (self.xouts[i] | self.busy):
            if self.late_to or mask & (self.xouts[i] | self.owned | self.lated):
                self._place(i, mask, key, s, d1, d2, n, offs, grow)
                return 0
            # Only pressed: _admit has checked each ring's room, so it goes inline below (at
            # full rate most messages come this way, and _place's calls cost 8,000 cycles an
            # output on the board).
        # The common message: every output free, no transform. An output with nothing queued
        # gets it straight away (one ``send``, the wire-rate case); the others in their ring,
        # where room is certain (not pressed: at least _PRESSURE free; pressed: _admit checked).
        dm = mask & self.direct & ~self.queued
        if dm:
            mask ^= dm
            mb = self.msg
            mb[0] = s
            mb[1] = d1
            mb[2] = d2
            end = n + 1
            short = self.wires.send_message(dm, mb, end, self.now, self.out_key, key)
            if short:
                took = self.wires.took
                for o in BITS[short]:
                    self._rest(o, key, took[o], end)
        if mask:
            self.queued |= mask
            rings = self.rings
            tails = self.tails
            heads = self.heads
            out_key = self.out_key
            for o in BITS[mask]:
                ring = rings[o]
                t = tails[o]
                # Running status on output (status omitted) and a full message are written
                # out separately: merging them measured slower on the VM (make bench).
                if out_key[o] == key:
                    ring[t & _RING_MASK] = d1
                    t = (t + 1) & _RING_WRAP
                    if n == 2:
                        ring[t & _RING_MASK] = d2
                        t = (t + 1) & _RING_WRAP
                else:
                    ring[t & _RING_MASK] = s
                    t = (t + 1) & _RING_WRAP
                    if n:
                        ring[t & _RING_MASK] = d1
                        t = (t + 1) & _RING_WRAP
                        if n == 2:
                            ring[t & _RING_MASK] = d2
                            t = (t + 1) & _RING_WRAP
                    out_key[o] = key if key >= 0 and self.queues.running_status[o] else -1
                tails[o] = t
                if _RING_SIZE - ((t - heads[o]) & _RING_WRAP) < _PRESSURE:
                    self.pressed |= 1 << o
                    self.busy |= 1 << o
        if offs:
            # The owed offs were written (ring or port): paid.
            owed = self.owed
            for o in BITS[offs]:
                owed[o] -= 1
            self.track.full &= ~offs
        return 0

    def _admit(self, i, mask, grow, s, d1, n):
        # Which outputs in ``mask`` can take an ordinary message now (rule 2)? All: ``mask``.
        # Some not: a value goes to the late queue there (``late_to``) when it takes it; else
        # -1 when the input can wait; else (rule 4) the mask without the blocked outputs, where
        # it is dropped and counted (a value: ``late_to``, dropped there if no slot is free).
        owner = self.owner
        owed = self.owed
        heads = self.heads
        tails = self.tails
        lated = self.lated
        q = self.queues
        blocked = q.reserved if q.reserver != i else 0
        # Late records wait there and no SysEx of this input's holds it: blocked (at saturation
        # that is every output, and each one the loop below takes costs about 5,000 cycles).
        blocked |= lated & ~self.owned
        for o in BITS[mask & self.busy & ~blocked]:
            w = owner[o]
            if w != _NONE and w != i:
                blocked |= 1 << o
                continue
            # (Held by its own SysEx, a System Reset inside it: late records wait anyway.)
            need = n + 1 + _OFF_BYTES * owed[o]
            if grow >> o & 1:
                need += _OFF_BYTES
            if _RING_SIZE - _MORE_COPIES - ((tails[o] - heads[o]) & _RING_WRAP) < need:
                # (One compare as ever: the two consts fold.) The room is tight: a pair several
                # routes transform also takes room for each further copy (and its off).
                free = _RING_SIZE - ((tails[o] - heads[o]) & _RING_WRAP)
                if free < need:
                    blocked |= 1 << o
                elif self.xouts[i] >> o & 1:
                    more = self._copies(i, o, s, d1) - 1
                    if more > 0 and free < need + more * (n + 1 + (_OFF_BYTES if grow >> o & 1 else 0)):
                        blocked |= 1 << o
        self.late_to = 0
        blocked &= mask
        if not blocked:
            if q.reserver == i:
                self._turn_over()  # it goes on
            return mask
        hi = s & 0xF0
        value = hi == 0xA0 or hi == 0xB0 or hi == 0xD0 or hi == 0xE0
        if value and (self.forcing or self._late_takes(i, blocked, s, d1)):
            # A value never waits where the late queue takes it (rule 5), from any input: a fast
            # controller sweep keeps the newest value, not a growing delay. Forced on (rule 4),
            # it goes to the late queue whether or not a slot is free (dropped and counted
            # there where none is): no need to ask (a call an output, at saturation).
            self.late_to = blocked
            if q.reserver == i:
                self._turn_over()
            return mask
        if not self.forcing:
            self._wait_turn(i, blocked)
            # The outputs another input's SysEx holds (its own: ``sysex_to[i]``).
            self.sysex_held[i] = blocked & self.owned & ~self.sysex_to[i]
            return -1
        if q.reserver == i:
            self._turn_over()  # forced on by rule 4
        xouts = self.xouts[i]
        dropped = self.dropped
        if not (xouts | self.owned) & blocked:
            # One message an output, for want of room (at saturation, nearly every message).
            for o in BITS[blocked]:
                dropped[o * N_DROP_REASONS + DROP_QUEUE_FULL] += 1
            return mask & ~blocked
        for o in BITS[blocked]:
            w = owner[o]
            reason = DROP_SYSEX_BUSY if w != _NONE and w != i else DROP_QUEUE_FULL
            dropped[o * N_DROP_REASONS + reason] += self._copies(i, o, s, d1) if xouts >> o & 1 else 1
        return mask & ~blocked

    def _wait_turn(self, i, blocked):
        # Input ``i`` waits for the outputs in ``blocked`` (rule 3). When the turn is its own,
        # they are the reservation, and ``busy`` (owned | lated | pressed | reserved, as
        # _settle works it out) follows it: a reservation that changes leaves no stale bit.
        reserved = self.queues.wait_for(i, blocked, self.stalled)
        if reserved:
            self.busy = self.owned | self.lated | self.pressed | reserved

    def _turn_over(self):
        # The input whose turn it was has gone on: its reservation leaves ``busy``.
        self.queues.turn_over()
        self.busy = self.owned | self.lated | self.pressed

    def _late_takes(self, i, blocked, s, d1):
        # Whether every output in ``blocked`` has a late slot for this value, or a waiting value
        # with its key (as transformed for that output) to replace.
        q = self.queues
        xouts = self.xouts[i]
        plain = blocked & ~xouts
        if plain:
            took = q.late_values(plain, i, s, d1, 0, 0)
            if (took | took >> 8) & plain != plain:
                return False
        base = i * self.n_out
        for o in BITS[blocked & xouts]:
            x = self.xform[base + o]
            if x[0] is None:
                if not self.route_hooks[2].late_takes(self, o, i, x[1], s, d1):  # type: ignore[index]
                    return False
                continue
            e1 = d1
            t = x[1] if (s & 0xF0) <= 0xA0 else x[4] if (s & 0xF0) == 0xB0 else None
            if t is not None:
                e1 = t[d1]  # above 127: not sent there
            if not q.late_values(1 << o, i, self._status(x, s), e1, 0, 0):
                return False
        return True

    def _place(self, i, mask, key, s, d1, d2, n, offs, grow=0):
        # The checked placement, output by output: transforms (status map, transpose, velocity
        # table; a note pushed out of 0..127 is not sent, nor is its off), owed offs (ring, or
        # late queue while another input's SysEx holds the output or late records wait), values
        # sent late by _admit, and everything else into the ring or straight to the port.
        # ``grow``: the outputs a note-on (or sustain-on) now owes its off (_emit).
        xouts = self.xouts[i]
        late_to = self.late_to
        self.late_to = 0
        owner = self.owner
        q = self.queues
        hi = s & 0xF0
        base = i * self.n_out
        lated = 0  # outputs that got a late record
        paid = 0  # outputs whose owed off was written (or needs none: not sent)
        # A value late on outputs that take it as it is: one call for them all (at saturation
        # every value comes this way, to every output); a transformed output's below.
        late = late_to & ~xouts  # the outputs the late queue was asked to take it
        took = q.late_values(late, i, s, d1, d2) if late else 0
        mask &= ~late
        xform = self.xform
        for o in BITS[mask]:
            bit = 1 << o
            es = s
            e1 = d1
            e2 = d2
            if xouts & bit:
                smap, nt, vt, _, ct, f = xform[base + o]
                if smap is None:
                    # Several routes transform this pair: nt holds their parts.
                    lated |= self.route_hooks[2].place(  # type: ignore[index]  # set with such pairs
                        self, i, o, nt, key, s, d1, d2, n, offs & bit, late_to & bit, grow & bit)
                    continue
                es = smap[s]
                if hi <= 0xA0:
                    if nt is not None:
                        e1 = nt[d1]  # the route's notes range and transpose
                    if vt is not None and hi == 0x90 and d2:
                        e2 = vt[d2]
                elif hi == 0xB0 and ct is not None:
                    e1 = ct[d1]  # the route's controllers and cc_map
                    if e1 == 1 or e1 == 64:
                        self.held[i][16 | (s & 0x0F)] |= bit  # mapped onto a held controller
                if f is not None and f[hi >> 4]:
                    es = self._status(xform[base + o], s)
                if e1 > 127:  # router.DROP: outside the route's notes or controllers
                    if offs & bit:
                        paid |= bit  # its on was not sent either
                    continue
            ekey = es | (i << 8) if key >= 0 else key
            if offs & bit:
                # Held by a SysEx (another input's, or this input's own when a switch or a loss
                # ends its notes mid-SysEx), or behind late records: the late queue, in order.
                if owner[o] != _NONE or self.lated & bit:
                    q.late_put(o, i, es, e1, e2, PROMISED)
                    lated |= bit
                else:
                    self._write(o, ekey, es, e1, e2, n)
                    paid |= bit
            elif late_to & bit:
                took |= q.late_values(bit, i, es, e1, e2)
                late |= bit
            else:
                self._write(o, ekey, es, e1, e2, n)
        if late:
            # Where the value joined the late queue, replaced a waiting one (coalesced), or
            # found no slot (dropped, counted).
            lated |= took & 0xFF
            for o in BITS[took >> 8]:
                self.coalesced[o] += 1
            for o in BITS[late & ~(took | took >> 8)]:
                w = owner[o]
                reason = DROP_SYSEX_BUSY if w != _NONE and w != i else DROP_QUEUE_FULL
                self.dropped[o * N_DROP_REASONS + reason] += 1
        if lated:
            self.lated |= lated
            self.busy |= lated
            self.queued |= lated
        if paid:
            owed = self.owed
            for o in BITS[paid]:
                owed[o] -= 1
            self.track.full &= ~paid

    def _copies(self, i, o, s, d1):
        # How many messages pair (i, o) makes of ``(s, d1)``: one, or for a pair several routes
        # transform, one per part that sends it (firmware.shared_pairs).
        x = self.xform[i * self.n_out + o]
        if x is None or x[0] is not None:
            return 1
        return self.route_hooks[2].copies(self, x[1], s, d1)  # type: ignore[index]  # set with such pairs

    def _status(self, x, s):
        # The status byte transform ``x`` (a pair's, or a part of one) sends for ``s``: its
        # channel remap, or for a kind that follows an input (remap "follow:inN"), that input's
        # last note-on channel (its remap before the input's first note). 0: a part that does
        # not carry ``s``.
        es = x[0][s]
        if not es:
            return 0
        f = x[5]
        if f is not None:
            j = f[s >> 4]
            if j and self.follow_ch[j - 1] != _NONE:
                es = (s & 0xF0) | self.follow_ch[j - 1]
        return es

    def _write(self, o, key, s, d1, d2, n):
        # One message to output ``o`` now (room checked): straight to an idle port, or the ring.
        bit = 1 << o
        if self.direct & bit and not self.queued & bit:
            mb = self.msg
            mb[0] = s
            mb[1] = d1
            mb[2] = d2
            end = n + 1
            # (key -1, the box's own message, never omits its status: -2 matches no output)
            if self.wires.send_message(bit, mb, end, self.now, self.out_key, key if key >= 0 else -2):
                self._rest(o, key, self.wires.took[o], end)
            return
        self.queues.put(o, key, s, d1, d2, n)
        self.queued |= bit
        if _RING_SIZE - ((self.tails[o] - self.heads[o]) & _RING_WRAP) < _PRESSURE:
            self.pressed |= bit
            self.busy |= bit

    def _rest(self, o, key, k, end):
        # The port took only ``k`` bytes of the message in ``self.msg``: the rest waits in the
        # (empty) ring, in front of anything that follows.
        mb = self.msg
        ring = self.rings[o]
        t = self.tails[o]
        if k == 0:
            self.out_key[o] = key if key >= 0 and self.queues.running_status[o] else -1
        while k < end:
            ring[t & _RING_MASK] = mb[k]
            t = (t + 1) & _RING_WRAP
            k += 1
        self.tails[o] = t
        self.queued |= 1 << o

    # -- inputs that wait --------------------------------------------------------------

    def _wait(self, i, buf, k, end):
        # Input ``i`` stopped at ``buf[k]``: the rest waits in its carry.
        if buf is self.carry[i]:
            self.carry_start[i] = k
        else:
            self.keep(i, buf, k, end)
        self.stalled |= 1 << i

    def keep(self, i, buf, k, end):
        # Append ``buf[k:end]`` (read from waiting input ``i``) to its carry. Timing bytes
        # do not wait: they take the lanes now (rule 1).
        carry = self.carry[i]
        size = len(carry)
        s = self.carry_start[i]
        e = self.carry_end[i]
        if e + end - k > size and s:
            j = 0
            while s < e:
                carry[j] = carry[s]
                j += 1
                s += 1
            s = 0
            e = j
        while k < end:
            b = buf[k]
            k += 1
            if 0xF8 <= b < 0xFF:
                self.realtime(i, b)
            elif e < size:
                carry[e] = b
                e += 1
            else:
                self.stray[i] += 1  # cannot happen: app reads a waiting input only into room
        self.carry_start[i] = s
        self.carry_end[i] = e

    def carry_room(self, i):
        # Bytes input ``i``'s carry can still take.
        return len(self.carry[i]) - self.carry_end[i] + self.carry_start[i]

    def resume(self, i, room=0):
        # Try input ``i``'s waiting bytes again (once a pass, before reading it). With ``room``
        # (a DIN input: the bytes its next read may bring), the messages that stand in the way
        # of that much free carry go on by rule 4 instead of waiting, in one feed: the same
        # messages as forcing them one by one, at one call each.
        self.stalled &= ~(1 << i)
        self.sysex_held[i] = 0
        carry = self.carry[i]
        k = self.carry_start[i]
        e = self.carry_end[i]
        forced_end = e + room - len(carry)
        if forced_end > k:
            self.forcing = 1
            k = self.feed(i, carry, k, forced_end)  # forced: takes every byte
            self.forcing = 0
        if e - k > _RESUME_BYTES:
            k = self.feed(i, carry, k, k + _RESUME_BYTES)
            if not self.stalled >> i & 1:
                self.carry_start[i] = k  # the rest goes on next pass, before anything read
                self.stalled |= 1 << i
            return
        k = self.feed(i, carry, k, e)
        if k >= e:
            self.carry_start[i] = 0
            self.carry_end[i] = 0

    # -- timing bytes ------------------------------------------------------------------

    def realtime(self, i, b):
        # Timing bytes bypass the parser state and take each output's lane (rule 1).
        now = self.now
        cm = self.clock_master
        if b == 0xF8:
            # A clock tick, the commonest timing byte: the clock master's rule for it is here
            # (ClockMaster.route has the others'), and it goes out at once where every output
            # can take it (_timing's common case): two calls less on the pass that forwards it
            # (about 4,000 cycles on the board).
            if i != cm.master:
                if cm.master != _NONE or cm.mode != MASTER_AUTO:
                    return  # another input's clock
                cm.master = i  # auto, before any Start: the first input whose clock arrives
            cm.last_clock = now
            cm.ticks += 1
            if cm.tick_sink is not None:
                cm.tick_sink.on_master(b, now)
            mask = self.masks[i][b] & cm.send
            if mask & cm.dividing:
                mask = cm.divide_tick(mask)
            if mask and mask & self.direct_timing == mask and not mask & self.queued:
                mask = self.wires.send_timing(mask, b, now)
                if mask:
                    self._lane(b, mask)
                return
        else:
            if b == 0xFE:
                self.sensing[i] = 1
                self.watch = 1
            mask = cm.route(i, b, self.masks[i][b], now)
        if mask:
            self._timing(b, mask)

    def inject_realtime(self, b):
        # Clock or transport byte ``b`` from the box's own clock (master mode internal), to
        # every output whose clock is on.
        mask = self.clock_master.inject(b, self.present)
        if mask:
            self._timing(b, mask)

    def _timing(self, b, mask):
        # Timing byte ``b`` to the outputs in ``mask``: at once (one ``send``) where nothing
        # else waits before it, else in their lane.
        now = self.now
        dm = mask & self.direct_timing
        waiting = dm & self.queued
        if waiting:
            # An output with messages waiting takes the byte now too when its lane is empty: a
            # timing byte overtakes the ring (rule 1), so it need not wait for the pass's
            # write_outputs. On a DIN wire it may even sit inside a message (MIDI 1.0); USB
            # packs whole messages, so there only between two (its ring's next byte a status).
            q = self.queues
            lane_heads = q.lane_heads
            lane_tails = q.lane_tails
            for o in BITS[waiting]:
                if lane_heads[o] != lane_tails[o] or (
                        o == _USB_OUTPUT and self.rings[o][self.heads[o] & _RING_MASK] < 0x80):
                    dm &= ~(1 << o)
        if dm:
            mask ^= dm
            mask |= self.wires.send_timing(dm, b, now)
        if mask:
            self._lane(b, mask)

    def _lane(self, b, mask):
        # Timing byte ``b`` into the lanes of the outputs in ``mask`` (not 0; a full lane drops it).
        self.queued |= mask
        q = self.queues
        lanes = q.lanes
        lane_heads = q.lane_heads
        lane_tails = q.lane_tails
        for o in BITS[mask]:
            t = lane_tails[o]
            if ((t - lane_heads[o]) & _LANE_WRAP) == _LANE_SIZE:
                self.dropped[o * N_DROP_REASONS + _DROP_REALTIME_FULL] += 1
            else:
                lanes[o][t & _LANE_MASK] = b
                lane_tails[o] = (t + 1) & _LANE_WRAP

    # -- SysEx arbitration (rule 6) ----------------------------------------------------
    # An output is held by at most one input's SysEx (``owner``); while held, only that
    # SysEx's bytes (and timing bytes, and its own input's System Reset) enter its ring.
    # A SysEx byte is written only with room left for the F7 and every owed off, so closing a
    # SysEx never waits.

    def _sysex_start(self, i):
        # Returns 1 when input ``i`` must wait at its F0.
        mask = self.masks[i][0xF0]
        owner = self.owner
        owed = self.owed
        heads = self.heads
        tails = self.tails
        q = self.queues
        blocked = q.reserved & mask if q.reserver != i else 0
        for o in BITS[mask]:
            if (owner[o] != _NONE or self.lated >> o & 1
                    or _RING_SIZE - ((tails[o] - heads[o]) & _RING_WRAP) < _SYSEX_START_FREE + _OFF_BYTES * owed[o]):
                blocked |= 1 << o
        if blocked:
            if not self.forcing:
                self._wait_turn(i, blocked)  # as a message does (_admit)
                return 1
            # The input cannot wait: the SysEx is dropped whole where it would have waited.
            for o in BITS[blocked]:
                self.dropped[o * N_DROP_REASONS + DROP_SYSEX_BUSY] += 1
            mask &= ~blocked
        if q.reserver == i:
            self._turn_over()
        for o in BITS[mask]:
            owner[o] = i
            q.put_byte(o, 0xF0)
            self.out_key[o] = -1
        self.sysex_to[i] = mask
        self.owned |= mask
        self.busy |= mask
        self.queued |= mask
        self.sysex_last[i] = self.now
        self.watch = 1
        return 0

    def _sysex_run(self, i, buf, k, end):
        # Pass on input ``i``'s SysEx data bytes from ``buf[k]`` (a data byte) up to the next
        # status or timing byte, as far as every output has room; returns where it stopped.
        # A byte a call cost 30,000 cycles a byte on the board (five outputs), so a DIN SysEx
        # made passes of 5 ms: each output's room is checked once a run, its bytes copied in
        # one loop.
        run = k
        while run < end and buf[run] < 0x80:
            run += 1
        mask = self.sysex_to[i]
        self.sysex_last[i] = self.now
        owed = self.owed
        heads = self.heads
        tails = self.tails
        blocked = 0
        take = run - k
        for o in BITS[mask]:
            # Room for the bytes and the F7 that closes them, beside every off it owes.
            room = _RING_SIZE - ((tails[o] - heads[o]) & _RING_WRAP) - 1 - _OFF_BYTES * owed[o]
            if room < 1:
                blocked |= 1 << o
            elif room < take:
                take = room
        if blocked:
            if not self.forcing:
                return k
            # Cannot happen at wire rate (it streams no faster than the output sends), but if
            # a DIN input cannot wait, the SysEx is closed there and counted (forced, ``feed``
            # calls again for the bytes an output had no room for: closed there next).
            for o in BITS[blocked]:
                self.queues.put_byte(o, 0xF7)
                self._release(o)
                self.dropped[o * N_DROP_REASONS + _DROP_SYSEX_OVERFLOW] += 1
            mask &= ~blocked
            self.sysex_to[i] = mask
        rings = self.rings
        end = k + take
        for o in BITS[mask]:
            ring = rings[o]
            t = tails[o]
            j = k
            while j < end:
                ring[t & _RING_MASK] = buf[j]
                t = (t + 1) & _RING_WRAP
                j += 1
            tails[o] = t
        self.queued |= mask
        return end

    def _sysex_end(self, i):
        # Close input ``i``'s SysEx on every output carrying it (F7 ends it or closes it).
        q = self.queues
        for o in BITS[self.sysex_to[i]]:
            q.put_byte(o, 0xF7)
            self._release(o)
        self.sysex_to[i] = 0
        if (self.state[i] & 0xFF) == 0xF0:
            self.state[i] = 0  # closed from outside the parser (timeout, input lost)

    def _release(self, o):
        bit = 1 << o
        self.owner[o] = _NONE
        self.owned &= ~bit
        self.out_key[o] = -1
        self.queued |= bit
        self._settle(o)

    def _settle(self, o):
        # Output ``o`` may have room again or be free: late records move into its ring (first,
        # in order); the summaries follow.
        bit = 1 << o
        if self.lated & bit and self.owner[o] == _NONE:
            q = self.queues
            if q.late_to_ring(o):
                self.track.full &= ~bit
            if q.late_heads[o] == q.late_tails[o]:
                self.lated &= ~bit
        if _RING_SIZE - ((self.tails[o] - self.heads[o]) & _RING_WRAP) < _PRESSURE:
            self.pressed |= bit
        else:
            self.pressed &= ~bit
        self.busy = self.owned | self.lated | self.pressed | self.queues.reserved

    # -- releases --------------------------------------------------------------------

    def release_notes(self, i):
        # Send an off for every note and sustain input ``i`` has sounding, to each output its
        # on reached (after an input is lost): a routing change to "nowhere" for that input.
        self._strand_notes(i, self.masks[i], 0, 0, False)
        self._strand_controllers(i, self.masks[i], 0)

    def strand_part(self):
        # The next part of a route change's note offs (``set_input_routes``): up to
        # ``_STRAND_PART`` notes of sounding channels, against the input's routes in force.
        # Returns 0 when none was left to do.
        track = self.track
        at = track.strand_at
        if at < 0:
            return 0
        i = at >> 11
        at = self._strand_notes(i, self.masks[i], self.present, at & 0x7FF, True)
        track.strand_at = -1 if at < 0 else i << 11 | at
        return 1

    def _strand_notes(self, i, new_table, present, at, part):
        # Input ``i``'s notes sounding on outputs that ``new_table`` (restricted to ``present``)
        # does not send the channel's note-offs to get their off now, from position ``at``
        # (channel << 7 | note); for a ``part``, at most ``_STRAND_PART`` notes of channels with
        # a note sounding (a channel with none costs one compare, in C) and one off to one
        # output. Returns where it stopped, or -1 at the end. On the board a note costs about
        # 1,600 cycles here, an off to three outputs about 78,000.
        track = self.track
        tables = track.notes[i]
        if tables == track.none_taken:
            return -1  # most inputs have no note table: one compare instead of 16 iterations
        unused = track.unused
        ch = at >> 7
        note = at & 0x7F
        count = _STRAND_PART if part else _ALL_NOTES
        while ch < 16:
            notes = tables[ch]
            if notes is not unused and notes != SILENT_NOTES:
                status = 0x80 | ch
                lose = ~(new_table[status] & present)
                end = note + count if note + count < 128 else 128
                for k in range(note, end):
                    if notes[k] & lose:
                        lost = notes[k] & lose
                        if part:
                            # A part sends one off to one output, after a short scan at most
                            # (an off to one output costs what scanning about 20 notes does):
                            # the next part starts here.
                            if k - note >= 4:
                                end = k
                                break
                            lost &= -lost
                        # An owed off: it never waits, so the input need not (``_emit`` clears
                        # those outputs from the table and pays their owed count).
                        self._emit(i, lost, status, k, 0, 2)
                        if part:
                            end = k if notes[k] & lose else k + 1
                            break
                count -= end - note
                if end < 128:
                    return ch << 7 | end
                if count <= 0:
                    return (ch + 1) << 7 if ch < 15 else -1
            ch += 1
            note = 0
        return -1

    def _strand_controllers(self, i, new_table, present):
        # Input ``i``'s bends, mod wheels and sustain pedals held on outputs ``new_table``
        # (restricted to ``present``) no longer reaches are reset there now.
        track = self.track
        sustain = track.sustain[i]
        held = self.held[i]
        if held != _UNHELD or sustain != _SILENT:
            # No stuck controllers: where this input's routes no longer reach (or now reach
            # changed), a channel it left bent, modulated or sustained gets a centred bend, mod
            # wheel 0 and sustain 0 (the sustain as the owed off, below), through the old routes.
            for ch in range(16):
                lost = ((held[ch] & ~(new_table[0xE0 | ch] & present))
                        | ((held[16 | ch] | sustain[ch]) & ~(new_table[0xB0 | ch] & present)))
                if lost:
                    # Sustain 0 beside the owed off only where a cc_map may have moved that off.
                    raw = lost & ~sustain[ch]
                    for o in BITS[lost & sustain[ch] & self.xouts[i]]:
                        if self.xform[i * self.n_out + o][4] is not None:
                            raw |= 1 << o
                    self._own_value(i, lost, 0xE0 | ch, 0, 0x40)  # centred bend
                    self._own_value(i, lost, 0xB0 | ch, 1, 0)  # mod wheel 0
                    if raw:
                        self._own_value(i, raw, 0xB0 | ch, 64, 0)  # sustain 0
                    held[ch] &= ~lost
                    held[16 | ch] &= ~lost
        for ch in range(16 if sustain != _SILENT else 0):
            old = sustain[ch]
            if old:
                status = 0xB0 | ch
                lost = old & ~(new_table[status] & present)
                if lost:
                    sustain[ch] = old & ~lost
                    self._place(i, lost, status | (i << 8), status, 64, 0, 2, lost)

    def _own_value(self, i, mask, s, d1, d2):
        # A value the box sends itself under input ``i``'s key, on the channel each output's
        # transform sends that input's channel to (the controller number as it is, whatever a
        # cc_map makes of it), to reset a held controller (``_strand_controllers``, route_events): it
        # never waits. Where the output is blocked it takes the late queue as the box's own
        # record (``OWN``: an input's later value never replaces it, nor is it counted), and
        # where even that is full it is not sent.
        forcing = self.forcing
        self.forcing = 1
        m = self._admit(i, mask, 0, s, d1, 2)
        self.forcing = forcing
        # An output held by a SysEx (even this input's own: a switch mid-SysEx) takes it late.
        late = self.late_to | (m & self.owned)
        self.late_to = 0
        xouts = self.xouts[i]
        base = i * self.n_out
        for o in BITS[m]:
            es = s
            if xouts >> o & 1:
                x = self.xform[base + o]
                if x[0] is None:
                    # A pair several routes transform: on each part's channel that carries it.
                    self.route_hooks[2].own(self, i, o, late, x[1], s, d1, d2)  # type: ignore[index]
                    continue
                es = self._status(x, s)
            if not late >> o & 1:
                self._write(o, es | (i << 8), es, d1, d2, 2)
            elif self.queues.late_values(1 << o, i | _OWN, es, d1, d2):
                self.lated |= 1 << o
        self.busy |= self.lated
        self.queued |= self.lated

    # -- once a pass / once a tick -------------------------------------------------------

    def service(self, now):
        # Timeouts: a silent SysEx, a silent clock master, an input lost after active sensing.
        # Does its loops only when the millisecond tick has moved.
        self.now = now
        if now == self.serviced:
            return
        self.serviced = now
        self.wires.drain(now)
        q = self.queues
        if q.reserver >= 0 and not self.stalled >> q.reserver & 1:
            self._turn_over()  # its waiting bytes went (a lost input, a preset switch): it waits no more
        if self.watch:
            still = 0
            state = self.state
            for i in range(len(self.state)):
                if self.stalled >> i & 1:
                    still = 1  # its bytes are waiting here, not silent
                    continue
                sysex = (state[i] & 0xFF) == 0xF0
                if sysex and ticks_diff(now, self.sysex_last[i]) > _SYSEX_TIMEOUT_MS:
                    self._sysex_end(i)
                    self.sysex_timeouts += 1
                    sysex = False
                if self.sensing[i] and ticks_diff(now, self.last_rx[i]) > _SENSING_TIMEOUT_MS:
                    self.input_lost(i)
                    sysex = False
                if sysex or self.sensing[i]:
                    still = 1
            self.watch = still
        self.clock_master.service(now)

    def input_lost(self, i):
        # Input ``i`` went silent after active sensing: close what it left open.
        self.sensing[i] = 0
        if (self.state[i] & 0xFF) == 0xF0:
            self._sysex_end(i)
        self.release_notes(i)
        self.state[i] = 0
        self.clock_master.lost(i)

    def drain(self, o, now):
        # Hand output ``o``'s queued bytes to its port, timing lane first, as many as it takes
        # without blocking; then let late records in.
        q = self.queues
        q.drain(o, self.wires, now)
        bit = 1 << o
        if self.busy & bit:
            self._settle(o)
        if q.heads[o] == q.tails[o] and q.lane_heads[o] == q.lane_tails[o] and not self.lated & bit:
            self.queued &= ~bit

    def write_outputs(self, now):
        # Hand every output's queued bytes to its port (``self.outputs``). Once a pass, when
        # ``queued`` is not 0. The common case (no timing byte waiting, the ring's bytes in one
        # piece, the output not busy) is inline: one ``send`` call per output.
        q = self.queues
        wires = self.wires
        rings = self.rings
        heads = self.heads
        tails = self.tails
        lane_heads = q.lane_heads
        lane_tails = q.lane_tails
        owned = self.owned
        # Only late records and a ring under pressure need the full path (``drain``, then
        # ``_settle``). Not a SysEx's own outputs: while it holds them no late record may
        # enter (the rooms' calls made this 210,000 cycles a pass on the board, four outputs
        # held). Nor the outputs reserved for a waiting input's turn (in ``busy`` for
        # ``_admit``, kept as the turn changes: _wait_turn, _turn_over): after a SysEx's F7,
        # with the held inputs waiting, their full path made that pass's writes 221,000 cycles.
        busy = (self.lated | self.pressed) & ~owned
        whole = wires.whole
        for o in BITS[self.queued & ~whole]:
            h = heads[o]
            t = tails[o]
            a = h & _RING_MASK
            b = t & _RING_MASK
            if a < b and lane_heads[o] == lane_tails[o] and not busy >> o & 1:
                h = (h + wires.send(o, rings[o], a, b, now)) & _RING_WRAP
                heads[o] = h
                if h == t:
                    self.queued &= ~(1 << o)
            else:
                self.drain(o, now)
        if owned:
            self.queued |= self.lated  # their late records wait for the SysEx's end: still queued
        if self.queued & whole:
            self.hand_whole()

    def hand_whole(self):
        # The outputs in ``whole`` (the CV engine) take whole messages, ``take(status, data1,
        # data2)`` (0 for the bytes a message lacks), until one returns 0 (it holds one: the
        # rest stays queued): timing bytes from the lane first, then the ring. Part of
        # ``write_outputs``; ``app`` calls it alone right after the engine played a message.
        # Their ring never uses running status (``merger_setup.set_output_modes``) and carries
        # only channel messages and System Reset (``router.build_masks`` routes nothing else to
        # the CV engine), so every message starts with its status byte and DATA_LENGTH gives
        # its length.
        q = self.queues
        heads = self.heads
        tails = self.tails
        wires = self.wires
        ports = wires.ports
        for o in BITS[self.queued & wires.whole]:
            port = ports[o]  # (a bound method kept in a local would allocate)
            lane_heads = q.lane_heads
            h = lane_heads[o]
            t = q.lane_tails[o]
            if h != t:
                lane = q.lanes[o]
                while h != t and port.take(lane[h & _LANE_MASK], 0, 0):
                    h = (h + 1) & _LANE_WRAP
                lane_heads[o] = h
            if h == t:
                ring = self.rings[o]
                h = heads[o]
                t = tails[o]
                while h != t:
                    s = ring[h & _RING_MASK]
                    n = DATA_LENGTH[s]
                    if not port.take(s, ring[(h + 1) & _RING_MASK] if n else 0, ring[(h + 2) & _RING_MASK] if n == 2 else 0):
                        break
                    h = (h + 1 + n) & _RING_WRAP
                heads[o] = h
                bit = 1 << o
                if self.busy & bit:
                    self._settle(o)  # late records may enter the ring now
                if h == tails[o] and not self.lated & bit:
                    self.queued &= ~bit

    def pending(self, o):
        # Bytes (and late records) queued for output ``o``.
        return self.queues.pending(o)
