"""Fake ``watchdog``: the mode constants, the timeout exception and the timer class.

``microcontroller.watchdog`` is the one ``WatchDogTimer`` (as on the board, the class is not
made by the firmware). Armed in RESET mode, it reboots the simulated box (``world.reboot``)
when virtual time passes ``timeout`` seconds after the last ``feed()``: a firmware that hangs
while still calling fake hardware (spinning on a pin, a lock, the clock) is reset as on the
board. Pure-Python endless loops that call nothing fake do not advance virtual time and are
not caught here (the test's own time limit is the backstop)."""

from host_tools.sim import world as _world

MAX_TIMEOUT_S = 8.388  # the RP2040 watchdog's longest period (24-bit counter at 2 ticks/us)


class WatchDogMode:
    RAISE = "RAISE"
    RESET = "RESET"


class WatchDogTimeout(Exception):
    pass


class WatchDogTimer:
    def __init__(self):
        self._timeout = None
        self._mode = None

    @property
    def timeout(self):
        return self._timeout

    @timeout.setter
    def timeout(self, value):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError("timeout must be a float")
        if value <= 0 or value > MAX_TIMEOUT_S:
            raise ValueError("timeout must be 0-%.3f" % MAX_TIMEOUT_S)
        self._timeout = float(value)
        if self._mode is not None:
            self._arm()

    @property
    def mode(self):
        return self._mode

    @mode.setter
    def mode(self, value):
        if value not in (None, WatchDogMode.RAISE, WatchDogMode.RESET):
            raise TypeError("mode must be a WatchDogMode or None")
        if value == WatchDogMode.RAISE:
            raise NotImplementedError("the simulator models WatchDogMode.RESET only")
        if self._mode == WatchDogMode.RESET and value != WatchDogMode.RESET:
            raise RuntimeError("WatchDogTimer cannot be deinitialized once mode is set to RESET")
        if value is not None and self._timeout is None:
            raise ValueError("WatchDogTimer.timeout must be greater than 0")
        self._mode = value
        if value is not None:
            self._arm()

    def feed(self):
        from host_tools.sim import costs

        w = _world.current()
        w.charge(costs.DEFAULT_CALL)
        if self._mode is not None:
            self._arm()

    def deinit(self):
        if self._mode == WatchDogMode.RESET:
            raise RuntimeError("WatchDogTimer cannot be deinitialized once mode is set to RESET")
        self._mode = None
        _world.current().watchdog_deadline_ns = None

    def _arm(self):
        w = _world.current()
        w.watchdog_deadline_ns = w.now_ns + int(self._timeout * 1e9)
        w.watchdog_feeds = w.__dict__.get("watchdog_feeds", 0) + 1
