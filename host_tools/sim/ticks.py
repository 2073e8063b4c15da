"""CircuitPython's ms tick on the virtual clock, as the RP2040 port makes it.

``supervisor.ticks_ms()`` on the board is ``supervisor_ticks_ms64() = raw * 1000 / 1024``, where
the raw tick is 1/1024 s of the chip's microsecond timer, ``us * 1024 / 1_000_000`` (measured on
the board engine: tests/test_board_engine.py; docs/board-engine.md, "Where the two engines' ms
ticks differ"). So a ms value lasts 977 us, one in about 43 lasts two raw ticks (1.95 ms), and
where the steps fall against the session's inputs depends on how long the chip had run when the
session began.

The timer counts from power-up. ``World.timer_us_at_zero`` is its value at the session's time 0
(the board engine's first pass, where its inputs are timed from: ``BoardResult.timer_us_at_zero``).
The calibration gives the simulator the board run's value, so both engines' ticks step at the
same moments against the inputs. Otherwise it is None: the ms steps at exact ms from time 0, the
model the simulator's tests state their timing bounds on (a board's tick can also read a ms late
by up to a raw tick, which they do not allow for)."""

NS_PER_US = 1000
NS_PER_MS = 1_000_000
US_PER_S = 1_000_000
RAW_PER_S = 1024


def ms64(timer_us_at_zero, now_ns):
    """supervisor_ticks_ms64() at ``now_ns`` of the session."""
    if timer_us_at_zero is None:
        return now_ns // NS_PER_MS
    raw = (timer_us_at_zero + now_ns // NS_PER_US) * RAW_PER_S // US_PER_S
    return raw * 1000 // RAW_PER_S


def ns_when(timer_us_at_zero, ms):
    """The session time at which ms64 first reads ``ms`` (or more)."""
    if timer_us_at_zero is None:
        return ms * NS_PER_MS
    raw = -(-ms * RAW_PER_S // 1000)  # the first raw tick whose ms value is ms or more
    us = -(-raw * US_PER_S // RAW_PER_S)  # the first us of that raw tick
    return (us - timer_us_at_zero) * NS_PER_US
