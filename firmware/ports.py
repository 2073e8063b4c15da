"""MIDI ports over whatever hardware object ``board_io`` hands in.

Inputs have ``read(buf) -> n``: never waits, returns 0 when nothing arrived; and ``reader``, the
callable the main loop polls with: the stream's own ``readinto`` where that never waits (a UART
made with ``timeout=0``, USB MIDI; it returns None or 0 when nothing came), so an idle pass pays
no Python call per input (about 1,500 cycles each on the board), else ``read``.
Outputs: the box's own DIN and USB outputs are ``Wire``s (a stream and its kind), written by
``Wires``, which holds every output's state in lists by output index so the merger hands a
message to all the outputs it goes to in one call; any other output (the CV engine, the USB
host port, the tools' and tests' ports) has ``send(buf, start, end, now) -> n``: take as many of
``buf[start:end]`` as go without blocking (``now`` is the pass's ``ticks_ms``) and say how
many. On the board a method call is the costliest thing on the byte path (docs/design.md,
"CircuitPython costs"). Nothing here imports a hardware module, so the simulator and the
MicroPython tests drive the same classes with fakes.

Why DIN outputs pace themselves: a CircuitPython ``busio.UART.write`` returns only once every
byte is in the transmit FIFO, so writing more than the FIFO holds stalls the main loop for 320 us
a byte. There is no call that tells how full the FIFO is, so each DIN output keeps a
conservative estimate from ``supervisor.ticks_ms()`` (1 ms resolution): it counts a burst as
starting 1 ms late and the clock as 1 ms early, so the estimate is never below the real fill and
a write never blocks.

A PIO output is written in the background: an ``rp2pio`` ``write`` returns only once the state
machine has pulled every byte (a 3-byte write to an idle wire holds the loop about 640 us, one
behind a byte still leaving up to 290 us more). ``Wires`` copies the bytes into one of two stage
buffers and hands it to ``background_write``, whose DMA feeds the FIFO as
the wire drains it. A stage is refilled only when the write after it has started
(``pending_write`` is 0), so the DMA never reads a buffer being refilled. The same estimate paces
it, so no more is ever ahead of a clock byte than on a UART output.
"""

import array

from micropython import const

from firmware.clock_master import BITS

READ_SIZE = const(64)  # bytes an input read takes at most (the main loop's buffer; PIO reads)
RX_RING = const(128)  # slots of a PIO input's ring (a power of two); each is a 16-bit heap word
_RX_WRAP = const(RX_RING - 1)
RX_EMPTY = const(0x100)  # a ring slot read: not a byte
# A UART output's FIFO estimate counts in eighths of a byte: a 31250 baud wire takes 3.125 bytes
# a ms, 25 eighths, so the estimate stays exact in small ints with no division.
_FILL_PER_BYTE = const(8)
_DRAIN_PER_MS = const(25)
_START_MARGIN = const(25)  # a burst may start up to 1 ms after the tick that stamps it
_DRAINED_MS = const(40)  # more than the hard limit takes on the wire: the FIFO is empty
TICKS_MASK = const(0x1FFFFFFF)  # supervisor.ticks_ms wraps at 2**29 (firmware/ticks.py)
# How far ahead of the wire a UART output may fill its transmit FIFO (the RP2040 UART FIFO holds
# 32). Bytes in the FIFO cannot be overtaken, so a real-time byte waits behind them: 8 bytes
# bound that wait to 2.6 ms under load (the estimate's 1 ms margin is 3 of them) while keeping
# the wire busy between passes. In eighths of a byte.
UART_FIFO = const(64)
# A real-time byte (clock) may go past that soft limit up to what the FIFO really holds (32
# bytes): the estimate's 1 ms margin must not hold a clock byte back while the FIFO has room.
_UART_HARD = const(256)
_USB_CHUNK = const(64)
PIO_STAGE = const(8)  # a PIO output's stage buffer: the most the estimate lets out at once (UART_FIFO)


# How ``Wires`` writes an output: through the port's own ``send`` (the CV engine, the USB host
# port, the tools' and tests' ports), or itself, inline, for the box's own wires.
WIRE_PORT = const(0)
WIRE_UART = const(1)  # a busio.UART
WIRE_PIO = const(2)  # an rp2pio.StateMachine running the UART transmit program
WIRE_USB = const(3)  # a usb_midi.PortOut


class Wire:
    """A DIN or USB output as ``board_io`` hands it in: its stream (a ``busio.UART``, an
    ``rp2pio.StateMachine`` running the UART transmit program, a ``usb_midi.PortOut``) and its
    kind (WIRE_*), which says how ``Wires`` writes it."""

    def __init__(self, kind, stream):
        self.kind = kind
        self.stream = stream


# A timing byte for a PIO output: a read-only view per byte F8-FF, never refilled, so a
# background write of it needs no stage.
_TIMING = tuple(memoryview(bytes(range(0xF8, 0x100)))[k:k + 1] for k in range(8))
# The lengths a PIO write may have (a view of a stage per length costs heap): 1-3 (a message)
# and a whole stage; a longer piece is cut to the next shorter one.
PIO_LENGTHS = (0, 1, 2, 3, 3, 3, 3, 3, PIO_STAGE)


class Wires:
    """Every output's writer, its state in lists by output index, so the merger hands a message
    to all the outputs it goes to in one call (``send_message``, ``send_timing``) with no method
    call per output (a call costs about 1,900 cycles on the RP2040, a list look-up 450, the C
    write itself 1,500-3,700). ``send(o, ...)`` is one output's, for its queued bytes. Each
    says how many bytes it took.

    DIN outputs pace themselves by the FIFO estimate (see above), ``fill``, in eighths of a
    byte: it drains once a ms tick (``drain``), so a send reads
    it as it is. A PIO output is not written while its state machine has a write pending (a
    stage is refilled only once the write after it has started); when the estimate is 0 the
    FIFO is empty and nothing can be pending, so that look-up is skipped."""

    # The fields firmware/wires_setup.py sets (annotations only: nothing at run time).
    ports: list  # the output ports, None where absent
    uarts: int  # the outputs of each kind, as bitmasks
    pios: int
    usbs: int
    dins: int  # uarts | pios: the DIN outputs
    others: int  # written through their own send
    whole: int  # take whole messages, ``take(status, data1, data2)``, all or nothing: the CV engine
    write: list  # UART and USB: write(buf, start, n); PIO: background_write(view)
    machine: list  # PIO: its state machine
    stages: list  # PIO: its two stage buffers
    views: list  # PIO: per stage, a view of it per length in PIO_LENGTHS
    next_stage: bytearray
    fill: list  # the FIFO estimate, eighths of a byte
    filled: int  # outputs whose estimate is not 0
    drained_at: int  # the ms tick the estimates are at
    took: bytearray  # send_message: what an output that took less than the whole message took

    def __init__(self, outputs, whole=0):
        # Set by a start-up module: its code leaves the heap once the box runs.
        from firmware import wires_setup

        wires_setup.setup(self, outputs, whole)

    def drain(self, now):
        # The estimates at tick ``now``: what the wires sent since the estimates' tick has left.
        # The merger's ``service`` calls it in the tick work, a pass that carries no message, so
        # a forwarding pass seldom pays for it (on the board, dropping that call put 5,000-13,000
        # cycles back into the passes forwarding F8 and a note); the first send of a tick the
        # tick work has not reached yet calls it too.
        ms = (now - self.drained_at) & TICKS_MASK
        self.drained_at = now
        fills = self.fill
        filled = self.filled
        if ms >= _DRAINED_MS:
            for o in BITS[filled]:
                fills[o] = 0
            self.filled = 0
            return
        drain = ms * _DRAIN_PER_MS
        for o in BITS[filled]:
            fill = fills[o] - drain
            if fill <= 0:
                fill = 0
                filled &= ~(1 << o)
            fills[o] = fill
        self.filled = filled

    def send(self, o, buf, start, end, now):
        # As many of ``buf[start:end]`` as output ``o`` takes now without blocking.
        bit = 1 << o
        n = end - start
        if bit & self.usbs:
            took = self.write[o](buf, start, n if n < _USB_CHUNK else _USB_CHUNK)
            return took if took else 0
        if bit & self.others:
            return self.ports[o].send(buf, start, end, now)
        if now != self.drained_at:
            self.drain(now)
        fill = self.fill[o]
        room = ((_UART_HARD if n == 1 and buf[start] >= 0xF8 else UART_FIFO) - fill) >> 3
        if n > room:
            n = room
        if n <= 0:
            return 0
        if bit & self.uarts:
            n = self.write[o](buf, start, n)
            if not n:
                return 0
        else:
            if fill and self.machine[o].pending_write:
                return 0
            n = PIO_LENGTHS[n if n < PIO_STAGE else PIO_STAGE]
            k = self.next_stage[o]
            stage = self.stages[o][k]
            j = 0
            while j < n:
                stage[j] = buf[start + j]
                j += 1
            self.write[o](self.views[o][k][n])
            self.next_stage[o] = k ^ 1
        self.fill[o] = (fill if fill else _START_MARGIN) + n * _FILL_PER_BYTE
        self.filled |= bit
        return n

    def send_timing(self, mask, b, now):
        # Timing byte ``b`` to every output in ``mask``; returns those that could not take it.
        if now != self.drained_at:
            self.drain(now)
        write = self.write
        fills = self.fill
        rtb = _TIMING[b - 0xF8]
        short = 0
        din = mask & self.dins
        if din:
            filled = self.filled
            if din & filled:
                pios = self.pios
                for o in BITS[din]:
                    fill = fills[o]
                    if fill:
                        if fill > _UART_HARD - _FILL_PER_BYTE or (pios >> o & 1 and self.machine[o].pending_write):
                            short |= 1 << o
                            continue
                        fills[o] = fill + _FILL_PER_BYTE
                    else:
                        fills[o] = _START_MARGIN + _FILL_PER_BYTE
                    write[o](rtb)  # a UART with FIFO room takes it (the estimate's promise)
            else:
                # Every one idle (a clock tick between messages, the common case): no estimate
                # to check, no write pending.
                for o in BITS[din]:
                    fills[o] = _START_MARGIN + _FILL_PER_BYTE
                    write[o](rtb)
            self.filled = filled | din  # each has an estimate now (one that could not take it had one)
        for o in BITS[mask & self.usbs]:
            if not write[o](rtb):
                short |= 1 << o
        others = mask & self.others
        if others:
            for o in BITS[others]:
                if not self.ports[o].send(rtb, 0, 1, now):
                    short |= 1 << o
        return short

    def send_message(self, mask, buf, end, now, out_key, key):
        # The message ``buf[0:end]`` (3 bytes at most) to every output in ``mask``, without its
        # status byte where a DIN output's running status is ``key`` (``out_key[o]``; set to it,
        # or to -1 for a system common ``key`` < 0, once the status has gone; the merger sends
        # here only to outputs that use running status, and to USB and the ``whole`` outputs,
        # which never do). Returns the outputs that took less than the whole message, with what
        # each took (the status counted) in ``took``; a ``whole`` output takes all of it or
        # nothing.
        if now != self.drained_at:
            self.drain(now)
        fills = self.fill
        write = self.write
        after = key if key >= 0 else -1
        short = 0
        # The DIN outputs first, with what they read in locals: the note's path to four wires.
        din = mask & self.dins
        if din:
            uarts = self.uarts
            for o in BITS[din]:
                start = 1 if out_key[o] == key else 0
                fill = fills[o]
                took = end - start
                if took * _FILL_PER_BYTE > UART_FIFO - fill:
                    took = self.send(o, buf, start, end, now)  # what fits of it
                elif uarts >> o & 1:
                    write[o](buf, start, took)
                    fills[o] = (fill if fill else _START_MARGIN) + took * _FILL_PER_BYTE
                elif fill and self.machine[o].pending_write:
                    took = 0
                else:
                    # Into the next stage: a message is 3 bytes at most.
                    k = self.next_stage[o]
                    stage = self.stages[o][k]
                    stage[0] = buf[start]
                    if took > 1:
                        stage[1] = buf[start + 1]
                        if took > 2:
                            stage[2] = buf[start + 2]
                    write[o](self.views[o][k][took])
                    self.next_stage[o] = k ^ 1
                    fills[o] = (fill if fill else _START_MARGIN) + took * _FILL_PER_BYTE
                if start:
                    took += 1
                elif took:
                    out_key[o] = after
                if took < end:
                    self.took[o] = took
                    short |= 1 << o
            self.filled |= din
        for o in BITS[mask & ~din]:
            bit = 1 << o
            if bit & self.usbs:
                # Never running status: USB-MIDI packs whole messages (a message is within
                # one write: _USB_CHUNK).
                took = write[o](buf, 0, end)
                if not took:
                    took = 0
            elif bit & self.whole:
                # The CV engine: the whole message with its status (0 for the bytes it lacks:
                # the merger's ``msg``), or none of it while it holds the last one.
                took = end if self.ports[o].take(buf[0], buf[1], buf[2]) else 0
            else:
                start = 1 if out_key[o] == key else 0
                took = self.ports[o].send(buf, start, end, now)
                if start:
                    took += 1
                elif took:
                    out_key[o] = after
            if took < end:
                self.took[o] = took
                short |= bit
        return short


class StreamIn:
    """An input whose stream's ``readinto`` never waits and returns what is there: USB MIDI in."""

    def __init__(self, stream):
        self._stream = stream
        self.reader = stream.readinto

    def read(self, buf):
        n = self._stream.readinto(buf)
        return n if n else 0


class PolledIn:
    """A DIN IN the main loop polls through a closure, ``read(buf) -> n``, which holds what it
    reads as cells where a method would look them up on its object every pass: ``uart_in``,
    ``pio_in``."""

    def __init__(self, read):
        self.reader = self.read = read


def uart_in(uart):
    """DIN IN on a ``busio.UART`` created with ``timeout=0``. Its ``readinto`` hands over what the
    UART's interrupt has moved into its ring (at 4 bytes in the FIFO, or after 32 bit times of
    silence) and only then moves the FIFO in, so a lone byte came out of the second read after it
    arrived, a pass late; ``in_waiting`` moves the FIFO in first (CircuitPython's
    ports/raspberrypi/common-hal/busio/UART.c)."""
    readinto = uart.readinto

    def read(buf):
        if uart.in_waiting:
            return readinto(buf)
        return 0

    return PolledIn(read)


def pio_in(sm):
    """DIN IN on an rp2pio.StateMachine whose DMA moves each byte the program pushes into a ring
    (background_read with loop): the loop may stall for RX_RING bytes (41 ms of a full-rate wire)
    before input is lost, where the FIFO alone holds 8 (2.56 ms). last_read tells only which whole
    buffer the DMA filled, not how far into one it is, so a slot read is marked RX_EMPTY, a value
    the DMA never writes (the program pushes one byte in bits 7-0, the DMA moves 16 bits)."""
    ring = array.array("H", (RX_EMPTY for _ in range(RX_RING)))
    at = 0  # the next slot to read

    def read(buf):
        nonlocal at
        b = ring[at]
        if b == RX_EMPTY:
            return 0
        n = 0
        k = at
        while b != RX_EMPTY:
            ring[k] = RX_EMPTY
            buf[n] = b
            n += 1
            k = (k + 1) & _RX_WRAP
            if n == READ_SIZE:
                break
            b = ring[k]
        at = k
        return n

    sm.background_read(loop=ring)
    return PolledIn(read)


class LedChain:
    """The panel's LED writer: ``write(buf)`` shows the GRB bytes on the chain's pin through
    ``show(pin, buf)`` (``neopixel_write``; it blocks for the wire time)."""

    def __init__(self, show, pin):
        self.show = show
        self.pin = pin

    def write(self, buf):
        self.show(self.pin, buf)
