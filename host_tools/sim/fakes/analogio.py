"""Fake ``analogio``: ``AnalogIn`` on GP26-GP29. The USB host variant's button ladder
(hardware/usbhost.json "ladder") is the only analog source modelled: its node's voltage from the
buttons held (``world.ladder_pressed``, bit k = button k + 1), as a 16-bit reading."""

from host_tools.sim import world as _world
from host_tools.sim.pins import Pin, claim, release

_ADC_GPIOS = (26, 27, 28, 29)


def _ladder():
    import json

    from host_tools.sim.runner import REPO

    with open(REPO / "hardware" / "usbhost.json") as f:
        return json.load(f)["ladder"]


class AnalogIn:
    def __init__(self, pin):
        if not isinstance(pin, Pin):
            raise TypeError("pin must be of type Pin")
        if pin.number not in _ADC_GPIOS:
            raise ValueError("Pin %r does not have ADC capabilities" % pin)
        claim(pin, self)
        self._pin = pin
        ladder = _ladder()
        self._resistors = ladder["resistors"]
        self._pull_down = ladder["pull_down"]
        self.reference_voltage = ladder["vref"]

    @property
    def value(self):
        w = _world.current()
        if self._pin is None:
            raise ValueError("Object has been deinitialized and can no longer be used. Create a new object.")
        pressed = w.__dict__.get("ladder_pressed", 0)
        g = sum(1.0 / r for k, r in enumerate(self._resistors) if pressed >> k & 1)
        return int(round(65535 * g / (g + 1.0 / self._pull_down)))

    def deinit(self):
        release(self._pin)
        self._pin = None
