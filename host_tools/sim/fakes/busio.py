"""Fake ``busio``: UART and I2C with the real signatures, acting on the simulated world."""

from host_tools.sim.i2c import I2C  # noqa: F401
from host_tools.sim.spi import SPI  # noqa: F401
from host_tools.sim.uart import UART  # noqa: F401
