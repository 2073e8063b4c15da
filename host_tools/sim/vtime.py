"""A ``time`` module on the virtual clock, installed as ``time`` while the firmware runs.

CircuitPython's ``time`` has monotonic(), monotonic_ns(), sleep(), time(), localtime() and
struct_time. Here they read the simulated world, so firmware (and the Adafruit drivers it uses,
such as adafruit_mcp4728's EEPROM wait) never sees the host's clock. ``sleep`` spends virtual
CPU time, as a blocking sleep does on the board."""

import types

from host_tools.sim import costs
from host_tools.sim import world as _world

# CircuitPython's epoch for time.time() with no RTC set: 2000-01-01.
_EPOCH_2000 = 946684800


def make_module(real_time):
    mod = types.ModuleType("time")

    def monotonic_ns():
        w = _world.current()
        now = w.now_ns  # the time the call is made; then its cost is spent
        w.charge(costs.MONOTONIC_NS)
        return now

    def monotonic():
        w = _world.current()
        now = w.now_ns
        w.charge(costs.MONOTONIC)
        return now / 1e9

    def sleep(seconds):
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        _world.current().wait(int(seconds * 1e9))

    def time():
        return _EPOCH_2000 + _world.current().now_ns // 1_000_000_000

    def localtime(secs=None):
        return real_time.gmtime(time() if secs is None else secs)

    mod.monotonic_ns = monotonic_ns
    mod.monotonic = monotonic
    mod.sleep = sleep
    mod.time = time
    mod.localtime = localtime
    mod.struct_time = real_time.struct_time
    mod.mktime = real_time.mktime
    return mod
