"""RP2040 GPIO pin objects shared by the fake modules (a stable class across simulation runs)."""


class Pin:
    """A GPIO of the RP2040. Only the fake ``board`` makes them."""

    def __init__(self, name, number):
        self._name = name
        self.number = number
        self.in_use_by = None

    def __repr__(self):
        return "board.%s" % self._name

    def __hash__(self):
        return self.number

    def __eq__(self, other):
        return isinstance(other, Pin) and other.number == self.number


def claim(pin, user):
    """Mark ``pin`` used, as CircuitPython does; a second user raises ValueError like the board."""
    if not isinstance(pin, Pin):
        raise TypeError("expected a Pin, got %s" % type(pin).__name__)
    if pin.in_use_by is not None:
        raise ValueError("%r in use" % pin)
    pin.in_use_by = user


def release(pin):
    if pin is not None:
        pin.in_use_by = None
