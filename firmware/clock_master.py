"""Clock master and clock dividers: which input's timing bytes pass, and to which outputs."""

# Rules (design notes section 5):
# - Clock, Start, Stop, Continue, Song Position and Song Select pass from the master only.
# - ``MASTER_AUTO``: the input that last sent Start or Continue; before any, the first input whose
#   clock arrives. A master silent for ``CLOCK_TIMEOUT_MS`` (or lost) gives the role up.
# - ``MASTER_INTERNAL``: the box's own clock (``inject``); every external timing byte is dropped.
# - An input index: that input only.
# - Per output: clock and transport sent or not (``send``), and a tick divider: the first tick
#   after Start passes, then one in ``divide[o]``.
#
# Who calls: ``firmware.merger`` for every timing byte (``route``) and once a tick (``service``);
# ``app`` through ``Merger.set_master`` / ``set_clock_outputs``.
#

from micropython import const

from firmware.ticks import ticks_diff

NONE = const(0xFF)
MASTER_AUTO = const(0xFE)
MASTER_INTERNAL = const(0xFD)  # the box's own clock (or the analog clock input)
CLOCK_TIMEOUT_MS = const(1000)
MAX_OUTPUTS = const(7)
BASE_OUTPUTS = const(6)  # BITS covers these; firmware.start.wire extends it on a box with usbh


def _bits():
    # The output indexes in each output mask, ``for o in BITS[mask]``, each as a memoryview of
    # one shared bytearray: 16 bytes of heap a mask, where a bytearray of its own takes 32 (an
    # object and its items). Iterating either allocates nothing. A list: a box with a 7th
    # output (usbh) appends the masks with its bit at start-up, so only such a box pays for them.
    n_masks = 1 << BASE_OUTPUTS
    store = bytearray(BASE_OUTPUTS * n_masks // 2)  # every output is in half the masks
    view = memoryview(store)
    out = [None] * n_masks  # type: list
    k = 0
    for m in range(n_masks):
        start = k
        for o in range(BASE_OUTPUTS):
            if m >> o & 1:
                store[k] = o
                k += 1
        out[m] = view[start:k]
    return out


BITS = _bits()
del _bits  # run once: its code need not stay in the heap


class ClockMaster:
    def __init__(self, n_out):
        self.n_out = n_out
        self.mode = MASTER_AUTO
        self.master = NONE
        self.last_clock = 0  # when the master's last F8, FA or FB came
        # The clock (firmware.clock.Clock.follow): the master's transport (on_master(b, now)) and
        # Song Position (song_position(beats)) as they come; its ticks are counted here
        # (``ticks``, taken by Clock.follow_ticks a pass later), and reach ``tick_sink``, the
        # clock while it runs, at once (each may make a pulse edge); else ``tick_sink`` is None,
        # and a tick costs the pass no call.
        self.sink = None
        self.tick_sink = None
        self.ticks = 0
        self.send = (1 << n_out) - 1
        self.divide = bytearray(n_out)
        self.count = bytearray(n_out)
        self.dividing = 0  # outputs whose divide is above 1
        for o in range(n_out):
            self.divide[o] = 1

    def set_master(self, mode):
        # Keeping the same mode across a preset switch keeps the current master.
        if mode == self.mode:
            return
        self.mode = mode
        # An input index, or MASTER_INTERNAL, which no input matches.
        self.master = NONE if mode == MASTER_AUTO else mode

    def set_outputs(self, send, divide):
        self.send = send
        for o in range(self.n_out):
            d = divide[o]
            if d != self.divide[o]:
                self.divide[o] = d
                self.count[o] = 0
            if d > 1:
                self.dividing |= 1 << o
            else:
                self.dividing &= ~(1 << o)

    def route(self, i, b, mask, now):
        # The outputs real-time byte ``b`` (FA-FE) from input ``i`` goes to (``mask``: its
        # routes). A clock tick's rule (F8: the master's pass, counted in ``ticks``, to
        # ``tick_sink`` at once) is Merger.realtime's, which keeps that pass a call shorter.
        if b == 0xFA or b == 0xFB:
            if self.mode == MASTER_AUTO:
                self.master = i
            elif self.mode != i:
                return 0
            if self.sink is not None:
                self.sink.on_master(b, now)  # before last_clock moves: the ticks before it were at last_clock
            self.last_clock = now
        elif b == 0xFC:
            if self.master != i and not (self.master == NONE and self.mode == MASTER_AUTO):
                return 0
            if self.sink is not None:
                self.sink.on_master(b, now)
        else:
            return mask  # active sensing (when routed): no master rule
        return self._divided(b, mask & self.send)

    def inject(self, b, present):
        # The outputs a timing byte of the box's own clock goes to.
        return self._divided(b, self.send & present)

    def _divided(self, b, mask):
        if b == 0xF8:
            return self.divide_tick(mask)
        if b == 0xFA or b == 0xFB:
            count = self.count
            for o in range(self.n_out):
                count[o] = 0
        return mask

    def divide_tick(self, mask):
        # The outputs in ``mask`` a clock tick goes to: a divided output takes the first of
        # every ``divide[o]``.
        m = mask & self.dividing
        if m:
            divide = self.divide
            count = self.count
            for o in BITS[m]:
                c = count[o]
                if c:
                    mask &= ~(1 << o)
                c += 1
                count[o] = 0 if c >= divide[o] else c
        return mask

    def allows(self, i):
        # Song position / select from input ``i`` may pass.
        return self.master == NONE or self.master == i

    def song_position(self, i, beats):
        if self.sink is not None and self.allows(i):
            self.sink.song_position(beats)

    def service(self, now):
        if self.master != NONE and self.mode == MASTER_AUTO and ticks_diff(now, self.last_clock) > CLOCK_TIMEOUT_MS:
            self.master = NONE

    def lost(self, i):
        if self.master == i and self.mode == MASTER_AUTO:
            self.master = NONE
