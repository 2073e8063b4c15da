"""The four front-panel buttons on one ADC pin: the USB host variant's resistor ladder
(hardware/usbhost.json "ladder", docs/usb-host.md). Each button joins 3V3 to the ADC node through
its own resistor, a pull-down holds the node at 0 V: every combination reads its own voltage.

``board_io`` hands in the ``analogio.AnalogIn`` (``buttons``); the panel gets four ``LadderButton``
objects with ``.value`` (False = pressed), as it gets ``digitalio`` pins on the plain box, and
boot.py reads button 1 through ``Ladder`` too.
"""

# hardware/usbhost.json "ladder" (tests/test_usb_host.py checks they agree): ohms.
RESISTORS = (10000, 20000, 39000, 82000)
PULL_DOWN = 4700
FULL_SCALE = 65535  # AnalogIn.value of 3V3 (16 bits on every CircuitPython port)


def levels():
    """The nominal AnalogIn reading of each combination (index: bit k = button k + 1 pressed)."""
    out = []
    for combo in range(16):
        g = 0.0
        for k in range(4):
            if combo >> k & 1:
                g += 1.0 / RESISTORS[k]
        out.append(int(FULL_SCALE * g / (g + 1.0 / PULL_DOWN) + 0.5))
    return out


class Ladder:
    """``sample()`` reads the ADC once and keeps ``pressed`` (bit k: button k + 1), the
    combination whose nominal reading is nearest."""

    def __init__(self, adc):
        self.adc = adc
        self.pressed = 0
        # Thresholds half-way between neighbouring readings, in rising order, with the
        # combination each band stands for.
        nominal = levels()
        order = sorted(range(16), key=lambda c: nominal[c])
        self.combos = bytes(order)
        self.bounds = [(nominal[order[k]] + nominal[order[k + 1]]) // 2 for k in range(15)]

    def sample(self):
        v = self.adc.value
        bounds = self.bounds
        k = 0
        while k < 15 and v > bounds[k]:
            k += 1
        self.pressed = self.combos[k]
        return self.pressed


class LadderButton:
    """One button of a ladder, for ``firmware.panel``: ``value`` False while pressed. The panel
    reads its buttons in order each scan; button 1's read samples the ADC for all four."""

    def __init__(self, ladder, k):
        self.ladder = ladder
        self.bit = 1 << k
        self.first = k == 0

    @property
    def value(self):
        ladder = self.ladder
        pressed = ladder.sample() if self.first else ladder.pressed
        return not pressed & self.bit


def buttons(adc):
    """The panel's four buttons on the ladder read through ``adc`` (an ``AnalogIn``)."""
    ladder = Ladder(adc)
    return [LadderButton(ladder, k) for k in range(4)]
