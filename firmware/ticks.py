"""Wrap-safe arithmetic on ``supervisor.ticks_ms()`` values (a 29-bit millisecond counter that
wraps about every 6 days, and first 65 s after boot). Every timed thing uses this."""

_HALF = 0x10000000
_MASK = 0x1FFFFFFF


def ticks_diff(a, b):
    """``a - b`` in ms, correct across a wrap while the two are less than 3 days apart."""
    return ((a - b + _HALF) & _MASK) - _HALF
