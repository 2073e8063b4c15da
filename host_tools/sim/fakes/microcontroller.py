"""Fake ``microcontroller``: pins, the CPU, NVM and the reset, as the Pico build has them."""

from host_tools.sim import world as _world


class Pin:
    """A GPIO of the RP2040. Only the fake ``board`` makes them."""

    def __init__(self, name, number):
        self._name = name
        self.number = number
        self.in_use_by = None

    def __repr__(self):
        return "board.%s" % self._name

    def __hash__(self):
        return self.number

    def __eq__(self, other):
        return isinstance(other, Pin) and other.number == self.number


def claim(pin, user):
    """Mark ``pin`` used, as CircuitPython does; a second user raises ValueError like the board."""
    if not isinstance(pin, Pin):
        raise TypeError("expected a Pin, got %s" % type(pin).__name__)
    if pin.in_use_by is not None:
        raise ValueError("%r in use" % pin)
    pin.in_use_by = user


def release(pin):
    if pin is not None:
        pin.in_use_by = None


class Processor:
    def __init__(self):
        self._frequency = 125_000_000
        self.temperature = 27.0
        self.voltage = 3.3
        self.uid = bytearray(b"\xe6\x61\x38\x50\x13\x57\x2a\x2b")

    @property
    def frequency(self):
        return self._frequency

    @frequency.setter
    def frequency(self, value):
        if not isinstance(value, int):
            raise TypeError("frequency must be an int")
        if value < 20_000_000 or value > 300_000_000:
            raise ValueError("Invalid frequency")
        self._frequency = value


class _NVM:
    """256 bytes of non-volatile memory, kept by the world across a simulated reboot."""

    def __len__(self):
        return len(_world.current().nvm)

    def __getitem__(self, index):
        return _world.current().nvm[index]

    def __setitem__(self, index, value):
        _world.current().nvm[index] = value


class RunMode:
    NORMAL = "NORMAL"
    SAFE_MODE = "SAFE_MODE"
    UF2 = "UF2"
    BOOTLOADER = "BOOTLOADER"


cpu = Processor()
nvm = _NVM()


def reset():
    _world.current().request_reset()


def on_next_reset(run_mode):
    pass


def delay_us(delay):
    from host_tools.sim import costs

    _world.current().charge(int(delay) * 1000 + costs.DEFAULT_CALL)


def disable_interrupts():
    pass


def enable_interrupts():
    pass
