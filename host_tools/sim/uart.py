"""Fake ``busio.UART`` for the RP2040: the real signature, pin rules, receive buffer and timing."""

from collections import deque

from host_tools.sim import costs, stream
from host_tools.sim import world as _world
from host_tools.sim.pins import Pin, claim, release
from host_tools.sim.wires import Transmitter

# RP2040 UART pin functions (datasheet 1.4.3, GPIO function select).
_UART_TX = {0: 0, 12: 0, 16: 0, 28: 0, 4: 1, 8: 1, 20: 1}
_UART_RX = {1: 0, 13: 0, 17: 0, 5: 1, 9: 1, 21: 1}
TX_FIFO = 32  # hardware transmit FIFO; CircuitPython's write waits until a byte fits in it
# The receive side as CircuitPython 10 on the RP2040 has it (ports/raspberrypi/common-hal/busio/
# UART.c; docs/board-engine.md): a byte lands in the 32-byte hardware FIFO; the interrupt moves the
# FIFO into the ring buffer (``receiver_buffer_size``) once it holds 4 bytes (pico-sdk's 1/8 level)
# or after 32 bit times of silence; ``readinto`` returns what the ring holds and only then moves
# the FIFO into it, so a lone byte comes out of the read after the one it arrived before;
# ``in_waiting`` moves it first.
RX_FIFO = 32
RX_IRQ_LEVEL = 4
RX_TIMEOUT_BITS = 32
# A main-loop pass runs from one read of UART0 (in1) to the next, as the board engine counts it
# (docs/board-engine.md): a ``readinto`` or an ``in_waiting``, each of which masks its interrupt.
PASS_MARKER_UART = 0


class _Parity:
    ODD = "ODD"
    EVEN = "EVEN"


class UART:
    Parity = _Parity

    def __init__(
        self,
        tx=None,
        rx=None,
        *,
        rts=None,
        cts=None,
        rs485_dir=None,
        rs485_invert=False,
        baudrate=9600,
        bits=8,
        parity=None,
        stop=1,
        timeout=1,
        receiver_buffer_size=64,
    ):
        for name, pin in (("tx", tx), ("rx", rx), ("rts", rts), ("cts", cts), ("rs485_dir", rs485_dir)):
            if pin is not None and not isinstance(pin, Pin):
                raise TypeError("%s must be of type Pin, not %s" % (name, type(pin).__name__))
        if tx is None and rx is None:
            raise ValueError("tx and rx cannot both be None")
        block = None
        if tx is not None:
            if tx.number not in _UART_TX:
                raise ValueError("Invalid pins")
            block = _UART_TX[tx.number]
        if rx is not None:
            if rx.number not in _UART_RX or (block is not None and _UART_RX[rx.number] != block):
                raise ValueError("Invalid pins")
            block = _UART_RX[rx.number]
        if not isinstance(baudrate, int) or isinstance(baudrate, bool):
            raise TypeError("baudrate must be an int")
        if bits not in (5, 6, 7, 8):
            raise ValueError("Invalid bits")
        if stop not in (1, 2):
            raise ValueError("Invalid stop")
        if not isinstance(receiver_buffer_size, int) or receiver_buffer_size < 1:
            raise ValueError("receiver_buffer_size must be >= 1")
        if not isinstance(timeout, (int, float)) or timeout < 0 or timeout > 100:
            raise ValueError("timeout must be 0.0-100.0 seconds")
        w = _world.current()
        used = w.__dict__.setdefault("uart_blocks", set())
        if block in used:
            raise ValueError("All UART peripherals are in use")
        for pin in (tx, rx):
            if pin is not None:
                claim(pin, self)
        used.add(block)
        self._block = block
        self._tx, self._rx = tx, rx
        self.baudrate = baudrate
        self.timeout = timeout
        self._rx_buffer = deque()  # the ring buffer
        self._rx_size = receiver_buffer_size
        self._rx_fifo = deque()  # the hardware receive FIFO
        self._rx_last_ns = 0  # when the FIFO's last byte arrived
        self._rx_timeout_ns = RX_TIMEOUT_BITS * 1_000_000_000 // baudrate
        self.lost = 0  # bytes that arrived while the receive buffer was full
        self._transmitter = None
        if tx is not None:
            self._transmitter = Transmitter(w.tx_wire(tx.number), TX_FIFO, baudrate)
        if rx is not None:
            w.attach_receiver(rx.number, self)
        self._deinited = False

    # -- wire side -------------------------------------------------------------------------

    def rx_byte(self, b, baud):
        if baud != self.baudrate:
            self.lost += 1  # framing garbage at the wrong speed
            return
        now = _world.current().now_ns
        self._timeout_interrupt(now)
        if len(self._rx_fifo) >= RX_FIFO:
            self.lost += 1  # the ring is full and so is the FIFO behind it
            return
        self._rx_fifo.append(b)
        self._rx_last_ns = now
        if len(self._rx_fifo) >= RX_IRQ_LEVEL:
            self._fifo_to_ring()  # the receive interrupt

    def _timeout_interrupt(self, now):
        # The receive timeout's interrupt, due once the FIFO's bytes have waited 32 bit times
        # (applied when something looks: nothing sees the ring in between).
        if self._rx_fifo and now - self._rx_last_ns >= self._rx_timeout_ns:
            self._fifo_to_ring()

    def _fifo_to_ring(self):
        while self._rx_fifo and len(self._rx_buffer) < self._rx_size:
            self._rx_buffer.append(self._rx_fifo.popleft())

    def rx_pending(self):
        return len(self._rx_buffer) + len(self._rx_fifo)

    # -- CircuitPython API -------------------------------------------------------------------

    def _check(self):
        if self._deinited:
            raise ValueError("Object has been deinitialized and can no longer be used. Create a new object.")

    @property
    def in_waiting(self):
        self._check()
        w = _world.current()
        if self._block == PASS_MARKER_UART and w.pass_marker is not None:
            w.pass_marker()  # it masks the UART's interrupt too, which the board engine counts
        w.charge_read(costs.UART_POLL, 0)  # the firmware's poll of its input (ports.uart_in)
        self._fifo_to_ring()
        return len(self._rx_buffer)

    def readinto(self, buf):
        self._check()
        w = _world.current()
        if self._block == PASS_MARKER_UART and w.pass_marker is not None:
            w.pass_marker()
        w.charge_read(costs.UART_READINTO, 0)
        want = len(buf)
        self._timeout_interrupt(w.now_ns)
        if self.timeout:
            # (CircuitPython's read then takes bytes from the FIFO as they come.)
            deadline = w.now_ns + int(self.timeout * 1e9)
            self._fifo_to_ring()
            while len(self._rx_buffer) < want and w.now_ns < deadline:
                nxt = w.next_event_ns()
                w.advance_to(min(nxt, deadline) if nxt is not None else deadline)
                self._fifo_to_ring()
        n = min(want, len(self._rx_buffer))
        if n == 0:
            self._fifo_to_ring()  # after the read, as CircuitPython does
            return None
        if not w.python_costs:
            w.charge(costs.PER_BYTE_PATH * n)
        for k in range(n):
            buf[k] = self._rx_buffer.popleft()
        self._fifo_to_ring()  # after the read, as CircuitPython does
        return n

    def read(self, nbytes=None):
        buf = bytearray(nbytes if nbytes is not None else max(1, len(self._rx_buffer)))
        n = self.readinto(buf)
        return bytes(buf[:n]) if n else None

    def write(self, buf, *args):
        self._check()
        if self._transmitter is None:
            raise ValueError("No TX pin")
        data = stream.span(buf, args)
        w = _world.current()
        w.charge(costs.UART_WRITE_BASE + costs.UART_WRITE_PER_BYTE * len(data))
        self._transmitter.put(data)
        return len(data)

    def reset_input_buffer(self):
        self._rx_buffer.clear()

    def deinit(self):
        if not self._deinited:
            release(self._tx)
            release(self._rx)
            w = _world.current()
            w.uart_blocks.discard(self._block)
            if self._rx is not None:
                w.attach_receiver(self._rx.number, None)
            self._deinited = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()
