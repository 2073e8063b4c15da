"""The complete ``clock``, ``cv`` and ``calibration`` objects of a preset, every default filled
in (docs/config.md): the config checker merges a user's keys over copies of them. A start-up
module (``app.START_UP_MODULES``): dropped once the box runs, they leave the heap."""

from firmware.cv import VOICES

# Clock outputs are the router's (router.OUTPUTS), in its order; ``cv`` is the CV engine, which
# needs transport (a Stop drops its gates) and so is on by default like the others. ``usbh`` (the
# USB host variant's port) is not listed: a port not named gets True and 1 (clock_outputs), and
# two more keys in each preset's dicts would cost every box heap.

# The complete ``clock`` object of a preset with its defaults (docs/config.md). The config
# checker merges a preset's keys over it; ``master`` stays the string of the file.
DEFAULT_CLOCK = {
    "master": "auto",
    "bpm": 120,
    "send": {"out1": True, "out2": True, "out3": True, "out4": True, "usb": True, "cv": True},
    "divide": {"out1": 1, "out2": 1, "out3": 1, "out4": 1, "usb": 1, "cv": 1},
    "analog": {"resolution": 4, "pulse_ms": 5, "reset_ms": 5},
}


JACKS = ("cv1", "cv2", "cv3", "cv4", "mod1", "mod2", "mod3", "mod4")


def default_voice(n):
    return {
        "channel": n + 1,
        "priority": "last",
        "legato": False,
        "transpose": 0,
        "bend_range": 2,
        "glide_ms": 0,
        "mod": "velocity",
        "mod_range": 5.0,
    }  # no "notes": every note (a list per voice and preset would crowd the start-up heap)


# The ``cv`` preset object of docs/config.md with every default filled in. The config checker
# merges a user's keys over a copy of it; the engine receives that complete shape.
DEFAULT_CV = {
    "mode": "mono",
    "voices": [default_voice(n) for n in range(VOICES)],
    "poly": {"channel": 1, "voices": 4, "allocation": "cyclic"},
    "drums": {"channel": 10, "notes": [36, 37, 38, 39, 40, 41, 42, 43], "mode": "trigger", "trigger_ms": 10},
}  # type: dict

# The ``calibration`` object with every jack uncalibrated (the DAC is asked for the volts wanted).
DEFAULT_CALIBRATION = {jack: {"offset": 0.0, "scale": 1.0} for jack in JACKS}  # type: dict
