"""Fake ``microcontroller``: pins, the CPU, NVM and the reset, as the Pico build has them."""

import watchdog as _watchdog  # the fake watchdog module (fakes/ is first on sys.path)

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
        _world.current().cpu_hz = value  # the firmware's Python and calls run at it (World.charge)


# One NVM assignment on the RP2040 erases and rewrites a 4 KB flash sector (CircuitPython's
# common-hal/nvm/ByteArray.c), with the CPU stalled: W25Q16JV sector erase typ. 45 ms plus 16
# page programs at typ. 0.4 ms. Charged per assignment; world.nvm_writes counts them (wear).
NVM_WRITE_NS = 51_400_000


class _NVM:
    """256 bytes of non-volatile memory, kept by the world across a simulated reboot."""

    def __len__(self):
        return len(_world.current().nvm)

    def __getitem__(self, index):
        return _world.current().nvm[index]

    def __setitem__(self, index, value):
        w = _world.current()
        before = bytes(w.nvm)
        w.nvm[index] = value
        if len(w.nvm) != len(before):
            w.nvm[:] = before
            raise ValueError("Slice and value different lengths.")
        w.nvm_writes = w.__dict__.get("nvm_writes", 0) + 1
        w.wait(NVM_WRITE_NS)


class RunMode:
    NORMAL = "NORMAL"
    SAFE_MODE = "SAFE_MODE"
    UF2 = "UF2"
    BOOTLOADER = "BOOTLOADER"


cpu = Processor()
nvm = _NVM()
watchdog = _watchdog.WatchDogTimer()


def reset():
    _world.current().request_reset()


def on_next_reset(run_mode):
    pass


def delay_us(delay):
    from host_tools.sim import costs

    w = _world.current()
    w.charge(costs.DEFAULT_CALL)
    w.wait(int(delay) * 1000)


def disable_interrupts():
    pass


def enable_interrupts():
    pass
