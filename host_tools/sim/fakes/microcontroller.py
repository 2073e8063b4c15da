"""Fake ``microcontroller``: pins, the CPU, NVM and the reset, as the Pico build has them."""

from host_tools.sim import world as _world
from host_tools.sim.pins import Pin, claim, release  # noqa: F401


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
