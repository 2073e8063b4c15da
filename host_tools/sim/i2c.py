"""Fake ``busio.I2C`` for the RP2040 build of CircuitPython 10, with simulated devices on the bus.

Behaviour copied from CircuitPython (``shared-bindings/busio/I2C.c`` and
``ports/raspberrypi/common-hal/busio/I2C.c``):

* ``I2C(scl, sda, *, frequency=100000, timeout=255)``: both pins must be free ``microcontroller.Pin``
  objects (a used pin raises ValueError), SDA even and SCL odd on the same I2C block
  (``(n // 2) % 2``), else ``ValueError("Invalid pins")``; a block already in use raises
  ``ValueError("I2C peripheral in use")``; ``frequency`` above 1 MHz raises ValueError.
* Every bus call except ``try_lock``/``unlock``/``deinit`` needs the lock:
  ``RuntimeError("Function requires lock")``. A deinitialised object raises ValueError.
* A zero-length write (``writeto(addr, b"")``, ``probe``, ``scan``) is bit-banged on the RP2040: an
  absent device NACKs the address and the call fails at once (``probe`` returns False,
  ``writeto`` raises ``OSError(ENODEV)``).
* A transfer with data to an absent device blocks for CircuitPython's 1 s bus timeout and then
  raises OSError (docs/design.md, "Libraries and chips", as measured; errno ETIMEDOUT, the code's timeout path).

Time: each transaction charges the world ``costs.I2C_WRITETO_CPU`` plus the bus time: 9 bit times per
byte including the address byte, one bit time each for start, repeated start and stop, at the
requested ``frequency``. The device sees the transaction when the bus time is over.

Devices: any object with
  ``i2c_write(data: bytes)``          a write transaction addressed to it (start .. stop);
  ``i2c_read(n: int) -> bytes``       a read transaction of ``n`` bytes;
  ``i2c_general_call(data: bytes)``   optional: a write to address 0 (general call).
A device may raise ``Nack`` to refuse a byte; the bus turns that into ``OSError(ENODEV)`` as the
RP2040 SDK reports any abort. Devices are found in the world's registry ``world.i2c_devices``
(``attach(address, device)`` before or after the firmware makes its I2C; every I2C sees it) and in
the bus object's own table (``i2c.attach(address, device)``, that object only).
"""

import errno

from host_tools.sim import costs
from host_tools.sim import world as _world

NS_PER_S = 1_000_000_000
BUS_TIMEOUT_NS = 1 * NS_PER_S  # BUS_TIMEOUT_US in the RP2040 port
ABSENT_ERRNO = errno.ETIMEDOUT
MAX_FREQUENCY = 1_000_000
GENERAL_CALL = 0x00
SCAN_FIRST = 0x08
SCAN_LAST = 0x77

_DEINIT_MSG = "Object has been deinitialized and can no longer be used. Create a new object."


class Nack(Exception):
    """Raised by a simulated device that does not acknowledge a byte."""


def devices(world=None):
    """The world's address -> device table that every I2C object sees (created on first use)."""
    w = world if world is not None else _world.current()
    table = getattr(w, "i2c_devices", None)
    if table is None:
        table = w.i2c_devices = {}
    return table


def attach(address, device, world=None):
    """Put ``device`` on the bus at ``address`` for every I2C object of the world."""
    table = devices(world)
    _check_address(address)
    if address in table:
        raise ValueError(f"an I2C device is already attached at 0x{address:02x}")
    table[address] = device
    return device


def detach(address, world=None):
    devices(world).pop(address, None)


def _blocks_in_use(w):
    used = getattr(w, "i2c_blocks_in_use", None)
    if used is None:
        used = w.i2c_blocks_in_use = set()
    return used


def _check_address(address):
    if not isinstance(address, int) or not 0 <= address <= 0x7F:
        raise ValueError("address must be 0-127")


def _byte_view(buffer, start, end):
    """``buffer[start:end]`` as a flat byte view, bounds in elements as CircuitPython counts them."""
    mv = memoryview(buffer)
    if mv.ndim != 1:
        mv = mv.cast("B")
    part = mv[start:end]
    return part.cast("B") if part.format != "B" else part


class I2C:
    """Fake ``busio.I2C`` (controller) on an RP2040."""

    def __init__(self, scl, sda, *, frequency=100000, timeout=255):
        # The fake microcontroller, imported when a bus is made (tests put fakes/ on sys.path).
        from microcontroller import Pin, claim

        for name, pin in (("scl", scl), ("sda", sda)):
            if not isinstance(pin, Pin):
                raise TypeError(f"{name} must be of type Pin, not {type(pin).__name__}")
            if pin.in_use_by is not None:
                raise ValueError(f"{name} in use")
        scl_block = (scl.number // 2) % 2
        sda_block = (sda.number // 2) % 2
        if not (scl.number % 2 == 1 and sda.number % 2 == 0 and scl_block == sda_block):
            raise ValueError("Invalid pins")
        w = _world.current()
        used = _blocks_in_use(w)
        if sda_block in used:
            raise ValueError("I2C peripheral in use")
        if not isinstance(frequency, int) or not isinstance(timeout, int):
            raise TypeError("frequency and timeout must be int")
        if frequency > MAX_FREQUENCY:
            raise ValueError(f"frequency must be <= {MAX_FREQUENCY}")
        if frequency <= 0:
            raise ValueError("frequency must be > 0")
        claim(scl, self)
        claim(sda, self)
        used.add(sda_block)
        self._world = w
        self._block = sda_block
        self._scl = scl
        self._sda = sda
        self._frequency = frequency
        self._bit_ns = (NS_PER_S + frequency - 1) // frequency
        self._locked = False
        self._deinited = False
        self._local = {}

    # -- simulator side ---------------------------------------------------------------------

    def attach(self, address, device):
        """Put ``device`` on this bus object only (the world registry is ``attach()``)."""
        _check_address(address)
        if address in self._local or address in devices(self._world):
            raise ValueError(f"an I2C device is already attached at 0x{address:02x}")
        self._local[address] = device
        return device

    def _device(self, address):
        dev = self._local.get(address)
        if dev is None:
            dev = devices(self._world).get(address)
        return dev

    def _general_call_targets(self):
        found = []
        for table in (self._local, devices(self._world)):
            for dev in table.values():
                if hasattr(dev, "i2c_general_call") and dev not in found:
                    found.append(dev)
        return found

    def bus_ns(self, bits):
        return bits * self._bit_ns

    # -- CircuitPython API ------------------------------------------------------------------

    def deinit(self):
        if self._deinited:
            return
        from microcontroller import release

        release(self._scl)
        release(self._sda)
        _blocks_in_use(self._world).discard(self._block)
        self._deinited = True
        self._locked = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()

    def _check_deinit(self):
        if self._deinited:
            raise ValueError(_DEINIT_MSG)

    def _check_lock(self):
        if not self._locked:
            raise RuntimeError("Function requires lock")

    def try_lock(self):
        self._check_deinit()
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self):
        self._check_deinit()
        self._locked = False

    def _zero_length_write(self, address):
        """Bit-banged address-only write: True if a device acknowledged."""
        self._world_charge(costs.I2C_WRITETO_CPU, self.bus_ns(9 + 2))
        if address == GENERAL_CALL:
            return bool(self._general_call_targets())
        return self._device(address) is not None

    def _world_charge(self, cpu_ns, bus_ns):
        # The CPU's part of a transaction, then its bus time (the call blocks until the bus is done).
        w = _world.current()
        w.charge(cpu_ns)
        w.wait(bus_ns)

    def probe(self, address):
        self._check_deinit()
        self._check_lock()
        _check_address(address)
        return self._zero_length_write(address)

    def scan(self):
        self._check_deinit()
        self._check_lock()
        w = _world.current()
        w.charge(costs.I2C_WRITETO_CPU)
        found = []
        for addr in range(SCAN_FIRST, SCAN_LAST + 1):
            w.wait(self.bus_ns(9 + 2))
            if self._device(addr) is not None:
                found.append(addr)
        return found

    def _absent(self):
        self._world_charge(costs.I2C_WRITETO_CPU, BUS_TIMEOUT_NS)
        raise OSError(ABSENT_ERRNO, "I2C bus timeout: no device answered")

    def _deliver_write(self, address, data):
        try:
            if address == GENERAL_CALL:
                for dev in self._general_call_targets():
                    dev.i2c_general_call(data)
            else:
                self._device(address).i2c_write(data)
        except Nack:
            raise OSError(errno.ENODEV, "I2C device did not acknowledge") from None

    def _present(self, address):
        if address == GENERAL_CALL:
            return bool(self._general_call_targets())
        return self._device(address) is not None

    def writeto(self, address, buffer, *, start=0, end=None):
        self._check_deinit()
        self._check_lock()
        _check_address(address)
        data = bytes(_byte_view(buffer, start, end))
        if not data:
            if not self._zero_length_write(address):
                raise OSError(errno.ENODEV, f"No device at address 0x{address:02x}")
            return
        if not self._present(address):
            self._absent()
        self._world_charge(costs.I2C_WRITETO_CPU, self.bus_ns(1 + 9 * (1 + len(data)) + 1))
        self._deliver_write(address, data)

    def readfrom_into(self, address, buffer, *, start=0, end=None):
        self._check_deinit()
        self._check_lock()
        _check_address(address)
        target = _byte_view(buffer, start, end)
        if len(target) == 0:
            raise ValueError("buffer length must be >= 1")
        if target.readonly:
            raise TypeError("object with buffer protocol and write access required")
        dev = None if address == GENERAL_CALL else self._device(address)
        if dev is None:
            self._absent()
        self._world_charge(costs.I2C_WRITETO_CPU, self.bus_ns(1 + 9 * (1 + len(target)) + 1))
        self._read_into(dev, target)

    @staticmethod
    def _read_into(dev, target):
        try:
            got = bytes(dev.i2c_read(len(target)))
        except Nack:
            raise OSError(errno.ENODEV, "I2C device did not acknowledge") from None
        if len(got) != len(target):
            raise OSError(errno.EIO, f"device returned {len(got)} bytes, {len(target)} asked")
        target[:] = got

    def writeto_then_readfrom(
        self,
        address,
        buffer_out,
        buffer_in,
        *,
        out_start=0,
        out_end=None,
        in_start=0,
        in_end=None,
    ):
        self._check_deinit()
        self._check_lock()
        _check_address(address)
        data = bytes(_byte_view(buffer_out, out_start, out_end))
        target = _byte_view(buffer_in, in_start, in_end)
        if len(target) == 0:
            # CircuitPython names the wrong argument in this message; kept as the board says it.
            raise ValueError("out_buffer length must be >= 1")
        if target.readonly:
            raise TypeError("object with buffer protocol and write access required")
        dev = None if address == GENERAL_CALL else self._device(address)
        if dev is None:
            if not data:
                # The bit-banged empty write fails at once with a NACK.
                self._world_charge(costs.I2C_WRITETO_CPU, self.bus_ns(9 + 1))
                raise OSError(errno.ENODEV, f"No device at address 0x{address:02x}")
            self._absent()
        bits = 1 + 9 * (1 + len(data)) + 1 + 9 * (1 + len(target)) + 1
        self._world_charge(costs.I2C_WRITETO_CPU, self.bus_ns(bits))
        if data:
            self._deliver_write(address, data)
        self._read_into(dev, target)
