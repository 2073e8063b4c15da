"""A preset's ``clock`` object read once at start-up (``firmware.clock.Clock.install`` and
``Merger.set_clock_outputs`` take what these return). A start-up module
(``app.START_UP_MODULES``): dropped once the box runs, its code leaves the heap."""

from firmware.clock import (
    BPM_X100_MAX,
    BPM_X100_MIN,
    MODE_CLOCK_IN,
    MODE_FOLLOW,
    MODE_INTERNAL,
    clamp,
)
from firmware.defaults import DEFAULT_CLOCK

# analog.resolution -> MIDI ticks per pulse (48 PPQN: a pulse every tick and one between).
# The divisions are note values in 4/4: "1/8" an eighth note, "1bar" four quarter notes.
TICKS_PER_PULSE = {1: 24, 2: 12, 4: 6, 24: 1, 48: 1, "1/8": 12, "1/4": 24, "1/2": 48, "1bar": 96}


def clock_outputs(clock):
    """``(send_mask, divide)`` for ``merger.set_clock_outputs``: bit o of the mask and
    ``divide[o]`` per output in the router's order; a port not named keeps the default."""
    from firmware.router import OUTPUTS  # here: the router leaves the heap after start-up

    send = clock.get("send", DEFAULT_CLOCK["send"])
    divide = clock.get("divide", DEFAULT_CLOCK["divide"])
    mask = 0
    ratios = [1] * len(OUTPUTS)
    for o in range(len(OUTPUTS)):
        name = OUTPUTS[o]
        if send.get(name, True):
            mask |= 1 << o
        ratios[o] = divide.get(name, 1)
    return mask, ratios


def prepare(clock):
    """A preset's ``clock`` object as ``Clock.install`` takes it: ``(mode, ticks per pulse,
    48 PPQN?, pulse_ms, reset_ms, bpm x 100)``. Start-up time (it may allocate: floats)."""
    master = clock.get("master", "auto")
    if master == "internal":
        mode = MODE_INTERNAL
    elif master == "clock_in":
        mode = MODE_CLOCK_IN
    else:
        mode = MODE_FOLLOW
    analog = clock.get("analog", DEFAULT_CLOCK["analog"])
    res = analog.get("resolution", 4)
    bpm = clamp(int(clock.get("bpm", 120) * 100 + 0.5), BPM_X100_MIN, BPM_X100_MAX)
    return (mode, TICKS_PER_PULSE.get(res, 6), res == 48, clamp(analog.get("pulse_ms", 5), 1, 50),
            clamp(analog.get("reset_ms", 5), 1, 50), bpm)
