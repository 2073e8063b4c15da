"""Fake ``board`` for the Raspberry Pi Pico (and the Pico 2, same pins): the pin names CircuitPython's Pico build has.

A wrong pin name fails with AttributeError, as on the board. The box's assignment of these pins
lives in ``hardware/pinmap.json`` (and ``firmware/pinmap.py``, generated from it)."""

from host_tools.sim import world as _world
from host_tools.sim.pins import Pin as _Pin


def _board_id():
    # The simulated board: the Pico, or the Pico 2 of the USB host variant (same pin names).
    try:
        return _world.current().__dict__.get("board_id", "raspberry_pi_pico")
    except RuntimeError:
        return "raspberry_pi_pico"


board_id = _board_id()

_PINS = {}
for _n in list(range(0, 23)) + [23, 24, 25, 26, 27, 28, 29]:
    _PINS[_n] = _Pin("GP%d" % _n, _n)
    globals()["GP%d" % _n] = _PINS[_n]

# Aliases of the Pico build (same Pin objects).
SMPS_MODE = _PINS[23]
VBUS_SENSE = _PINS[24]
LED = _PINS[25]
GP26_A0 = A0 = _PINS[26]
GP27_A1 = A1 = _PINS[27]
GP28_A2 = A2 = _PINS[28]
A3 = _PINS[29]
VOLTAGE_MONITOR = _PINS[29]
# GP23-GP25 and GP29 are not on the Pico's edge pins; the build names them only by alias.
del globals()["GP23"], globals()["GP24"], globals()["GP25"], globals()["GP29"]
del _n
