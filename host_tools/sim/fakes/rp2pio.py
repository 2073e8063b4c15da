"""Fake ``rp2pio``: a StateMachine that recognises the UART receive and transmit programs.

It does not execute PIO code; it reads the program's instructions to tell a receiver (IN + PUSH)
from a transmitter (PULL + OUT pins) and takes the bit rate from ``frequency`` / 8 (both UART
programs spend 8 cycles a bit). FIFO depths, the joined-FIFO option, blocking writes and the
two blocks of four state machines are modelled as on the RP2040."""

from collections import deque

from host_tools.sim import costs
from host_tools.sim import world as _world
from host_tools.sim.pins import Pin, claim, release
from host_tools.sim.wires import Transmitter

_KWARGS = {
    "pio_version": 0,
    "may_exec": None,
    "init": None,
    "first_out_pin": None,
    "out_pin_count": 1,
    "initial_out_pin_state": 0,
    "initial_out_pin_direction": 0xFFFFFFFF,
    "first_in_pin": None,
    "in_pin_count": 1,
    "pull_in_pin_up": 0,
    "pull_in_pin_down": 0,
    "first_set_pin": None,
    "set_pin_count": 1,
    "initial_set_pin_state": 0,
    "initial_set_pin_direction": 0x1F,
    "first_sideset_pin": None,
    "sideset_pin_count": 1,
    "sideset_pindirs": False,
    "initial_sideset_pin_state": 0,
    "initial_sideset_pin_direction": 0x1F,
    "sideset_enable": False,
    "jmp_pin": None,
    "jmp_pin_pull": None,
    "exclusive_pin_use": True,
    "auto_pull": False,
    "pull_threshold": 32,
    "out_shift_right": True,
    "wait_for_txstall": True,
    "auto_push": False,
    "push_threshold": 32,
    "in_shift_right": True,
    "user_interruptible": True,
    "wrap_target": 0,
    "wrap": -1,
    "offset": -1,
    "fifo_type": "auto",
    "mov_status_type": "txfifo",
    "mov_status_n": 0,
}
_STATE_MACHINES = 8  # 2 PIO blocks x 4


def _decode(program):
    has_in = has_push = has_pull = has_out_pins = False
    for word in program:
        op = word >> 13
        if op == 2 and (word >> 5) & 7 == 0:
            has_in = True
        elif op == 3 and (word >> 5) & 7 == 0:
            has_out_pins = True
        elif op == 4:
            if word & 0x80:
                has_pull = True
            else:
                has_push = True
    return has_in and has_push, has_pull and has_out_pins


class StateMachine:
    def __init__(self, program, frequency, **kwargs):
        for key in kwargs:
            if key not in _KWARGS:
                raise TypeError("unexpected keyword argument '%s'" % key)
        opts = dict(_KWARGS)
        opts.update(kwargs)
        if not isinstance(frequency, int):
            raise TypeError("frequency must be an int")
        words = list(memoryview(program).cast("H")) if not hasattr(program, "typecode") else list(program)
        if not words or len(words) > 32:
            raise ValueError("Program size invalid")
        for key in ("first_out_pin", "first_in_pin", "first_set_pin", "first_sideset_pin", "jmp_pin"):
            if opts[key] is not None and not isinstance(opts[key], Pin):
                raise TypeError("%s must be of type Pin" % key)
        if opts["fifo_type"] not in ("auto", "txrx", "tx", "rx"):
            raise ValueError("fifo_type not supported on RP2040")
        w = _world.current()
        used = w.__dict__.setdefault("pio_state_machines", [0])
        if used[0] >= _STATE_MACHINES:
            raise RuntimeError("All state machines in use")
        self._is_rx, self._is_tx = _decode(words)
        fifo = opts["fifo_type"]
        if fifo == "auto":
            fifo = "rx" if not self._is_tx else ("tx" if not self._is_rx else "txrx")
        self._rx_depth = 8 if fifo == "rx" else 4
        self._tx_depth = 8 if fifo == "tx" else 4
        self._pins = []
        for key in ("first_out_pin", "first_in_pin", "first_set_pin", "first_sideset_pin", "jmp_pin"):
            pin = opts[key]
            if pin is not None and pin not in self._pins:
                claim(pin, self)
                self._pins.append(pin)
        used[0] += 1
        self.frequency = frequency
        self._baud = frequency // 8
        self._wait_for_txstall = opts["wait_for_txstall"]
        self._rx = deque()
        self.lost = 0
        self.rxstall = False
        self.txstall = False
        self._transmitter = None
        if self._is_rx:
            if opts["first_in_pin"] is None:
                raise ValueError("Missing first_in_pin. Instruction 0 reads pin(s)")
            w.attach_receiver(opts["first_in_pin"].number, self)
            self._rx_pin = opts["first_in_pin"]
        if self._is_tx:
            if opts["first_out_pin"] is None:
                raise ValueError("Missing first_out_pin. Instruction 1 shifts out to pin(s)")
            # The FIFO plus the OSR holding the byte being shifted out.
            self._transmitter = Transmitter(w.tx_wire(opts["first_out_pin"].number), self._tx_depth + 1, self._baud)
        self._deinited = False

    # -- wire side ---------------------------------------------------------------------------

    def rx_byte(self, b, baud):
        if baud != self._baud:
            self.lost += 1
        elif len(self._rx) >= self._rx_depth:
            # The program's blocking push stalls, so the state machine misses the byte.
            self.rxstall = True
            self.lost += 1
        else:
            self._rx.append(b)

    def rx_pending(self):
        return len(self._rx)

    # -- CircuitPython API -------------------------------------------------------------------

    @property
    def in_waiting(self):
        w = _world.current()
        w.charge(costs.PIO_READINTO + costs.PER_READ_OVERHEAD)
        return len(self._rx)

    def readinto(self, buffer, *, start=0, end=None, swap=False):
        w = _world.current()
        if end is None:
            end = len(buffer)
        n = end - start
        while len(self._rx) < n:
            nxt = w.next_event_ns()
            if nxt is None:
                raise RuntimeError("readinto would wait forever (no more input)")
            w.advance_to(nxt)
        w.charge(costs.DEFAULT_CALL)
        for k in range(start, end):
            buffer[k] = self._rx.popleft()
        w.charge(costs.PER_BYTE_PATH * n)

    def write(self, buffer, *, start=0, end=None, swap=False):
        if self._transmitter is None:
            raise RuntimeError("No TX FIFO")
        w = _world.current()
        data = bytes(buffer[start:end])
        w.charge(costs.PIO_WRITE_BASE + costs.UART_WRITE_PER_BYTE * len(data))
        self._transmitter.put(data)
        if self._wait_for_txstall:
            while not self._transmitter.idle():
                w.advance_to(w.next_event_ns())

    def clear_rxfifo(self):
        self._rx.clear()

    def clear_txstall(self):
        self.txstall = False

    def restart(self):
        pass

    def deinit(self):
        if not self._deinited:
            w = _world.current()
            if self._is_rx:
                w.attach_receiver(self._rx_pin.number, None)
            for pin in self._pins:
                release(pin)
            w.pio_state_machines[0] -= 1
            self._deinited = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()
