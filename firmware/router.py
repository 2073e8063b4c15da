"""Routing tables from a preset's routes: for each input, the outputs of each status byte.

The merger looks a message's outputs up once, at its status byte (``masks[input][status]``),
so a filter by kind or channel costs nothing per data byte. Built at start-up and on a preset
switch, never on the byte path.
"""

from firmware.midi import KIND_ALL, kind_of

INPUTS = ("in1", "in2", "in3", "in4", "usb")
OUTPUTS = ("out1", "out2", "out3", "out4", "usb", "cv")  # cv: the box's own CV engine
CV_OUTPUT = 5
ALL_CHANNELS = 0xFFFF


def build_masks(routes, n_in=len(INPUTS)):
    """``routes``: checked route dicts (see ``config``). Returns one bytearray(256) per input."""
    masks = [bytearray(256) for _ in range(n_in)]
    for route in routes:
        kinds = route.get("kinds", KIND_ALL)
        channels = route.get("channels", ALL_CHANNELS)
        for i in route["from"]:
            table = masks[i]
            bits = 0
            for o in route["to"]:
                if route.get("all_to") and OUTPUTS[o] == INPUTS[i] == "usb":
                    continue  # a USB input is never echoed back to USB by "all"
                bits |= 1 << o
            if not bits:
                continue
            for s in range(0x80, 0x100):
                if not kind_of(s) & kinds:
                    continue
                if s < 0xF0 and not channels & (1 << (s & 0x0F)):
                    continue
                table[s] |= bits
    return masks
