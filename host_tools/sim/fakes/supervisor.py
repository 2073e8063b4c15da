"""Fake ``supervisor``: ticks_ms from the virtual clock, as a 29-bit counter.

Its ms steps as CircuitPython's on the RP2040 (host_tools/sim/ticks.py). As on the board, the
counter starts 65,536 ms before its first wrap, so any session longer than about a minute
exercises the firmware's wrap-safe tick arithmetic."""

from host_tools.sim import costs, ticks
from host_tools.sim import world as _world

_TICKS_PERIOD = 1 << 29
_TICKS_START = _TICKS_PERIOD - 65536


def ticks_ms():
    w = _world.current()
    w.charge(costs.TICKS_MS)
    return ticks_at(w)


def ticks_at(w):
    """What ``ticks_ms()`` reads in world ``w`` now, without charging the call (the tools'
    events that act as the firmware would at this moment)."""
    return (_TICKS_START + ticks.ms64(w.timer_us_at_zero, w.now_ns)) % _TICKS_PERIOD


class _Runtime:
    usb_connected = True
    serial_connected = False
    autoreload = False


runtime = _Runtime()


def reload():
    _world.current().request_reset()


def disable_autoreload():
    runtime.autoreload = False
