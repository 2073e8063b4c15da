"""A preset's ``clock`` object read once at start-up (``firmware.clock.Clock.install`` and
``Merger.set_clock_outputs`` take what these return), and ``Clock``'s fields (``init``). A
start-up module (``app.START_UP_MODULES``): dropped once the box runs, its code leaves the heap."""

import array

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


def configure(clock, settings):
    """Apply a preset's ``clock`` object to ``clock`` (a ``firmware.clock.Clock``), read now:
    ``Clock.install`` of what ``prepare`` returns. Here, not in ``Clock``: only the tests and
    host tools call it (the box installs what ``prepare`` read at start-up), and this module
    leaves the heap."""
    clock.install(prepare(settings))


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


class NoPin:
    """Stands in for a jack the hardware does not have."""

    def __init__(self):
        self.value = True  # an input reads high: the clock-in jack sees no pulse


def init(clock, clock_out, reset_out, run_out, clock_in, ticks_ms, metronome, pulse_timer):
    """``Clock.__init__``'s fields but those its module's constants size (what each holds: the
    class's annotations); returns the ticks it read."""
    clock._clock_pin = clock_out if clock_out is not None else NoPin()
    clock._reset_pin = reset_out if reset_out is not None else NoPin()
    clock._run_pin = run_out if run_out is not None else NoPin()
    clock._in_pin = clock_in if clock_in is not None else NoPin()
    clock._clock_pin.value = False
    clock._reset_pin.value = False
    clock._run_pin.value = False
    clock.ticks_ms = ticks_ms
    now = ticks_ms()
    clock.mode = MODE_FOLLOW
    clock.poll = False
    clock.running = False
    clock.followed = None
    clock._phase = 0
    clock._at_zero = True
    clock._asked = 0
    clock._transport_out = 0
    clock._ticks_per_pulse = 6
    clock._ppqn48 = False
    clock._pulse_ms = 5
    clock._reset_ms = 5
    clock._pulse_on = False
    clock._pulse_end = 0
    clock._reset_on = False
    clock._reset_end = 0
    clock._half_on = False
    clock._half_due = 0
    clock._pulse_len_ms = 5
    clock._half_len_ms = 5
    clock._half_ms = 0
    clock._tick_us = 0
    clock._last_us = 0
    clock._ring_pos = 0
    clock._ring_n = 0
    clock._last_tick = now
    clock._heard = now
    clock._grid_on = False
    clock._grid_next = now
    clock._half_index = 0
    clock._step_ms_int = 0
    clock._step_ms_rem = 0
    clock._step_den = 1
    clock._step_ms_acc = 0
    clock._half_stop = -1
    clock._owed = 0
    clock._bpm_x100 = 12000
    clock._preset_bpm = 0
    clock._in_high = False
    clock._edge_pos = 0
    clock._edge_n = 0
    clock._last_edge = now
    clock._hold = False
    clock._tap_pos = 0
    clock._tap_n = 0
    clock._tap_last = now
    clock._tapping = False
    clock.metronome = metronome
    clock.pulse_timer = pulse_timer
    clock._metro_on = False
    clock._metro_live = False
    clock._tokens = 0
    clock._read_buf = bytearray(8)
    clock._word_buf = array.array("I", (0,))
    clock._metro_next_us = 0
    clock._metro_ideal_us = 0
    clock._metro_error_us = 0
    clock._metro_end_ms = now
    clock._metro_end_us = 0
    clock._half_us_int = 0
    clock._half_us_rem = 0
    clock._half_us_acc = 0
    clock._metro_seen_ms = now
    clock._shot_busy = 0
    clock._shot_from_ms = now
    return now
