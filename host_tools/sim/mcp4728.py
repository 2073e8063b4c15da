"""Emulator of the Microchip MCP4728 quad 12-bit DAC, at the level of I2C transactions.

Follows the datasheet (DS22187E), section 5 and Table 4-5:

* Write commands, chosen by the top bits of the first byte after the address:
  ``00`` Fast Write: per channel A..D two bytes ``0 0 PD1 PD0 D11..D8`` / ``D7..D0`` into the
  input registers (Vref and gain unchanged); it has no UDAC bit, so the outputs follow only when
  LDAC is low (or on a software update / LDAC falling edge). Bytes past channel D start again at A.
  ``01000`` Multi-Write: repeated ``x x x x x DAC1 DAC0 UDAC`` / ``VREF PD1 PD0 Gx D11..D8`` /
  ``D7..D0``, input registers only.
  ``01010`` Sequential Write: ``0 1 0 1 0 DAC1 DAC0 UDAC`` then two bytes per channel from the start
  channel to D, into the input registers and, at the end of the transaction, the EEPROM.
  ``01011`` Single Write: one channel, input register and EEPROM.
  ``011`` Write I2C address bits: needs LDAC toggled inside the transaction; not emulated, the
  third byte is not acknowledged (``Nack``), as the chip does when the LDAC condition is not met.
  ``100`` Write Vref bits ``1 0 0 x VA VB VC VD``; ``110`` Write gain bits ``1 1 0 x GA GB GC GD``;
  ``101`` Write power-down bits ``1 0 1 x PD1A PD0A PD1B PD0B`` / ``PD1C PD0C PD1D PD0D x x x x``.
  These three update the registers and the outputs at once.
* Output update after a write to an input register (Table 4-5): LDAC low -> all channels are
  latched; LDAC high and UDAC = 0 -> the written channel; LDAC high and UDAC = 1 -> none.
  A falling edge on LDAC latches all channels. ``hardware/analog.json`` does not say how LDAC is
  wired: the default here is LDAC tied to GND (``ldac=0``), so every write updates the outputs.
* General call (address 0): ``06`` reset (EEPROM -> input and output registers, regardless of
  LDAC), ``09`` wake-up (clears the power-down bits), ``08`` software update (input -> output,
  all channels). ``0C`` (read address bits) needs the LDAC handshake and is not emulated.
* Read: 24 bytes, for channels A..D the input register then the EEPROM, each as
  ``RDY/BSY POR DAC1 DAC0 0 A2 A1 A0`` / ``VREF PD1 PD0 Gx D11..D8`` / ``D7..D0``; reading on
  repeats from channel A.
* An EEPROM write keeps RDY/BSY low for ``EEPROM_WRITE_NS`` of virtual time (datasheet: 25 ms
  typical, 50 ms maximum; the maximum is used). A command that writes the EEPROM while it is busy
  is ignored (counted in ``ignored_while_busy``); volatile writes work as usual.

Volts: internal reference 2.048 V x gain (1 or 2), or VDD as reference (gain ignored);
``Vout = Vref * code / 4096``, never above VDD; a powered-down channel reads 0 V (its output is
pulled to ground through 1 k, 100 k or 500 k, with nothing else driving the pin).
"""

from host_tools.sim import world as _world
from host_tools.sim.i2c import Nack

DEFAULT_ADDRESS = 0x60
INTERNAL_VREF_MV = 2048
EEPROM_WRITE_NS = 50_000_000
CHANNELS = "ABCD"

VREF_VDD = 0
VREF_INTERNAL = 1

GC_RESET = 0x06
GC_SOFTWARE_UPDATE = 0x08
GC_WAKE_UP = 0x09
GC_READ_ADDRESS = 0x0C


class Register:
    """One channel's DAC register (input, output or EEPROM copy)."""

    __slots__ = ("code", "gain", "pd", "vref")

    def __init__(self, code=0, vref=VREF_VDD, pd=0, gain=0):
        self.code = code
        self.vref = vref
        self.pd = pd
        self.gain = gain  # the Gx bit: 0 -> x1, 1 -> x2

    def copy(self):
        return Register(self.code, self.vref, self.pd, self.gain)

    def as_tuple(self):
        return (self.code, self.vref, self.pd, self.gain)

    def set_bytes(self, hi, lo):
        """Take ``VREF PD1 PD0 Gx D11..D8`` / ``D7..D0``."""
        self.vref = hi >> 7
        self.pd = (hi >> 5) & 3
        self.gain = (hi >> 4) & 1
        self.code = ((hi & 0x0F) << 8) | lo

    def to_bytes(self):
        hi = (self.vref << 7) | (self.pd << 5) | (self.gain << 4) | (self.code >> 8)
        return hi, self.code & 0xFF

    def __eq__(self, other):
        return isinstance(other, Register) and self.as_tuple() == other.as_tuple()

    def __repr__(self):
        return f"Register(code={self.code}, vref={self.vref}, pd={self.pd}, gain={self.gain})"


def _now_ns():
    try:
        return _world.current().now_ns
    except RuntimeError:
        return None


class MCP4728:
    """The chip: four channels with input, output and EEPROM registers, LDAC pin and RDY/BSY.

    ``eeprom``: optional four ``(code, vref, pd, gain)`` tuples, the EEPROM contents at power-on
    (default: the factory state assumed here, code 0, VDD reference, gain x1, normal power).
    ``on_output(channel_index, volts)`` is called for each channel at power-on and then whenever
    a channel's output voltage changes.
    """

    def __init__(self, vdd=3.3, address=DEFAULT_ADDRESS, on_output=None, eeprom=None):
        if not 0x60 <= address <= 0x67:
            raise ValueError("MCP4728 addresses are 0x60-0x67")
        self.vdd = float(vdd)
        self.on_output = on_output
        self.address_bits_eeprom = address & 7
        self.address_bits = address & 7
        if eeprom is None:
            self.eeprom = [Register() for _ in range(4)]
        else:
            if len(eeprom) != 4:
                raise ValueError("eeprom needs four (code, vref, pd, gain) tuples")
            self.eeprom = [Register(*t) for t in eeprom]
        self.ldac = 0
        self.por = 1
        self._busy_until_ns = None
        self.ignored_while_busy = 0
        self.writes = 0  # transactions seen, for tests and load figures
        self.reads = 0
        self.general_calls = 0
        self._volts = [None] * 4
        self.input = [r.copy() for r in self.eeprom]
        self.output = [r.copy() for r in self.eeprom]
        self._publish(range(4))

    # -- state ------------------------------------------------------------------------------

    @property
    def address(self):
        return 0x60 | self.address_bits

    @property
    def ready(self):
        """The RDY/BSY pin: True unless an EEPROM write is under way."""
        if self._busy_until_ns is None:
            return True
        now = _now_ns()
        if now is None or now >= self._busy_until_ns:
            self._busy_until_ns = None
            return True
        return False

    def volts(self, channel):
        """Output voltage of channel 0-3 (A-D) from its output register."""
        reg = self.output[channel]
        if reg.pd:
            return 0.0
        if reg.vref == VREF_INTERNAL:
            v = INTERNAL_VREF_MV * (reg.gain + 1) * reg.code / 4_096_000
        else:
            v = self.vdd * reg.code / 4096
        return min(v, self.vdd)

    def outputs(self):
        return [self.volts(i) for i in range(4)]

    def _publish(self, channels):
        for ch in channels:
            v = self.volts(ch)
            if v != self._volts[ch]:
                self._volts[ch] = v
                if self.on_output is not None:
                    self.on_output(ch, v)

    def _latch(self, channels):
        for ch in channels:
            self.output[ch] = self.input[ch].copy()
        self._publish(channels)

    def _after_input_write(self, channel, udac):
        if self.ldac == 0:
            self._latch(range(4))
        elif udac == 0:
            self._latch((channel,))

    def _start_eeprom_write(self):
        now = _now_ns()
        self._busy_until_ns = None if now is None else now + EEPROM_WRITE_NS

    # -- pins and power ---------------------------------------------------------------------

    def set_ldac(self, level):
        """Drive the LDAC pin; a falling edge latches every input register to its output."""
        level = 1 if level else 0
        falling = self.ldac == 1 and level == 0
        self.ldac = level
        if falling:
            self._latch(range(4))

    def power_cycle(self):
        """Power-on reset: the EEPROM is loaded into the input and output registers."""
        self._busy_until_ns = None
        self._load_eeprom()

    def _load_eeprom(self):
        self.address_bits = self.address_bits_eeprom
        self.input = [r.copy() for r in self.eeprom]
        self.output = [r.copy() for r in self.eeprom]
        self._publish(range(4))

    # -- I2C side ---------------------------------------------------------------------------

    def i2c_write(self, data):
        data = bytes(data)
        self.writes += 1
        if not data:
            return
        first = data[0]
        kind = first >> 5
        if first >> 6 == 0:
            self._fast_write(data)
        elif kind == 0b010:
            function = (first >> 3) & 3
            if function == 0b00:
                self._multi_write(data)
            elif function == 0b10:
                self._sequential_write(data)
            elif function == 0b11:
                self._single_write(data)
            # 0b01 is not a command of the chip: ignored
        elif kind == 0b011:
            if len(data) >= 3:
                raise Nack("write address bits needs the LDAC handshake (not emulated)")
        elif kind == 0b100:
            self._select_bits(first, "vref")
        elif kind == 0b110:
            self._select_bits(first, "gain")
        elif kind == 0b101 and len(data) >= 2:
            self._power_down_bits(first, data[1])
        # 0b111: not a command of the chip: ignored

    def _fast_write(self, data):
        ch = 0
        for i in range(0, len(data) - 1, 2):
            hi, lo = data[i], data[i + 1]
            reg = self.input[ch]
            reg.pd = (hi >> 4) & 3
            reg.code = ((hi & 0x0F) << 8) | lo
            self._after_input_write(ch, 1)
            ch = (ch + 1) & 3

    def _multi_write(self, data):
        for i in range(0, len(data) - 2, 3):
            cmd, hi, lo = data[i], data[i + 1], data[i + 2]
            ch = (cmd >> 1) & 3
            self.input[ch].set_bytes(hi, lo)
            self._after_input_write(ch, cmd & 1)

    def _sequential_write(self, data):
        if not self.ready:
            self.ignored_while_busy += 1
            return
        first = data[0]
        ch = (first >> 1) & 3
        udac = first & 1
        written = []
        i = 1
        while ch < 4 and i + 1 < len(data):
            self.input[ch].set_bytes(data[i], data[i + 1])
            self._after_input_write(ch, udac)
            written.append(ch)
            ch += 1
            i += 2
        if written:
            for c in written:
                self.eeprom[c] = self.input[c].copy()
            self._start_eeprom_write()

    def _single_write(self, data):
        if len(data) < 3:
            return
        if not self.ready:
            self.ignored_while_busy += 1
            return
        first = data[0]
        ch = (first >> 1) & 3
        self.input[ch].set_bytes(data[1], data[2])
        self._after_input_write(ch, first & 1)
        self.eeprom[ch] = self.input[ch].copy()
        self._start_eeprom_write()

    def _select_bits(self, first, field):
        for ch in range(4):
            bit = (first >> (3 - ch)) & 1
            setattr(self.input[ch], field, bit)
            setattr(self.output[ch], field, bit)
        self._publish(range(4))

    def _power_down_bits(self, first, second):
        pds = ((first >> 2) & 3, first & 3, (second >> 6) & 3, (second >> 4) & 3)
        for ch, pd in enumerate(pds):
            self.input[ch].pd = pd
            self.output[ch].pd = pd
        self._publish(range(4))

    def i2c_general_call(self, data):
        data = bytes(data)
        self.general_calls += 1
        for byte in data:
            if byte == GC_RESET:
                self._load_eeprom()
            elif byte == GC_WAKE_UP:
                for ch in range(4):
                    self.input[ch].pd = 0
                    self.output[ch].pd = 0
                self._publish(range(4))
            elif byte == GC_SOFTWARE_UPDATE:
                self._latch(range(4))
            elif byte == GC_READ_ADDRESS:
                raise Nack("general call read address needs the LDAC handshake (not emulated)")

    def read_bytes(self):
        """The 24 bytes a read returns now."""
        status = (0x80 if self.ready else 0) | (self.por << 6)
        out = bytearray()
        for ch in range(4):
            for reg, addr_bits in (
                (self.input[ch], self.address_bits),
                (self.eeprom[ch], self.address_bits_eeprom),
            ):
                hi, lo = reg.to_bytes()
                out += bytes((status | (ch << 4) | addr_bits, hi, lo))
        return bytes(out)

    def i2c_read(self, n):
        self.reads += 1
        block = self.read_bytes()
        reps = n // len(block) + 1
        return (block * reps)[:n]
