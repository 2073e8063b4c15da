"""The byte path: parse every input, route each message, send or queue it whole on every output.

``Merger`` holds one parser state per input and two queues per output (a priority lane for
real-time bytes and a message ring). Each pass ``app`` calls ``feed()`` with what an input
read, ``service()`` once per ms tick for timeouts, and ``write_outputs()`` when anything is
queued. A completed message goes straight to every output that has nothing queued (one
``port.send`` call each, the wire-rate case); only outputs that are busy queue it.

Why it is written this way: on the RP2040 a method call costs about 1,600 cycles and an
attribute load 220, against about 4,500 cycles for a whole minimal parser step (design notes
3b), and `make bench` holds the whole path to 1.5x a bare read/write loop. So the per-byte work
stays in ``feed``'s loop with its state in locals; methods are called per message (``_emit``)
or for rare bytes (real-time, SysEx edges), never per ordinary byte; output masks are walked
through ``_BITS``.

Nothing here allocates once constructed: queues are fixed bytearrays, counters are small ints
in preallocated lists.
"""

import array

from micropython import const

from firmware.midi import DATA_LENGTH
from firmware.ticks import ticks_diff

NONE = const(0xFF)
RING_SIZE = const(512)  # per output: at least 256 bytes queue before anything is dropped
_RING_MASK = const(511)
RT_SIZE = const(64)  # real-time lane per output
_RT_MASK = const(63)
HOLD_SIZE = const(256)  # messages waiting while another input's SysEx holds an output
SX_WAIT_SIZE = const(256)  # per input: a SysEx waiting for an output another SysEx holds
_HOLD_MASK = const(255)

# Drop reasons, indexes into the per-output counters.
DROP_QUEUE_FULL = const(0)
DROP_SYSEX_BUSY = const(1)
DROP_SYSEX_OVERFLOW = const(2)
DROP_HOLD_FULL = const(3)
DROP_REALTIME_FULL = const(4)
N_DROP_REASONS = const(5)
DROP_REASON_NAMES = ("queue_full", "sysex_busy", "sysex_overflow", "hold_full", "realtime_full")

# Ring bytes only note-offs (and the F7 closing a SysEx) may use: a flood of controllers
# fills the queue up to here, and the note-offs that follow still go out.
NOTE_OFF_RESERVE = const(96)
MAX_SOUNDING = const(64)  # notes tracked per input in a list; beyond that a full scan

# Coalescing (design notes section 5): once an output has fewer than this many bytes free, the
# positions of its queued CC / pitch bend / pressure messages are remembered (a few per output),
# so a newer value that finds the ring full replaces the older one still queued instead of
# being dropped. Below the threshold nothing is recorded: the common path pays one comparison.
_PRESSURE = const(256)
CO_SLOTS = const(8)

SYSEX_TIMEOUT_MS = const(500)
CLOCK_TIMEOUT_MS = const(1000)
SENSING_TIMEOUT_MS = const(300)

def _lefts():
    # Data bytes a status byte starts: 2 for two, 3 for one (a marker: "one left, the last"),
    # 0 for none.
    t = bytearray(256)
    for s in range(0x80, 0xF8):
        n = DATA_LENGTH[s]
        t[s] = 2 if n == 2 else (3 if n == 1 else 0)
    return t


_LEFT = _lefts()

# The output indexes in each output mask: ``for o in _BITS[mask]``
# visits them without a test and two updates per output.
MAX_OUTPUTS = const(6)
_BITS = tuple(tuple(o for o in range(MAX_OUTPUTS) if m >> o & 1) for m in range(1 << MAX_OUTPUTS))

# Clock master modes (``master_mode``); an input index 0..n_in-1 names a fixed master.
MASTER_AUTO = const(0xFE)
MASTER_INTERNAL = const(0xFD)  # the box's own clock (or the analog clock input) via inject_realtime


class Merger:
    """Parsers, routing tables and output queues for ``n_in`` inputs and ``n_out`` outputs."""

    def __init__(self, n_in, n_out):
        if n_out > MAX_OUTPUTS:
            raise ValueError("at most %d outputs" % MAX_OUTPUTS)
        self.n_in = n_in
        self.n_out = n_out
        # Parser state per input. What every byte needs is packed into one small int: the
        # status in force (bits 0-7; 0xF0 inside a SysEx) and the data bytes left (bits 8-9).
        # At wire rate each read is one byte, and loading and storing six per-input fields cost
        # about as much as the bare loop's whole pass on the RP2040. The first data byte and
        # the message's output mask are read only when a message completes.
        self.state = [0] * n_in
        self.data1 = bytearray(n_in)
        self.cur_mask = bytearray(n_in)
        self.sysex_to = bytearray(n_in)  # outputs this input's SysEx streams to
        # SysEx that wait for outputs another input's SysEx holds, per input: a buffer of
        # them in arrival order (each as: outputs waiting, F0, data, F7), its length, where
        # the open one starts and which outputs wait for it; per (input, output) pair the
        # markers still in the output's hold queue and where its next one starts.
        self.sx_buf = [bytearray(SX_WAIT_SIZE) for _ in range(n_in)]
        self.sx_len = [0] * n_in
        self.sx_start = [0] * n_in
        self.sx_wait = bytearray(n_in)
        self.sx_pend = bytearray(n_in * n_out)
        self.sx_cur = [0] * (n_in * n_out)
        self.last_rx = [0] * n_in  # ticks of the last byte received
        self.sensing = bytearray(n_in)  # active sensing seen: watch for silence
        # Sounding notes per input: for each channel*128+note, the outputs its note-on went to,
        # and a short list of those indexes so releasing them never scans all 2,048.
        self.note_outs = [bytearray(2048) for _ in range(n_in)]
        self.sounding = [array.array("H", bytes(2 * MAX_SOUNDING)) for _ in range(n_in)]
        self.n_sounding = [0] * n_in
        self.sounding_overflow = bytearray(n_in)
        # Routing: per input, a 256-entry table of output masks by status byte.
        self.masks = [bytearray(256) for _ in range(n_in)]
        self._no_routes = bytearray(256)
        # Transforms per (input, output) pair, index i * n_out + o (``router.build_transforms``):
        # a status map (channel remap per kind), a transpose and a velocity table. ``xouts[i]``
        # holds the outputs that need one, so untransformed messages pay a single test.
        self.xouts = [0] * n_in
        n_pairs = n_in * n_out
        self.smap = [None] * n_pairs  # type: list
        self.transpose = [0] * n_pairs
        self.vtable = [None] * n_pairs  # type: list
        self.xsig = [None] * n_pairs  # type: list
        # Output queues.
        self.rings = [bytearray(RING_SIZE) for _ in range(n_out)]
        self.heads = [0] * n_out
        self.tails = [0] * n_out
        self.rt = [bytearray(RT_SIZE) for _ in range(n_out)]
        self.rt_heads = [0] * n_out
        self.rt_tails = [0] * n_out
        self.hold = [bytearray(HOLD_SIZE) for _ in range(n_out)]
        self.hold_heads = [0] * n_out
        self.hold_tails = [0] * n_out
        self.owner = bytearray(n_out)  # input whose SysEx holds the output, or NONE
        self.owned = 0  # outputs some SysEx holds (so _emit tests one mask, not every owner)
        # Running status on output: the status and source (``status | input << 8``) of the last
        # channel message written, or -1 when the next message must state its status.
        self.out_key = [-1] * n_out
        self.running_status = bytearray(n_out)  # per output: may omit a repeated status
        for o in range(n_out):
            self.owner[o] = NONE
            self.running_status[o] = 1
        # What _emit needs per output, in one tuple: one attribute load instead of four.
        self._q = (self.rings, self.tails, self.heads, self.out_key)
        self.outputs = ()  # ports, for write_outputs and direct writes (set by app.Box)
        # Outputs a completed message may be sent to at once when nothing is queued for them
        # (``set_output_modes``).
        self.direct = 0
        self.msg = bytearray(3)
        self.rtb = bytearray(1)
        # Clock master (design notes section 5).
        self.master_mode = MASTER_AUTO
        self.master = NONE
        self.last_clock = 0
        self.clock_sink = None  # gets on_master(b, now) / song_position(beats) from the master
        # Per output: clock and transport sent or not, and a tick divider (1 = every tick).
        self.clock_send = (1 << n_out) - 1
        self.divide = bytearray(n_out)
        self.divide_count = bytearray(n_out)
        self.dividing = 0  # outputs whose divide is above 1
        for o in range(n_out):
            self.divide[o] = 1
        self.now = 0  # ticks_ms of the current pass, set by the caller
        # Cheap summaries so idle passes skip work: outputs with bytes queued, and whether any
        # input needs its timeouts watched (open SysEx, active sensing) or any hold is in use.
        self.queued = 0
        self.watch = 0
        self.held = 0
        self.serviced = -1  # the ms tick service() last ran in (it does its work once a tick)
        self.present = (1 << n_out) - 1  # outputs that exist (board_io may leave one out)
        # Counters (small ints: updating them allocates nothing).
        self.dropped = [0] * (n_out * N_DROP_REASONS)
        self.coalesced = [0] * n_out
        self.co_n = bytearray(n_out)  # remembered positions per output (under pressure only)
        self.co_key = [array.array("H", bytes(2 * CO_SLOTS)) for _ in range(n_out)]
        self.co_pos = [array.array("H", bytes(2 * CO_SLOTS)) for _ in range(n_out)]
        self.stray = [0] * n_in  # data bytes with no status, undefined status bytes
        self.messages_in = [0] * n_in
        self.sysex_timeouts = 0

    # -- configuration -----------------------------------------------------------------

    def prepare_routes(self, masks):
        """Restrict routing tables to the outputs that exist, in place, once (at start-up), so
        ``set_routes`` can install them by reference on a preset switch. Returns ``masks``."""
        present = self.present
        for table in masks:
            for s in range(256):
                table[s] &= present
        return masks

    def set_routes(self, masks, transforms=None):
        """Install routing: ``masks[i][status]`` (from ``prepare_routes``) is the output bitmask
        for that status byte; ``transforms[i * n_out + o]`` is None or ``(smap, transpose,
        vtable, signature)`` from ``router.build_transforms``. The tables are installed by
        reference: a switch costs no per-status loop.

        A sounding note whose output loses its route, or whose transform changes, gets its
        note-off now, through the old transform, so it ends exactly as it began."""
        present = self.present
        n_out = self.n_out
        for i in range(self.n_in):
            changed = 0
            for o in range(n_out):
                new = transforms[i * n_out + o] if transforms else None
                if (new[3] if new else None) != self.xsig[i * n_out + o]:
                    changed |= 1 << o
            src = masks[i]
            self._strand_check(i, src, present & ~changed)
            self.masks[i] = src
            st = self.state[i] & 0xFF
            if 0 < st < 0xF0:
                # A channel message under way (or running status) follows the new routes.
                self.cur_mask[i] = src[st]
            xouts = 0
            for o in range(n_out):
                k = i * n_out + o
                new = transforms[k] if transforms else None
                if new:
                    self.smap[k], self.transpose[k], self.vtable[k], self.xsig[k] = new
                    xouts |= 1 << o
                else:
                    self.smap[k] = self.vtable[k] = self.xsig[k] = None
                    self.transpose[k] = 0
            self.xouts[i] = xouts

    def set_output_modes(self, running_status, direct):
        """Bitmasks of outputs: which may omit a repeated status byte (running status), and
        which a completed message may be sent to at once when nothing is queued for them.
        Direct sends are kept to running-status outputs: the direct path then records the
        status it sent without a per-output test."""
        for o in range(self.n_out):
            self.running_status[o] = (running_status >> o) & 1
            self.out_key[o] = -1
        self.direct = direct & running_status

    def set_master(self, mode):
        """Clock master: ``MASTER_AUTO``, ``MASTER_INTERNAL`` or an input index. Keeping the
        same mode across a preset switch keeps the current master (no missing tick)."""
        if mode == self.master_mode:
            return
        self.master_mode = mode
        if mode == MASTER_AUTO:
            self.master = NONE
        else:
            # An input index, or MASTER_INTERNAL, which no input matches: every external
            # clock, transport and song position byte is then dropped.
            self.master = mode

    def set_clock_outputs(self, send, divide):
        """``send``: bitmask of outputs that get clock and transport; ``divide[o]``: pass one
        tick in that many (1 = all)."""
        self.clock_send = send
        for o in range(self.n_out):
            d = divide[o]
            if d != self.divide[o]:
                self.divide[o] = d
                self.divide_count[o] = 0
            if d > 1:
                self.dividing |= 1 << o
            else:
                self.dividing &= ~(1 << o)

    # -- the byte path -------------------------------------------------------------------

    def feed(self, i, data):
        """Parse ``data`` (bytes just read from input ``i``) and queue what it completes.

        State per input: the status byte in force (running status; 0xF0 inside a SysEx) and the
        data bytes still expected (``left``: 2 then 1 for a two-byte message, 3 for a one-byte
        message, 0 for none) in ``state``; the first data byte in ``data1``; the message's
        output mask in ``cur_mask``."""
        st = self.state[i]
        status = st & 0xFF
        left = st >> 8
        got = 0
        for b in data:
            if b < 0x80:
                if left == 1:
                    d1 = self.data1[i]
                    self._emit(i, self.cur_mask[i], status, d1, b, 2)
                    got += 1
                    left = 2
                    if status >= 0xF0:
                        # Song position: a system common message has no running status.
                        if status == 0xF2 and self.clock_sink is not None and (self.master == i or self.master == NONE):
                            self.clock_sink.song_position(d1 | (b << 7))
                        status = 0
                        left = 0
                elif left == 2:
                    self.data1[i] = b
                    left = 1
                elif left == 3:
                    self._emit(i, self.cur_mask[i], status, b, 0, 1)
                    got += 1
                    if status >= 0xF0:
                        status = 0
                        left = 0
                elif status == 0xF0:
                    self._sysex_byte(i, b)
                else:
                    self.stray[i] += 1
            elif b >= 0xF8:
                self._realtime(i, b)
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
                    status = 0xF0
                    left = 0
                    self._sysex_start(i)
                elif DATA_LENGTH[b] == 0xFF:
                    # F7 with no SysEx open, or an undefined status (F4 F5 F9 FD).
                    status = 0
                    left = 0
                    self.stray[i] += 1
                else:
                    # System common: cancels running status on input and output.
                    status = b
                    left = _LEFT[b]
                    mask = self.masks[i][b]
                    if b == 0xF2 or b == 0xF3:
                        # Song position/select only from the clock master, to clocked outputs.
                        if self.master != NONE and self.master != i:
                            mask = 0
                        mask &= self.clock_send
                    self.cur_mask[i] = mask
                    if left == 0:
                        self._emit(i, mask, b, 0, 0, 0)
                        got += 1
                        status = 0
        self.state[i] = status | (left << 8)
        if got:
            self.messages_in[i] += got

    def _emit(self, i, mask, s, d1, d2, n, top=1):
        # Queue one whole message on every output in ``mask``. Per output this is the costly
        # part of the path: everything it touches is loaded into locals once per message, and
        # the common case (room to spare, no SysEx holding the output) is a few statements.
        # ``top`` is 0 when _emit_x queues an already transformed copy for one output.
        if s < 0xF0:
            if top:
                if (s & 0xE0) == 0x80 and mask:
                    self._track(i, s, d1, d2, mask)
                xm = self.xouts[i] & mask
                if xm:
                    mask ^= xm
                    self._emit_x(i, xm, s, d1, d2, n)
            key = s | (i << 8)
        else:
            key = -2  # system common: never running status, and it cancels it
        if mask & self.owned:
            mask = self._hold_for(i, mask, s, d1, d2, n)
        # An output with nothing queued gets the message straight away: one ``send`` call, no
        # ring write and no drain. This is the wire-rate case (one message per pass).
        dm = mask & self.direct & ~self.queued
        if dm:
            mask ^= dm
            out_key = self.out_key
            mb = self.msg
            mb[0] = s
            mb[1] = d1
            mb[2] = d2
            end = n + 1
            outputs = self.outputs
            now = self.now
            # What the output's key becomes: a running-status output (set_output_modes) keeps a
            # channel message's key; a system common message cancels running status.
            after = key if key >= 0 else -1
            for o in _BITS[dm]:
                if out_key[o] == key:
                    took = outputs[o].send(mb, 1, end, now) + 1
                else:
                    took = outputs[o].send(mb, 0, end, now)
                    if took:
                        out_key[o] = after
                if took < end:
                    self._rest(o, key, took, end)
        if mask:
            self._queue(i, mask, key, s, d1, d2, n)

    def _queue(self, i, mask, key, s, d1, d2, n):
        # The outputs in ``mask`` get the message in their rings, behind what waits there.
        rings, tails, heads, out_key = self._q
        self.queued |= mask
        o = 0
        while mask:
            if mask & 1:
                t = tails[o]
                if ((heads[o] - t - 1) & _RING_MASK) < _PRESSURE:
                    # Little room left: the reserve for note-offs, coalescing, drop counts.
                    self._tight(o, i, key, s, d1, d2, n)
                else:
                    ring = rings[o]
                    # Running status on output (status omitted) and a full message are written
                    # out separately: merging them measured 4-7 % slower on the VM (make bench).
                    if out_key[o] == key:
                        ring[t] = d1
                        t = (t + 1) & _RING_MASK
                        if n == 2:
                            ring[t] = d2
                            t = (t + 1) & _RING_MASK
                    else:
                        ring[t] = s
                        t = (t + 1) & _RING_MASK
                        if n:
                            ring[t] = d1
                            t = (t + 1) & _RING_MASK
                            if n == 2:
                                ring[t] = d2
                                t = (t + 1) & _RING_MASK
                        out_key[o] = key if key >= 0 and self.running_status[o] else -1
                    tails[o] = t
            mask >>= 1
            o += 1

    def _rest(self, o, key, k, end):
        # The port took only ``k`` bytes of the message in ``self.msg``: the rest waits in the
        # (empty) ring, in front of anything that follows.
        mb = self.msg
        ring = self.rings[o]
        t = self.tails[o]
        if k == 0:
            self.out_key[o] = key if key >= 0 and self.running_status[o] else -1
        while k < end:
            ring[t] = mb[k]
            t = (t + 1) & _RING_MASK
            k += 1
        self.tails[o] = t
        self.queued |= 1 << o

    def _hold_for(self, i, mask, s, d1, d2, n):
        # Outputs in ``mask`` that another input's SysEx holds keep the message in their hold
        # queue until it ends; returns the outputs the message may go to now.
        owner = self.owner
        m = mask & self.owned
        o = 0
        while m:
            if m & 1 and owner[o] != i:
                self._hold(o, s, d1, d2, n)
                mask &= ~(1 << o)
            m >>= 1
            o += 1
        return mask

    def _tight(self, o, i, key, s, d1, d2, n):
        # Output ``o`` has fewer than _PRESSURE bytes free. Note-offs (velocity 0 note-ons too)
        # may use the reserve; continuous data (CC, pitch bend, pressure) replaces a queued
        # value with the same key instead of being dropped, and its position is remembered.
        hi = s & 0xF0
        if hi == 0xB0 or hi == 0xA0:
            co_key = (s << 7) | d1
        elif hi == 0xE0 or hi == 0xD0:
            co_key = s << 7
        else:
            co_key = -1
        need = n if (hi == 0x80 or (hi == 0x90 and d2 == 0)) else n + NOTE_OFF_RESERVE
        ring = self.rings[o]
        t = self.tails[o]
        free = (self.heads[o] - t - 1) & _RING_MASK
        rs = self.out_key[o] == key
        if free < need or (free == need and not rs):
            if co_key < 0 or not self._coalesce(o, co_key, d1, d2, n):
                self.dropped[o * N_DROP_REASONS + DROP_QUEUE_FULL] += 1
            return
        if not rs:
            ring[t] = s
            t = (t + 1) & _RING_MASK
            self.out_key[o] = key if key >= 0 and self.running_status[o] else -1
        if n:
            if co_key >= 0:
                self._remember(o, co_key, t)
            ring[t] = d1
            t = (t + 1) & _RING_MASK
            if n == 2:
                ring[t] = d2
                t = (t + 1) & _RING_MASK
        self.tails[o] = t

    def _emit_x(self, i, xm, s, d1, d2, n):
        # The outputs in ``xm`` get input ``i``'s message through their route's transform:
        # status map (channel remap per kind), transpose, velocity table. A note pushed out of
        # 0..127 by the transpose is not sent; its note-off, transposed alike, is not either.
        hi = s & 0xF0
        k = i * self.n_out
        o = 0
        while xm:
            if xm & 1:
                e1 = d1
                e2 = d2
                if hi <= 0xA0:
                    e1 = d1 + self.transpose[k]
                    if hi == 0x90 and d2:
                        vt = self.vtable[k]
                        if vt is not None:
                            e2 = vt[d2]
                if 0 <= e1 <= 127:
                    self._emit(i, 1 << o, self.smap[k][s], e1, e2, n, 0)
            xm >>= 1
            o += 1
            k += 1

    def _remember(self, o, key, pos):
        # Under pressure: where the newest queued message with this key keeps its data.
        keys = self.co_key[o]
        c = self.co_n[o]
        j = 0
        while j < c and keys[j] != key:
            j += 1
        if j == c:
            if c < CO_SLOTS:
                self.co_n[o] = c + 1
            else:
                j = pos % CO_SLOTS  # full: overwrite a slot (any; these are hints)
        keys[j] = key
        self.co_pos[o][j] = pos

    def _coalesce(self, o, key, d1, d2, n):
        # The ring is full: put the new value into a queued message with the same key.
        keys = self.co_key[o]
        for j in range(self.co_n[o]):
            if keys[j] == key:
                pos = self.co_pos[o][j]
                ring = self.rings[o]
                if (key >> 7) & 0xE0 == 0xA0:
                    ring[(pos + 1) & _RING_MASK] = d2  # CC / poly pressure: same number
                else:
                    ring[pos] = d1
                    if n == 2:
                        ring[(pos + 1) & _RING_MASK] = d2
                self.coalesced[o] += 1
                return True
        return False

    def _forget_sent(self, o, h0, sent):
        # Positions the drain has passed are no longer queued: drop them from the hints.
        keys = self.co_key[o]
        pos = self.co_pos[o]
        c = self.co_n[o]
        j = 0
        while j < c:
            if ((pos[j] - h0) & _RING_MASK) < sent:
                c -= 1
                keys[j] = keys[c]
                pos[j] = pos[c]
            else:
                j += 1
        self.co_n[o] = c

    def _track(self, i, s, note, velocity, mask):
        # Remember where a note-on went, forget it on its note-off (velocity 0 is a note-off).
        idx = ((s & 0x0F) << 7) | note
        outs = self.note_outs[i]
        if (s & 0xF0) == 0x90 and velocity:
            if not outs[idx]:
                k = self.n_sounding[i]
                if k < MAX_SOUNDING:
                    self.sounding[i][k] = idx
                    self.n_sounding[i] = k + 1
                else:
                    self.sounding_overflow[i] = 1
            outs[idx] |= mask
        elif outs[idx]:
            outs[idx] = 0
            lst = self.sounding[i]
            k = self.n_sounding[i] - 1
            j = k
            while j >= 0 and lst[j] != idx:
                j -= 1
            if j >= 0:
                lst[j] = lst[k]
                self.n_sounding[i] = k

    def release_notes(self, i):
        """Send a note-off for every note input ``i`` has sounding, to each output its note-on
        reached (after an input is lost): a routing change to "nowhere" for that input."""
        self._strand_check(i, self._no_routes, self.present)

    def _strand_check(self, i, new_table, present):
        # A routing change must not strand a note: outputs that had a note-on but will no
        # longer get its note-off are sent one now; the note stays tracked on the others.
        outs = self.note_outs[i]
        lst = self.sounding[i]
        k = 0
        while k < self.n_sounding[i]:
            idx = lst[k]
            old = outs[idx]
            keep = old & new_table[0x80 | (idx >> 7)] & present
            if old & ~keep:
                outs[idx] = 0  # so _emit's tracking leaves the list alone
                self._emit(i, old & ~keep, 0x80 | (idx >> 7), idx & 0x7F, 0, 2)
            outs[idx] = keep
            if keep:
                k += 1
            else:
                last = self.n_sounding[i] - 1
                lst[k] = lst[last]
                self.n_sounding[i] = last
        if self.sounding_overflow[i]:
            # More notes than the list holds: scan them all; the flag stays while any remain.
            kept = 0
            for idx in range(2048):
                old = outs[idx]
                if old:
                    keep = old & new_table[0x80 | (idx >> 7)] & present
                    if old & ~keep:
                        outs[idx] = 0
                        self._emit(i, old & ~keep, 0x80 | (idx >> 7), idx & 0x7F, 0, 2)
                    outs[idx] = keep
                    if keep:
                        kept = 1
            self.sounding_overflow[i] = kept

    def _hold(self, o, s, d1, d2, n):
        # Another input's SysEx holds output ``o``: keep the whole message until it ends.
        hold = self.hold[o]
        t = self.hold_tails[o]
        if ((self.hold_heads[o] - t - 1) & _HOLD_MASK) <= n:
            self.dropped[o * N_DROP_REASONS + DROP_HOLD_FULL] += 1
            return
        self.held = 1
        hold[t] = s
        t = (t + 1) & _HOLD_MASK
        if n:
            hold[t] = d1
            t = (t + 1) & _HOLD_MASK
            if n == 2:
                hold[t] = d2
                t = (t + 1) & _HOLD_MASK
        self.hold_tails[o] = t

    def _realtime(self, i, b):
        # Real-time bytes bypass the parser state and take each output's priority lane.
        # Clock and transport pass only from the clock master (design notes section 5).
        if b == 0xF8:
            if self.master == NONE and self.master_mode == MASTER_AUTO:
                self.master = i
            if self.master != i:
                return
            self.last_clock = self.now
        elif b == 0xFA or b == 0xFB:
            if self.master_mode == MASTER_AUTO:
                self.master = i
            elif self.master_mode != i:
                return
            self.last_clock = self.now
        elif b == 0xFC:
            if self.master != i and not (self.master == NONE and self.master_mode == MASTER_AUTO):
                return
        elif b == 0xFE:
            self.sensing[i] = 1
            self.watch = 1
            self._queue_rt(b, self.masks[i][b])
            return
        else:
            self._queue_rt(b, self.masks[i][b])
            return
        if self.clock_sink is not None:
            self.clock_sink.on_master(b, self.now)
        self._queue_rt(b, self.masks[i][b] & self.clock_send)

    def inject_realtime(self, b):
        """Queue clock or transport byte ``b`` from the box's own clock (master mode internal) on
        every output whose clock is on. The clock that made it needs no ``clock_sink`` call."""
        self._queue_rt(b, self.clock_send & self.present)

    def _queue_rt(self, b, mask):
        if b == 0xF8:
            # Per-output divider: the first tick after Start passes, then one in ``divide``.
            m = mask & self.dividing
            if m:
                divide = self.divide
                count = self.divide_count
                for o in _BITS[m]:
                    c = count[o]
                    if c:
                        mask &= ~(1 << o)
                    c += 1
                    count[o] = 0 if c >= divide[o] else c
        elif b == 0xFA or b == 0xFB:
            count = self.divide_count
            for o in range(self.n_out):
                count[o] = 0
        # Idle outputs get the byte at once (one ``send``); the rest queue it in their lane.
        dm = mask & self.direct & ~self.queued
        if dm:
            mask ^= dm
            rtb = self.rtb
            rtb[0] = b
            outputs = self.outputs
            now = self.now
            for o in _BITS[dm]:
                if not outputs[o].send(rtb, 0, 1, now):
                    mask |= 1 << o
        self.queued |= mask
        o = 0
        while mask:
            if mask & 1:
                t = self.rt_tails[o]
                if ((self.rt_heads[o] - t - 1) & _RT_MASK) == 0:
                    self.dropped[o * N_DROP_REASONS + DROP_REALTIME_FULL] += 1
                else:
                    self.rt[o][t] = b
                    self.rt_tails[o] = (t + 1) & _RT_MASK
            mask >>= 1
            o += 1

    # -- SysEx ---------------------------------------------------------------------------

    def _sysex_start(self, i):
        # Outputs that are free carry the SysEx as it streams. Outputs another input's SysEx
        # holds get it later, whole: its bytes are kept in this input's wait buffer, and a
        # marker (F0, input) in the output's hold queue keeps its place among the messages
        # held there, so each input's order is kept.
        mask = self.masks[i][0xF0]
        n_out = self.n_out
        pend = self.sx_pend
        if self.sx_len[i] and not self._sx_pending(i):
            self.sx_len[i] = 0  # every SysEx kept here has gone out: start over
        taken = 0
        wait = 0
        for o in _BITS[mask]:
            if self.owner[o] == NONE:
                self.owner[o] = i
                taken |= 1 << o
                self._put(o, 0xF0)
                self.out_key[o] = -1
            elif self.sx_len[i] + 2 <= SX_WAIT_SIZE and self._hold_marker(o, i):
                k = i * n_out + o
                if not pend[k]:
                    self.sx_cur[k] = self.sx_len[i]
                pend[k] += 1
                wait |= 1 << o
            else:
                self.dropped[o * N_DROP_REASONS + DROP_SYSEX_BUSY] += 1
        if wait:
            # In the wait buffer each SysEx starts with the outputs waiting for it.
            buf = self.sx_buf[i]
            k = self.sx_len[i]
            self.sx_start[i] = k
            buf[k] = wait
            buf[k + 1] = 0xF0
            self.sx_len[i] = k + 2
        self.sx_wait[i] = wait
        self.sysex_to[i] = taken
        self.owned |= taken
        self.queued |= taken
        self.watch = 1

    def _sx_pending(self, i):
        # Outputs with a marker for input ``i`` still in their hold queue.
        pend = self.sx_pend
        k = i * self.n_out
        for o in range(self.n_out):
            if pend[k + o]:
                return True
        return False

    def _hold_marker(self, o, i):
        hold = self.hold[o]
        t = self.hold_tails[o]
        if ((self.hold_heads[o] - t - 1) & _HOLD_MASK) < 2:
            return False
        hold[t] = 0xF0
        t = (t + 1) & _HOLD_MASK
        hold[t] = i
        self.hold_tails[o] = (t + 1) & _HOLD_MASK
        self.held = 1
        return True

    def _sysex_drop_waiting(self, i):
        # Input ``i``'s open SysEx outgrew its wait buffer: the outputs waiting for it drop it
        # whole (none of it was sent there) and their markers for it are voided.
        wait = self.sx_wait[i]
        for o in _BITS[wait]:
            self.dropped[o * N_DROP_REASONS + DROP_SYSEX_BUSY] += 1
            self.sx_pend[i * self.n_out + o] -= 1
            # Its marker is the last one for ``i`` in this hold queue.
            hold = self.hold[o]
            h = self.hold_heads[o]
            t = self.hold_tails[o]
            last = -1
            while h != t:
                if hold[h] == 0xF0 and hold[(h + 1) & _HOLD_MASK] == i:
                    last = h
                h = (h + 1) & _HOLD_MASK
            if last >= 0:
                hold[(last + 1) & _HOLD_MASK] = NONE
        self.sx_len[i] = self.sx_start[i]
        self.sx_wait[i] = 0

    def _sysex_byte(self, i, b):
        mask = self.sysex_to[i]
        for o in _BITS[mask]:
            # Keep one byte of room for the F7 that closes a SysEx cut short.
            if ((self.heads[o] - self.tails[o] - 1) & _RING_MASK) < 2:
                self._put(o, 0xF7)
                self._release(o)
                self.sysex_to[i] &= ~(1 << o) & 0xFF
                self.dropped[o * N_DROP_REASONS + DROP_SYSEX_OVERFLOW] += 1
            else:
                self._put(o, b)
        if self.sx_wait[i]:
            k = self.sx_len[i]
            if k < SX_WAIT_SIZE - 1:  # room for its F7
                self.sx_buf[i][k] = b
                self.sx_len[i] = k + 1
            else:
                self._sysex_drop_waiting(i)

    def _sysex_end(self, i):
        # Close input ``i``'s SysEx on every output carrying it (F7 ends it or closes it).
        # Outputs still waiting for it get it whole, with its F7, when their turn comes.
        mask = self.sysex_to[i]
        for o in _BITS[mask]:
            self._put(o, 0xF7)
            self._release(o)
        if self.sx_wait[i]:
            k = self.sx_len[i]
            self.sx_buf[i][k] = 0xF7
            self.sx_len[i] = k + 1
            self.sx_wait[i] = 0
        self.sysex_to[i] = 0
        if (self.state[i] & 0xFF) == 0xF0:
            self.state[i] = 0  # closed from outside the parser (timeout, input lost)

    def _put(self, o, b):
        t = self.tails[o]
        self.rings[o][t] = b
        self.tails[o] = (t + 1) & _RING_MASK
        self.queued |= 1 << o

    def _release(self, o):
        # The SysEx holding ``o`` ended: messages held meanwhile follow it, in order, up to a
        # waiting SysEx's marker: that SysEx goes out next (and holds ``o`` if still open).
        self.owner[o] = NONE
        self.owned &= ~(1 << o)
        self.out_key[o] = -1
        hold = self.hold[o]
        h = self.hold_heads[o]
        t = self.hold_tails[o]
        ring = self.rings[o]
        rt = self.tails[o]
        free = (self.heads[o] - rt - 1) & _RING_MASK
        bit = 1 << o
        while h != t and free:
            b = hold[h]
            if b == 0xF0:
                j = hold[(h + 1) & _HOLD_MASK]
                if j != NONE:
                    if free < SX_WAIT_SIZE:
                        break  # not enough room yet: the next service pass tries again
                    self.tails[o] = rt
                    self._sysex_catch_up(o, j)
                    rt = self.tails[o]
                    free = (self.heads[o] - rt - 1) & _RING_MASK
                h = (h + 2) & _HOLD_MASK
                if self.owner[o] != NONE:
                    break  # that SysEx is still open and now holds ``o``
                continue
            ring[rt] = b
            rt = (rt + 1) & _RING_MASK
            h = (h + 1) & _HOLD_MASK
            free -= 1
        self.tails[o] = rt
        self.hold_heads[o] = h
        self.queued |= bit
        # Anything left (ring full, or a SysEx holds ``o`` again) waits in the hold queue.

    def _sysex_catch_up(self, o, j):
        # Output ``o`` reached a marker for input ``j``: the next SysEx in ``j``'s wait buffer
        # that waits for ``o`` goes out, from its F0; if it is still open, ``o`` joins the
        # outputs it streams to and is held by it.
        bit = 1 << o
        k = j * self.n_out + o
        buf = self.sx_buf[j]
        end = self.sx_len[j]
        c = self.sx_cur[k]
        while c < end and not buf[c] & bit:
            # A SysEx that did not wait for ``o``: skip past its F7.
            c += 1
            while c < end and buf[c] != 0xF7:
                c += 1
            c += 1
        self.sx_pend[k] -= 1
        if c >= end:
            return  # not kept (cannot happen while markers and the buffer agree)
        c += 1  # the header: outputs waiting
        while c < end:
            b = buf[c]
            self._put(o, b)
            c += 1
            if b == 0xF7:
                break
        else:
            # Still open: the rest streams to ``o`` as it arrives.
            self.owner[o] = j
            self.owned |= bit
            self.sysex_to[j] |= bit
            self.sx_wait[j] &= ~bit
        self.sx_cur[k] = c

    # -- once a pass ---------------------------------------------------------------------

    def service(self, now):
        """Timeouts: a stalled SysEx, a silent clock master, an input lost after active sensing.

        Called every pass; does its loops only when the millisecond tick has moved and there is
        something to watch, so an idle pass costs a comparison or two."""
        self.now = now
        if now == self.serviced:
            return
        self.serviced = now
        if self.watch:
            still = 0
            state = self.state
            for i in range(self.n_in):
                # A SysEx open on input i: its parser status is 0xF0 (between feeds it is stored).
                if (state[i] & 0xFF) == 0xF0 or self.sensing[i]:
                    quiet = ticks_diff(now, self.last_rx[i])
                    if (state[i] & 0xFF) == 0xF0 and quiet > SYSEX_TIMEOUT_MS:
                        self._sysex_end(i)
                        self.sysex_timeouts += 1
                    if self.sensing[i] and quiet > SENSING_TIMEOUT_MS:
                        self.input_lost(i)
                    if (state[i] & 0xFF) == 0xF0 or self.sensing[i]:
                        still = 1
            self.watch = still
        if self.master != NONE and self.master_mode == MASTER_AUTO:
            if ticks_diff(now, self.last_clock) > CLOCK_TIMEOUT_MS:
                self.master = NONE
        if self.held:
            still = 0
            for o in range(self.n_out):
                if self.hold_heads[o] != self.hold_tails[o]:
                    if self.owner[o] == NONE:
                        self._release(o)
                    if self.hold_heads[o] != self.hold_tails[o]:
                        still = 1
            self.held = still

    def input_lost(self, i):
        """Input ``i`` went silent after active sensing: close what it left open."""
        self.sensing[i] = 0
        if (self.state[i] & 0xFF) == 0xF0:
            self._sysex_end(i)
        self.release_notes(i)
        self.state[i] = 0
        if self.master == i:
            self.master = NONE

    def drain(self, o, port, now):
        """Hand output ``o``'s queued bytes to ``port`` (``port.send``), real-time first, as
        many as it takes without blocking."""
        h = self.rt_heads[o]
        t = self.rt_tails[o]
        while h != t:
            if port.send(self.rt[o], h, h + 1, now) != 1:
                self.rt_heads[o] = h
                return
            h = (h + 1) & _RT_MASK
        self.rt_heads[o] = h
        h0 = self.heads[o]
        t = self.tails[o]
        h = h0
        if h != t:
            ring = self.rings[o]
            if t < h:
                # The queued bytes wrap: the end of the ring first.
                took = port.send(ring, h, RING_SIZE, now)
                h = (h + took) & _RING_MASK
            if h < t:
                h += port.send(ring, h, t, now)
            if self.co_n[o]:
                self._forget_sent(o, h0, (h - h0) & _RING_MASK)
            self.heads[o] = h
        if h == t:
            self.queued &= ~(1 << o)

    def write_outputs(self, now):
        """Hand every output's queued bytes to its port (``self.outputs``), as many as each
        takes without blocking. Once a pass, when ``queued`` is not 0.

        The common case (no real-time byte waiting, the queued bytes in one piece, nothing
        under coalescing watch) is inline: one ``send`` call per output. The rest goes through
        ``drain``."""
        q = self.queued
        outputs = self.outputs
        rings, tails, heads, out_key = self._q
        rt_heads = self.rt_heads
        rt_tails = self.rt_tails
        co_n = self.co_n
        o = 0
        while q:
            if q & 1:
                h = heads[o]
                t = tails[o]
                if h < t and rt_heads[o] == rt_tails[o] and not co_n[o]:
                    h += outputs[o].send(rings[o], h, t, now)
                    heads[o] = h
                    if h == t:
                        self.queued &= ~(1 << o)
                else:
                    self.drain(o, outputs[o], now)
            q >>= 1
            o += 1

    def pending(self, o):
        """Bytes queued for output ``o`` (both lanes)."""
        return ((self.tails[o] - self.heads[o]) & _RING_MASK) + ((self.rt_tails[o] - self.rt_heads[o]) & _RT_MASK)
