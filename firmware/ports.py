"""MIDI ports over whatever hardware object ``board_io`` hands in.

Inputs have ``read(buf) -> n``: never waits, returns 0 when nothing arrived.
Outputs have ``room(now) -> n`` (bytes that can be written without blocking) and
``write_from(buf, start, end) -> n`` (bytes taken). Nothing here imports a hardware module, so
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

BYTE_US = const(320)  # one byte on a 31250 baud wire: 10 bits
# How far ahead of the wire a DIN output may fill its transmit FIFO (the RP2040 UART FIFO holds
# 32, a joined PIO FIFO 8). Bytes in the FIFO cannot be overtaken, so a real-time byte waits
# behind them: 8 bytes bound that wait to 2.6 ms under load (the estimate's 1 ms margin is 3 of
# them) while keeping the wire busy between passes.
UART_FIFO = const(8)
PIO_FIFO = const(8)
USB_CHUNK = const(64)
_STAGE = const(64)



class _Paced:
    """Wire-time bookkeeping shared by the DIN outputs."""

    def __init__(self, fifo):
        self.fifo = fifo
        self._base = 0  # ticks_ms when the current burst was (at the latest) started
        self._queued_us = 0  # wire time written since _base, plus the 1 ms start margin
        self._busy = False
        self._now = 0

    def room(self, now):
        self._now = now
        if not self._busy:
            return self.fifo
        elapsed = ticks_diff(now, self._base)
        left = self._queued_us - elapsed * 1000
        if left <= 0:
            self._busy = False
            return self.fifo
        if elapsed > 10000:
            # Rebase so the counters stay small ints; exact, both are whole ms.
            self._base = now
            self._queued_us = left
        queued = (left + BYTE_US - 1) // BYTE_US
        return self.fifo - queued if queued < self.fifo else 0

    def _sent(self, n):
        if not self._busy:
            self._busy = True
            self._base = self._now
            self._queued_us = 1000  # the burst may start up to 1 ms after the tick we read
        self._queued_us += n * BYTE_US


class _Stage:
    """For writers whose ``write`` takes a whole buffer (busio.UART, usb_midi.PortOut): bytes
    are copied into a stage with one preallocated view per length, so no slice is made."""

    def __init__(self):
        self._stage = bytearray(_STAGE)
        whole = memoryview(self._stage)
        self._views = [whole[:n] for n in range(_STAGE + 1)]

    def staged(self, buf, start, end):
        n = end - start
        stage = self._stage
        k = 0
        while k < n:
            stage[k] = buf[start + k]
            k += 1
        return self._views[n]


class UartOut(_Paced):
    """DIN OUT on a ``busio.UART``."""

    def __init__(self, uart):
        super().__init__(UART_FIFO)
        self._uart = uart
        self._stage = _Stage()

    def write_from(self, buf, start, end):
        self._uart.write(self._stage.staged(buf, start, end))
        self._sent(end - start)
        return end - start


class PioOut(_Paced):
    """DIN OUT on an ``rp2pio.StateMachine`` running the UART transmit program."""

    def __init__(self, sm):
        super().__init__(PIO_FIFO)
        self._sm = sm

    def write_from(self, buf, start, end):
        self._sm.write(buf, start=start, end=end)
        self._sent(end - start)
        return end - start


class UsbOut:
    """USB MIDI out: ``usb_midi.PortOut.write`` never blocks; it takes what fits and says so."""

    def __init__(self, port):
        self._port = port
        self._stage = _Stage()

    def room(self, now):
        return USB_CHUNK

    def write_from(self, buf, start, end):
        took = self._port.write(self._stage.staged(buf, start, end))
        return took if took else 0


class UartIn:
    """DIN IN on a ``busio.UART`` created with ``timeout=0``: readinto returns what is there."""

    def __init__(self, uart):
        self._uart = uart

    def read(self, buf):
        n = self._uart.readinto(buf)
        return n if n else 0


class PioIn:
    """DIN IN on an ``rp2pio.StateMachine``: read only what its FIFO holds, so it never waits."""

    def __init__(self, sm, size):
        self._sm = sm
        self._size = size

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

    def read(self, buf):
        n = self._port.readinto(buf)
        return n if n else 0
