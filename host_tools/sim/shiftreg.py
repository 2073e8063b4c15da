"""The 74HCT595 that drives the eight drum jacks: SPI shifts a byte in, a rising edge on the
latch pin (RCLK) copies it to the outputs. QA (drum1) is the last bit shifted, as with an SPI
byte sent MSB first: bit 0 of the byte is drum1, bit 7 drum8."""

from host_tools.sim import analog


class ShiftRegister595:
    def __init__(self, world, names):
        self.world = world
        self.names = names  # signal names of QA..QH
        self.shift = 0
        self.outputs = 0
        self.latch_level = False
        self.latches = 0

    def spi_write(self, data):
        for b in data:
            self.shift = b  # an 8-bit register keeps the last byte shifted in

    def latch(self, level):
        if level and not self.latch_level:
            self.latches += 1
            self.outputs = self.shift
            for k, name in enumerate(self.names):
                self.world.signals.set(name, analog.gate_volts(bool(self.outputs >> k & 1)))
        self.latch_level = level
