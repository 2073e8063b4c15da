"""Fake ``supervisor``: ticks_ms from the virtual clock, as a 29-bit counter.

As on the board, the counter starts 65,536 ms before its first wrap, so any session longer than
about a minute exercises the firmware's wrap-safe tick arithmetic."""

from host_tools.sim import costs
from host_tools.sim import world as _world

_TICKS_PERIOD = 1 << 29
_TICKS_START = _TICKS_PERIOD - 65536


def ticks_ms():
    w = _world.current()
    w.charge(costs.TICKS_MS)
    return (_TICKS_START + w.now_ns // 1_000_000) % _TICKS_PERIOD


class _Runtime:
    usb_connected = True
    serial_connected = False
    autoreload = False


runtime = _Runtime()


def reload():
    _world.current().request_reset()


def disable_autoreload():
    runtime.autoreload = False
