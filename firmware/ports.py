"""MIDI ports over whatever hardware object ``board_io`` hands in.

Inputs have ``read(buf) -> n``: never waits, returns 0 when nothing arrived; and ``reader``, the
callable the main loop polls with: the stream's own ``readinto`` where that never waits (a UART
made with ``timeout=0``, USB MIDI; it returns None or 0 when nothing came), so an idle pass pays
no Python call per input (about 1,500 cycles each on the board), else ``read``.
Outputs have ``send(buf, start, end, now) -> n``: take as many of ``buf[start:end]`` as go
without blocking (``now`` is the pass's ``ticks_ms``) and say how many. One call, not a room
query and a write: the merger calls it for every output a message goes to, and a method call is
the costliest thing on that path (docs/design.md, "CircuitPython costs"). Nothing here imports a hardware module, so
the simulator and the MicroPython tests drive the same classes with fakes.

Why DIN outputs pace themselves: a CircuitPython ``busio.UART.write`` returns only once every
byte is in the transmit FIFO, so writing more than the FIFO holds stalls the main loop for 320 us
a byte. There is no call that tells how full the FIFO is, so each DIN output keeps a
conservative estimate from ``supervisor.ticks_ms()`` (1 ms resolution): it counts a burst as
starting 1 ms late and the clock as 1 ms early, so the estimate is never below the real fill and
a write never blocks.

A PIO output is written in the background (``PioStage``): an ``rp2pio`` ``write`` returns only
once the state machine has pulled every byte (a 3-byte write to an idle wire holds the loop
about 640 us, one behind a byte still leaving up to 290 us more). ``PioStage`` copies the bytes
into one of two stage buffers and hands it to ``background_write``, whose DMA feeds the FIFO as
the wire drains it. A stage is refilled only when the write after it has started
(``pending_write`` is 0), so the DMA never reads a buffer being refilled. The same estimate paces
it, so no more is ever ahead of a clock byte than on a UART output.
"""

from micropython import const

READ_SIZE = const(64)  # bytes an input read takes at most (the main loop's buffer; PIO reads)
# A UART output's FIFO estimate counts in eighths of a byte: a 31250 baud wire takes 3.125 bytes
# a ms, 25 eighths, so the estimate stays exact in small ints with no division.
FILL_PER_BYTE = const(8)
DRAIN_PER_MS = const(25)
START_MARGIN = const(25)  # a burst may start up to 1 ms after the tick that stamps it
DRAINED_MS = const(40)  # more than the hard limit takes on the wire: the FIFO is empty
TICKS_MASK = const(0x1FFFFFFF)  # supervisor.ticks_ms wraps at 2**29 (firmware/ticks.py)
# How far ahead of the wire a UART output may fill its transmit FIFO (the RP2040 UART FIFO holds
# 32). Bytes in the FIFO cannot be overtaken, so a real-time byte waits behind them: 8 bytes
# bound that wait to 2.6 ms under load (the estimate's 1 ms margin is 3 of them) while keeping
# the wire busy between passes. In eighths of a byte.
UART_FIFO = const(64)
# A real-time byte (clock) may go past that soft limit up to what the FIFO really holds (32
# bytes): the estimate's 1 ms margin must not hold a clock byte back while the FIFO has room.
UART_HARD = const(256)
USB_CHUNK = const(64)
PIO_STAGE = const(8)  # a PIO output's stage buffer: the most the estimate lets out at once (UART_FIFO)


class DinOut:
    """DIN OUT on a ``busio.UART`` or a ``PioStage``. ``send`` is the byte path's one call per
    output and message: the FIFO estimate inline, then the stream write(buf, offset, length),
    which makes no slice and says how many bytes it took."""

    def __init__(self, stream):
        self.stream = stream
        self._write = stream.write
        self._fill = 0  # the estimate at ``_at``, in eighths of a byte (0: the FIFO is empty)
        self._at = 0  # ticks_ms of the last write

    def send(self, buf, start, end, now):
        # Take as many of ``buf[start:end]`` as fit the estimate now; a lone byte >= F8 comes
        # only from the merger's real-time lane and may use the FIFO's real depth.
        fill = self._fill
        if fill:
            ms = (now - self._at) & TICKS_MASK
            fill = fill - ms * DRAIN_PER_MS if ms < DRAINED_MS else 0
            if fill < 0:
                fill = 0
        n = end - start
        room = ((UART_HARD if n == 1 and buf[start] >= 0xF8 else UART_FIFO) - fill) >> 3
        if n > room:
            n = room
        if n <= 0:
            return 0
        n = self._write(buf, start, n)
        if not n:
            return 0
        self._fill = (fill if fill else START_MARGIN) + n * FILL_PER_BYTE
        self._at = now
        return n


class PioStage:
    """The write(buf, offset, length) of a stream, over an ``rp2pio.StateMachine`` running the
    UART transmit program: background writes through two stage buffers (see above)."""

    def __init__(self, sm):
        self._sm = sm
        self._background_write = sm.background_write
        self._stages = (bytearray(PIO_STAGE), bytearray(PIO_STAGE))
        # A view of each stage per length, made once: a slice on the byte path would allocate.
        self._views = tuple(tuple(memoryview(stage)[:n] for n in range(PIO_STAGE + 1)) for stage in self._stages)
        self._next = 0  # the stage the next write fills

    def write(self, buf, start, n):
        if self._sm.pending_write:
            return 0
        if n > PIO_STAGE:
            n = PIO_STAGE
        k = self._next
        stage = self._stages[k]
        stage[0] = buf[start]
        j = 1
        while j < n:  # no range(): a lone clock byte pays one compare
            stage[j] = buf[start + j]
            j += 1
        self._background_write(self._views[k][n])
        self._next = k ^ 1
        return n


class UsbOut:
    """USB MIDI out: ``usb_midi.PortOut.write`` never blocks; it takes what fits and says so."""

    def __init__(self, port):
        self._write = port.write

    def send(self, buf, start, end, now):
        n = end - start
        took = self._write(buf, start, n if n < USB_CHUNK else USB_CHUNK)
        return took if took else 0


class UartIn:
    """DIN IN on a ``busio.UART`` created with ``timeout=0``: readinto returns what is there."""

    def __init__(self, uart):
        self._uart = uart
        self.reader = uart.readinto

    def read(self, buf):
        n = self._uart.readinto(buf)
        return n if n else 0


class PioIn:
    """DIN IN on an ``rp2pio.StateMachine``: read only what its FIFO holds, so it never waits."""

    def __init__(self, sm, size):
        self._sm = sm
        self._size = size
        self.reader = self.read  # its readinto waits for the bytes asked: in_waiting first

    def read(self, buf):
        n = self._sm.in_waiting
        if n:
            if n > self._size:
                n = self._size
            self._sm.readinto(buf, end=n)
        return n


class UsbIn:
    def __init__(self, port):
        self._port = port
        self.reader = port.readinto

    def read(self, buf):
        n = self._port.readinto(buf)
        return n if n else 0


class LedChain:
    """The panel's LED writer: ``write(buf)`` shows the GRB bytes on the chain's pin through
    ``show(pin, buf)`` (``neopixel_write``; it blocks for the wire time)."""

    def __init__(self, show, pin):
        self.show = show
        self.pin = pin

    def write(self, buf):
        self.show(self.pin, buf)
