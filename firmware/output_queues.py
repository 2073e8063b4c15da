"""Output queues: what waits to leave each output, in the order it may leave."""

# Per output there are three fixed queues. Each keeps a read count and a write count that run
# over twice its size, so what is queued (write - read, modulo twice the size) is 0 when it is
# empty and the size when it is full: the two states cannot be confused.
#
# - ``rings``: whole messages in the order they were accepted; a SysEx streams into it byte by
#   byte while its input holds the output (``firmware.merger``, SysEx arbitration). Nothing is
#   ever written into a ring without room, and nothing is ever taken out of order.
# - ``lanes``: timing bytes (clock, start, continue, stop; active sensing when forwarded). They
#   overtake the ring, never each other.
# - ``late``: 4-byte records ``status, input | PROMISED, data1, data2`` of messages accepted while
#   the ring could not take them yet: the note-offs and sustain-offs the output owes (``PROMISED``,
#   see ``firmware.tracking``) and the newest value of a controller, bend or pressure from an
#   input that could not wait. They enter the ring first, in order, before anything else may.
#
# The rules that keep a note from hanging (checked in ``firmware.merger``):
# - The ring keeps ``OFF_BYTES`` free for every off the output owes (``owed[o]``): a message that
#   is not an owed off is written only if it leaves that much free, so an owed off always fits.
# - The late queue keeps a slot free for every owed off not in it yet, so one that must wait
#   behind another input's SysEx always has a place.
# - One input message may leave an output as up to ``MAX_COPIES`` messages (routes that each
#   transform sharing an input and an output: a split or a layer), and a note-on as many notes,
#   each owing its off. A note-on goes to an output that owes fewer than ``MAX_OWED`` offs, so
#   an output owes at most ``MAX_OWED - 1 + MAX_COPIES``: the late queue has a slot for each,
#   and an output below ``PRESSURE`` free can still take the copies with their offs' room
#   (tests/test_merger.py checks both sums).
#
# Who calls: ``firmware.merger`` owns one ``OutputQueues`` and writes the rings on its byte path
# through aliases of these lists (one attribute load instead of two on the RP2040).
#

from micropython import const

from firmware.clock_master import BITS

RING_SIZE = const(512)  # per output: at least 256 bytes queue before any input must wait
RING_MASK = const(511)
RING_WRAP = const(1023)  # read and write counts run over twice the size
LANE_SIZE = const(32)
LANE_MASK = const(31)
LANE_WRAP = const(63)
MAX_OWED = const(64)  # offs an output may owe (notes + sustain sounding there) before a note-on
MAX_COPIES = const(4)  # messages one input message may become on one output (config's shared routes)
_VALUE_SLOTS = const(16)  # late records for controller / bend / pressure values
LATE_SLOTS = const(80)  # MAX_OWED + _VALUE_SLOTS
LATE_WRAP = const(160)  # late read and write counts run over twice LATE_SLOTS
OFF_BYTES = const(3)  # ring bytes kept per owed off (a note-off with its status)
PROMISED = const(0x80)  # in a late record's input byte: an owed off

# An output with less than this free is "pressed": its messages take the checked path, which
# tests the reserve. Above it any message fits with every owed off's room to spare.
PRESSURE = const(256)


class OutputQueues:
    # Rings, timing lanes and late queues for ``n_out`` outputs.

    # Its fields are set up by start-up code, which leaves the heap once the box runs (app):
    # firmware/merger_setup.py, ``setup_queues``, explains each one (annotations only here:
    # nothing at run time).
    n_out: int
    rings: list
    heads: list
    tails: list
    lanes: list
    lane_heads: list
    lane_tails: list
    late: list
    late_heads: list
    late_tails: list
    late_offs: bytearray
    late_key: bytearray
    late_key_short: bytearray
    reserver: int
    reserved: int
    last_reserver: int
    owed: bytearray
    out_key: list
    running_status: bytearray

    # -- counts ------------------------------------------------------------------------

    def ring_free(self, o):
        return RING_SIZE - ((self.tails[o] - self.heads[o]) & RING_WRAP)

    def pending(self, o):
        # Messages and bytes waiting for output ``o`` (0 when it has nothing queued).
        return (((self.tails[o] - self.heads[o]) & RING_WRAP) + ((self.lane_tails[o] - self.lane_heads[o]) & LANE_WRAP)
                + (self.late_tails[o] - self.late_heads[o]) % LATE_WRAP)

    def wait_for(self, i, blocked, waiting):
        # Input ``i`` waits for the outputs in ``blocked`` (``waiting``: every input that waits).
        # Returns the outputs it reserves: when the turn is its own, or free and ``i`` is the
        # next waiting input after the last one that had it; else 0.
        if self.reserver != i:
            if self.reserver >= 0:
                return 0
            j = self.last_reserver
            waiting |= 1 << i
            while True:
                j = (j + 1) & 7
                if waiting >> j & 1:
                    break
            if j != i:
                return 0
            self.reserver = i
        self.reserved = blocked
        return blocked

    def turn_over(self):
        # The input whose turn it was has gone on.
        self.last_reserver = self.reserver
        self.reserver = -1
        self.reserved = 0

    # -- rings -------------------------------------------------------------------------

    def put(self, o, key, s, d1, d2, n):
        # Write one whole message into ring ``o`` (the caller checked the room), stating its
        # status unless running status on output allows leaving it out.
        ring = self.rings[o]
        t = self.tails[o]
        out_key = self.out_key
        if out_key[o] != key or key < 0:
            ring[t & RING_MASK] = s
            t = (t + 1) & RING_WRAP
            out_key[o] = key if key >= 0 and self.running_status[o] else -1
        if n:
            ring[t & RING_MASK] = d1
            t = (t + 1) & RING_WRAP
            if n == 2:
                ring[t & RING_MASK] = d2
                t = (t + 1) & RING_WRAP
        self.tails[o] = t

    def put_byte(self, o, b):
        t = self.tails[o]
        self.rings[o][t & RING_MASK] = b
        self.tails[o] = (t + 1) & RING_WRAP

    # -- late queue --------------------------------------------------------------------

    def late_put(self, o, i, s, d1, d2, promised):
        # Append a late record (the caller checked for a slot).
        t = self.late_tails[o]
        late = self.late[o]
        k = 4 * (t if t < LATE_SLOTS else t - LATE_SLOTS)
        late[k] = s
        late[k + 1] = i | promised
        late[k + 2] = d1
        late[k + 3] = d2
        t += 1
        self.late_tails[o] = 0 if t == LATE_WRAP else t
        if promised:
            self.late_offs[o] += 1

    def late_free(self, o):
        # Late slots free beyond those kept for owed offs not in the late queue yet
        # (``late_values`` counts them inline: a call an output costs about 1,600 cycles).
        return LATE_SLOTS - (self.late_tails[o] - self.late_heads[o]) % LATE_WRAP - (self.owed[o] - self.late_offs[o])

    def late_values(self, mask, i, s, d1, d2, store=1):
        # A controller / bend / pressure value from input ``i`` that the outputs in ``mask``
        # cannot take now and the input cannot wait for. Where a waiting value has the same key
        # (input, status, controller or note) it takes the new value (coalesced); else it joins
        # the late queue if a slot is free beyond those kept for owed offs; else it is dropped.
        # Returns the outputs it joined, and those it coalesced in shifted by 8; with ``store``
        # 0 only what it would do (nothing changes).
        #
        # The key leads a record (status, input, and data1 for a controller or a note's
        # pressure), so ``bytearray.find`` looks for it in C: a loop over the records cost up to
        # 130,000 cycles a value on the board at saturation. A match starts a record: a value's
        # status (0xA0 and above) is no record's other byte (inputs with their flags stay below
        # 0xA0, data below 0x80). One call for every output: at saturation each value goes late
        # on every output, and the calls an output cost about 26,000 cycles on the board.
        if (s & 0xF0) == 0xB0 or (s & 0xF0) == 0xA0:
            key = self.late_key
            key[2] = d1
        else:
            key = self.late_key_short
        key[0] = s
        key[1] = i
        heads = self.late_heads
        tails = self.late_tails
        owed = self.owed
        late_offs = self.late_offs
        lates = self.late
        took = 0
        for o in BITS[mask]:
            h = heads[o]
            t = tails[o]
            late = lates[o]
            end = 4 * (t if t < LATE_SLOTS else t - LATE_SLOTS)
            if h != t:
                start = 4 * (h if h < LATE_SLOTS else h - LATE_SLOTS)
                if start < end:
                    k = late.find(key, start, end)
                else:
                    k = late.find(key, start)  # the records wrap (or fill the queue)
                    if k < 0:
                        k = late.find(key, 0, end)
                if k >= 0:
                    if store:
                        late[k + 2] = d1
                        late[k + 3] = d2
                    took |= 0x100 << o
                    continue
            if LATE_SLOTS - (t - h) % LATE_WRAP - (owed[o] - late_offs[o]) <= 0:
                continue
            took |= 1 << o
            if store:
                late[end] = s
                late[end + 1] = i
                late[end + 2] = d1
                late[end + 3] = d2
                t += 1
                tails[o] = 0 if t == LATE_WRAP else t
        return took

    def late_to_ring(self, o):
        # Move late records into ring ``o`` in order while they fit (the output is not held by
        # a SysEx). Returns the owed offs moved (their promise is kept). The ring's room and
        # ``put`` inline: a SysEx's end moves every output's records in one pass, and the two
        # calls a record cost about 55,000 cycles an output on the board.
        late = self.late[o]
        h = self.late_heads[o]
        t = self.late_tails[o]
        owed = self.owed
        ring = self.rings[o]
        head = self.heads[o]
        tail = self.tails[o]
        out_key = self.out_key
        running = self.running_status[o]
        moved = 0
        while h != t:
            k = 4 * (h if h < LATE_SLOTS else h - LATE_SLOTS)
            s = late[k]
            n = 2 if (s & 0xE0) != 0xC0 else 1
            source = late[k + 1]
            free = RING_SIZE - ((tail - head) & RING_WRAP)
            if source & PROMISED:
                if free < n + 1:
                    break  # cannot happen: the ring keeps OFF_BYTES for each owed off
            elif free < n + 1 + OFF_BYTES * owed[o]:
                break
            # As ``put``: the status unless running status on output allows leaving it out.
            key = s | ((source & 0x7F) << 8)
            if out_key[o] != key:
                ring[tail & RING_MASK] = s
                tail = (tail + 1) & RING_WRAP
                out_key[o] = key if running else -1
            ring[tail & RING_MASK] = late[k + 2]
            tail = (tail + 1) & RING_WRAP
            if n == 2:
                ring[tail & RING_MASK] = late[k + 3]
                tail = (tail + 1) & RING_WRAP
            if source & PROMISED:
                owed[o] -= 1
                self.late_offs[o] -= 1
                moved += 1
            h += 1
            if h == LATE_WRAP:
                h = 0
        self.tails[o] = tail
        self.late_heads[o] = h
        return moved

    # -- to the ports ------------------------------------------------------------------

    def drain(self, o, wires, now):
        # Hand output ``o``'s lane, then its ring, to ``wires.send`` as far as it takes them
        # without blocking. Returns True when both are empty.
        lane = self.lanes[o]
        h = self.lane_heads[o]
        t = self.lane_tails[o]
        while h != t:
            if wires.send(o, lane, h & LANE_MASK, (h & LANE_MASK) + 1, now) != 1:
                self.lane_heads[o] = h
                return False
            h = (h + 1) & LANE_WRAP
        self.lane_heads[o] = h
        h = self.heads[o]
        t = self.tails[o]
        if h != t:
            ring = self.rings[o]
            a = h & RING_MASK
            b = t & RING_MASK
            if b <= a:
                # The queued bytes wrap (or fill the ring): the end of the ring first.
                took = wires.send(o, ring, a, RING_SIZE, now)
                h = (h + took) & RING_WRAP
                if took < RING_SIZE - a:
                    self.heads[o] = h
                    return False
                a = 0
            if a < b:
                h = (h + wires.send(o, ring, a, b, now)) & RING_WRAP
            self.heads[o] = h
        return h == t
