"""The two MCP4728 DACs: their setup, the analog constants, and the allocation-free write path.

``CvEngine`` (``firmware.cv``) owns one ``Dac``; ``firmware.cv_setup`` puts the chips in the
state this write path assumes, at start-up. The engine sets a channel's wanted code with ``set()``
as often as it likes; ``flush()`` sends only the channels whose code changed since the last
flush, one I2C transaction per chip at most. Channels 0-3 are the pitch chip (cv1..cv4, address
0x60), 4-7 the mod chip (mod1..mod4, 0x64).

Why the write path builds its own transactions instead of calling adafruit_mcp4728's
``channel.raw_value = code``: that setter sends one 3-byte Multi-Write per channel and
allocates a new bytearray (and a context manager) each time, which the box must never do while
playing. Measured (``make bench``, ``host_tools/bench_cv.py``): on the MicroPython VM a
``raw_value`` write allocates 112 bytes; four channels through it are 4 transactions, 449 us at
400 kHz (bus model of ``host_tools/sim/i2c.py``, CPU included) and 448 bytes, against one Fast
Write of all four channels here: 225 us and 0 bytes. adafruit_mcp4728 may still set the chips
up (``cv_setup.setup_driver``), where a few allocations do not matter: ``CvEngine`` uses it when the
hardware layer hands driver objects in as ``hw.dac_drivers`` (only ``board_io`` may import
``adafruit_*``: tests/test_runtime_compat.py); otherwise ``cv_setup.setup_dac`` writes the same
state itself.

Transaction choice per chip (bus bits at 400 kHz, 2.5 us a bit, plus about 17 us of CPU per
transaction on the Pico): one channel changed -> Multi-Write of 3 bytes (38 bits, 95 us); two ->
one Multi-Write of 6 bytes (65 bits, 163 us); three or four -> Fast Write of all four channels
(83 bits, 208 us; a 9-byte Multi-Write would be 230 us). LDAC is tied to GND on this board
(``hardware/analog.json``), so every write moves the outputs at once.
"""

import array

from micropython import const

# Analog facts, the same numbers as hardware/analog.json (tests/test_cv.py checks they agree).
VREF_VOLTS = 2.048  # internal reference, gain 1
DAC_BITS = 12
PITCH_GAIN = 4.0  # op-amp stage after the pitch chip: 0..8.19 V at the jack
MOD_GAIN = 2.5  # op-amp stage after the mod chip: 0..5.12 V
PITCH_ADDRESS = const(0x60)
MOD_ADDRESS = const(0x64)
DAC_MAX = const(4095)
CHANNELS = const(8)

# MCP4728 commands (datasheet DS22187E, section 5).
MULTI_WRITE = const(0x40)  # 0 1 0 0 0 DAC1 DAC0 UDAC
HI_INTERNAL = const(0x80)  # VREF=1 (internal), PD=00, Gx=0 (gain 1): the top bits of a Multi-Write


def _bit_tables():
    # For a 4-bit mask of changed channels: how many, and the lowest one.
    count = bytearray(16)
    low = bytearray(16)
    for m in range(16):
        count[m] = (m & 1) + (m >> 1 & 1) + (m >> 2 & 1) + (m >> 3 & 1)
        c = 0
        while c < 3 and not m >> c & 1:
            c += 1
        low[m] = c
    return count, low


_COUNT, _LOWEST = _bit_tables()


class Dac:
    """The codes wanted on the 8 channels, and the I2C writes that put them on the chips.

    ``i2c``: a ``busio.I2C`` or None (no CV: codes are tracked, nothing is sent). ``present``:
    bit 0 the pitch chip, bit 1 the mod chip (a chip that did not answer the probe at boot is
    never written: a write to an absent device blocks for a 1 s bus timeout).

    A channel is written only when its code changed: ``set`` marks it only then, and ``flush``
    sends the marked channels (the code is the one wanted at flush time).
    """

    def __init__(self, i2c, present, addresses=(PITCH_ADDRESS, MOD_ADDRESS)):
        self.i2c = i2c
        self.present = present if i2c is not None else 0
        self.addresses = addresses
        self.want = array.array("H", bytes(2 * CHANNELS))
        self.dirty = 0  # channels whose code changed since the last flush
        self._one = bytearray(3)
        self._two = bytearray(6)
        self._fast = bytearray(8)
        # Counters for tests and the bench (small ints).
        self.transactions = 0
        self.fast_writes = 0
        self.errors = 0

    def set(self, ch, code):
        """Want ``code`` (0..4095) on channel ``ch`` (0..7); sent at the next ``flush``."""
        if self.want[ch] != code:
            self.want[ch] = code
            self.dirty |= 1 << ch

    def flush(self):
        """Send the changed channels: one transaction per chip at most. Allocates nothing."""
        dirty = self.dirty
        if not dirty:
            return
        self.dirty = 0
        want = self.want
        chip = 0
        while dirty:
            changed = dirty & 15
            dirty >>= 4
            if changed and self.present >> chip & 1:
                base = chip << 2
                n = _COUNT[changed]
                if n >= 3:
                    buf = self._fast
                    buf[0] = want[base] >> 8  # 0 0 PD1 PD0 D11..D8: PD=00, normal
                    buf[1] = want[base] & 0xFF
                    buf[2] = want[base + 1] >> 8
                    buf[3] = want[base + 1] & 0xFF
                    buf[4] = want[base + 2] >> 8
                    buf[5] = want[base + 2] & 0xFF
                    buf[6] = want[base + 3] >> 8
                    buf[7] = want[base + 3] & 0xFF
                    self.fast_writes += 1
                else:
                    c = _LOWEST[changed]
                    code = want[base + c]
                    buf = self._one
                    if n == 2:
                        buf = self._two
                        c2 = _LOWEST[changed & ~(1 << c)]
                        code2 = want[base + c2]
                        buf[3] = MULTI_WRITE | (c2 << 1)
                        buf[4] = HI_INTERNAL | (code2 >> 8)
                        buf[5] = code2 & 0xFF
                    buf[0] = MULTI_WRITE | (c << 1)  # UDAC=0 (LDAC is low: the output follows)
                    buf[1] = HI_INTERNAL | (code >> 8)
                    buf[2] = code & 0xFF
                try:
                    self.i2c.writeto(self.addresses[chip], buf)
                    self.transactions += 1
                except OSError:
                    # The chip stopped answering: stop writing to it (each further try could
                    # block for the bus timeout). Gates and drums go on.
                    self.present &= ~(1 << chip)
                    self.errors += 1
            chip += 1
