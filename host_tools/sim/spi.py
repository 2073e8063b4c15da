"""Fake ``busio.SPI`` for the RP2040, enough for the drum shift register (write only)."""

from host_tools.sim import costs
from host_tools.sim import world as _world
from host_tools.sim.pins import Pin, claim, release

_SCK = {2: 0, 6: 0, 18: 0, 22: 0, 10: 1, 14: 1, 26: 1}
_TX = {3: 0, 7: 0, 19: 0, 11: 1, 15: 1, 27: 1}
_RX = {0: 0, 4: 0, 16: 0, 8: 1, 12: 1, 28: 1}


class SPI:
    def __init__(self, clock, MOSI=None, MISO=None, half_duplex=False):
        for name, pin in (("clock", clock), ("MOSI", MOSI), ("MISO", MISO)):
            if pin is not None and not isinstance(pin, Pin):
                raise TypeError("%s must be of type Pin" % name)
        if clock.number not in _SCK:
            raise ValueError("Invalid pins")
        block = _SCK[clock.number]
        if MOSI is not None and _TX.get(MOSI.number) != block:
            raise ValueError("Invalid pins")
        if MISO is not None and _RX.get(MISO.number) != block:
            raise ValueError("Invalid pins")
        for pin in (clock, MOSI, MISO):
            if pin is not None:
                claim(pin, self)
        self._pins = (clock, MOSI, MISO)
        self._locked = False
        self.baudrate = 250000
        self.frequency = 250000
        w = _world.current()
        self._listeners = w.__dict__.setdefault("spi_listeners", {}).setdefault(clock.number, [])

    def try_lock(self):
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self):
        self._locked = False

    def configure(self, *, baudrate=100000, polarity=0, phase=0, bits=8):
        if not self._locked:
            raise RuntimeError("Function requires lock")
        self.baudrate = self.frequency = baudrate

    def write(self, buffer, *, start=0, end=None):
        if not self._locked:
            raise RuntimeError("Function requires lock")
        data = bytes(buffer[start:end])
        w = _world.current()
        w.charge(costs.SPI_WRITE_BASE)
        w.wait(len(data) * 8 * 1_000_000_000 // self.baudrate)
        for listener in self._listeners:
            listener(data)

    def deinit(self):
        for pin in self._pins:
            release(pin)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()
