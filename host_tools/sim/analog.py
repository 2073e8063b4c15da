"""Analog facts from ``hardware/analog.json``: DAC volts -> volts at a jack, and gate levels.

A stage is an op-amp after the DAC: ``V_jack = V_dac * gain + offset``, clipped to its rails.
"""

import json
from functools import cache
from pathlib import Path

ANALOG_JSON = Path(__file__).resolve().parents[2] / "hardware" / "analog.json"


@cache
def facts(path=ANALOG_JSON):
    with open(path) as f:
        return json.load(f)


class Stage:
    def __init__(self, name, gain, offset, rail_min, rail_max):
        self.name = name
        self.gain = gain
        self.offset = offset
        self.rail_min = rail_min
        self.rail_max = rail_max

    def jack_volts(self, v_dac):
        v = v_dac * self.gain + self.offset
        if v < self.rail_min:
            return self.rail_min
        if v > self.rail_max:
            return self.rail_max
        return v


def stage(name):
    """The ``"pitch"`` or ``"mod"`` stage (KeyError for any other name)."""
    s = facts()["stages"][name]
    return Stage(name, s["gain"], s["offset"], s["rail_min"], s["rail_max"])


def jack_volts(stage_name, v_dac):
    return stage(stage_name).jack_volts(v_dac)


def gate_volts(high):
    """Volts at a gate/clock/trigger jack for a GPIO level."""
    logic = facts()["logic"]
    return logic["gate_high"] if high else logic["gate_low"]


def dac():
    """The DAC facts (part, vdd, reference, i2c_hz, addresses)."""
    return facts()["dac"]
