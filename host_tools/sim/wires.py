"""DIN MIDI wires and USB links in virtual time.

A DIN byte takes 10 bit times at 31250 baud = 320 us; a time is always the moment a byte has
fully arrived (the end of its stop bit). ``DinInput`` delivers scheduled bytes to whatever
receiver the firmware attached to its GPIO (a busio.UART or a PIO state machine); ``Transmitter``
is the sending side of a UART or PIO TX: a FIFO drained back to back at wire speed, each byte
recorded on its ``Wire`` when its stop bit ends.
"""

from collections import deque

from host_tools.sim import world as _world

BAUD = 31250
BYTE_NS = 10 * 1_000_000_000 // BAUD  # 320,000 ns


class Wire:
    """What went out of one output port: (time_ns, byte) when each byte fully left."""

    def __init__(self, name):
        self.name = name
        self.bytes = []

    def record(self, t_ns, b):
        self.bytes.append((t_ns, b))


class DinInput:
    """A DIN input jack feeding the receiver attached to its GPIO."""

    def __init__(self, name, pin_number):
        self.name = name
        self.pin_number = pin_number
        self.receiver = None  # set when the firmware creates a UART/PIO on the pin
        self.sent = 0  # bytes that arrived at the receiver pin
        self.unheard = 0  # bytes that arrived while no receiver listened

    def schedule(self, timed_bytes):
        """``timed_bytes``: (arrival_ns, byte) in time order (see ``arrival_times``)."""
        w = _world.current()
        for t, b in timed_bytes:
            w.at(t, lambda b=b: self._arrive(b))

    def _arrive(self, b):
        self.sent += 1
        if self.receiver is None:
            self.unheard += 1
        else:
            self.receiver.rx_byte(b, BAUD)


def din_arrival_times(lines):
    """Times at which each byte of ``lines`` [(time_ns, bytes), ...] ends on a DIN wire.

    A line's bytes arrive at t, t + 320 us, ... and never closer than one byte time after the
    previous byte on the same wire."""
    out = []
    last = None
    for t, data in lines:
        for b in data:
            when = t if last is None or t >= last + BYTE_NS else last + BYTE_NS
            out.append((when, b))
            last = when
            t = when + BYTE_NS
    return out


class Transmitter:
    """A TX FIFO drained at wire speed. ``put`` blocks (advances time) while the FIFO is full,
    as CircuitPython's UART and rp2pio writes do."""

    def __init__(self, wire, fifo_size, baud):
        self.wire = wire
        self.fifo_size = fifo_size
        self.fifo = deque()
        self.busy = False
        self.baud = baud
        self.byte_ns = 10 * 1_000_000_000 // baud
        self.blocked_ns = 0  # total time writes spent waiting for FIFO room
        # A DMA feeding the FIFO (rp2pio background_write): a callable giving its next byte, or
        # None when it has nothing; called whenever the FIFO has room.
        self.dma = None
        _world.current().__dict__.setdefault("transmitters", []).append(self)

    def put(self, data):
        w = _world.current()
        for b in data:
            while len(self.fifo) >= self.fifo_size:
                t0 = w.now_ns
                nxt = w.next_event_ns()
                w.advance_to(nxt if nxt is not None else w.now_ns + self.byte_ns)
                self.blocked_ns += w.now_ns - t0
            self.fifo.append(b)
            if not self.busy:
                self._start()

    def _start(self):
        w = _world.current()
        self.busy = True
        b = self.fifo.popleft()
        w.at(w.now_ns + self.byte_ns, lambda: self._done(b))
        self.feed()

    def feed(self):
        """Let the DMA, if any, move bytes into the FIFO while it has room."""
        if self.dma is None:
            return
        while len(self.fifo) < self.fifo_size:
            b = self.dma()
            if b is None:
                break
            self.fifo.append(b)
            if not self.busy:
                self._start()
                return

    def _done(self, b):
        w = _world.current()
        if self.baud == BAUD:
            self.wire.record(w.now_ns, b)
        else:
            self.wire.garbled = getattr(self.wire, "garbled", 0) + 1
        self.busy = False
        if self.fifo:
            self._start()

    def idle(self):
        return not self.busy and not self.fifo
