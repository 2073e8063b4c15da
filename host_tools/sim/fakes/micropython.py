"""Fake ``micropython``: only ``const``, as on the Pico build (no heap_lock there)."""


def const(value):
    return value
