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

Why outputs pace themselves: a CircuitPython ``busio.UART.write`` (and ``rp2pio`` write) returns
only once every byte is in the transmit FIFO, so writing more than the FIFO holds stalls the
main loop for 320 us a byte. There is no call that tells how full the FIFO is, so each DIN
output keeps a conservative estimate from ``supervisor.ticks_ms()`` (1 ms resolution): it counts
a burst as starting 1 ms late and the clock as 1 ms early, so the estimate is never below the
real fill and a write never blocks.
"""

from micropython import const

from firmware.ticks import ticks_diff

READ_SIZE = const(64)  # bytes an input read takes at most (the main loop's buffer; PIO reads)
BYTE_US = const(320)  # one byte on a 31250 baud wire: 10 bits
# How far ahead of the wire a DIN output may fill its transmit FIFO (the RP2040 UART FIFO holds
# 32, a joined PIO FIFO 8). Bytes in the FIFO cannot be overtaken, so a real-time byte waits
# behind them: 8 bytes bound that wait to 2.6 ms under load (the estimate's 1 ms margin is 3 of
# them) while keeping the wire busy between passes.
UART_FIFO = const(8)
PIO_FIFO = const(8)
# A real-time byte (clock) may go past that soft limit up to what the hardware FIFO really
# holds (RP2040 UART 32, joined PIO TX FIFO 8): the estimate's 1 ms margin must not hold a
# clock byte back while the FIFO has room.
UART_HARD = const(32)
PIO_HARD = const(8)
USB_CHUNK = const(64)



class _Paced:
    """Wire-time bookkeeping shared by the DIN outputs."""

    def __init__(self, fifo, hard):
        self.fifo = fifo
        self.hard = hard
        self._base = 0  # ticks_ms when the current burst was (at the latest) started
        self._queued_us = 0  # wire time written since _base, plus the 1 ms start margin
        self._busy = False

    def _room(self, now, buf, start, end):
        # How many of ``buf[start:end]`` fit the FIFO estimate now; books them as sent. A lone
        # byte >= F8 comes only from the merger's real-time lane: it may use the real depth.
        n = end - start
        fifo = self.hard if n == 1 and buf[start] >= 0xF8 else self.fifo
        if self._busy:
            elapsed = ticks_diff(now, self._base)
            left = self._queued_us - elapsed * 1000
            if left <= 0:
                self._busy = False
            else:
                if elapsed > 10000:
                    # Rebase so the counters stay small ints; exact, both are whole ms.
                    self._base = now
                    self._queued_us = left
                queued = (left + BYTE_US - 1) // BYTE_US
                room = fifo - queued if queued < fifo else 0
                if n > room:
                    n = room
                self._queued_us += n * BYTE_US
                return n
        if n > fifo:
            n = fifo
        elif n <= 0:
            return 0
        self._busy = True
        self._base = now
        self._queued_us = 1000 + n * BYTE_US  # the burst may start up to 1 ms after the tick
        return n


class UartOut(_Paced):
    """DIN OUT on a ``busio.UART``."""

    def __init__(self, uart):
        super().__init__(UART_FIFO, UART_HARD)
        self._uart = uart

    def send(self, buf, start, end, now):
        n = self._room(now, buf, start, end)
        if n:
            self._uart.write(buf, start, n)  # the stream write(buf, offset, length): no slice
        return n


class PioOut(_Paced):
    """DIN OUT on an ``rp2pio.StateMachine`` running the UART transmit program."""

    def __init__(self, sm):
        super().__init__(PIO_FIFO, PIO_HARD)
        self._sm = sm

    def send(self, buf, start, end, now):
        n = self._room(now, buf, start, end)
        if n:
            self._sm.write(buf, start=start, end=start + n)
        return n


class UsbOut:
    """USB MIDI out: ``usb_midi.PortOut.write`` never blocks; it takes what fits and says so."""

    def __init__(self, port):
        self._port = port

    def send(self, buf, start, end, now):
        n = end - start
        if n > USB_CHUNK:
            n = USB_CHUNK
        took = self._port.write(buf, start, n)
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
