"""The Pico-estimate reference shared by the benchmarks: the minimal 4-state byte parser of
docs/design.md, "CircuitPython costs", one function call per byte, which costs about 36 us a byte on CircuitPython on the Pico.
Runs unchanged on the MicroPython VM (the benchmarks ship this file in), so a cost measured in the
same VM run scales to the Pico as ``cost * PICO_US_PER_REF_BYTE / ref_us_per_byte``."""

PICO_US_PER_REF_BYTE = 36.0

_DATA = bytearray(256)
for _k in range(256):
    _DATA[_k] = (0x90, 60, 100, 62)[_k & 3]


def parse(state, b):
    if b & 0x80:
        return 1
    if state == 1:
        return 2
    if state == 2:
        return 1
    return 0


def ref_parse(n):
    """Run the reference parser over ``n`` bytes (time it around this call)."""
    s = 0
    for k in range(n):
        s = parse(s, _DATA[k & 255])
    return s
