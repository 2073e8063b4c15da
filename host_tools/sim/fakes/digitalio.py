"""Fake ``digitalio``: pins whose output level lands on a named signal at the jack."""

from host_tools.sim import costs
from host_tools.sim import world as _world
from host_tools.sim.pins import Pin, claim, release


class Direction:
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"


class Pull:
    UP = "UP"
    DOWN = "DOWN"


class DriveMode:
    PUSH_PULL = "PUSH_PULL"
    OPEN_DRAIN = "OPEN_DRAIN"


class DigitalInOut:
    def __init__(self, pin):
        if not isinstance(pin, Pin):
            raise TypeError("pin must be of type Pin, not %s" % type(pin).__name__)
        claim(pin, self)
        self._pin = pin
        self._direction = Direction.INPUT
        self._value = False
        self.pull = None
        self.drive_mode = DriveMode.PUSH_PULL

    @property
    def direction(self):
        return self._direction

    @direction.setter
    def direction(self, value):
        if value not in (Direction.INPUT, Direction.OUTPUT):
            raise ValueError("Invalid direction")
        self._direction = value
        if value == Direction.OUTPUT:
            self._drive(self._value)

    def switch_to_output(self, value=False, drive_mode=DriveMode.PUSH_PULL):
        self.drive_mode = drive_mode
        self._value = bool(value)
        self.direction = Direction.OUTPUT

    def switch_to_input(self, pull=None):
        self.pull = pull
        self._direction = Direction.INPUT

    @property
    def value(self):
        w = _world.current()
        w.charge(costs.PIN_READ)
        if self._direction == Direction.OUTPUT:
            return self._value
        return w.read_pin(self._pin.number, self.pull)

    @value.setter
    def value(self, v):
        if self._direction != Direction.OUTPUT:
            raise AttributeError("Cannot set value when direction is input.")
        _world.current().charge(costs.PIN_WRITE)
        self._value = bool(v)
        self._drive(self._value)

    def _drive(self, level):
        _world.current().drive_pin(self._pin.number, level)

    def deinit(self):
        release(self._pin)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()
